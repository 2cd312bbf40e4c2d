// The chat's API key, for servers that protect the chat (qwen.security.protect-chat, see
// docs/operations.md). Asked once and kept in this browser's localStorage; sent as a bearer header
// when reading presets, and traded for a one-time ticket before each socket connection, because a
// browser cannot send headers with a WebSocket. On an open server no key is ever asked.
const ChatKey = (function () {
  const KEY = 'qwenchat.apiKey';
  return {
    get() { return localStorage.getItem(KEY); },
    clear() { localStorage.removeItem(KEY); },
    // Asks for the key; false when the user cancels.
    ask(reason) {
      const typed = window.prompt((reason ? reason + '\n\n' : '') + I18N.t('apiKeyPrompt'));
      if (!typed || !typed.trim()) return false;
      localStorage.setItem(KEY, typed.trim());
      return true;
    },
    headers() { const k = this.get(); return k ? { Authorization: 'Bearer ' + k } : {}; },
    // The socket URL, with a fresh ticket when a key is stored.
    async socketUrl(base) {
      for (;;) {
        const key = this.get();
        if (!key) return base;
        const res = await fetch('/api/chat/ticket', { method: 'POST', headers: { Authorization: 'Bearer ' + key } });
        if (res.ok) return base + '?ticket=' + encodeURIComponent((await res.json()).ticket);
        if (res.status !== 401) throw new Error('HTTP ' + res.status);
        this.clear();
        if (!this.ask(I18N.t('apiKeyRejected'))) return base;
      }
    },
  };
})();
