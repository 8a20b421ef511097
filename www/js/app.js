// app.js: the shell of the web app: the hash router, the role-aware
// navigation and user menu, and the page banner. Pages live in pages/*.js;
// each is an async function (ctx) that mounts its content with ctx.mount().
import { api, rememberReturn, token } from './api.js';
import { h, message, takeFlash } from './ui.js';
import { activity } from './pages/activity.js';
import { signIn, signUp, signOut } from './pages/auth.js';
import { billing } from './pages/billing.js';
import { apiKeys } from './pages/keys.js';
import { projects, project } from './pages/projects.js';
import { spinner } from './pages/spinners.js';
import { table } from './pages/tables.js';
import { webhooks } from './pages/webhooks.js';

// path pattern, page, who may see it ('public', 'any' signed in, 'admin').
const ROUTES = [
  ['/signin', signIn, 'public'],
  ['/signup', signUp, 'public'],
  ['/signout', signOut, 'any'],
  ['/projects', projects, 'any'],
  ['/projects/:id', project, 'any'],
  ['/tables/:id', table, 'any'],
  ['/spinners/:id', spinner, 'any'],
  ['/keys', apiKeys, 'admin'],
  ['/webhooks', webhooks, 'admin'],
  ['/billing', billing, 'any'], // non-admins see the meter that stopped them
  ['/activity', activity, 'any'],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let generation = 0;

function match(path) {
  for (const [pattern, page, who] of ROUTES) {
    const names = [];
    const re = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}$`);
    const m = re.exec(path);
    if (m) {
      const params = {};
      names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { page, who, params };
    }
  }
  return null;
}

async function render() {
  const gen = ++generation;
  const alive = () => gen === generation;
  const hash = location.hash.startsWith('#/') ? location.hash.slice(1) : '/projects';
  const [path, qs] = hash.split('?');
  const query = new URLSearchParams(qs || '');
  const route = match(path);
  closeMenu();

  if (!route) return show(gen, notFound(), 'Not found');

  let me = null;
  if (route.who !== 'public') {
    if (!token.get()) {
      if (path !== '/projects') rememberReturn(location.hash);
      location.replace('#/signin');
      return undefined;
    }
    try {
      me = await api.auth.session();
    } catch (err) {
      if (err.handled || !alive()) return undefined;
      return show(gen, failed(err), 'Error');
    }
    if (!alive()) return undefined;
  }
  renderNav(me, path);

  if (route.who === 'admin' && me.user.role !== 'admin') {
    return show(gen, forbidden(), 'Not available');
  }

  const ctx = {
    params: route.params,
    query,
    me,
    alive,
    isAdmin: me ? me.user.role === 'admin' : false,
    canWrite: me ? me.user.role !== 'viewer' : false,
    mount: (title, ...nodes) => show(gen, nodes, title),
  };
  try {
    await route.page(ctx);
  } catch (err) {
    if (err && err.handled) return undefined;
    if (!(err && err.status !== undefined)) console.error(err); // a bug, not an API answer
    if (alive()) show(gen, failed(err), 'Error');
  }
  return undefined;
}

// Puts a page in <main> (if it is still the page being shown), sets the
// title, shows the flash message the last action left in the page's
// [data-notes] slot (a page without one drops it) and moves focus to its
// heading so screen readers announce it.
function show(gen, nodes, title) {
  if (gen !== generation) return false;
  main.replaceChildren(...[nodes].flat(Infinity).filter(Boolean));
  const f = takeFlash();
  const notes = main.querySelector('[data-notes]');
  // Added once the live region is in the page, so it is announced.
  if (f && notes) requestAnimationFrame(() => notes.append(message(f.kind, f.text)));
  document.title = title ? `${title} · Tollgate` : 'Tollgate';
  // Focus the field a form page starts with, else the heading, so screen
  // readers announce the new page.
  const first = main.querySelector('[autofocus]');
  const heading = main.querySelector('h1');
  if (first) {
    first.focus({ preventScroll: true });
  } else if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
  return true;
}

// A page whose loading failed: the API's sentence and a way on.
function failed(err) {
  return [h('h1', {}, 'This page could not be loaded'),
    h('p', { class: 'alert alert-error', role: 'alert' }, (err && err.message) || 'Something went wrong.',
      err && err.requestId ? h('span', { class: 'request-id' }, `Reference: ${err.requestId}`) : null),
    h('p', {}, h('a', { href: '#/projects' }, 'Go to your projects'), ' or try again in a moment.')];
}

function notFound() {
  return [h('h1', {}, 'Page not found'),
    h('p', {}, 'There is nothing at this address. ', h('a', { href: '#/projects' }, 'Go to your projects'), '.')];
}

function forbidden() {
  return [h('h1', {}, 'Only admins can open this page'),
    h('p', {}, 'Your role does not include this page. An admin of your organization can change your role.')];
}

// The top navigation: what this role may open, and the user menu.
function renderNav(me, path) {
  if (!me) {
    nav.replaceChildren();
    return;
  }
  const link = (href, text) => h('a', {
    href: `#${href}`,
    class: 'nav-link',
    'aria-current': path === href || path.startsWith(`${href}/`) ? 'page' : false,
  }, text);
  const admin = me.user.role === 'admin';
  const who = me.user.name || me.user.email;
  const org = me.organization || {};
  const planName = org.plan ? org.plan.charAt(0).toUpperCase() + org.plan.slice(1) : '';

  const menuId = 'user-menu';
  const button = h('button', {
    type: 'button', class: 'menu-button', 'aria-expanded': 'false', 'aria-controls': menuId,
    onclick: () => toggleMenu(),
  }, h('span', { class: 'avatar', 'aria-hidden': 'true' }, who.charAt(0).toUpperCase()),
  h('span', { class: 'menu-name' }, who), h('span', { class: 'visually-hidden' }, ' — account menu'));
  const menu = h('div', { id: menuId, class: 'menu', hidden: true },
    h('p', { class: 'menu-org' }, h('strong', {}, org.name || ''), planName ? ` · ${planName}` : '',
      h('br'), h('span', { class: 'muted' }, me.user.email),
      h('br'), h('span', { class: 'muted' }, `Role: ${me.user.role}`)),
    h('ul', { role: 'list' },
      admin ? h('li', {}, h('a', { href: '#/billing', class: 'menu-item' }, 'Billing')) : null,
      admin ? h('li', {}, h('a', { href: '#/webhooks', class: 'menu-item' }, 'Webhooks')) : null,
      h('li', {}, h('a', { href: '#/activity', class: 'menu-item' }, 'Sign-in activity')),
      h('li', {}, h('a', { href: '#/signout', class: 'menu-item' }, 'Sign out'))));

  nav.replaceChildren(
    h('ul', { class: 'nav-links', role: 'list' },
      h('li', {}, link('/projects', 'Projects')),
      admin ? h('li', {}, link('/keys', 'API keys')) : null),
    h('div', { class: 'user' }, button, menu));
}

function toggleMenu(open) {
  const button = nav.querySelector('.menu-button');
  const menu = nav.querySelector('.menu');
  if (!button || !menu) return;
  const show = open ?? button.getAttribute('aria-expanded') !== 'true';
  button.setAttribute('aria-expanded', String(show));
  menu.hidden = !show;
  if (show) menu.querySelector('a')?.focus();
}

function closeMenu() { toggleMenu(false); }

document.addEventListener('keydown', (e) => {
  const menu = nav.querySelector('.menu');
  if (e.key === 'Escape' && menu && !menu.hidden) {
    closeMenu();
    nav.querySelector('.menu-button')?.focus();
  }
});
document.addEventListener('click', (e) => {
  const user = nav.querySelector('.user');
  if (user && !user.contains(e.target)) closeMenu();
});

// The skip link focuses <main> without touching the hash the router uses.
document.querySelector('.skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

// A tab coming back to the foreground checks its session once, so a
// replaced or expired session shows its banner without waiting for a click.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && token.get()) {
    api.auth.session().catch(() => {});
  }
});

window.addEventListener('hashchange', render);
render();
