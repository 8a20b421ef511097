// fixtures.mjs: the steps most tests start from: an organization, a signed-in
// admin, users of each role, API keys; and hand-made JWTs for attack tests.
import { createHash, createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { api, SECRET } from './stack.mjs';

let n = 0;
export const PASSWORD = 'correct horse battery';

export function uniqueEmail(tag = 'user') {
  n += 1;
  return `${tag}-${process.pid}-${n}-${Date.now()}@example.test`;
}

// Signs up a new organization; answers {org, user, email, password}.
export async function signup(stack, { organization = 'Acme', email = uniqueEmail('admin'), password = PASSWORD } = {}) {
  const r = await api(stack, 'POST', '/v1/signup', { json: { organization, email, password, name: 'Ada Admin' } });
  assert.equal(r.status, 201, r.text);
  return { org: r.body.organization, user: r.body.user, email, password };
}

export async function login(stack, email, password = PASSWORD, extra = {}) {
  const r = await api(stack, 'POST', '/v1/auth/login', { json: { email, password, ...extra } });
  assert.equal(r.status, 200, r.text);
  return r.body.token;
}

// A new organization with its admin signed in: {org, user, email, token}.
export async function adminSession(stack, opts = {}) {
  const s = await signup(stack, opts);
  return { ...s, token: await login(stack, s.email, s.password) };
}

// A user of role in the admin's organization, signed in: {user, email, token}.
export async function userWithRole(stack, admin, role) {
  const email = uniqueEmail(role);
  const r = await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email, password: PASSWORD, role } });
  assert.equal(r.status, 201, r.text);
  return { user: r.body, email, token: await login(stack, email) };
}

export async function createKey(stack, token, scopes = ['ingest', 'trigger', 'read'], extra = {}) {
  const r = await api(stack, 'POST', '/v1/api-keys', { token, json: { name: 'integration', scopes, ...extra } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

// ---- hand-made tokens ----

export const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export function envKid(secret = SECRET) {
  return `e${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`;
}

export function signJwt(header, payload, { secret = SECRET, alg = 'sha256' } = {}) {
  const head = typeof header === 'string' ? header : b64url(header);
  const body = typeof payload === 'string' ? payload : b64url(payload);
  const sig = createHmac(alg, secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export function decodeJwt(token) {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}
