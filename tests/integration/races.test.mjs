// races.test.mjs: parallel clients against the invariants that must hold
// exactly under concurrency and that the resource tests do not already race
// (sessions.test.mjs: forced logins; ratelimit.test.mjs: rate-limit counts;
// ingest.test.mjs: idempotent retries and the records meter;
// billing.test.mjs: 200 triggers, exactly 50 jobs): revocation of a key
// and of a session while they are in use, and
// idempotent retries racing across an API key and a user of one
// organization.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import { adminSession, createKey, tableWithSchema, login, setPlan, PASSWORD } from '../lib/fixtures.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

// Requests in a loop from `clients` parallel clients until stop() resolves;
// each result is {status, start, end} in ms since the epoch.
async function hammer(clients, call, stop) {
  const out = [];
  let done = false;
  stop.then(() => { done = true; });
  await Promise.all(Array.from({ length: clients }, async () => {
    while (!done) {
      const start = Date.now();
      const r = await call();
      out.push({ status: r.status, code: r.body?.errorCode, start, end: Date.now() });
    }
  }));
  return out;
}

test('a key revoked while 16 clients use it: no request sent after the revocation answered succeeds', async () => {
  const { admin, table } = await tableWithSchema(stack, 'n\n1\n');
  const key = await createKey(stack, admin.token, ['ingest', 'read']);
  let revokedAt, sentAt;
  const stop = (async () => {
    await new Promise((r) => setTimeout(r, 300));
    sentAt = Date.now();
    const d = await api(stack, 'DELETE', `/v1/api-keys/${key.id}`, { token: admin.token });
    assert.equal(d.status, 204);
    revokedAt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
  })();
  let i = 0;
  const rs = await hammer(16, () => (i++ % 2
    ? api(stack, 'GET', `/v1/tables/${table.id}/records?limit=1`, { headers: { 'X-API-Key': key.key } })
    : api(stack, 'POST', `/v1/tables/${table.id}/records`, { headers: { 'X-API-Key': key.key }, json: { records: [{ n: 2 }] } })), stop);
  const after = rs.filter((r) => r.start > revokedAt);
  // Answered before the DELETE was sent: 200; sent after its 204: 401.
  const before = rs.filter((r) => r.end < sentAt);
  assert.ok(before.length > 0 && after.length > 0);
  for (const r of before) assert.equal(r.status, 200);
  for (const r of after) assert.equal(r.code, 'INVALID_API_KEY');
  for (const r of rs) assert.ok(r.status === 200 || r.code === 'INVALID_API_KEY', JSON.stringify(r));
  console.log(`# key revocation under load: ${before.length} requests before it all 200, ${after.length} after it all 401 INVALID_API_KEY, ${rs.length - before.length - after.length} in flight either`);
});

test('a session ended (logout, admin revoke, forced login) while 16 clients use its token: refused at once after', async () => {
  const admin = await adminSession(stack);
  setPlan(stack, admin.org.id, 'starter');
  for (const how of ['logout', 'revoke', 'force']) {
    const u = await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email: `race-${how}-${Date.now()}@example.test`, password: PASSWORD, role: 'member' } });
    assert.equal(u.status, 201, u.text);
    const token = await login(stack, u.body.email);
    let endedAt, sentAt;
    const stop = (async () => {
      await new Promise((r) => setTimeout(r, 200));
      sentAt = Date.now();
      if (how === 'logout') assert.equal((await api(stack, 'POST', '/v1/auth/logout', { token })).status, 204);
      else if (how === 'revoke') assert.equal((await api(stack, 'DELETE', `/v1/users/${u.body.id}/session`, { token: admin.token })).status, 204);
      else await login(stack, u.body.email, PASSWORD, { force: true });
      endedAt = Date.now();
      await new Promise((r) => setTimeout(r, 200));
    })();
    const rs = await hammer(16, () => api(stack, 'GET', '/v1/auth/session', { token }), stop);
    const want = how === 'force' ? 'SESSION_REPLACED' : 'SESSION_REVOKED';
    const after = rs.filter((r) => r.start > endedAt);
    assert.ok(after.length > 0);
    for (const r of after) assert.equal(r.code, want, how);
    for (const r of rs.filter((x) => x.end < sentAt)) assert.equal(r.status, 200, how);
    console.log(`# ${how} under load: ${rs.length} requests, ${after.length} after the end, all ${want}`);
  }
  // Exactly one live session per user, whatever raced.
  const live = sql(stack, `SELECT max(n) FROM (SELECT count(*) AS n FROM sessions WHERE ended_at IS NULL GROUP BY user_id) AS live`)[0][0];
  assert.equal(live, '1');
});

test('one Idempotency-Key raced by an API key and a user of the same organization: stored once', async () => {
  const { admin, table } = await tableWithSchema(stack, 'n\n1\n');
  const key = await createKey(stack, admin.token, ['ingest', 'read']);
  const records = Array.from({ length: 100 }, (_, i) => ({ n: i }));
  const auths = [{ headers: { 'X-API-Key': key.key } }, { token: admin.token }];
  let stored = 0;
  for (let round = 0; round < 5; round++) {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => {
      const a = auths[i % 2];
      return api(stack, 'POST', `/v1/tables/${table.id}/records`, { ...a, headers: { ...a.headers, 'Idempotency-Key': `race-${round}` }, json: { records } });
    }));
    const ok = rs.filter((r) => r.status === 200);
    for (const r of rs) assert.ok(r.status === 200 || isErrorBody(r, 409, 'CONFLICT'), r.text);
    assert.ok(ok.length >= 1);
    for (const r of ok) assert.equal(r.text, ok[0].text);
    stored += 100;
  }
  assert.equal(Number(sql(stack, `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]), 1 + stored);
  console.log(`# idempotency race: 5 rounds of 20 retries (key and user mixed): each batch stored once, ${1 + stored} records`);
});
