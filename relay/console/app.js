// The console's entry point: login (a token kept in sessionStorage, or given
// once as /#token=...), the hash router, and the logout button.
import {api, ApiError, setToken, setUnauthenticatedHandler, token} from './api.js';
import {clear, h} from './dom.js';
import * as debuggerView from './debugger.js';
import * as overviewView from './overview.js';
import * as pipelineView from './pipeline.js';
import * as deadLettersView from './deadletters.js';

const VIEWS = {
  'debugger': debuggerView,
  'overview': overviewView,
  'pipeline': pipelineView,
  'dead-letters': deadLettersView,
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const logoutButton = document.getElementById('logout');
let current = null;  // the mounted view module

// "#token=..." logs in and leaves the address bar at once: the fragment never
// reaches the server, and replaceState keeps it out of the history too.
function takeTokenFromFragment() {
  const m = /^#token=([^&]*)/.exec(location.hash);
  if (!m) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname + location.search + '#debugger');
}

function unmount() {
  if (current && current.unmount) current.unmount();
  current = null;
  clear(main);
}

function showLogin(message) {
  unmount();
  nav.hidden = true;
  logoutButton.hidden = true;
  const input = h('input', {
    type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true,
    placeholder: 'tat_...', testid: 'login-token',
  });
  const error = h('p', {class: 'error', testid: 'login-error', role: 'alert'}, message || '');
  const form = h('form', {class: 'card login', testid: 'login-form'},
    h('h1', {}, 'Log in'),
    h('p', {class: 'muted'},
      'An admin token of this relay (the bootstrap token, or one made with POST /admin/v1/tokens). ' +
      'It is kept in this tab only (sessionStorage).'),
    h('label', {for: 'token'}, 'Admin token'),
    input,
    error,
    h('button', {type: 'submit', class: 'primary', testid: 'login-submit'}, 'Log in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    if (await checkToken(error)) route();
  });
  main.append(form);
  input.focus();
}

// A cheap authenticated read tells a good token from a bad one.
async function checkToken(errorEl) {
  try {
    await api('GET', '/sources', {query: {limit: 1}});
    return true;
  } catch (e) {
    setToken('');
    const text = e instanceof ApiError ? e.message : 'cannot reach the relay: ' + e.message;
    if (errorEl) errorEl.textContent = text;
    else showLogin(text);
    return false;
  }
}

function route() {
  if (!token()) {
    showLogin();
    return;
  }
  let name = location.hash.replace(/^#/, '');
  if (!VIEWS[name]) {
    name = 'debugger';
    history.replaceState(null, '', '#debugger');
  }
  unmount();
  nav.hidden = false;
  logoutButton.hidden = false;
  for (const a of nav.querySelectorAll('a')) {
    a.classList.toggle('active', a.getAttribute('href') === '#' + name);
  }
  current = VIEWS[name];
  document.body.dataset.view = name;
  current.mount(main);
}

setUnauthenticatedHandler((err) => {
  setToken('');
  showLogin(err.message);
});

logoutButton.addEventListener('click', () => {
  setToken('');
  history.replaceState(null, '', location.pathname);
  showLogin('Logged out.');
});

window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#token=')) takeTokenFromFragment();
  route();
});

takeTokenFromFragment();
if (token()) {
  checkToken(null).then((ok) => ok && route());
} else {
  showLogin();
}
