// The chat page: loading screen, conversations, streaming replies over /ws/chat (docs/protocol.md).
(function () {
  const $ = id => document.getElementById(id);
  const STAGES = ['RESOLVE_MODEL', 'VALIDATE_FILES', 'LOAD_WEIGHTS', 'WARM_UP', 'SELF_CHECK', 'READY'];

  let ws = null;
  let lastStatus = null;
  let model = null;          // status.model once ready
  let conv = null;           // the open conversation
  let gen = null;            // {id, el, text, frameDone} while a reply streams
  let countRef = 0;
  let countTimer = null;
  let renderPending = false;
  let appShown = false;
  // A turn the user sent while the socket was down or the model reloading: {convId}. It goes out
  // as soon as the server is ready again, so nothing typed is lost.
  let queued = null;
  let stopRequested = false;
  let sending = false;
  let checkRef = 0;
  const checks = new Map(); // ref → resolve, for the count a send waits on

  // ---------- connection ----------

  async function connect() {
    const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/chat';
    $('connection-state').textContent = I18N.t('connecting');
    let url = base;
    try { url = await ChatKey.socketUrl(base); } catch (e) { console.error('chat ticket', e); }
    const socket = new WebSocket(url);
    ws = socket;
    socket.onopen = () => { showBanner(null); $('connection-state').textContent = ''; };
    socket.onmessage = ev => handle(JSON.parse(ev.data));
    socket.onclose = () => {
      if (ws !== socket) return;
      // The server went away mid-reply: what arrived is kept and marked, with a Retry.
      if (gen) finishGeneration({ finishReason: 'interrupted' });
      for (const resolve of checks.values()) resolve(null);
      checks.clear();
      showBanner(I18N.t('reconnecting'));
      $('connection-state').textContent = I18N.t('reconnecting');
      setTimeout(connect, 1000);
    };
  }

  function socketOpen() { return !!ws && ws.readyState === 1; }

  function sendFrame(frame) {
    if (socketOpen()) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function showBanner(text) {
    $('connection-banner').textContent = text || '';
    $('connection-banner').hidden = !text || !appShown;
  }

  function handle(f) {
    switch (f.type) {
      case 'status': return onStatus(f);
      case 'start': return onStart(f);
      case 'delta': return onDelta(f);
      case 'done': return onDone(f);
      case 'error': return onError(f);
      case 'count_result': return onCount(f);
    }
  }

  // ---------- loading screen ----------

  function onStatus(s) {
    lastStatus = s;
    if (s.state === 'READY' && s.model) {
      model = s.model;
      showApp();
      showBanner(null);
      flushQueued();
      return;
    }
    model = null;
    if (appShown) {
      // A restarted server reloading its model: the conversation stays on screen, and what the
      // user sends meanwhile waits for it.
      showBanner(s.state === 'FAILED' ? I18N.t('loadFailed') + ' ' + (s.error || '')
        : I18N.t('modelReloading') + ' ' + Math.round(Math.max(0, Math.min(100, s.percent || 0))) + '%');
      return;
    }
    showLoading(s);
  }

  function fmtBytes(n) {
    if (!n) return '0 B';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    const i = Math.min(u.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
    return (n / Math.pow(1024, i)).toFixed(i ? 1 : 0) + ' ' + u[i];
  }

  function showLoading(s) {
    appShown = false;
    $('app').hidden = true;
    $('loading-screen').hidden = false;
    const name = s.demo ? I18N.t('demoWeights') : s.modelName;
    $('loading-model').textContent = I18N.t('loadingModel') + (name ? ': ' + name : '');
    const pct = Math.max(0, Math.min(100, s.percent || 0));
    $('progress-bar').style.width = pct.toFixed(1) + '%';
    $('progress-bar').parentElement.setAttribute('aria-valuenow', pct.toFixed(0));
    $('progress-percent').textContent = pct.toFixed(0) + '%';
    const detail = [];
    if (s.bytesTotal) detail.push(fmtBytes(s.bytesDone) + ' / ' + fmtBytes(s.bytesTotal));
    if (s.tensorsTotal) detail.push(s.tensorsDone + ' / ' + s.tensorsTotal + ' tensors');
    if (s.etaMillis != null && s.state === 'LOADING') detail.push(Math.ceil(s.etaMillis / 1000) + ' s ' + I18N.t('eta'));
    if (s.currentTensor) detail.push(s.currentTensor);
    $('progress-detail').textContent = detail.join(' · ');
    const timings = {};
    (s.stages || []).forEach(t => { timings[t.stage] = t; });
    const list = $('stage-list');
    list.replaceChildren();
    // The download stage appears only when the model is fetched from a hub (QWEN_MODEL).
    const stages = s.stage === 'DOWNLOAD_MODEL' || timings.DOWNLOAD_MODEL ? ['DOWNLOAD_MODEL', ...STAGES] : STAGES;
    const current = stages.indexOf(s.stage);
    stages.forEach((st, i) => {
      const li = document.createElement('li');
      li.dataset.stage = st;
      const t = timings[st];
      if (i === current) li.className = s.state === 'FAILED' ? 'failed' : 'current';
      else if (i < current || (t && t.durationMillis != null)) li.className = 'done';
      li.textContent = I18N.t('stage_' + st) + (t && t.durationMillis != null ? ' (' + (t.durationMillis / 1000).toFixed(1) + ' s)' : '');
      list.appendChild(li);
    });
    const err = $('load-error');
    err.hidden = s.state !== 'FAILED';
    err.textContent = s.state === 'FAILED' ? I18N.t('loadFailed') + ' ' + (s.error || '') : '';
  }

  function showApp() {
    $('loading-screen').hidden = true;
    $('app').hidden = false;
    // The demo's name is the badge itself; a real model shows its directory name.
    $('model-name').textContent = (model.demo ? 'Qwen2.5' : model.name) + (model.engine ? ' · ' + model.engine : '');
    $('demo-badge').hidden = !model.demo;
    $('context-size').textContent = model.contextLength;
    if (!appShown) {
      appShown = true;
      openConversation(Store.currentId());
    }
    updateSettingsPlaceholders();
    requestCount();
  }

  // ---------- conversations ----------

  function blankConversation(presetId) {
    return { id: Store.newId(), title: '', presetId: presetId || 'general', messages: [], updatedAt: Date.now() };
  }

  function openConversation(id) {
    const list = Store.conversations();
    conv = list.find(c => c.id === id) || list[0] || blankConversation();
    Store.setCurrent(conv.id);
    renderConversationList();
    renderPresetSelect();
    renderMessages();
    updateSettingsPlaceholders();
    requestCount();
  }

  function persist() {
    if (!conv.title) {
      const firstUser = conv.messages.find(m => m.role === 'user');
      if (firstUser) conv.title = firstUser.content.slice(0, 60);
    }
    Store.save(conv);
    Store.setCurrent(conv.id);
    renderConversationList();
  }

  function renderConversationList() {
    const ul = $('conv-list');
    ul.replaceChildren();
    const list = Store.conversations();
    if (conv && !list.some(c => c.id === conv.id)) list.unshift(conv);
    for (const c of list) {
      const li = document.createElement('li');
      li.className = 'conv' + (conv && c.id === conv.id ? ' active' : '');
      li.dataset.id = c.id;
      // Buttons, not spans: reachable by Tab and announced with their names.
      const title = document.createElement('button');
      title.type = 'button';
      title.className = 'conv-title';
      title.textContent = c.title || I18N.t('untitled');
      if (conv && c.id === conv.id) title.setAttribute('aria-current', 'true');
      title.addEventListener('click', () => {
        if (gen) return;
        openConversation(c.id);
        document.body.classList.remove('sidebar-open');
      });
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'conv-delete';
      del.title = I18N.t('delete');
      del.setAttribute('aria-label', I18N.t('deleteConversation') + ': ' + (c.title || I18N.t('untitled')));
      del.textContent = '✕';
      del.addEventListener('click', () => {
        if (gen && conv.id === c.id) return;
        if (!confirm(I18N.t('confirmDelete'))) return;
        Store.remove(c.id);
        openConversation(conv.id === c.id ? null : conv.id);
      });
      li.append(title, del);
      ul.appendChild(li);
    }
  }

  function newChat() {
    if (gen) return;
    conv = blankConversation(conv ? conv.presetId : 'general');
    Store.setCurrent(conv.id);
    renderConversationList();
    renderPresetSelect();
    renderMessages();
    requestCount();
    $('input').focus();
    document.body.classList.remove('sidebar-open');
  }

  // ---------- messages ----------

  function renderMessages() {
    const box = $('messages');
    box.replaceChildren();
    if (conv.messages.length === 0) renderGreeting(box);
    conv.messages.forEach((m, i) => box.appendChild(messageElement(m, i)));
    updateButtons();
    box.scrollTop = box.scrollHeight;
  }

  function renderGreeting(box) {
    const p = Presets.find(conv.presetId);
    if (!p) return;
    const el = document.createElement('div');
    el.className = 'msg assistant greeting';
    const content = document.createElement('div');
    content.className = 'content';
    Render.markdown(content, I18N.pick(p.greeting));
    el.appendChild(content);
    if (p.examples.length) {
      const chips = document.createElement('div');
      chips.className = 'examples';
      p.examples.forEach(x => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'example';
        b.textContent = x;
        b.addEventListener('click', () => { $('input').value = x; $('input').focus(); requestCount(); });
        chips.appendChild(b);
      });
      el.appendChild(chips);
    }
    box.appendChild(el);
  }

  function messageElement(m, index) {
    const el = document.createElement('div');
    el.className = 'msg ' + m.role;
    el.dataset.index = index;
    const content = document.createElement('div');
    content.className = 'content';
    if (m.role === 'assistant') Render.markdown(content, m.content);
    else content.textContent = m.content;
    el.appendChild(content);
    if (m.role === 'assistant' && m.stats) el.appendChild(statsElement(m.stats, index));
    if (m.role === 'user' && queued && queued.convId === conv.id && index === conv.messages.length - 1) {
      const wait = document.createElement('div');
      wait.className = 'queued-note';
      wait.textContent = I18N.t('waitingForConnection');
      el.classList.add('queued');
      el.appendChild(wait);
    }
    if (m.role === 'user') {
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.className = 'edit-msg';
      edit.textContent = I18N.t('edit');
      edit.addEventListener('click', () => startEdit(el, index));
      el.appendChild(edit);
    }
    return el;
  }

  function statsElement(s, index) {
    const d = document.createElement('div');
    d.className = 'stats';
    if (s.finishReason === 'interrupted' || s.finishReason === 'error') {
      d.classList.add('interrupted');
      d.textContent = I18N.t(s.finishReason === 'error' ? 'failedReply' : 'interrupted');
      // Only the last reply can be generated again without rewriting what came after it.
      if (index === conv.messages.length - 1) {
        const retry = document.createElement('button');
        retry.type = 'button';
        retry.className = 'retry';
        retry.textContent = I18N.t('retry');
        retry.addEventListener('click', regenerate);
        d.append(' ', retry);
      }
      return d;
    }
    const parts = [s.tokens + ' ' + I18N.t('tokens')];
    if (s.tps != null) parts.push(s.tps.toFixed(1) + ' tok/s');
    if (s.ttft != null) parts.push(I18N.t('ttft') + ' ' + s.ttft + ' ms');
    if (s.finishReason === 'cancelled') parts.push(I18N.t('stopped'));
    if (s.finishReason === 'length') parts.push(I18N.t('truncated'));
    if (s.finishReason === 'timeout') parts.push(I18N.t('timedOut'));
    d.textContent = parts.join(' · ');
    return d;
  }

  function startEdit(el, index) {
    if (gen) return;
    const m = conv.messages[index];
    el.replaceChildren();
    const ta = document.createElement('textarea');
    ta.className = 'edit-box';
    ta.value = m.content;
    ta.rows = Math.min(10, m.content.split('\n').length + 1);
    const save = document.createElement('button');
    save.type = 'button';
    save.className = 'primary save-edit';
    save.textContent = I18N.t('resend');
    save.addEventListener('click', () => {
      const text = ta.value.trim();
      if (!text) return;
      conv.messages = conv.messages.slice(0, index).concat([{ role: 'user', content: text }]);
      persist();
      renderMessages();
      generate();
    });
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = I18N.t('cancel');
    cancel.addEventListener('click', renderMessages);
    el.append(ta, save, cancel);
    ta.focus();
  }

  function showNote(text, detail) {
    // The context meter re-counts on every keystroke; one refusal is enough to show.
    const last = $('messages').lastElementChild;
    if (last && last.classList.contains('note') && last.textContent === text) return;
    const n = document.createElement('div');
    n.className = 'msg note error';
    n.setAttribute('role', 'alert');
    n.textContent = text;
    // The server's own words (English, with numbers) stay at hand for a bug report.
    if (detail && detail !== text) n.title = detail;
    $('messages').appendChild(n);
    $('messages').scrollTop = $('messages').scrollHeight;
  }

  // ---------- generation ----------

  function explicitParams() {
    const s = Store.settings();
    const out = {};
    for (const k of ['temperature', 'topP', 'topK', 'maxTokens', 'seed']) if (s[k] != null && s[k] !== '') out[k] = Number(s[k]);
    return out;
  }

  /** The server's token count of these messages, or null where it cannot answer now. */
  function countNow(messages) {
    const ref = 'send-' + (++checkRef);
    return new Promise(resolve => {
      if (!sendFrame({ type: 'count', ref, presetId: conv.presetId, messages })) { resolve(null); return; }
      checks.set(ref, resolve);
    });
  }

  async function send() {
    const text = $('input').value.trim();
    if (!text || gen || queued || sending || !appShown) return;
    const draft = conv.messages.map(m => ({ role: m.role, content: m.content })).concat([{ role: 'user', content: text }]);
    if (model && socketOpen()) {
      // Refused here, before anything is stored: the reply needs at least one token of room.
      sending = true;
      let tokens;
      try { tokens = await countNow(draft); } finally { sending = false; }
      if (tokens != null && model && tokens >= model.contextLength) {
        showNote(I18N.t('tooLongForContext').replace('{tokens}', tokens).replace('{size}', model.contextLength));
        return;
      }
    }
    if ($('input').value.trim() !== text || gen || queued) return;
    $('input').value = '';
    conv.messages.push({ role: 'user', content: text });
    persist();
    renderMessages();
    generate();
  }

  function flushQueued() {
    if (!queued || gen || !model || !socketOpen()) return;
    const q = queued;
    queued = null;
    if (conv.id !== q.convId || !conv.messages.length || conv.messages[conv.messages.length - 1].role !== 'user') { renderMessages(); return; }
    renderMessages();
    generate();
  }

  function generate() {
    const history = conv.messages.slice();
    const id = Store.newId();
    stopRequested = false;
    const ok = model && sendFrame({ type: 'chat', id, presetId: conv.presetId, messages: history.map(m => ({ role: m.role, content: m.content })), params: explicitParams() });
    if (!ok) {
      // Kept on screen, marked as waiting, and sent when the server is back (flushQueued).
      queued = { convId: conv.id };
      renderMessages();
      return;
    }
    conv.messages.push({ role: 'assistant', content: '' });
    const el = messageElement(conv.messages[conv.messages.length - 1], conv.messages.length - 1);
    el.classList.add('streaming');
    $('messages').appendChild(el);
    gen = { id, el, text: '', convId: conv.id };
    updateButtons();
    $('messages').scrollTop = $('messages').scrollHeight;
  }

  function onStart(f) {
    if (!gen || f.id !== gen.id) return;
    setMeter(f.promptTokens, f.contextLength);
  }

  function onDelta(f) {
    if (!gen || f.id !== gen.id) return;
    gen.text += f.text;
    if (!renderPending) {
      renderPending = true;
      requestAnimationFrame(() => {
        renderPending = false;
        if (!gen) return;
        const box = $('messages');
        const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
        Render.markdown(gen.el.querySelector('.content'), gen.text);
        if (atBottom) box.scrollTop = box.scrollHeight;
      });
    }
  }

  function onDone(f) {
    if (!gen || f.id !== gen.id) return;
    finishGeneration(f);
  }

  function finishGeneration(f) {
    const g = gen;
    gen = null;
    const stopped = stopRequested;
    stopRequested = false;
    const m = conv.id === g.convId ? conv.messages[conv.messages.length - 1] : null;
    if (m && m.role === 'assistant') {
      m.content = g.text;
      if (f.usage) m.stats = { tokens: f.usage.completionTokens, tps: f.tokensPerSecond, ttft: f.ttftMillis, finishReason: f.finishReason };
      else m.stats = { tokens: 0, finishReason: f.finishReason };
      persist();
    }
    renderMessages();
    requestCount();
    // A reply cut off by the server (its time limit) is kept, and the reason is shown once.
    if (f.error) showNote(I18N.t(f.finishReason === 'timeout' ? 'timeoutNote' : 'err_unknown'), f.error);
    // Stop hides the button that had focus; the keyboard user continues in the input.
    if (stopped) $('input').focus();
  }

  function errorText(f) {
    const key = 'err_' + f.code;
    return I18N.has(key) ? I18N.t(key) : I18N.t('err_unknown');
  }

  function onError(f) {
    if (gen && f.id === gen.id) {
      const g = gen;
      gen = null;
      stopRequested = false;
      const last = conv.messages[conv.messages.length - 1];
      if (last && last.role === 'assistant') {
        if (g.text) { last.content = g.text; last.stats = { tokens: 0, finishReason: 'error' }; } else conv.messages.pop();
      }
      let restored = false;
      if (f.code === 'context_overflow' && !g.text) {
        // The refused message is not kept: it goes back into the box to be shortened.
        const user = conv.messages[conv.messages.length - 1];
        if (user && user.role === 'user' && !$('input').value.trim()) { conv.messages.pop(); $('input').value = user.content; restored = true; }
      }
      persist();
      renderMessages();
      showNote(errorText(f), f.message);
      if (restored) requestCount();
      return;
    }
    if (f.id != null && checks.has(f.id)) { checks.get(f.id)(null); checks.delete(f.id); return; }
    if (f.id == null || f.id === String(countRef)) {
      if (f.code !== 'model_not_ready') showNote(errorText(f), f.message);
    }
  }

  function stop() {
    if (!gen) return;
    stopRequested = true;
    sendFrame({ type: 'stop' });
    $('input').focus();
  }

  function regenerate() {
    if (gen || !model || conv.messages.length === 0) return;
    if (conv.messages[conv.messages.length - 1].role === 'assistant') conv.messages.pop();
    if (conv.messages.length === 0 || conv.messages[conv.messages.length - 1].role !== 'user') return;
    persist();
    renderMessages();
    generate();
  }

  function updateButtons() {
    $('stop-btn').hidden = !gen;
    $('send-btn').hidden = !!gen;
    $('regenerate').disabled = !!gen || !conv || conv.messages.length === 0;
  }

  // ---------- context meter ----------

  function requestCount() {
    clearTimeout(countTimer);
    countTimer = setTimeout(() => {
      if (!model || !conv) return;
      const messages = conv.messages.filter(m => !(gen && m === conv.messages[conv.messages.length - 1]))
        .map(m => ({ role: m.role, content: m.content }));
      const draft = $('input').value;
      if (draft.trim()) messages.push({ role: 'user', content: draft });
      countRef++;
      sendFrame({ type: 'count', ref: String(countRef), presetId: conv.presetId, messages });
    }, 250);
  }

  function onCount(f) {
    if (checks.has(f.ref)) { checks.get(f.ref)(f.tokens); checks.delete(f.ref); return; }
    if (f.ref !== String(countRef)) return;
    setMeter(f.tokens, f.contextLength);
  }

  function setMeter(used, size) {
    $('context-used').textContent = used;
    $('context-size').textContent = size;
    const frac = size ? Math.min(1, used / size) : 0;
    $('context-fill').style.width = (frac * 100).toFixed(1) + '%';
    $('context-meter').classList.toggle('full', frac > 0.9);
    $('context-meter').title = used + ' / ' + size + (frac >= 1 ? ' — ' + I18N.t('contextFull') : '');
  }

  // ---------- presets and settings ----------

  function renderPresetSelect() {
    const sel = $('preset-select');
    sel.replaceChildren();
    for (const p of Presets.all()) {
      const o = document.createElement('option');
      o.value = p.id;
      o.textContent = I18N.pick(p.name);
      o.title = I18N.pick(p.description);
      sel.appendChild(o);
    }
    if (conv) {
      if (!Presets.all().some(p => p.id === conv.presetId) && Presets.all().length) conv.presetId = Presets.all()[0].id;
      sel.value = conv.presetId;
    }
  }

  function onPresetChange() {
    conv.presetId = $('preset-select').value;
    if (conv.messages.length) persist();
    if (!gen) renderMessages();
    updateSettingsPlaceholders();
    requestCount();
  }

  function updateSettingsPlaceholders() {
    if (!model || !conv) return;
    const p = Presets.find(conv.presetId);
    const ps = (p && p.sampling) || {};
    const d = model.defaults;
    const eff = {
      temperature: ps.temperature ?? d.temperature, topP: ps.topP ?? d.topP, topK: ps.topK ?? d.topK,
      maxTokens: ps.maxTokens ?? d.maxTokens, seed: 'random',
    };
    const s = Store.settings();
    for (const k of Object.keys(eff)) {
      const input = $('set-' + k);
      input.placeholder = String(eff[k]);
      input.value = s[k] == null ? '' : s[k];
    }
  }

  function wireSettings() {
    for (const k of ['temperature', 'topP', 'topK', 'maxTokens', 'seed']) {
      $('set-' + k).addEventListener('change', ev => {
        const s = Store.settings();
        if (ev.target.value === '') delete s[k]; else s[k] = Number(ev.target.value);
        Store.saveSettings(s);
      });
    }
    $('reset-settings').addEventListener('click', () => { Store.saveSettings({}); updateSettingsPlaceholders(); });
    $('open-settings').addEventListener('click', () => { $('settings-panel').hidden = !$('settings-panel').hidden; });
    $('close-settings').addEventListener('click', () => { $('settings-panel').hidden = true; });
  }

  // ---------- wiring ----------

  function download(name, text) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }

  function wire() {
    $('composer').addEventListener('submit', ev => { ev.preventDefault(); send(); });
    $('input').addEventListener('keydown', ev => {
      // isComposing: Enter that confirms a Chinese IME candidate must not send.
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
    });
    $('input').addEventListener('input', requestCount);
    $('stop-btn').addEventListener('click', stop);
    // Esc stops a streaming reply from anywhere on the page (an open dialog handles its own Esc).
    document.addEventListener('keydown', ev => {
      if (ev.key === 'Escape' && gen && !ev.isComposing && !$('preset-dialog').open) { ev.preventDefault(); stop(); }
    });
    $('regenerate').addEventListener('click', regenerate);
    $('new-chat').addEventListener('click', newChat);
    $('preset-select').addEventListener('change', onPresetChange);
    $('toggle-sidebar').addEventListener('click', () => document.body.classList.toggle('sidebar-open'));
    $('close-sidebar').addEventListener('click', () => document.body.classList.remove('sidebar-open'));
    $('lang-switch').addEventListener('click', () => {
      I18N.set(I18N.lang === 'zh' ? 'en' : 'zh');
      if (appShown) { renderPresetSelect(); renderConversationList(); if (!gen) renderMessages(); }
      else if (lastStatus) showLoading(lastStatus);
    });
    $('theme-switch').addEventListener('click', () => Theme.toggle());
    Theme.apply();
    $('import-button').addEventListener('click', () => $('import-conversations').click());
    $('export-conversations').addEventListener('click', () => download('qwen-chat-conversations.json', Store.exportJson()));
    $('import-conversations').addEventListener('change', async ev => {
      const file = ev.target.files[0];
      ev.target.value = '';
      if (!file) return;
      try {
        const added = Store.importJson(await file.text());
        if (added.length && !gen) openConversation(added[0].id); else renderConversationList();
      } catch (e) { alert(I18N.t('importFailed') + ' ' + e.message); }
    });
    $('manage-presets').addEventListener('click', () => Presets.openDialog());
    wireSettings();
    Presets.wire();
    Presets.onChange = () => { if (appShown) { renderPresetSelect(); if (!gen) renderMessages(); } };
  }

  // Test hook and console helper: import conversations from a JSON string.
  window.QwenChat = {
    importConversations(text) { const added = Store.importJson(text); if (added.length) openConversation(added[0].id); return added.length; },
    get generating() { return !!gen; },
    get queued() { return !!queued; },
    /** Drops the socket as a lost server would (the page then reconnects by itself). */
    dropConnection() { if (ws) ws.close(); },
  };

  I18N.apply();
  wire();
  Presets.reload().catch(e => console.error('presets', e)).finally(connect);
})();
