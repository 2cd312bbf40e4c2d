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

  const DAY = 24 * 3600 * 1000;

  /** Which heading a conversation goes under: pinned first, then by the day it was last used. */
  function groupOf(c, now) {
    if (c.pinned) return 'groupPinned';
    const midnight = new Date(now).setHours(0, 0, 0, 0);
    if (c.updatedAt >= midnight) return 'groupToday';
    if (c.updatedAt >= midnight - DAY) return 'groupYesterday';
    if (c.updatedAt >= midnight - 7 * DAY) return 'groupPrevious7';
    return 'groupOlder';
  }

  function matches(c, query) {
    if (!query) return true;
    const q = query.toLocaleLowerCase();
    return (c.title || '').toLocaleLowerCase().includes(q) || c.messages.some(m => m.content.toLocaleLowerCase().includes(q));
  }

  function iconButton(cls, icon, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = icon;
    b.title = label;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  function renderConversationList() {
    const ul = $('conv-list');
    ul.replaceChildren();
    const list = Store.conversations();
    if (conv && !list.some(c => c.id === conv.id)) list.unshift(conv);
    const query = $('conv-search').value.trim();
    const now = Date.now();
    const order = ['groupPinned', 'groupToday', 'groupYesterday', 'groupPrevious7', 'groupOlder'];
    const shown = list.filter(c => matches(c, query));
    shown.sort((a, b) => order.indexOf(groupOf(a, now)) - order.indexOf(groupOf(b, now)) || b.updatedAt - a.updatedAt);
    let group = null;
    for (const c of shown) {
      const g = groupOf(c, now);
      if (g !== group) {
        group = g;
        const head = document.createElement('li');
        head.className = 'conv-group';
        head.textContent = I18N.t(g);
        ul.appendChild(head);
      }
      ul.appendChild(conversationItem(c));
    }
    if (!shown.length && query) {
      const none = document.createElement('li');
      none.className = 'conv-group';
      none.textContent = I18N.t('noMatches');
      ul.appendChild(none);
    }
  }

  function conversationItem(c) {
    const li = document.createElement('li');
    li.className = 'conv' + (conv && c.id === conv.id ? ' active' : '') + (c.pinned ? ' pinned' : '');
    li.dataset.id = c.id;
    const name = c.title || I18N.t('untitled');
    // Buttons, not spans: reachable by Tab and announced with their names.
    const title = document.createElement('button');
    title.type = 'button';
    title.className = 'conv-title';
    title.textContent = name;
    if (conv && c.id === conv.id) title.setAttribute('aria-current', 'true');
    title.addEventListener('click', () => {
      if (gen) return;
      openConversation(c.id);
      document.body.classList.remove('sidebar-open');
    });
    const pin = iconButton('conv-pin', c.pinned ? '★' : '☆', (c.pinned ? I18N.t('unpin') : I18N.t('pin')) + ': ' + name, () => {
      updateConversation(c.id, { pinned: !c.pinned });
      const again = $('conv-list').querySelector('.conv[data-id="' + CSS.escape(c.id) + '"] .conv-pin');
      if (again) again.focus();
    });
    pin.setAttribute('aria-pressed', String(!!c.pinned));
    const rename = iconButton('conv-rename', '✎', I18N.t('rename') + ': ' + name, () => startRename(li, c));
    const del = iconButton('conv-delete', '✕', I18N.t('deleteConversation') + ': ' + name, () => {
      if (gen && conv.id === c.id) return;
      if (!confirm(I18N.t('confirmDelete'))) return;
      Store.remove(c.id);
      openConversation(conv.id === c.id ? null : conv.id);
    });
    del.title = I18N.t('delete');
    li.append(title, pin, rename, del);
    return li;
  }

  /** Renaming and pinning change how a chat is listed, not when it was used: updatedAt stays. */
  function updateConversation(id, changes) {
    if (conv && conv.id === id) Object.assign(conv, changes);
    if (!Store.update(id, changes) && conv && conv.id === id && conv.messages.length) persist();
    renderConversationList();
  }

  function startRename(li, c) {
    const input = document.createElement('input');
    input.className = 'conv-rename-input';
    input.value = c.title || '';
    input.maxLength = 200;
    input.setAttribute('aria-label', I18N.t('rename'));
    let done = false;
    const finish = save => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      if (save && title) updateConversation(c.id, { title });
      else renderConversationList();
      const item = $('conv-list').querySelector('.conv[data-id="' + CSS.escape(c.id) + '"] .conv-rename');
      if (item) item.focus();
    };
    input.addEventListener('keydown', ev => {
      if (ev.key === 'Enter' && !ev.isComposing) { ev.preventDefault(); finish(true); }
      if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); finish(false); }
    });
    input.addEventListener('blur', () => finish(true));
    li.replaceChildren(input);
    input.focus();
    input.select();
  }

  function conversationMarkdown(c) {
    const lines = ['# ' + (c.title || I18N.t('untitled')), ''];
    if (c.settings && c.settings.systemPrompt) lines.push('**' + I18N.t('systemPrompt') + '**', '', c.settings.systemPrompt, '');
    for (const m of c.messages) {
      lines.push('**' + I18N.t(m.role === 'user' ? 'roleUser' : m.role === 'assistant' ? 'roleAssistant' : 'systemPrompt') + '**', '');
      lines.push(m.content, '');
      for (const f of m.attachments || []) lines.push('📎 ' + f.name, '', '````', f.text, '````', '');
    }
    return lines.join('\n');
  }

  function fileNameFor(c, ext) {
    const base = (c.title || 'conversation').replace(/[\\/:*?"<>|\x00-\x1f]+/g, ' ').trim().slice(0, 60) || 'conversation';
    return base + '.' + ext;
  }

  function newChat() {
    if (gen) return;
    conv = blankConversation(conv ? conv.presetId : 'general');
    Store.setCurrent(conv.id);
    renderConversationList();
    renderPresetSelect();
    renderMessages();
    updateSettingsPlaceholders();
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
    if (m.attachments && m.attachments.length) el.appendChild(attachmentsElement(m.attachments));
    if (m.role === 'assistant' && m.stats) el.appendChild(statsElement(m.stats, index));
    if (m.role === 'user' && queued && queued.convId === conv.id && index === conv.messages.length - 1) {
      const wait = document.createElement('div');
      wait.className = 'queued-note';
      wait.textContent = I18N.t('waitingForConnection');
      el.classList.add('queued');
      el.appendChild(wait);
    }
    el.appendChild(messageActions(el, m, index));
    return el;
  }

  function actionButton(cls, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = label;
    b.addEventListener('click', onClick);
    return b;
  }

  function messageActions(el, m, index) {
    const bar = document.createElement('div');
    bar.className = 'msg-actions';
    if (m.alts && m.alts.length > 1) bar.appendChild(versionNav(m, index));
    if (m.role === 'user') bar.appendChild(actionButton('edit-msg', I18N.t('edit'), () => startEdit(el, index)));
    const copy = actionButton('copy-msg', I18N.t('copy'), () => {
      Render.copyText(m.content, ok => {
        copy.textContent = I18N.t(ok ? 'copied' : 'copyFailed');
        setTimeout(() => { copy.textContent = I18N.t('copy'); }, 1200);
      });
    });
    bar.appendChild(copy);
    bar.appendChild(actionButton('delete-msg', I18N.t('delete'), () => deleteMessage(index)));
    return bar;
  }

  function deleteMessage(index) {
    if (gen || queued || !conv.messages[index]) return;
    conv.messages.splice(index, 1);
    persist();
    renderMessages();
    requestCount();
    $('input').focus();
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
      // The edit is a new branch from here; the old message and its replies stay one click away.
      const edited = { role: 'user', content: text };
      if (m.attachments) edited.attachments = m.attachments;
      addVersion(index, edited);
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

  const SAMPLING = ['temperature', 'topP', 'topK', 'maxTokens', 'seed'];

  function explicitParams() {
    const s = conv.settings || {};
    const out = {};
    for (const k of SAMPLING) if (typeof s[k] === 'number') out[k] = s[k];
    return out;
  }

  /** What the server sees of the conversation: the chat's own system prompt (if any) first. */
  function wireMessages(list) {
    const out = list.map(m => ({ role: m.role, content: wireContent(m) }));
    const sp = conv.settings && conv.settings.systemPrompt;
    if (sp && (!out.length || out[0].role !== 'system')) out.unshift({ role: 'system', content: sp });
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

  // ---------- attached files ----------
  // Text files go into the message itself: the model reads them as part of the prompt, the
  // context meter counts them, and they are kept (and exported) with the message.
  let pendingFiles = [];
  // A socket frame holds 256 KiB (qwen.web.max-message-bytes); a file must leave room for the rest.
  const MAX_FILE_CHARS = 200000;

  /** The text the model sees: the message, then each attached file in a fence of its own. */
  function wireContent(m) {
    if (!m.attachments || !m.attachments.length) return m.content;
    const files = m.attachments.map(f => 'File: ' + f.name + '\n````\n' + f.text + '\n````');
    return [m.content, ...files].filter(Boolean).join('\n\n');
  }

  /** A PDF's text, read by the server (PDFBox): the page has no parser the CSP would allow. */
  async function pdfText(file) {
    const res = await fetch('/api/files/pdf-text', { method: 'POST', headers: Object.assign({ 'Content-Type': 'application/pdf' }, ChatKey.headers()), body: file });
    const data = await res.json().catch(() => null);
    if (res.ok && data && typeof data.text === 'string') return data.text;
    const code = data && data.error && data.error.code;
    throw new Error(I18N.has('pdf_' + code) ? I18N.t('pdf_' + code).replace('{name}', file.name) : I18N.t('notATextFile').replace('{name}', file.name));
  }

  async function attachFiles(files) {
    for (const file of files) {
      if (file.type === 'application/pdf' || /\.pdf$/i.test(file.name)) {
        try {
          const text = await pdfText(file);
          if (!text.trim()) { showNote(I18N.t('pdf_no_text').replace('{name}', file.name)); continue; }
          if (text.length > MAX_FILE_CHARS) { showNote(I18N.t('fileTooLarge').replace('{name}', file.name)); continue; }
          pendingFiles.push({ name: file.name.slice(0, 255), text });
        } catch (e) { showNote(e.message); }
        continue;
      }
      let text;
      try { text = await file.text(); } catch (e) { text = null; }
      if (text == null || /\u0000/.test(text) || text.includes('\uFFFD')) { showNote(I18N.t('notATextFile').replace('{name}', file.name)); continue; }
      if (text.length > MAX_FILE_CHARS) { showNote(I18N.t('fileTooLarge').replace('{name}', file.name)); continue; }
      pendingFiles.push({ name: file.name.slice(0, 255), text });
    }
    renderPendingFiles();
    requestCount();
  }

  function renderPendingFiles() {
    const box = $('attachments');
    box.replaceChildren();
    box.hidden = !pendingFiles.length;
    pendingFiles.forEach((f, i) => {
      const chip = document.createElement('span');
      chip.className = 'file-chip';
      chip.textContent = '📎 ' + f.name;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'remove-file';
      remove.textContent = '✕';
      remove.setAttribute('aria-label', I18N.t('removeFile') + ': ' + f.name);
      remove.addEventListener('click', () => { pendingFiles.splice(i, 1); renderPendingFiles(); requestCount(); $('input').focus(); });
      chip.appendChild(remove);
      box.appendChild(chip);
    });
  }

  function attachmentsElement(list) {
    const box = document.createElement('div');
    box.className = 'msg-files';
    for (const f of list) {
      const d = document.createElement('details');
      d.className = 'msg-file';
      const sum = document.createElement('summary');
      sum.textContent = '📎 ' + f.name;
      const pre = document.createElement('pre');
      pre.textContent = f.text;
      d.append(sum, pre);
      box.appendChild(d);
    }
    return box;
  }

  async function send() {
    const text = $('input').value.trim();
    if ((!text && !pendingFiles.length) || gen || queued || sending || !appShown) return;
    const files = pendingFiles.slice();
    const message = { role: 'user', content: text };
    if (files.length) message.attachments = files;
    const draft = wireMessages(conv.messages.concat([message]));
    if (model && socketOpen()) {
      // Refused here, before anything is stored: the reply needs at least one token of room.
      sending = true;
      $('send-btn').disabled = true;
      let tokens;
      try { tokens = await countNow(draft); } finally { sending = false; $('send-btn').disabled = false; }
      if (tokens != null && model && tokens >= model.contextLength) {
        showNote(I18N.t('tooLongForContext').replace('{tokens}', tokens).replace('{size}', model.contextLength));
        return;
      }
    }
    if ($('input').value.trim() !== text || gen || queued) return;
    $('input').value = '';
    pendingFiles = [];
    renderPendingFiles();
    conv.messages.push(message);
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

  function generate(previous) {
    const history = conv.messages.slice();
    const id = Store.newId();
    stopRequested = false;
    const ok = model && sendFrame({ type: 'chat', id, presetId: conv.presetId, messages: wireMessages(history), params: explicitParams() });
    if (!ok && previous) {
      // A regenerate cannot wait: the reply it would replace stays.
      conv.messages.push(previous);
      renderMessages();
      showNote(I18N.t('reconnecting'));
      return;
    }
    if (!ok) {
      // Kept on screen, marked as waiting, and sent when the server is back (flushQueued).
      queued = { convId: conv.id };
      renderMessages();
      return;
    }
    if (previous) { conv.messages.push(previous); addVersion(conv.messages.length - 1, { role: 'assistant', content: '' }); }
    else conv.messages.push({ role: 'assistant', content: '' });
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
        if (g.text) { last.content = g.text; last.stats = { tokens: 0, finishReason: 'error' }; } else dropEmptyVersion(conv.messages.length - 1);
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
    if (gen || queued || !model || conv.messages.length === 0) return;
    // The reply being replaced is kept as a variant of the new one (‹ 1/2 ›).
    const previous = conv.messages[conv.messages.length - 1].role === 'assistant' ? conv.messages.pop() : null;
    if (conv.messages.length === 0 || conv.messages[conv.messages.length - 1].role !== 'user') { if (previous) conv.messages.push(previous); return; }
    persist();
    renderMessages();
    generate(previous);
  }

  // ---------- variants and branches ----------
  // conv.messages is always the path on screen, so the server, the counter and old exports see a
  // plain list. A message with versions carries them in alts (each {content, stats, tail}: the
  // version and the messages that followed it) and alt (which one is on screen; its own slot is
  // null, since the live copy is the message itself and what follows it in conv.messages).

  function snapshot(m, tail) {
    const out = { content: m.content, tail };
    if (m.stats) out.stats = m.stats;
    if (m.attachments) out.attachments = m.attachments;
    return out;
  }

  /** The message that replaces conv.messages[index] as a new version, and drops what followed. */
  function addVersion(index, fresh) {
    const old = conv.messages[index];
    const alts = old && old.alts ? old.alts.slice() : [null];
    const at = old && old.alts ? old.alt : 0;
    if (old) alts[at] = snapshot(old, conv.messages.slice(index + 1));
    alts.push(null);
    const m = Object.assign({}, fresh, { alts, alt: alts.length - 1 });
    conv.messages = conv.messages.slice(0, index).concat([m]);
    return m;
  }

  function showVersion(index, to) {
    const m = conv.messages[index];
    if (gen || queued || !m || !m.alts || to < 0 || to >= m.alts.length || to === m.alt || !m.alts[to]) return;
    const alts = m.alts.slice();
    alts[m.alt] = snapshot(m, conv.messages.slice(index + 1));
    const next = alts[to];
    alts[to] = null;
    const shown = { role: m.role, content: next.content, alts, alt: to };
    if (next.stats) shown.stats = next.stats;
    if (next.attachments) shown.attachments = next.attachments;
    conv.messages = conv.messages.slice(0, index).concat([shown], next.tail || []);
    persist();
    renderMessages();
    requestCount();
    const nav = $('messages').querySelector('.msg[data-index="' + index + '"] .versions');
    if (nav) nav.querySelector(to > m.alt ? '.next-version' : '.prev-version').focus();
  }

  /** A new version that produced nothing: the one shown before comes back. */
  function dropEmptyVersion(index) {
    const m = conv.messages[index];
    if (!m.alts || m.alts.length < 2) { conv.messages.pop(); return; }
    const before = m.alt - 1 >= 0 ? m.alt - 1 : 0;
    const prev = m.alts[before];
    const alts = m.alts.filter((_, i) => i !== m.alt);
    alts[before] = null;
    const shown = { role: m.role, content: prev.content };
    if (prev.stats) shown.stats = prev.stats;
    if (alts.length > 1) { shown.alts = alts; shown.alt = before; }
    conv.messages = conv.messages.slice(0, index).concat([shown], prev.tail || []);
  }

  function versionNav(m, index) {
    const nav = document.createElement('span');
    nav.className = 'versions';
    const prev = document.createElement('button');
    prev.type = 'button';
    prev.className = 'prev-version';
    prev.textContent = '‹';
    prev.setAttribute('aria-label', I18N.t('previousVersion'));
    prev.disabled = m.alt === 0;
    prev.addEventListener('click', () => showVersion(index, m.alt - 1));
    const label = document.createElement('span');
    label.className = 'version-label';
    label.textContent = (m.alt + 1) + '/' + m.alts.length;
    const next = document.createElement('button');
    next.type = 'button';
    next.className = 'next-version';
    next.textContent = '›';
    next.setAttribute('aria-label', I18N.t('nextVersion'));
    next.disabled = m.alt === m.alts.length - 1;
    next.addEventListener('click', () => showVersion(index, m.alt + 1));
    nav.append(prev, label, next);
    return nav;
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
      const shown = conv.messages.filter(m => !(gen && m === conv.messages[conv.messages.length - 1]));
      const draft = $('input').value;
      if (draft.trim() || pendingFiles.length) shown.push({ role: 'user', content: draft, attachments: pendingFiles });
      const messages = wireMessages(shown);
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

  // The chat's settings. The preset is the template: its values show as placeholders, and an empty
  // field uses them. Nothing here needs the admin token.
  function updateSettingsPlaceholders() {
    if (!model || !conv) return;
    const p = Presets.find(conv.presetId);
    const ps = (p && p.sampling) || {};
    const d = model.defaults;
    const eff = {
      temperature: ps.temperature ?? d.temperature, topP: ps.topP ?? d.topP, topK: ps.topK ?? d.topK,
      maxTokens: ps.maxTokens ?? d.maxTokens, seed: I18N.t('random'), systemPrompt: (p && p.systemPrompt) || I18N.t('modelDefaultPrompt'),
    };
    const s = conv.settings || {};
    for (const k of Object.keys(eff)) {
      const input = $('set-' + k);
      input.placeholder = String(eff[k]);
      input.value = s[k] == null ? '' : s[k];
      showFieldError(k, null);
    }
  }

  // The server's limits (docs/protocol.md; the system prompt as long as a preset's), checked here
  // so a bad value is explained next to its field instead of failing the next reply.
  function settingProblem(k, raw) {
    if (k === 'systemPrompt') return raw.length > 8000 ? I18N.t('limit_systemPrompt') : null;
    if (raw.trim() === '') return null;
    const v = Number(raw);
    const whole = Number.isSafeInteger(v);
    switch (k) {
      case 'temperature': return Number.isFinite(v) && v >= 0 && v <= 2 ? null : I18N.t('limit_temperature');
      case 'topP': return Number.isFinite(v) && v > 0 && v <= 1 ? null : I18N.t('limit_topP');
      case 'topK': return whole && v >= 0 ? null : I18N.t('limit_topK');
      case 'maxTokens': {
        const max = model ? model.contextLength : 32768;
        return whole && v >= 1 && v <= max ? null : I18N.t('limit_maxTokens').replace('{max}', max);
      }
      case 'seed': return whole ? null : I18N.t('limit_seed');
    }
    return null;
  }

  function showFieldError(k, problem) {
    const input = $('set-' + k);
    const err = $('set-' + k + '-error');
    input.setAttribute('aria-invalid', String(!!problem));
    err.textContent = problem || '';
    err.hidden = !problem;
  }

  function saveSetting(k) {
    const raw = $('set-' + k).value;
    const problem = settingProblem(k, raw);
    showFieldError(k, problem);
    if (problem) return false;
    const s = Object.assign({}, conv.settings);
    if (k === 'systemPrompt') { if (raw.trim()) s[k] = raw; else delete s[k]; } else if (raw.trim() === '') delete s[k]; else s[k] = Number(raw);
    conv.settings = s;
    // A chat without messages is not listed yet; its settings are stored with its first message.
    if (conv.messages.length) persist();
    requestCount();
    return true;
  }

  function wireSettings() {
    for (const k of [...SAMPLING, 'systemPrompt']) {
      $('set-' + k).addEventListener('input', () => showFieldError(k, settingProblem(k, $('set-' + k).value)));
      $('set-' + k).addEventListener('change', () => saveSetting(k));
    }
    $('reset-settings').addEventListener('click', () => {
      conv.settings = {};
      if (conv.messages.length) persist();
      updateSettingsPlaceholders();
      requestCount();
    });
    $('open-settings').addEventListener('click', () => { $('settings-panel').hidden = !$('settings-panel').hidden; });
    $('close-settings').addEventListener('click', () => { $('settings-panel').hidden = true; });
  }

  // ---------- wiring ----------

  function download(name, text, type) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: type || 'application/json' }));
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
    // On a phone the drawer covers the chat: a tap beside it closes it.
    $('backdrop').addEventListener('click', () => document.body.classList.remove('sidebar-open'));
    $('close-sidebar').addEventListener('click', () => document.body.classList.remove('sidebar-open'));
    $('lang-switch').addEventListener('click', () => {
      I18N.set(I18N.lang === 'zh' ? 'en' : 'zh');
      if (appShown) { renderPresetSelect(); renderConversationList(); if (!gen) renderMessages(); }
      else if (lastStatus) showLoading(lastStatus);
    });
    $('theme-switch').addEventListener('click', () => Theme.toggle());
    Theme.apply();
    $('import-button').addEventListener('click', () => $('import-conversations').click());
    $('conv-search').addEventListener('input', renderConversationList);
    $('attach-btn').addEventListener('click', () => $('attach-input').click());
    $('attach-input').addEventListener('change', async ev => {
      const files = [...ev.target.files];
      ev.target.value = '';
      await attachFiles(files);
    });
    $('export-markdown').addEventListener('click', () => { if (conv.messages.length) download(fileNameFor(conv, 'md'), conversationMarkdown(conv), 'text/markdown'); });
    $('export-json').addEventListener('click', () => { if (conv.messages.length) download(fileNameFor(conv, 'json'), Store.exportJson([conv])); });
    $('export-conversations').addEventListener('click', () => download('qwen-chat-conversations.json', Store.exportJson()));
    $('import-conversations').addEventListener('change', async ev => {
      const file = ev.target.files[0];
      ev.target.value = '';
      if (!file) return;
      try {
        // A conversation already here (the same file imported again) is opened, not copied.
        const result = Store.importJson(await file.text());
        if (result.conversations.length && !gen) openConversation(result.conversations[0].id); else renderConversationList();
      } catch (e) { alert(I18N.t('importFailed') + ' ' + e.message); }
    });
    $('manage-presets').addEventListener('click', () => Presets.openDialog());
    wireSettings();
    Presets.wire();
    Presets.onChange = () => { if (appShown) { renderPresetSelect(); if (!gen) renderMessages(); } };
  }

  // Test hook and console helper: import conversations from a JSON string.
  window.QwenChat = {
    importConversations(text) { const r = Store.importJson(text); if (r.conversations.length) openConversation(r.conversations[0].id); return r.added; },
    get generating() { return !!gen; },
    get queued() { return !!queued; },
    get sending() { return sending; },
    /** Drops the socket as a lost server would (the page then reconnects by itself). */
    dropConnection() { if (ws) ws.close(); },
  };

  I18N.apply();
  wire();
  Presets.reload().catch(e => console.error('presets', e)).finally(connect);
})();
