// auth.js: sign in (with the session banners and the single-session
// takeover), sign up (with a welcome on Projects), sign out. api.js sends
// this browser's device token with every login, so signing in again after
// closing the tab takes its own session over without the takeover dialog.
import {
  BANNERS, ApiError, api, deviceName, go, takeNotice, takeReturn, token,
} from '../api.js';
import {
  action, busy, confirmDialog, errorText, field, flash, h, message, when,
} from '../ui.js';

// The banner for why the person is here, read once.
function banner(notice) {
  if (!notice) return null;
  const info = notice.code === 'SIGNED_OUT' || notice.code === 'SIGNED_UP';
  const text = BANNERS[notice.code] || 'Please sign in again.';
  const d = notice.details || {};
  const extra = notice.code === 'SESSION_REPLACED' && (d.device || d.replacedAt)
    ? h('span', { class: 'banner-detail' },
      ` The new session: ${[d.device, d.replacedAt ? when(d.replacedAt) : null].filter(Boolean).join(', ')}.`)
    : null;
  return h('div', {
    class: `banner ${info ? 'banner-info' : 'banner-warn'}`,
    'data-code': notice.code,
  }, h('p', {}, h('strong', {}, text), extra));
}

async function login(email, password, force) {
  const body = { email, password, device: deviceName() };
  if (force) body.force = true;
  return api.auth.login(body);
}

export async function signIn(ctx) {
  const notice = takeNotice();
  if (token.get() && !notice) {
    go('#/projects');
    return;
  }
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const errors = h('div', { class: 'form-errors' });
  const form = h('form', { class: 'card form', novalidate: false },
    field('Email', email),
    field('Password', password),
    errors,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in'));

  form.addEventListener('submit', action(async (e) => {
    e.preventDefault();
    await busy(form, async () => {
      let res;
      try {
        token.clear();
        res = await login(email.value.trim(), password.value, false);
      } catch (err) {
        if (err.code === 'SESSION_ACTIVE') {
          res = await takeOver(err, email.value.trim(), password.value, errors);
          if (!res) return;
        } else {
          errors.replaceChildren(errorText(err));
          if (err.code === 'INVALID_CREDENTIALS') password.select();
          return;
        }
      }
      token.set(res.token);
      go(takeReturn() || '#/projects');
    });
  }));

  // The banner goes into the live region after the page is up, so screen
  // readers announce it.
  const slot = h('div', { class: 'banner-slot', role: 'status', 'aria-live': 'polite' });
  ctx.mount('Sign in', h('div', { class: 'auth' },
    h('h1', {}, 'Sign in'),
    slot,
    form,
    h('p', { class: 'auth-switch' }, 'New to Tollgate? ', h('a', { href: '#/signup' }, 'Create an organization'))));
  const b = banner(notice);
  if (b) requestAnimationFrame(() => slot.append(b));
}

// 409 SESSION_ACTIVE: ask, then sign in once more with force. Answers the
// login body, or null when the person said no or the retry failed.
async function takeOver(err, email, password, errors) {
  const a = err.details.activeSession || {};
  const where = [a.device, a.lastSeenAt ? `last active ${when(a.lastSeenAt)}`
    : a.createdAt ? `signed in ${when(a.createdAt)}` : null].filter(Boolean).join(', ');
  const yes = await confirmDialog({
    title: 'Signed in elsewhere',
    text: `This account is signed in on another device (${where || 'unknown device'}). Sign out there and continue?`,
    confirm: 'Sign out there and continue',
  });
  if (!yes) {
    errors.replaceChildren(message('info', 'You are still signed in on the other device. Nothing was changed.'));
    return null;
  }
  try {
    return await login(email, password, true);
  } catch (e2) {
    errors.replaceChildren(errorText(e2 instanceof ApiError ? e2 : { message: 'Sign-in failed.' }));
    return null;
  }
}

export async function signUp(ctx) {
  const org = h('input', { type: 'text', name: 'organization', autocomplete: 'organization', required: true, maxlength: 200 });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', maxlength: 200 });
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minLength: 10 });
  const errors = h('div', { class: 'form-errors' });
  const form = h('form', { class: 'card form' },
    field('Organization', org),
    field('Your name', name, 'Optional.'),
    field('Email', email),
    field('Password', password, 'At least 10 characters.'),
    errors,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create organization'));

  form.addEventListener('submit', action(async (e) => {
    e.preventDefault();
    await busy(form, async () => {
      const body = { organization: org.value.trim(), email: email.value.trim(), password: password.value };
      if (name.value.trim()) body.name = name.value.trim();
      let created;
      try {
        created = await api.signup(body);
      } catch (err) {
        errors.replaceChildren(errorText(err.code === 'NOT_FOUND'
          ? { message: 'Sign-up is closed on this Tollgate. Ask an admin of your organization to add you.' } : err));
        return;
      }
      // The new admin has no session anywhere yet: sign straight in.
      try {
        const res = await login(body.email, body.password, false);
        token.set(res.token);
        flash('ok', welcome(created, body));
        go('#/projects');
      } catch {
        sessionStorage.setItem('tollgate.notice', JSON.stringify({ code: 'SIGNED_UP' }));
        go('#/signin');
      }
    });
  }));

  ctx.mount('Create an organization', h('div', { class: 'auth' },
    h('h1', {}, 'Create an organization'),
    h('p', { class: 'muted' }, 'You start on the Trial plan and become its admin.'),
    form,
    h('p', { class: 'auth-switch' }, 'Already have an account? ', h('a', { href: '#/signin' }, 'Sign in'))));
}

// The first words on Projects after signing up.
function welcome(created, body) {
  const c = created && typeof created === 'object' ? created : {};
  const org = (c.organization && c.organization.name) || body.organization;
  const who = (c.user && c.user.name) || body.name;
  return `Welcome to Tollgate${who ? `, ${who}` : ''}. Your organization “${org}” is ready and you are its admin. Start by creating a project.`;
}

export async function signOut() {
  try {
    await api.auth.logout();
  } catch (err) {
    if (err.handled) return; // the session had already ended: its banner shows
  }
  token.clear();
  sessionStorage.setItem('tollgate.notice', JSON.stringify({ code: 'SIGNED_OUT' }));
  go('#/signin');
}
