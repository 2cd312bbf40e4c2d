// Light or dark. Without a choice the page follows the system (prefers-color-scheme); the toggle
// stores an explicit one. Loaded in <head> so the first paint already has the right colours.
(function () {
  const KEY = 'qwenchat.theme';
  const media = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

  function current() {
    const chosen = localStorage.getItem(KEY);
    if (chosen === 'dark' || chosen === 'light') return chosen;
    return media && media.matches ? 'dark' : 'light';
  }

  function apply() {
    const theme = current();
    document.documentElement.dataset.theme = theme;
    const sw = document.getElementById('theme-switch');
    if (sw) sw.setAttribute('aria-pressed', String(theme === 'dark'));
  }

  apply();
  if (media && media.addEventListener) media.addEventListener('change', apply);

  window.Theme = {
    get current() { return current(); },
    toggle() { localStorage.setItem(KEY, current() === 'dark' ? 'light' : 'dark'); apply(); },
    apply,
  };
})();
