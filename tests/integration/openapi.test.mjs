// openapi.test.mjs: the OpenAPI document (docs/openapi.yaml) against the
// code: it lints, its JSON form is fresh, it lists exactly the routes of
// src/router.c with the same access, the server answers it, and the
// contract checker every other test runs through api() rejects drift.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startStack, api, TOP } from '../lib/stack.mjs';
import { adminSession } from '../lib/fixtures.mjs';
import { doc, contractProblems, METHODS } from '../lib/contract.mjs';
import { openapiJsonText } from '../../docs/openapi-json.mjs';

// The rows of a route table: "{ M_GET, "/v1/x", handle_x, BODY_X, ACCESS }"
// (the access may continue on the next line).
function routeRows(source) {
  const table = source.slice(source.indexOf('routes[] = {'), source.indexOf('};', source.indexOf('routes[] = {')));
  const rows = new Map();
  const re = /\{\s*M_([A-Z]+),\s*"([^"]+)",\s*(\w+),\s*(\w+),\s*(PUBLIC(?:_KDF)?|USER(?:_KDF)?\(\w+\)|ANY\(\w+,\s*\w+\))\s*\}/g;
  for (const m of table.matchAll(re)) {
    rows.set(`${m[1]} ${m[2]}`, { handler: m[3], body: m[4], access: m[5].replace(/\s+/g, ' ') });
  }
  return rows;
}

const documented = new Map();
for (const [path, item] of Object.entries(doc.paths)) {
  for (const m of METHODS) if (item[m]) documented.set(`${m.toUpperCase()} ${path}`, item[m]);
}

// Routes of branches being built beside this one (their documents are
// written ahead of the merge); none once they are merged, or in a clone
// without them.
function branchRows() {
  const rows = new Map();
  for (const branch of ['tables', 'spinners']) {
    const r = spawnSync('git', ['show', `${branch}:src/router.c`], { cwd: TOP, encoding: 'utf8' });
    if (r.status === 0) for (const [k, v] of routeRows(r.stdout)) rows.set(k, { ...v, branch });
  }
  return rows;
}

test('the route table and the document list the same method + path pairs', (t) => {
  const routes = routeRows(readFileSync(join(TOP, 'src', 'router.c'), 'utf8'));
  assert.ok(routes.size >= 20, `parsed only ${routes.size} routes from src/router.c`);
  const undocumented = [...routes.keys()].filter((k) => !documented.has(k));
  const docOnly = [...documented.keys()].filter((k) => !routes.has(k));
  const elsewhere = branchRows();
  const pending = docOnly.filter((k) => elsewhere.has(k));
  const unknown = docOnly.filter((k) => !elsewhere.has(k));
  for (const k of pending) t.diagnostic(`pending merge: ${k} (branch ${elsewhere.get(k).branch})`);
  assert.deepEqual(undocumented, [], `routes of src/router.c missing from docs/openapi.yaml:\n  ${undocumented.join('\n  ')}`);
  assert.deepEqual(unknown, [], `operations of docs/openapi.yaml that no route table has:\n  ${unknown.join('\n  ')}`);
});

test('each operation names the access its route has', () => {
  const routes = new Map([...branchRows(), ...routeRows(readFileSync(join(TOP, 'src', 'router.c'), 'utf8'))]);
  const wrong = [];
  for (const [k, route] of routes) {
    const op = documented.get(k);
    if (!op) continue;
    const perm = { PERM_NONE: 'none', PERM_READ: 'read', PERM_WRITE: 'write', PERM_ADMIN: 'admin' };
    const scope = { SCOPE_INGEST: 'ingest', SCOPE_TRIGGER: 'trigger', SCOPE_READ: 'read' };
    let want;
    const m = route.access.replace('_KDF', '').match(/^(PUBLIC|USER|ANY)(?:\((\w+)(?:, (\w+))?\))?$/);
    // A public route whose handler checks a credential of its own
    // (GET /v1/metrics) says so with x-credential: handler.
    if (m[1] === 'PUBLIC') want = { security: op['x-credential'] === 'handler' ? [{ metricsToken: [] }] : [] };
    else if (m[1] === 'USER') want = { security: [{ userToken: [] }], 'x-permission': perm[m[2]] };
    else {
      const s = scope[m[3]];
      want = { security: [{ userToken: [] }, { apiKey: [s] }, { apiKeyHeader: [s] }], 'x-permission': perm[m[2]], 'x-scope': s };
    }
    const have = { security: op.security };
    if (op['x-permission'] !== undefined) have['x-permission'] = op['x-permission'];
    if (op['x-scope'] !== undefined) have['x-scope'] = op['x-scope'];
    try { assert.deepEqual(have, want); } catch { wrong.push(`${k}: route ${route.access}, document ${JSON.stringify(have)}`); }
    if (route.body === 'BODY_NONE' && op.requestBody) wrong.push(`${k}: the route reads no body, the document has one`);
    if (route.body !== 'BODY_NONE' && !op.requestBody) wrong.push(`${k}: the route reads a body, the document has none`);
  }
  assert.deepEqual(wrong, []);
});

test('docs/openapi.json is docs/openapi.yaml converted (make openapi)', () => {
  assert.ok(readFileSync(join(TOP, 'docs', 'openapi.json'), 'utf8') === openapiJsonText(),
    'docs/openapi.json is stale: run `make openapi` and commit it');
});

test('the document passes Redocly\'s lint (redocly.yaml)', () => {
  const bin = join(TOP, 'node_modules', '.bin', 'redocly');
  assert.ok(existsSync(bin), 'node_modules lacks @redocly/cli: run npm ci');
  const r = spawnSync(bin, ['lint', '--format=codeframe', 'docs/openapi.yaml'], {
    cwd: TOP,
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});

test('every response schema of the document compiles', () => {
  let n = 0;
  for (const [k, op] of documented) {
    const [method, path] = k.split(' ');
    for (const status of Object.keys(op.responses)) {
      // An empty answer is off the contract or not; the schemas compile either way.
      contractProblems(method, path.replaceAll('{id}', 'x'), { status: Number(status), headers: {}, text: '' });
      n += 1;
    }
  }
  assert.ok(n > 300, `${n} responses`);
});

let stack;
let admin;
before(async () => {
  stack = await startStack();
  admin = await adminSession(stack);
});
after(async () => { await stack?.stop(); });

test('GET /v1/openapi.json answers the document, without credentials', async () => {
  const r = await api(stack, 'GET', '/v1/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(r.body, doc);
});

// The checker itself: answers as a drifted handler would give them are
// refused, each naming what drifted.
test('the contract checker refuses drift', async () => {
  const real = await api(stack, 'GET', '/v1/auth/session', { token: admin.token });
  assert.equal(real.status, 200);
  assert.deepEqual(contractProblems('GET', '/v1/auth/session', real), []);
  const drifted = (body, extra = {}) => ({ ...real, ...extra, text: JSON.stringify(body) });
  const problems = (method, path, res) => contractProblems(method, path, res).join('\n');

  // A field renamed in a handler (users.c: organizationId -> orgId).
  const { organizationId, ...user } = real.body.user;
  const renamed = problems('GET', '/v1/auth/session', drifted({ ...real.body, user: { ...user, orgId: organizationId } }));
  assert.match(renamed, /required property 'organizationId'/);
  assert.match(renamed, /additional properties \(orgId\)/);

  // A renamed field in the error body, on any route.
  const denied = await api(stack, 'GET', '/v1/users');
  assert.equal(denied.status, 401);
  const { errorCode, ...rest } = denied.body;
  assert.match(problems('GET', '/v1/users', drifted({ ...rest, errorcode: errorCode }, { status: 401, headers: denied.headers })),
    /required property 'errorCode'/);

  // An errorCode the route does not list, an undocumented status, a lost
  // header, a type changed.
  assert.match(problems('GET', '/v1/users', drifted({ ...denied.body, errorCode: 'PLAN_LIMIT' }, { status: 401, headers: denied.headers })),
    /errorCode must be equal to one of the allowed values/);
  assert.match(problems('GET', '/v1/auth/session', { ...real, status: 201 }), /answered 201, which the document does not list/);
  const noId = new Headers(real.headers);
  noId.delete('x-request-id');
  assert.match(problems('GET', '/v1/auth/session', { ...real, headers: noId }), /header X-Request-Id is missing/);
  assert.match(problems('GET', '/v1/auth/session', drifted({ ...real.body, session: { ...real.body.session, createdAt: 1764547200 } })),
    /session\/createdAt must be string/);

  // Ingest (tables.c): "accepted" renamed, and PLAN_LIMIT without its meter.
  const ok = { accepted: 2, usage: { meter: 'records', used: 12, limit: 10000, resetsAt: '2026-12-01T00:00:00Z' } };
  const ingest = (status, body) => contractProblems('POST', '/v1/tables/tbl_1/records', { status, headers: real.headers, text: JSON.stringify(body) });
  assert.deepEqual(ingest(200, ok), []);
  assert.match(ingest(200, { accepted_count: 2, usage: ok.usage }).join('\n'), /required property 'accepted'/);
  const limit = { error: 'Plan limit.', errorCode: 'PLAN_LIMIT', requestId: real.headers.get('x-request-id') };
  assert.deepEqual(ingest(403, { ...limit, details: { ...ok.usage, used: 10000 } }), []);
  assert.match(ingest(403, limit).join('\n'), /required property 'details'/);

  // A 405 without Allow; a 404 that is not the error body.
  const notAllowed = await api(stack, 'DELETE', '/v1/health');
  assert.equal(notAllowed.status, 405);
  const noAllow = new Headers(notAllowed.headers);
  noAllow.delete('allow');
  assert.match(problems('DELETE', '/v1/health', { ...notAllowed, headers: noAllow }), /header Allow is missing/);
  assert.match(problems('GET', '/v1/nope', { status: 404, headers: real.headers, text: '<html>Not Found</html>' }), /not JSON/);
});
