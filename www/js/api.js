// api.js: the web app's one door to the public API (docs/openapi.yaml).
// Every request URL is built here (api.projects.list(), api.tables.records(),
// ...), path segments with encodeURIComponent; pages never assemble one.
// It attaches the bearer token, turns every error body into an ApiError,
// sends any 401 to the sign-in page with a banner and any PLAN_LIMIT to
// Billing with the meter named, and never retries: a request is sent once.
//
// The token lives in sessionStorage: this tab (and a tab it opens) can use
// it; other origins cannot read it, it is never sent automatically the way
// a cookie is (so there is no CSRF), and it is gone when the tab closes.
// The device token (tollgate.deviceToken, from the login and sign-up
// answers) lives in localStorage: it names this browser, not a session, so
// signing in again after closing the tab takes this browser's own session
// over instead of asking about "another device". It is no credential on
// its own: a login still needs the password.
// The CSP allows scripts from this origin only, with no inline script and
// Trusted Types required, which is what keeps other scripts away from both.

const TOKEN = 'tollgate.token';
const NOTICE = 'tollgate.notice'; // why the person is on the sign-in page
const LIMIT = 'tollgate.planLimit'; // the PLAN_LIMIT details that led to Billing
const RETURN = 'tollgate.returnTo'; // where to go back to after signing in
const DEVICE = 'tollgate.deviceToken'; // this browser, as the server knows it

export const token = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (t) => sessionStorage.setItem(TOKEN, t),
  clear: () => sessionStorage.removeItem(TOKEN),
};

// The device token: read for every login body, replaced by whatever a
// login or sign-up answer carries. Storage that refuses (a locked-down
// browser) leaves the app working, as a new device each time.
export const deviceToken = {
  get() {
    try { return localStorage.getItem(DEVICE); } catch { return null; }
  },
  keep(answer) {
    const t = answer && answer.deviceToken;
    if (typeof t !== 'string' || !t) return;
    try { localStorage.setItem(DEVICE, t); } catch { /* not kept: a new device next time */ }
  },
  forget() {
    try { localStorage.removeItem(DEVICE); } catch { /* nothing kept */ }
  },
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

// request(method, path, {json, body, type, asked, accept}) -> parsed JSON
// body (null for 204), or with accept (another media type than JSON)
// {text, headers} of a successful answer. Throws ApiError; err.handled is
// set when the person was routed away (401 to sign-in, PLAN_LIMIT to
// Billing), so callers just stop. asked ({action, count}) says what the
// request asks of a meter, for Billing's sentence when the answer is
// PLAN_LIMIT.
async function request(method, path, { json, body, type, asked, accept } = {}) {
  const headers = { Accept: accept || 'application/json' };
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
  if (accept && res.ok) return { text, headers: res.headers };
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.ok) return data;

  const err = new ApiError(res.status, data, res.headers.get('Retry-After'));
  if (res.status === 401 && err.code !== 'INVALID_CREDENTIALS') {
    err.handled = true;
    toSignIn(err.code, err.details);
  } else if (err.code === 'PLAN_LIMIT') {
    err.handled = true;
    toBilling(asked ? { ...err.details, asked } : err.details);
  }
  throw err;
}

const get = (path) => request('GET', path);
const post = (path, json, opts = {}) => request('POST', path, { json: json ?? {}, ...opts });
const put = (path, json) => request('PUT', path, { json });
const del = (path) => request('DELETE', path);

// The page size of every list the app shows; "Load more" follows nextCursor.
export const PAGE_SIZE = 50;

const seg = encodeURIComponent;

// path`/v1/tables/${id}/records`: every interpolated value is encoded as
// one path segment, so an id can never reach another route. A segment the
// browser would resolve or drop ("..", ".", "") throws NOT_FOUND unsent.
function path(strings, ...segments) {
  return strings.reduce((out, s, i) => {
    if (i >= segments.length) return out + s;
    const v = String(segments[i]);
    if (v === '' || v === '.' || v === '..') {
      throw new ApiError(404, { error: 'There is nothing at this address.', errorCode: 'NOT_FOUND' });
    }
    return out + s + seg(v);
  }, '');
}

// withQuery('/v1/jobs', {spinnerId, limit, cursor}): absent values left out.
function withQuery(p, query) {
  const q = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${seg(k)}=${seg(String(v))}`)
    .join('&');
  return q ? `${p}?${q}` : p;
}

// A page of a list: {limit, cursor} (limit defaults to PAGE_SIZE).
const page = ({ limit = PAGE_SIZE, cursor } = {}) => ({ limit, cursor });

// Every record of table id as one CSV text: the pages of GET
// /v1/tables/{id}/records with Accept: text/csv (500 rows each), followed
// by their X-Next-Cursor, under the first page's header row. onPage(rows so
// far) reports progress.
async function exportCsv(id, onPage = () => {}) {
  const parts = [];
  let cursor;
  let rows = 0;
  do {
    const { text, headers } = await request('GET',
      withQuery(path`/v1/tables/${id}/records`, { limit: 500, cursor }), { accept: 'text/csv' });
    // Every page starts with the header row; the file keeps the first.
    const body = parts.length ? text.slice(text.indexOf('\r\n') + 2) : text;
    parts.push(body);
    rows += (body.match(/\r\n/g) || []).length - (parts.length === 1 ? 1 : 0);
    onPage(rows);
    cursor = headers.get('X-Next-Cursor') || undefined;
  } while (cursor);
  return parts.join('');
}

// Logs in with body {email, password, device, force?}, sending this
// browser's device token when it has one and keeping the one the answer
// carries. A device token the server refuses as malformed (400 naming the
// field deviceToken) is forgotten and the login sent once without it, so a
// stale token can never lock this browser out.
async function login(body) {
  const t = deviceToken.get();
  let res;
  try {
    res = await request('POST', '/v1/auth/login', { json: t ? { ...body, deviceToken: t } : body });
  } catch (err) {
    if (!(t && err.status === 400 && err.details.field === 'deviceToken')) throw err;
    deviceToken.forget();
    res = await request('POST', '/v1/auth/login', { json: body });
  }
  deviceToken.keep(res);
  return res;
}

async function signup(body) {
  const res = await post('/v1/signup', body);
  deviceToken.keep(res);
  return res;
}

const CREATE = { action: 'create', count: 1 };

// The API, by resource. Lists take {limit, cursor} and answer
// {data, nextCursor}.
export const api = {
  auth: {
    login,
    logout: () => post('/v1/auth/logout'),
    session: () => get('/v1/auth/session'),
  },
  signup,
  // The caller's sessions, newest first; the first page carries `devices`.
  activity: {
    list: (p) => get(withQuery('/v1/auth/activity', page(p))),
  },
  devices: {
    revoke: (id) => del(path`/v1/auth/devices/${id}`),
  },
  projects: {
    list: (p) => get(withQuery('/v1/projects', page(p))),
    get: (id) => get(path`/v1/projects/${id}`),
    create: (body) => post('/v1/projects', body, { asked: CREATE }),
    remove: (id) => del(path`/v1/projects/${id}`),
  },
  tables: {
    list: (projectId, p) => get(withQuery(path`/v1/projects/${projectId}/tables`, page(p))),
    get: (id) => get(path`/v1/tables/${id}`),
    create: (projectId, body) => post(path`/v1/projects/${projectId}/tables`, body),
    records: (id, p) => get(withQuery(path`/v1/tables/${id}/records`, page(p))),
    exportCsv,
    import: (id, csv) => request('POST', path`/v1/tables/${id}/import`,
      { body: csv, type: 'text/csv', asked: { action: 'import' } }),
    publish: (id) => post(path`/v1/tables/${id}/publish`),
    // What an integration sends records to, as shown to people.
    ingestPath: (id) => path`/v1/tables/${id}/records`,
  },
  spinners: {
    list: (projectId, p) => get(withQuery(path`/v1/projects/${projectId}/spinners`, page(p))),
    get: (id) => get(path`/v1/spinners/${id}`),
    create: (projectId, body) => post(path`/v1/projects/${projectId}/spinners`, body),
    publish: (id) => post(path`/v1/spinners/${id}/publish`),
    trigger: (id) => post(path`/v1/spinners/${id}/trigger`, {}, { asked: { action: 'trigger', count: 1 } }),
  },
  jobs: {
    list: (spinnerId, p) => get(withQuery('/v1/jobs', { spinnerId, ...page(p) })),
  },
  apiKeys: {
    list: (p) => get(withQuery('/v1/api-keys', page(p))),
    create: (body) => post('/v1/api-keys', body, { asked: CREATE }),
    revoke: (id) => del(path`/v1/api-keys/${id}`),
  },
  webhooks: {
    list: (p) => get(withQuery('/v1/webhooks', page(p))),
    create: (body) => post('/v1/webhooks', body, { asked: CREATE }),
    remove: (id) => del(path`/v1/webhooks/${id}`),
    deliveries: (id, p) => get(withQuery(path`/v1/webhooks/${id}/deliveries`, page(p))),
    retry: (id, deliveryId) => post(path`/v1/webhooks/${id}/deliveries/${deliveryId}/retry`),
  },
  billing: {
    usage: () => get('/v1/billing/usage'),
    plans: () => get('/v1/billing/plans'),
    setPlan: (plan) => put('/v1/billing/plan', { plan }),
  },
};

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
