// isolation.test.mjs: tenant isolation, as a matrix. Every route with an
// {id}, read from the route table (`tollgate routes`, so a new route cannot
// be forgotten), is called with another organization's user token and API
// key on this organization's object: the answer must be the very answer a
// missing id gets (status and body, all but the request id), and the object
// must be untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api } from '../lib/stack.mjs';
import { routeTable } from '../lib/routes.mjs';
import { adminSession, createKey, tableWithSchema } from '../lib/fixtures.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

// What kind of object a route's {id} names, from the path segment before it.
const KIND = { users: 'user', 'api-keys': 'apiKey', projects: 'project', tables: 'table', spinners: 'spinner', jobs: 'job', auth: 'device' };

// A body the route accepts in shape, so the answer is about the id.
function bodyFor(route, victim) {
  if (route.body === 'csv') return { body: 'batch,seq\nx,1\n', headers: { 'Content-Type': 'text/csv' } };
  if (route.body === 'none') return {};
  const p = route.pattern;
  const json =
    p === '/v1/users/{id}' ? { role: 'member' }
      : p.endsWith('/password') ? { newPassword: 'taken over 12345' }
        : p.endsWith('/rotate') ? { gracePeriodSeconds: 0 }
          : p.endsWith('/tables') ? { name: 'intruder' }
            : p.endsWith('/records') ? { records: [{ batch: 'intruder', seq: 1 }] }
              : p.endsWith('/spinners') ? { name: 'intruder', tableId: victim.table }
                : p === '/v1/spinners/{id}' ? { name: 'renamed' }
                  : {};
  return { json };
}

test('every {id} route: another organization gets exactly a missing id\'s answer', async () => {
  const routes = routeTable().filter((r) => r.pattern.includes('{id}'));
  assert.ok(routes.length >= 17, `${routes.length} {id} routes`);
  const kinds = new Set(routes.map((r) => KIND[r.pattern.split('/')[2]]));
  assert.ok(!kinds.has(undefined), `a route whose {id} this test cannot make: ${routes.filter((r) => !KIND[r.pattern.split('/')[2]]).map((r) => r.pattern)}`);

  // The victim: an organization with one object of every kind.
  const a = await tableWithSchema(stack, 'batch,seq\nseed,0\n');
  const aKey = await createKey(stack, a.admin.token, ['ingest', 'trigger', 'read']);
  const victim = { user: a.admin.user.id, apiKey: aKey.id, project: a.project.id, table: a.table.id };
  const devices = await api(stack, 'GET', '/v1/auth/devices', { token: a.admin.token });
  assert.equal(devices.status, 200, devices.text);
  victim.device = devices.body.data[0].id;
  if (kinds.has('spinner') || kinds.has('job')) {
    const s = await api(stack, 'POST', `/v1/projects/${victim.project}/spinners`, { token: a.admin.token, json: { name: 'victim', tableId: victim.table } });
    assert.equal(s.status, 201, s.text);
    victim.spinner = s.body.id;
    assert.equal((await api(stack, 'POST', `/v1/spinners/${victim.spinner}/publish`, { token: a.admin.token })).status, 200);
    const j = await api(stack, 'POST', `/v1/spinners/${victim.spinner}/trigger`, { token: a.admin.token });
    assert.equal(j.status, 201, j.text);
    victim.job = j.body.job.id;
  }
  // The intruder: an admin of another organization and its widest key.
  const b = await adminSession(stack);
  const bKey = await createKey(stack, b.token, ['ingest', 'trigger', 'read']);
  const intruders = { 'user token': { token: b.token }, 'API key': { headers: { 'X-API-Key': bKey.key } } };

  const strip = (r) => ({ status: r.status, body: { ...r.body, requestId: undefined } });
  let calls = 0;
  const seen = {};
  for (const route of routes) {
    const kind = KIND[route.pattern.split('/')[2]];
    for (const [who, auth] of Object.entries(intruders)) {
      const send = (id) => {
        const opts = bodyFor(route, victim);
        return api(stack, route.method, route.pattern.replace('{id}', id), { ...auth, ...opts, headers: { ...auth.headers, ...opts.headers } });
      };
      const foreign = await send(victim[kind]);
      const missing = await send(`${victim[kind].slice(0, 4)}zzzzzzzzzzzzzzzzzzzz`);
      calls += 2;
      const where = `${who} ${route.method} ${route.pattern}`;
      assert.deepEqual(strip(foreign), strip(missing), `${where}: a foreign id answers differently from a missing one`);
      // Where the credential may call the route at all, the answer is 404.
      const allowed = who === 'user token' || route.access === 'any';
      assert.equal(foreign.status, allowed ? 404 : 403, `${where}: ${foreign.text}`);
      assert.equal(foreign.body.errorCode, allowed ? 'NOT_FOUND' : 'PERMISSION_DENIED');
      assert.ok(!foreign.text.includes(victim[kind]), `${where}: the answer names the id`);
      seen[foreign.status] = (seen[foreign.status] || 0) + 1;
    }
  }
  // GET /v1/jobs?spinnerId= names an id in the query.
  if (victim.spinner) {
    for (const [who, auth] of Object.entries(intruders)) {
      const foreign = await api(stack, 'GET', `/v1/jobs?spinnerId=${victim.spinner}`, auth);
      const missing = await api(stack, 'GET', `/v1/jobs?spinnerId=spn_zzzzzzzzzzzzzzzzzzzz`, auth);
      calls += 2;
      assert.deepEqual(strip(foreign), strip(missing), `${who} GET /v1/jobs?spinnerId=`);
      assert.ok(!foreign.text.includes(victim.job), `${who}: the victim's job listed`);
    }
  }

  // Nothing of the victim's changed: every object still there, as it was.
  const own = { token: a.admin.token };
  assert.equal((await api(stack, 'GET', '/v1/auth/session', own)).status, 200, 'the victim admin is still signed in');
  assert.equal((await api(stack, 'GET', `/v1/api-keys/${victim.apiKey}`, own)).body.revokedAt, null);
  assert.ok((await api(stack, 'GET', '/v1/auth/devices', own)).body.data.some((d) => d.id === victim.device));
  assert.equal((await api(stack, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': aKey.key } })).status, 200);
  assert.equal((await api(stack, 'GET', `/v1/projects/${victim.project}`, own)).status, 200);
  const t = await api(stack, 'GET', `/v1/tables/${victim.table}`, own);
  assert.equal(t.status, 200);
  assert.equal(t.body.name, a.table.name);
  const recs = await api(stack, 'GET', `/v1/tables/${victim.table}/records`, own);
  assert.deepEqual(recs.body.data, [{ batch: 'seed', seq: 0 }]);
  const users = await api(stack, 'GET', '/v1/users', own);
  assert.deepEqual(users.body.data.map((u) => u.role), ['admin']);
  if (victim.spinner) {
    const s = await api(stack, 'GET', `/v1/spinners/${victim.spinner}`, own);
    assert.equal(s.status, 200);
    assert.equal(s.body.name, 'victim');
  }
  console.log(`# isolation: ${routes.length} {id} routes x 2 credentials, ${calls} requests: ${seen[404] || 0} answered 404 and ${seen[403] || 0} 403 (key on a user-only route), each identical to a missing id's`);
});
