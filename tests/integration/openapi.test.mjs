// openapi.test.mjs: the OpenAPI document (docs/openapi.yaml) against the
// code: it lints, its JSON form is fresh, it lists exactly the routes of
// the route table (`tollgate routes`) with the same access, the server answers it, and the
// contract checker every other test runs through api() rejects drift.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startStack, api, TOP } from '../lib/stack.mjs';
import { routeTable } from '../lib/routes.mjs';
import { adminSession } from '../lib/fixtures.mjs';
import { doc, contractProblems, METHODS } from '../lib/contract.mjs';
import { openapiJsonText } from '../../docs/openapi-json.mjs';

const documented = new Map();
for (const [path, item] of Object.entries(doc.paths)) {
  for (const m of METHODS) if (item[m]) documented.set(`${m.toUpperCase()} ${path}`, item[m]);
}

const routes = new Map(routeTable().map((r) => [`${r.method} ${r.pattern}`, r]));

test('the route table and the document list the same method + path pairs', () => {
  assert.equal(routes.size, routeTable().length, 'a method + path twice in the route table');
  assert.deepEqual([...documented.keys()].sort(), [...routes.keys()].sort(),
    'docs/openapi.yaml and `tollgate routes` differ');
});

test('each operation names the access its route has', () => {
  const wrong = [];
  for (const [k, route] of routes) {
    const op = documented.get(k);
    if (!op) continue;
    let want;
    // A public route whose handler checks a credential of its own
    // (GET /v1/metrics) says so with x-credential: handler.
    if (route.access === 'public') want = { security: op['x-credential'] === 'handler' ? [{ metricsToken: [] }] : [] };
    else if (route.access === 'user') want = { security: [{ userToken: [] }], 'x-permission': route.permission };
    else {
      const s = route.scope;
      want = { security: [{ userToken: [] }, { apiKey: [s] }, { apiKeyHeader: [s] }], 'x-permission': route.permission, 'x-scope': s };
    }
    const have = { security: op.security };
    if (op['x-permission'] !== undefined) have['x-permission'] = op['x-permission'];
    if (op['x-scope'] !== undefined) have['x-scope'] = op['x-scope'];
    try { assert.deepEqual(have, want); } catch { wrong.push(`${k}: route ${JSON.stringify(route)}, document ${JSON.stringify(have)}`); }
    if (route.body === 'none' && op.requestBody) wrong.push(`${k}: the route reads no body, the document has one`);
    if (route.body !== 'none' && !op.requestBody) wrong.push(`${k}: the route reads a body, the document has none`);
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
