// fixtures.mjs: the steps most tests start from: an organization, a signed-in
// admin, users of each role, API keys; and hand-made JWTs for attack tests.
import { createHash, createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import http from 'node:http';
import { api, sql, SECRET } from './stack.mjs';

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

// ---- projects and data tables ----

// A project of the admin's organization (Trial allows one): its JSON.
export async function createProject(stack, token, name = 'Project') {
  const r = await api(stack, 'POST', '/v1/projects', { token, json: { name } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

export async function createTable(stack, token, projectId, name = 'events') {
  const r = await api(stack, 'POST', `/v1/projects/${projectId}/tables`, { token, json: { name } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

// POST /v1/tables/{id}/import with csv (a string or Buffer) as text/csv.
export function importCsv(stack, token, tableId, csv, headers = {}) {
  return api(stack, 'POST', `/v1/tables/${tableId}/import`, {
    token, body: csv, headers: { 'Content-Type': 'text/csv', ...headers },
  });
}

// A new organization with a project and a table whose schema comes from csv
// (published unless publish is false): {admin, project, table}.
export async function tableWithSchema(stack, csv = 'n,name,score,ok\n1,a,1.5,true\n', { publish = true } = {}) {
  const admin = await adminSession(stack);
  const project = await createProject(stack, admin.token);
  const table = await createTable(stack, admin.token, project.id);
  const imp = await importCsv(stack, admin.token, table.id, csv);
  assert.equal(imp.status, 200, imp.text);
  if (publish) {
    const p = await api(stack, 'POST', `/v1/tables/${table.id}/publish`, { token: admin.token });
    assert.equal(p.status, 200, p.text);
  }
  return { admin, project, table: { ...table, schema: imp.body.schema, published: publish } };
}

// Every record of a table, following nextCursor.
export async function readAllRecords(stack, tableId, auth, limit = 500) {
  const out = [];
  let cursor = null;
  do {
    const q = `limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const r = await api(stack, 'GET', `/v1/tables/${tableId}/records?${q}`, auth);
    assert.equal(r.status, 200, r.text);
    out.push(...r.body.data);
    cursor = r.body.nextCursor;
  } while (cursor);
  return out;
}

// Moves an organization to another plan straight in the database (as
// `tollgate set-plan` does).
export function setPlan(stack, orgId, plan) {
  sql(stack, `UPDATE organizations SET plan = '${plan}' WHERE id = '${orgId}'`);
}

// POST /v1/tables/{id}/records with records (1..500): the 200 body.
export async function ingest(stack, token, tableId, records) {
  const r = await api(stack, 'POST', `/v1/tables/${tableId}/records`, { token, json: { records } });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

// Appends count generated records {"email", "n", "odd": null every other}
// straight into the database: volume for tests that need a slow job, past
// the records meter.
export function insertManyRecords(stack, tableId, count) {
  const object = stack.store === 'postgresql' ? 'json_build_object' : 'json_object';
  sql(stack, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${count})
    INSERT INTO records (table_id, data, created_at) SELECT '${tableId}',
    ${object}('email', 'u' || i || '@example.test', 'n', i, 'odd', CASE WHEN i % 2 = 1 THEN NULL ELSE 'x' END)${stack.store === 'postgresql' ? '::text' : ''},
    ${Math.floor(Date.now() / 1000)} FROM c`);
}

// ---- spinners and jobs ----

export async function createSpinner(stack, token, projectId, tableId, extra = {}) {
  const r = await api(stack, 'POST', `/v1/projects/${projectId}/spinners`,
    { token, json: { name: `s-${uniqueEmail('s')}`, tableId, ...extra } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

export async function publishSpinner(stack, token, id) {
  const r = await api(stack, 'POST', `/v1/spinners/${id}/publish`, { token });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

// POST /v1/spinners/{id}/trigger, expecting 201: the queued job.
export async function trigger(stack, token, spinnerId) {
  const r = await api(stack, 'POST', `/v1/spinners/${spinnerId}/trigger`, { token });
  assert.equal(r.status, 201, r.text);
  return r.body.job;
}

// Polls GET /v1/jobs/{id} until the job is succeeded or failed.
export async function waitJob(stack, token, id, timeoutMs = 10000) {
  const t0 = Date.now();
  for (;;) {
    const r = await api(stack, 'GET', `/v1/jobs/${id}`, { token });
    assert.equal(r.status, 200, r.text);
    if (r.body.status === 'succeeded' || r.body.status === 'failed') return r.body;
    if (Date.now() - t0 > timeoutMs) assert.fail(`job ${id} still ${r.body.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

// One HTTP call with node:http, answering the body's raw bytes: fetch would
// decode them (and mend invalid UTF-8), and refuses raw bytes in a header
// value, which node:http sends as latin1 (one byte each).
export function rawRequest(s, method, path, { headers = {}, json, token } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const body = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
  if (body) { h['Content-Type'] = 'application/json'; h['Content-Length'] = body.length; }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, method, path, headers: h, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, buf: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// The body as JSON, asserting first that every byte of it is valid UTF-8.
export function utf8Json(res) {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(res.buf); // throws on a bad byte
  return JSON.parse(text);
}
