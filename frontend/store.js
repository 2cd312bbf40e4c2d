// Conversations, each with its own settings, in localStorage, so a reload keeps everything.
(function () {
  const CONV_KEY = 'qwenchat.conversations';
  const CURRENT_KEY = 'qwenchat.current';

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

  const ROLES = ['system', 'user', 'assistant'];
  // Deep enough for any real conversation, shallow enough that a crafted file cannot overflow the stack.
  const MAX_BRANCH_DEPTH = 64;

  /** Attached text files: a name and the text, nothing else. */
  function cleanFiles(list) {
    if (!Array.isArray(list)) return undefined;
    const out = list.filter(f => f && typeof f.name === 'string' && typeof f.text === 'string').map(f => ({ name: f.name.slice(0, 255), text: f.text }));
    return out.length ? out : undefined;
  }

  function cleanMessage(m, depth) {
    const out = { role: m.role, content: m.content, stats: cleanStats(m.stats) };
    const files = cleanFiles(m.attachments);
    if (files) out.attachments = files;
    const alts = cleanAlts(m, depth);
    if (alts) { out.alts = alts.list; out.alt = alts.at; }
    return out;
  }

  function cleanMessages(list, depth) {
    if (!Array.isArray(list)) return [];
    return list.filter(m => m && ROLES.includes(m.role) && typeof m.content === 'string').map(m => cleanMessage(m, depth));
  }

  /** The versions of a message (regenerated replies, edited prompts), or null where there are none to keep. */
  function cleanAlts(m, depth) {
    if (!Array.isArray(m.alts) || m.alts.length < 2 || depth >= MAX_BRANCH_DEPTH) return null;
    const at = Number.isInteger(m.alt) && m.alt >= 0 && m.alt < m.alts.length ? m.alt : -1;
    if (at < 0) return null;
    const list = m.alts.map((a, i) => {
      if (i === at || !a || typeof a !== 'object' || typeof a.content !== 'string') return null;
      const v = { content: a.content, tail: cleanMessages(a.tail, depth + 1) };
      const files = cleanFiles(a.attachments);
      if (files) v.attachments = files;
      const stats = cleanStats(a.stats);
      if (stats) v.stats = stats;
      return v;
    });
    // Broken versions are dropped; the one on screen keeps its place.
    const kept = list.filter((v, i) => i === at || v);
    if (kept.length < 2) return null;
    return { list: kept, at: kept.indexOf(null) };
  }

  /** The chat's own settings: numbers and a system prompt; ranges are the settings panel's business. */
  function cleanSettings(s) {
    if (!s || typeof s !== 'object') return undefined;
    const out = {};
    for (const k of ['temperature', 'topP', 'topK', 'maxTokens', 'seed']) if (typeof s[k] === 'number' && Number.isFinite(s[k])) out[k] = s[k];
    if (typeof s.systemPrompt === 'string' && s.systemPrompt) out.systemPrompt = s.systemPrompt;
    return Object.keys(out).length ? out : undefined;
  }

  /** Keeps only what the page understands, so an imported file cannot smuggle other fields in. */
  function clean(c) {
    if (!c || typeof c !== 'object' || !Array.isArray(c.messages)) throw new Error('not a conversation');
    return {
      id: typeof c.id === 'string' ? c.id : newId(),
      title: typeof c.title === 'string' ? c.title.slice(0, 200) : '',
      presetId: typeof c.presetId === 'string' ? c.presetId : 'general',
      updatedAt: typeof c.updatedAt === 'number' ? c.updatedAt : Date.now(),
      pinned: c.pinned === true ? true : undefined,
      messages: cleanMessages(c.messages, 0),
      settings: cleanSettings(c.settings),
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
    /** Changes fields of a stored conversation without touching updatedAt; false where it is not stored. */
    update(id, changes) {
      const list = this.conversations();
      const c = list.find(x => x.id === id);
      if (!c) return false;
      Object.assign(c, changes);
      this.saveAll(list);
      return true;
    },
    remove(id) { this.saveAll(this.conversations().filter(c => c.id !== id)); },
    currentId() { return localStorage.getItem(CURRENT_KEY); },
    setCurrent(id) { localStorage.setItem(CURRENT_KEY, id); },
    exportJson(list) { return JSON.stringify({ version: 1, conversations: list || this.conversations() }, null, 2); },
    /**
     * Adds the file's conversations. One whose id is here already is skipped when the copy here is
     * the same or newer (the same file imported twice adds nothing), and added under a fresh id
     * otherwise, so neither copy is lost. Returns the file's conversations as they are now stored,
     * and how many were added.
     */
    importJson(text) {
      const data = JSON.parse(text);
      const incoming = Array.isArray(data) ? data : data.conversations;
      if (!Array.isArray(incoming)) throw new Error('expected {"conversations": [...]}');
      const list = this.conversations();
      const byId = new Map(list.map(c => [c.id, c]));
      const added = [];
      const result = incoming.map(clean).map(c => {
        const here = byId.get(c.id);
        if (here && (here.updatedAt >= c.updatedAt || JSON.stringify(clean(here)) === JSON.stringify(c))) return here;
        const fresh = here ? { ...c, id: newId() } : c;
        byId.set(fresh.id, fresh);
        added.push(fresh);
        return fresh;
      });
      this.saveAll(list.concat(added));
      return { conversations: result, added: added.length };
    },
  };
})();
