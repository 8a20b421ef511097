// api.js: the web app's one door to the public API (docs/openapi.yaml).
// It attaches the bearer token, turns every error body into an ApiError,
// sends any 401 to the sign-in page with a banner and any PLAN_LIMIT to
// Billing with the meter named, and never retries: a request is sent once.
//
// The token lives in sessionStorage: this tab (and a tab it opens) can use
// it; other origins cannot read it, it is never sent automatically the way
// a cookie is (so there is no CSRF), and it is gone when the tab closes.
// The CSP allows scripts from this origin only, with no inline script and
// Trusted Types required, which is what keeps other scripts away from it.

const TOKEN = 'tollgate.token';
const NOTICE = 'tollgate.notice'; // why the person is on the sign-in page
const LIMIT = 'tollgate.planLimit'; // the PLAN_LIMIT details that led to Billing
const RETURN = 'tollgate.returnTo'; // where to go back to after signing in

export const token = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (t) => sessionStorage.setItem(TOKEN, t),
  clear: () => sessionStorage.removeItem(TOKEN),
};

// The sign-in banners, by errorCode (and two of the app's own).
export const BANNERS = {
  SESSION_EXPIRED: 'Your session has expired. Please sign in again.',
  SESSION_REVOKED: 'You were signed out.',
  SESSION_REPLACED: 'You signed in on another device.',
  TOKEN_INVALID: 'Please sign in again.',
  TOKEN_MISSING: 'Please sign in again.',
  SIGNED_OUT: 'You have signed out.',
  SIGNED_UP: 'Your organization is ready. Sign in to start.',
};

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const b = body && typeof body === 'object' ? body : {};
    super(b.error || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.code = b.errorCode || (status ? `HTTP_${status}` : 'NETWORK');
    this.details = b.details || {};
    this.requestId = b.requestId || null;
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
    this.handled = false; // true once the client routed the person elsewhere
  }
}

// go(hash) navigates, and re-renders when the hash is already that.
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

// Ends the tab's session locally and shows the sign-in page with the banner
// for code. Nothing is retried: the person signs in again.
export function toSignIn(code, details = {}) {
  token.clear();
  sessionStorage.setItem(NOTICE, JSON.stringify({ code, details }));
  const here = location.hash;
  rememberReturn(here);
  go('#/signin');
}

// Answers (once) why the person was sent to sign in: {code, details} or null.
export function takeNotice() {
  const raw = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  try { return raw ? JSON.parse(raw) : null; } catch { return null; }
}

// Keeps where the person was, to go back there after signing in (not to
// the sign-in, sign-up or sign-out pages themselves).
export function rememberReturn(hash) {
  if (hash && hash.startsWith('#/') && !/^#\/(signin|signup|signout)\b/.test(hash)) {
    sessionStorage.setItem(RETURN, hash);
  }
}

export function takeReturn() {
  const r = sessionStorage.getItem(RETURN);
  sessionStorage.removeItem(RETURN);
  return r && r.startsWith('#/') ? r : null;
}

// Sends the person to Billing with the meter that is full.
export function toBilling(details = {}) {
  sessionStorage.setItem(LIMIT, JSON.stringify(details));
  go(`#/billing?meter=${encodeURIComponent(details.meter || '')}`);
}

export function takePlanLimit() {
  const raw = sessionStorage.getItem(LIMIT);
  sessionStorage.removeItem(LIMIT);
  try { return raw ? JSON.parse(raw) : null; } catch { return null; }
}

// request(method, path, {json, body, type}) -> parsed JSON body (null for
// 204). Throws ApiError; err.handled is set when the person was routed
// away (401 to sign-in, PLAN_LIMIT to Billing), so callers just stop.
export async function request(method, path, { json, body, type } = {}) {
  const headers = { Accept: 'application/json' };
  const t = token.get();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (type) {
    headers['Content-Type'] = type;
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, { error: 'Tollgate cannot be reached. Check your connection, then try again.' });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.ok) return data;

  const err = new ApiError(res.status, data, res.headers.get('Retry-After'));
  if (res.status === 401 && err.code !== 'INVALID_CREDENTIALS') {
    err.handled = true;
    toSignIn(err.code, err.details);
  } else if (err.code === 'PLAN_LIMIT') {
    err.handled = true;
    toBilling(err.details);
  }
  throw err;
}

export const get = (path) => request('GET', path);
export const post = (path, json) => request('POST', path, { json: json ?? {} });
export const put = (path, json) => request('PUT', path, { json });
export const del = (path) => request('DELETE', path);

// A name for this browser, sent as the session's device: "Chrome on Linux".
export function deviceName(ua = navigator.userAgent) {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS'
      : /Linux|X11/.test(ua) ? 'Linux' : 'an unknown system';
  return `${browser} on ${os}`;
}

// Lists are {data, nextCursor}; some answers may be a bare array.
export const items = (body) => (Array.isArray(body) ? body : (body && body.data) || []);
