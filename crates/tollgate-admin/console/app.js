// The console's entry point: finds out whether the browser is signed in
// (GET /admin/v1/session), shows the login or the shell (navigation, user menu), and
// renders the page the hash names. Pages live in pages/ and are listed in
// pages/index.js; each gets a fresh element to render into and a context (ctx) with
// the session, the caller's rights and the route.

import { api, get, setCsrf, onSignedOut } from './lib/api.js';
import { h, replace } from './lib/dom.js';
import * as ui from './lib/ui.js';
import * as router from './lib/router.js';
import { pages } from './pages/index.js';

const root = document.getElementById('app');
let session = null;
let main = null;
let nav = null;
let renderSeq = 0;

async function boot(message) {
  try {
    session = await get('/admin/v1/session', { noSignOut: true });
    setCsrf(session.csrf_token);
  } catch (e) {
    session = null;
    if (e.status === 401) return showLogin(message);
    replace(root, h('main', { class: 'login' }, ui.errorNotice(e)));
    return undefined;
  }
  if (session.role === 'developer') return showDeveloper();
  return showShell();
}

function showLogin(message) {
  setCsrf(null);
  const f = ui.form(
    [
      { name: 'username', label: 'Username', required: true },
      { name: 'password', label: 'Password', type: 'password', required: true },
    ],
    {
      submitLabel: 'Sign in',
      submit: (body) => api('POST', '/admin/v1/login', body, { noSignOut: true }),
      done: () => boot(),
    },
  );
  f.querySelector('[name=password]').setAttribute('autocomplete', 'current-password');
  replace(
    root,
    h('main', { class: 'login' },
      h('div', { class: 'login-box' },
        h('div', { class: 'brand big' }, 'Tollgate'),
        h('p', { class: 'muted' }, 'Sign in with a console user.'),
        message ? ui.notice('warn', message) : null,
        f,
        h('p', { class: 'muted small' }, 'Everything here is also available through the admin API: ', h('a', { href: '/admin/v1/openapi.json' }, 'OpenAPI document'), '.'))),
  );
  f.querySelector('input').focus();
}

function showDeveloper() {
  replace(
    root,
    h('main', { class: 'login' },
      h('div', { class: 'login-box' },
        h('div', { class: 'brand big' }, 'Tollgate'),
        ui.notice('info', `${session.username} is a developer: the developer portal is at `, h('a', { href: '/portal/' }, '/portal/'), '.'),
        ui.button('Sign out', logout))),
  );
}

async function logout() {
  try {
    await api('POST', '/admin/v1/logout', undefined, { noSignOut: true });
  } catch {
    // The session may be gone already; signing out locally is what matters.
  }
  session = null;
  showLogin('You are signed out.');
}

const allowed = (p) => p.roles.includes(session.role);

function showShell() {
  nav = h('nav', { class: 'nav', 'aria-label': 'Pages' });
  let group = null;
  for (const p of pages.filter(allowed)) {
    if (p.group && p.group !== group) {
      group = p.group;
      nav.append(h('div', { class: 'nav-group' }, group));
    }
    nav.append(h('a', { href: router.href(p.path), dataset: { page: p.path } }, p.title));
  }
  main = h('main', { class: 'main', id: 'main' });
  const who = session.username || 'admin token';
  replace(
    root,
    h('div', { class: 'shell' },
      h('header', { class: 'topbar' },
        h('a', { class: 'brand', href: '#/home' }, 'Tollgate'),
        h('div', { class: 'spacer' }),
        h('span', { class: 'who' }, who, ' ', ui.pill(session.role, 'role')),
        ui.button('Sign out', logout, '', { id: 'logout' })),
      nav,
      main),
  );
  renderRoute(router.current());
}

async function renderRoute(route) {
  if (!session || !main) return;
  const seq = ++renderSeq;
  const page = pages.find((p) => p.path === route.page);
  nav.querySelectorAll('a').forEach((a) => a.classList.toggle('active', a.dataset.page === route.page));
  const view = h('div', { class: 'view', dataset: { page: route.page } });
  replace(main, view);
  if (!page) {
    replace(view, ui.header('Not found'), ui.notice('warn', 'There is no such page.'));
    return;
  }
  document.title = `${page.title} · Tollgate`;
  if (!allowed(page)) {
    replace(view, ui.header(page.title), ui.notice('warn', `The ${session.role} role cannot see this page.`));
    return;
  }
  replace(view, ui.loading());
  const canWrite = session.role === 'admin' || session.role === 'operator';
  const ctx = {
    session,
    role: session.role,
    canWrite,
    isAdmin: session.role === 'admin',
    gatewayUrl: session.gateway_url,
    params: route.params,
    query: route.query,
    refresh: () => renderRoute(router.current()),
    navigate: router.navigate,
    href: router.href,
  };
  try {
    const mod = await page.load();
    if (seq !== renderSeq) return;
    view.replaceChildren();
    await mod.render(view, ctx);
  } catch (e) {
    if (seq !== renderSeq || e.status === 401) return;
    replace(view, ui.header(page.title), ui.errorNotice(e));
  }
  if (seq === renderSeq) view.dataset.ready = 'true';
}

onSignedOut(() => {
  if (session) {
    session = null;
    showLogin('Your session has ended; sign in again.');
  }
});
router.onRoute(renderRoute);
boot();
