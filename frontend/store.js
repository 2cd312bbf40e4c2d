// Conversations and settings in localStorage, so a reload keeps everything.
(function () {
  const CONV_KEY = 'qwenchat.conversations';
  const CURRENT_KEY = 'qwenchat.current';
  const SETTINGS_KEY = 'qwenchat.settings';

  function load(key, fallback) {
    try { const v = JSON.parse(localStorage.getItem(key)); return v == null ? fallback : v; } catch (e) { return fallback; }
  }

  function newId() {
    return 'c' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  }

  /**
   * A reply's stats with each field of the type the page formats (numbers, a string reason): a
   * file with "tps": "fast" would otherwise throw in the renderer, and every reload reopens it.
   */
  function cleanStats(s) {
    if (!s || typeof s !== 'object') return undefined;
    const num = v => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const out = { tokens: num(s.tokens) ?? 0 };
    if ('tps' in s) out.tps = num(s.tps);
    if ('ttft' in s) out.ttft = num(s.ttft);
    if (typeof s.finishReason === 'string') out.finishReason = s.finishReason;
    return out;
  }

  /** Keeps only what the page understands, so an imported file cannot smuggle other fields in. */
  function clean(c) {
    if (!c || typeof c !== 'object' || !Array.isArray(c.messages)) throw new Error('not a conversation');
    return {
      id: typeof c.id === 'string' ? c.id : newId(),
      title: typeof c.title === 'string' ? c.title.slice(0, 200) : '',
      presetId: typeof c.presetId === 'string' ? c.presetId : 'general',
      updatedAt: typeof c.updatedAt === 'number' ? c.updatedAt : Date.now(),
      messages: c.messages.filter(m => m && ['system', 'user', 'assistant'].includes(m.role) && typeof m.content === 'string')
        .map(m => ({ role: m.role, content: m.content, stats: cleanStats(m.stats) })),
    };
  }

  window.Store = {
    newId,
    conversations() { return load(CONV_KEY, []).sort((a, b) => b.updatedAt - a.updatedAt); },
    saveAll(list) {
      try { localStorage.setItem(CONV_KEY, JSON.stringify(list)); } catch (e) { console.warn('localStorage full', e); }
    },
    save(conv) {
      conv.updatedAt = Date.now();
      const list = this.conversations().filter(c => c.id !== conv.id);
      list.push(conv);
      this.saveAll(list);
    },
    remove(id) { this.saveAll(this.conversations().filter(c => c.id !== id)); },
    currentId() { return localStorage.getItem(CURRENT_KEY); },
    setCurrent(id) { localStorage.setItem(CURRENT_KEY, id); },
    exportJson() { return JSON.stringify({ version: 1, conversations: this.conversations() }, null, 2); },
    /** Adds the file's conversations; an id already present gets a fresh one. Returns how many. */
    importJson(text) {
      const data = JSON.parse(text);
      const incoming = Array.isArray(data) ? data : data.conversations;
      if (!Array.isArray(incoming)) throw new Error('expected {"conversations": [...]}');
      const list = this.conversations();
      const ids = new Set(list.map(c => c.id));
      const added = incoming.map(clean).map(c => (ids.has(c.id) ? { ...c, id: newId() } : c));
      this.saveAll(list.concat(added));
      return added;
    },
    settings() { return load(SETTINGS_KEY, {}); },
    saveSettings(s) { localStorage.setItem(SETTINGS_KEY, JSON.stringify(s)); },
  };
})();
