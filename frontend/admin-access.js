// The admin token of the dashboard and the bias lab: typed into the page's sign-in form, kept in this
// tab's sessionStorage (gone when the tab closes) and sent as a bearer header. One module, so both
// pages share the token and a refused one sends the user back to the form the same way.
const AdminAccess = (function () {
  'use strict';
  const KEY = 'qwenchat.adminToken';

  class Unauthorized extends Error {}

  // The bearer header, for calls api() does not fit (a download of a blob).
  function headers() {
    return { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) };
  }

  // JSON in and out; 401 throws Unauthorized, any other failure an Error with the server's message.
  async function api(method, path, body) {
    const h = headers();
    if (body) h['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers: h, body: body ? JSON.stringify(body) : undefined });
    const json = await res.json().catch(() => ({}));
    if (res.status === 401) throw new Unauthorized(json.error?.message || 'unauthorized');
    if (!res.ok) throw new Error(json.error?.message || method + ' ' + path + ': HTTP ' + res.status);
    return json;
  }

  function forget() {
    sessionStorage.removeItem(KEY);
  }

  // Wires the page's #login-form (#token) and #logout: start() once a token is stored,
  // showLogin(message) while there is none.
  function bind(start, showLogin) {
    const $ = id => document.getElementById(id);
    $('login-form').addEventListener('submit', ev => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $('token').value.trim());
      $('token').value = '';
      start();
    });
    $('logout').addEventListener('click', () => { forget(); showLogin(''); });
    if (sessionStorage.getItem(KEY)) start(); else showLogin('');
  }

  return { Unauthorized, api, headers, forget, bind };
})();
