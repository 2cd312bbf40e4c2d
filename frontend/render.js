// Markdown → sanitised HTML. Model output is untrusted: marked produces HTML, DOMPurify strips
// scripts, event handlers and javascript: URLs, and only then does it reach innerHTML.
(function () {
  marked.setOptions({ gfm: true, breaks: true });

  // Links from model output open in a new tab without access to this page.
  DOMPurify.addHook('afterSanitizeAttributes', node => {
    // An image without alt text is announced as a bare file name, or not at all.
    if (node.tagName === 'IMG' && !node.hasAttribute('alt')) node.setAttribute('alt', I18N.t('imageInReply'));
    if (node.tagName === 'A' && node.hasAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });

  function sanitize(html) {
    return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form', 'input'], FORBID_ATTR: ['style'] });
  }

  function decorateCode(container) {
    container.querySelectorAll('pre > code').forEach(code => {
      if (code.dataset.done) return;
      code.dataset.done = '1';
      try { hljs.highlightElement(code); } catch (e) { /* unknown language: leave plain */ }
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'copy-code';
      btn.textContent = I18N.t('copy');
      btn.addEventListener('click', () => {
        const text = code.textContent;
        const done = ok => { btn.textContent = I18N.t(ok ? 'copied' : 'copyFailed'); setTimeout(() => { btn.textContent = I18N.t('copy'); }, 1200); };
        if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(() => done(true), () => fallbackCopy(text, done));
        else fallbackCopy(text, done);
      });
      code.parentElement.classList.add('has-copy');
      code.parentElement.appendChild(btn);
    });
  }

  function fallbackCopy(text, done) {
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    // execCommand answers false (or throws) where the browser refuses; saying "Copied" then would be a lie.
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { /* nothing else to try */ }
    ta.remove();
    done(ok);
  }

  window.Render = {
    /** Renders markdown into the element; safe for any input, including half-streamed text. */
    markdown(el, text) {
      el.innerHTML = sanitize(marked.parse(text || ''));
      decorateCode(el);
    },
    sanitize,
  };
})();
