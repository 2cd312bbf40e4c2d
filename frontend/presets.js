// Presets from /api/presets, and the management dialog (create, edit, delete, import, export).
(function () {
  let presets = [];
  // Shared with the admin dashboard: the token lives in this tab's sessionStorage only.
  const TOKEN_KEY = 'qwenchat.adminToken';

  async function api(method, path, body) {
    const headers = body ? { 'Content-Type': 'application/json' } : {};
    const typed = document.getElementById('pf-token').value.trim();
    if (typed) sessionStorage.setItem(TOKEN_KEY, typed);
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (method !== 'GET' && token) headers.Authorization = 'Bearer ' + token;
    if (method === 'GET') Object.assign(headers, ChatKey.headers());
    const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (res.status === 401 && method === 'GET') {
      // A protected chat: reading presets needs one of the server's API keys.
      ChatKey.clear();
      if (ChatKey.ask(data && data.error ? data.error.message : '')) return api(method, path, body);
      throw new Error(data && data.error ? data.error.message : 'HTTP 401');
    }
    if (res.status === 401) {
      // Preset changes are admin-only: ask for the token and let the user retry.
      sessionStorage.removeItem(TOKEN_KEY);
      document.getElementById('pf-token').value = '';
      document.getElementById('pf-auth').hidden = false;
      // One message, ours, in the UI's language, next to the field it asks for (the server's
      // "admin token required" would only say the same thing again, in English).
      const err = new Error(I18N.t('adminTokenNeeded'));
      err.focusToken = true;
      throw err;
    }
    if (!res.ok) throw new Error(presetError(res.status, data && data.error));
    return data;
  }

  /**
   * A refusal in the UI's language. The server's words are English and exact (a field's rule and
   * the value it got): the English page shows them as they are, the Chinese one names the field.
   */
  function presetError(status, error) {
    const field = error && error.field;
    if (I18N.lang === 'en' && error && error.message) return (field && !error.message.startsWith(field) ? field + ': ' : '') + error.message;
    if (status === 400 && field) return I18N.t('presetFieldRejected').replace('{field}', field);
    if (status === 404) return I18N.t('presetNotFound');
    if (status === 409) return I18N.t('presetConflict');
    return I18N.t('err_unknown');
  }

  function num(id) { const v = document.getElementById(id).value; return v === '' ? null : Number(v); }

  function fill(p) {
    const s = (p && p.sampling) || {};
    const set = (id, v) => { document.getElementById(id).value = v == null ? '' : v; };
    set('pf-editing', p && !p.builtin ? p.id : '');
    set('pf-id', p ? (p.builtin ? p.id + '-copy' : p.id) : '');
    document.getElementById('pf-id').disabled = !!(p && !p.builtin);
    set('pf-name-en', p ? p.name.en : ''); set('pf-name-zh', p ? p.name.zh : '');
    set('pf-desc', p && p.description ? I18N.pick(p.description) : '');
    set('pf-system', p ? p.systemPrompt : '');
    set('pf-temperature', s.temperature); set('pf-topP', s.topP); set('pf-topK', s.topK); set('pf-maxTokens', s.maxTokens);
    set('pf-greeting', p && p.greeting ? I18N.pick(p.greeting) : '');
    set('pf-examples', p ? p.examples.join('\n') : '');
    document.getElementById('pf-error').hidden = true;
    document.getElementById('pf-status').hidden = true;
  }

  function formValue() {
    const v = id => document.getElementById(id).value.trim();
    return {
      id: v('pf-id') || null,
      name: { en: v('pf-name-en'), zh: v('pf-name-zh') },
      description: { en: v('pf-desc'), zh: v('pf-desc') },
      systemPrompt: document.getElementById('pf-system').value,
      sampling: { temperature: num('pf-temperature'), topP: num('pf-topP'), topK: num('pf-topK'), maxTokens: num('pf-maxTokens') },
      greeting: { en: v('pf-greeting'), zh: v('pf-greeting') },
      examples: document.getElementById('pf-examples').value.split('\n').map(x => x.trim()).filter(Boolean),
    };
  }

  function showError(e) {
    const el = document.getElementById('pf-error');
    document.getElementById('pf-status').hidden = true;
    el.textContent = e.message;
    el.hidden = false;
    el.scrollIntoView({ block: 'nearest' });
    if (e.focusToken) document.getElementById('pf-token').focus();
  }

  function showSaved(p) {
    const el = document.getElementById('pf-status');
    document.getElementById('pf-error').hidden = true;
    el.textContent = I18N.t('presetSaved').replace('{name}', I18N.pick(p.name) || p.id);
    el.hidden = false;
    el.scrollIntoView({ block: 'nearest' });
  }

  function renderAdminList() {
    const ul = document.getElementById('preset-admin-list');
    ul.replaceChildren();
    for (const p of presets) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = I18N.pick(p.name) + (p.builtin ? ' · ' + I18N.t('builtin') : '');
      li.appendChild(name);
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.textContent = p.builtin ? I18N.t('copy') : I18N.t('edit');
      edit.addEventListener('click', () => fill(p));
      li.appendChild(edit);
      if (!p.builtin) {
        const del = document.createElement('button');
        del.type = 'button';
        del.className = 'danger';
        del.textContent = I18N.t('delete');
        del.addEventListener('click', async () => {
          if (!confirm(I18N.t('confirmDeletePreset'))) return;
          try { await api('DELETE', '/api/presets/' + encodeURIComponent(p.id)); await Presets.reload(); } catch (e) { showError(e); }
        });
        li.appendChild(del);
      }
      ul.appendChild(li);
    }
  }

  window.Presets = {
    onChange: () => {},
    all() { return presets; },
    find(id) { return presets.find(p => p.id === id) || presets[0]; },
    async reload() {
      presets = await api('GET', '/api/presets');
      renderAdminList();
      this.onChange();
    },
    openDialog() {
      fill(null);
      renderAdminList();
      document.getElementById('preset-dialog').showModal();
    },
    wire() {
      document.getElementById('pf-close').addEventListener('click', () => document.getElementById('preset-dialog').close());
      document.getElementById('pf-new').addEventListener('click', () => fill(null));
      document.getElementById('pf-save').addEventListener('click', async () => {
        const editing = document.getElementById('pf-editing').value;
        try {
          const saved = editing
            ? await api('PUT', '/api/presets/' + encodeURIComponent(editing), formValue())
            : await api('POST', '/api/presets', formValue());
          await this.reload();
          fill(saved);
          showSaved(saved);
        } catch (e) { showError(e); }
      });
      document.getElementById('presets-export').addEventListener('click', () => { window.location.href = '/api/presets/export'; });
      document.getElementById('presets-import-button').addEventListener('click', () => document.getElementById('presets-import').click());
      document.getElementById('presets-import').addEventListener('change', async ev => {
        const file = ev.target.files[0];
        ev.target.value = '';
        if (!file) return;
        try { await api('POST', '/api/presets/import', JSON.parse(await file.text())); await this.reload(); } catch (e) { showError(e); }
      });
    },
  };
})();
