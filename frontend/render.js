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
    // MathML is allowed for KaTeX's output; semantics/annotation carry the TeX source, which
    // browsers keep out of the rendering but screen readers and copy can use.
    return DOMPurify.sanitize(html, { USE_PROFILES: { html: true, mathMl: true }, ADD_TAGS: ['semantics', 'annotation'],
      FORBID_TAGS: ['style', 'form', 'input'], FORBID_ATTR: ['style'] });
  }

  // ---- math ----
  // Math is cut out before marked sees it (marked would eat the backslashes and underscores) and
  // put back as KaTeX's MathML after. MathML needs no inline styles or KaTeX fonts, so the CSP
  // (style-src 'self') stays as it is and everything still goes through DOMPurify.
  const CODE = /(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`)/;
  // $$…$$ and \[…\] are display math, \(…\) and $…$ inline. An inline $ needs text hugging it on
  // both sides and no digit after the closing one, so "it costs $5 and $10" stays text.
  const MATH = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$(?![\s$])((?:\\\$|[^$\n])*?[^\s\\])\$(?!\d)/g;

  function extractMath(text) {
    const found = [];
    if (typeof katex === 'undefined') return { text, found };
    const nonce = 'qwm' + Math.random().toString(36).slice(2, 8);
    const parts = text.split(CODE);
    for (let i = 0; i < parts.length; i += 2) {
      parts[i] = parts[i].replace(MATH, (all, d1, d2, i1, i2) => {
        const display = d1 != null || d2 != null;
        const tex = d1 ?? d2 ?? i1 ?? i2;
        found.push(katex.renderToString(tex, { displayMode: display, output: 'mathml', throwOnError: false }));
        return nonce + (found.length - 1) + 'x';
      });
    }
    return { text: parts.join(''), found, nonce };
  }

  function insertMath(html, math) {
    if (!math.found.length) return html;
    return html.replace(new RegExp(math.nonce + '(\\d+)x', 'g'), (all, n) => math.found[Number(n)] ?? all);
  }

  function decorateCode(container) {
    container.querySelectorAll('pre > code').forEach(code => {
      if (code.dataset.done) return;
      code.dataset.done = '1';
      // The language the reply named (not highlight.js's guess) labels the block.
      const named = (code.className.match(/(?:^|\s)language-([\w+#.-]+)/) || [])[1];
      try { hljs.highlightElement(code); } catch (e) { /* unknown language: leave plain */ }
      if (named) {
        const tag = document.createElement('span');
        tag.className = 'code-lang';
        tag.textContent = named;
        code.parentElement.appendChild(tag);
      }
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'copy-code';
      btn.textContent = I18N.t('copy');
      btn.addEventListener('click', () => {
        copyText(code.textContent, ok => { btn.textContent = I18N.t(ok ? 'copied' : 'copyFailed'); setTimeout(() => { btn.textContent = I18N.t('copy'); }, 1200); });
      });
      code.parentElement.classList.add('has-copy');
      code.parentElement.appendChild(btn);
    });
  }

  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(() => done(true), () => fallbackCopy(text, done));
    else fallbackCopy(text, done);
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
      const math = extractMath(text || '');
      el.innerHTML = sanitize(insertMath(marked.parse(math.text), math));
      decorateCode(el);
    },
    sanitize,
    copyText,
  };
})();
