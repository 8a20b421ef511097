// ratelimit_cluster.test.mjs: the cluster limiter (TOLLGATE_RATELIMIT=
// postgresql, the default on PostgreSQL): three `tollgate serve` stacks
// sharing one database, each with a rate-limit table file of its own as
// separate hosts have, admit exactly a budget's units across all of them
// under concurrency (per key, per IP, the per-IP login budget, an unknown
// email's budget, an account's budget and its device's, whose credential
// works on every host), with the same headers everywhere; a bucket seen
// spent is refused on its host without the store; ended windows are deleted;
// and TOLLGATE_RATELIMIT=local keeps counting per host. PostgreSQL pass
// only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { startHosts, api, isErrorBody, sql, holderSleeping, STORE } from '../lib/stack.mjs';
import { signup, login, createKey } from '../lib/fixtures.mjs';

const skip = STORE !== 'postgresql' && 'the PostgreSQL pass runs it';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One request to stack from a chosen loopback source address; answers
// {status, headers (a Headers-like get; count(name): how many times the
// answer carried it), body}.
function call(stack, method, path, { localAddress = '127.0.0.1', headers = {}, json } = {}) {
  return new Promise((resolve, reject) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const h = { ...headers };
    if (body !== undefined) Object.assign(h, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    const req = request({ host: '127.0.0.1', port: stack.port, method, path, localAddress, headers: h, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        const count = (k) => res.rawHeaders.filter((v, i) => i % 2 === 0 && v.toLowerCase() === k.toLowerCase()).length;
        resolve({ status: res.statusCode, headers: { get: (k) => res.headers[k.toLowerCase()] ?? null, count }, body: parsed });
      });
    });
    req.setTimeout(20000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

// total requests made by `workers` concurrent clients, request i going to
// hosts[i % hosts.length] through send(host, i); answers the responses.
async function spread(hosts, total, workers, send) {
  const out = [];
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let i = next++; i < total; i = next++) out.push(await send(hosts[i % hosts.length], i));
  }));
  return out;
}

// Exactly `limit` admitted (status `ok`), the rest 429 RATE_LIMITED naming
// policy; the admitted ones saw each remaining count once, limit-1 down to
// 0, and every answer names one window end and one policy list.
function assertExact(res, limit, ok, policy, what) {
  const admitted = res.filter((r) => r.status === ok);
  const refused = res.filter((r) => r.status === 429);
  console.log(`# ${what}: ${res.length} requests over 3 hosts, limit ${limit}: ${admitted.length} admitted, ${refused.length} refused`);
  assert.equal(admitted.length, limit, `${what}: ${res.map((r) => r.status).join(' ')}`);
  assert.equal(refused.length, res.length - limit, what);
  const remaining = admitted.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => a - b);
  assert.deepEqual(remaining, Array.from({ length: limit }, (_, i) => i), `${what}: each count given once`);
  for (const r of refused) {
    assert.ok(isErrorBody(r, 429, 'RATE_LIMITED') || (r.body?.errorCode === 'RATE_LIMITED'), what);
    assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
    const wait = r.headers.get('retry-after');
    assert.match(wait, /^\d+$/);
    assert.equal(r.headers.count('retry-after'), 1, `${what}: one Retry-After`);
    assert.equal(r.body.error, `Rate limit exceeded. Try again in ${wait} seconds.`);
    assert.match(r.headers.get('ratelimit'), new RegExp(`^"${policy}";r=0;t=${wait}$`));
  }
  for (const r of [...admitted, ...refused]) {
    assert.equal(r.headers.get('x-ratelimit-limit'), String(limit), what);
    assert.match(r.headers.get('ratelimit-policy'), new RegExp(`"${policy}";q=${limit};w=\\d+`), what);
  }
  const resets = new Set(res.map((r) => r.headers.get('x-ratelimit-reset')));
  assert.equal(resets.size, 1, `${what}: one window end on every host: ${[...resets]}`);
}

test('per API key and per IP: exactly the budget across three hosts', { skip }, async () => {
  const c = await startHosts(3, { TOLLGATE_RATE_KEY: '30', TOLLGATE_RATE_IP: '25' });
  try {
    const [a] = c.hosts;
    const s = await signup(a);
    const token = await login(a, s.email);
    const key = await createKey(a, token, ['read']);
    const orgTaken = () => Number(sql(a, "SELECT coalesce(sum(n), 0) FROM rate_buckets WHERE name LIKE 'org:%'")[0][0]);
    const before = orgTaken();
    const byKey = await spread(c.hosts, 70, 12, (h) => call(h, 'GET', '/v1/billing/usage', { headers: { Authorization: `Bearer ${key.key}` } }));
    assertExact(byKey, 30, 200, 'key', 'per key');
    // All or none: the 40 the key's budget refused took nothing from the
    // organization's.
    assert.equal(orgTaken() - before, 30, 'the organization gave the admitted 30, and no more');
    // From an address no other request came from.
    const byIp = await spread(c.hosts, 65, 12, (h) => call(h, 'GET', '/v1/health', { localAddress: '127.0.0.7' }));
    assertExact(byIp, 25, 200, 'ip', 'per IP');
    const rows = sql(a, "SELECT n FROM rate_buckets WHERE name = 'ip:127.0.0.7'");
    assert.deepEqual(rows, [['25']], 'the store gave 25, and no more');
  } finally { await c.stop(); }
});

test('the login budgets across three hosts: per IP, and of an email no account has', { skip }, async () => {
  const c = await startHosts(3, { TOLLGATE_RATE_LOGIN: '10', TOLLGATE_RATE_LOGIN_ACCOUNT: '5', TOLLGATE_THREADS: '8' });
  try {
    // login-ip: every attempt for another made-up email, from one address.
    const perIp = await spread(c.hosts, 50, 12, (h, i) => call(h, 'POST', '/v1/auth/login',
      { localAddress: '127.0.0.8', json: { email: `nobody-${i}-${Date.now()}@example.test`, password: 'wrong password' } }));
    assertExact(perIp, 10, 401, 'login-ip', 'login per IP');
    // All or none: the refused attempts took nothing from the address's
    // own budget either.
    assert.deepEqual(sql(c.hosts[0], "SELECT n FROM rate_buckets WHERE name = 'ip:127.0.0.8'"), [['10']]);
    // One made-up email, from many addresses: its budget of 5 an hour.
    const email = `ghost-${Date.now()}@example.test`;
    const perEmail = await spread(c.hosts, 45, 12, (h, i) => call(h, 'POST', '/v1/auth/login',
      { localAddress: `127.0.1.${1 + (i % 200)}`, json: { email: i % 2 ? email.toUpperCase() : email, password: `wrong ${i}` } }));
    const admitted = perEmail.filter((r) => r.status === 401);
    const refused = perEmail.filter((r) => r.status === 429);
    console.log(`# unknown email: 45 attempts over 3 hosts, budget 5: ${admitted.length} answered 401, ${refused.length} refused`);
    assert.equal(admitted.length, 5, perEmail.map((r) => r.status).join(' '));
    assert.equal(refused.length, 40);
    for (const r of refused) {
      assert.equal(r.body.errorCode, 'RATE_LIMITED');
      assert.equal(r.headers.get('ratelimit-policy'), '"login-acct";q=5;w=3600');
      assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
      assert.ok(Number(r.headers.get('retry-after')) >= 3590, r.headers.get('retry-after'));
    }
    assert.equal(new Set(refused.map((r) => r.headers.get('x-ratelimit-reset'))).size, 1, 'one window end on every host');
  } finally { await c.stop(); }
});

test("an account's sign-in budget and its device credential across three hosts", { skip }, async () => {
  const c = await startHosts(3, { TOLLGATE_RATE_LOGIN: '1000', TOLLGATE_RATE_LOGIN_ACCOUNT: '5', TOLLGATE_RATE_LOGIN_DEVICE: '3', TOLLGATE_THREADS: '8' });
  try {
    const [a, b, d] = c.hosts;
    const s = await signup(a);
    const signIn = (h, i, extra) => call(h, 'POST', '/v1/auth/login',
      { localAddress: `127.0.2.${1 + (i % 200)}`, json: { email: s.email, ...extra } });
    // A device signs in on b, and signs out.
    const mine = await signIn(b, 0, { password: s.password, device: 'laptop' });
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    const { deviceToken } = mine.body;
    assert.equal((await api(b, 'POST', '/v1/auth/logout', { token: mine.body.token })).status, 204);
    // Wrong passwords from many addresses over the three hosts at once:
    // the account's 5 an hour, exactly.
    const wrong = await spread(c.hosts, 45, 12, (h, i) => signIn(h, i, { password: `wrong ${i}` }));
    const failed = wrong.filter((r) => r.status === 401);
    const refused = wrong.filter((r) => r.status === 429);
    console.log(`# account: 45 wrong passwords over 3 hosts, budget 5: ${failed.length} answered 401, ${refused.length} refused`);
    assert.equal(failed.length, 5, wrong.map((r) => r.status).join(' '));
    assert.equal(refused.length, 40);
    for (const r of failed) assert.equal(r.body.errorCode, 'INVALID_CREDENTIALS');
    for (const r of refused) {
      assert.equal(r.body.errorCode, 'RATE_LIMITED');
      assert.equal(r.headers.get('ratelimit-policy'), '"login-acct";q=5;w=3600');
    }
    assert.equal(new Set(refused.map((r) => r.headers.get('x-ratelimit-reset'))).size, 1, 'one window end on every host');
    // The right password without the device: refused on every host.
    for (const [i, h] of c.hosts.entries()) assert.equal((await signIn(h, 50 + i, { password: s.password })).status, 429);
    // The device from b signs in on d: its credential is in the store.
    const owner = await signIn(d, 60, { password: s.password, deviceToken });
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    assert.equal(owner.body.deviceToken, deviceToken);
    assert.equal((await api(d, 'POST', '/v1/auth/logout', { token: owner.body.token })).status, 204);
    // The device's own budget (3) holds across the hosts too.
    const dev = await spread(c.hosts, 12, 6, (h, i) => signIn(h, 70 + i, { password: `wrong ${i}`, deviceToken }));
    assert.equal(dev.filter((r) => r.status === 401).length, 3, dev.map((r) => r.status).join(' '));
    for (const r of dev.filter((x) => x.status === 429)) assert.equal(r.headers.get('ratelimit-policy'), '"login-device";q=3;w=900');
    assert.equal(dev.filter((r) => r.status === 429).length, 9);
    assert.equal((await signIn(a, 90, { password: s.password, deviceToken })).status, 429);
  } finally { await c.stop(); }
});

test('a bucket seen spent is refused on its host without the store; ended windows are deleted', { skip, timeout: 60000 }, async () => {
  const c = await startHosts(2, { TOLLGATE_RATE_IP: '3', TOLLGATE_RATE_WINDOW: '30' });
  let holder;
  try {
    const [a, b] = c.hosts;
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await call(i % 2 ? a : b, 'GET', '/v1/health', { localAddress: '127.0.0.9' })).status);
    assert.deepEqual(codes, [200, 200, 200, 429]);
    // Another session holds the bucket's row: a host that saw it spent (b
    // spent it with the third take, a refused the fourth) refuses at once;
    // a take in the store would wait for the row.
    holder = spawn('psql', ['-X', '-q', '-d', c.url, '-c',
      "BEGIN; SELECT 1 FROM rate_buckets WHERE name = 'ip:127.0.0.9' FOR UPDATE; SELECT pg_sleep(6); COMMIT"], { stdio: 'ignore' });
    const held = new Promise((r) => holder.on('close', r));
    await holderSleeping(b);
    const t0 = Date.now();
    const r = await call(b, 'GET', '/v1/health', { localAddress: '127.0.0.9' });
    const ms = Date.now() - t0;
    assert.equal(r.status, 429);
    assert.equal(holder.exitCode, null, `refused in ${ms} ms, while the row was held`);
    assert.ok(ms < 2500, `refused in ${ms} ms`);
    assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
    assert.match(r.headers.get('retry-after'), /^\d+$/);
    await held;
    holder = null;
    // Windows that ended are deleted by the job runner (every 10 s at most).
    sql(a, `UPDATE rate_buckets SET reset_at = reset_at - 1000`);
    let left = -1;
    for (let i = 0; i < 300 && left !== 0; i++) {
      left = Number(sql(a, `SELECT count(*) FROM rate_buckets WHERE reset_at <= extract(epoch FROM now())`)[0][0]);
      if (left !== 0) await sleep(100);
    }
    assert.equal(left, 0, 'ended windows deleted');
  } finally {
    if (holder) holder.kill('SIGKILL');
    await c.stop();
  }
});

test('a bucket the store cannot lock: 503 with Retry-After, never 500; other buckets and the writers\' lock do not wait', { skip }, async () => {
  const c = await startHosts(1, { TOLLGATE_RATE_IP: '1000' });
  let holder;
  try {
    const [a] = c.hosts;
    assert.equal((await call(a, 'GET', '/v1/health', { localAddress: '127.0.0.10' })).status, 200);
    // The bucket's row held past the connections' lock_timeout (5 s).
    holder = spawn('psql', ['-X', '-q', '-d', c.url, '-c',
      "BEGIN; SELECT 1 FROM rate_buckets WHERE name = 'ip:127.0.0.10' FOR UPDATE; SELECT pg_sleep(10); COMMIT"], { stdio: 'ignore' });
    const held = new Promise((r) => holder.on('close', r));
    await holderSleeping(a);
    const r = await call(a, 'GET', '/v1/health', { localAddress: '127.0.0.10' });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.errorCode, 'UNAVAILABLE');
    assert.match(r.headers.get('retry-after'), /^\d+$/);
    assert.equal(r.headers.count('retry-after'), 1, 'one Retry-After');
    // Other buckets are not held up by it.
    assert.equal((await call(a, 'GET', '/v1/health', { localAddress: '127.0.0.11' })).status, 200);
    await held;
    holder = null;
    assert.equal((await call(a, 'GET', '/v1/health', { localAddress: '127.0.0.10' })).status, 200);
    // Nor by the writers: a take does not wait for their advisory lock
    // (db.c), which a session holds now.
    holder = spawn('psql', ['-X', '-q', '-d', c.url, '-c',
      'SELECT pg_advisory_lock(8390043843661231205); SELECT pg_sleep(6)'], { stdio: 'ignore' });
    const locked = new Promise((r) => holder.on('close', r));
    await holderSleeping(a);
    const t0 = Date.now();
    assert.equal((await call(a, 'GET', '/v1/health', { localAddress: '127.0.0.13' })).status, 200);
    assert.equal(holder.exitCode, null, 'taken while the writers\' lock was held');
    assert.ok(Date.now() - t0 < 2500, `taken in ${Date.now() - t0} ms while the writers' lock was held`);
    await locked;
    holder = null;
  } finally {
    if (holder) holder.kill('SIGKILL');
    await c.stop();
  }
});

test('windows run on the database\'s clock: a host whose clock is ahead neither ends them early nor deletes them', { skip, timeout: 60000 }, async () => {
  // Host b's clock runs 100 s ahead of a's, past the 30 s window.
  const c = await startHosts(2, { TOLLGATE_RATE_IP: '3', TOLLGATE_RATE_WINDOW: '30' }, [{}, { TOLLGATE_CLOCK_OFFSET: '100' }]);
  try {
    const [a, b] = c.hosts;
    const res = [];
    for (let i = 0; i < 8; i++) res.push(await call(i % 2 ? b : a, 'GET', '/v1/health', { localAddress: '127.0.0.14' }));
    assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 429, 429, 429, 429, 429]);
    assert.deepEqual(sql(a, "SELECT n FROM rate_buckets WHERE name = 'ip:127.0.0.14'"), [['3']]);
    // Each host names the one window's end on its own clock; the waits agree.
    const resetOn = (h) => res.filter((r, i) => (i % 2 ? b : a) === h).map((r) => Number(r.headers.get('x-ratelimit-reset')));
    // (b's, read a moment apart from the database's, within a second).
    const ra = resetOn(a), rb = resetOn(b);
    assert.equal(new Set(ra).size, 1, ra.join(' '));
    assert.ok(Math.max(...rb) - Math.min(...rb) <= 1, rb.join(' '));
    assert.ok(Math.abs(rb[0] - ra[0] - 100) <= 1, `${ra} on a, ${rb} on b`);
    for (const r of res.slice(3)) assert.ok(Number(r.headers.get('retry-after')) <= 30, r.headers.get('retry-after'));
    // b's job runner prunes by the database's clock too: the live window
    // outlasts its next prune (every 10 s at most).
    await sleep(11000);
    assert.deepEqual(sql(a, "SELECT n FROM rate_buckets WHERE name = 'ip:127.0.0.14'"), [['3']]);
    assert.equal((await call(b, 'GET', '/v1/health', { localAddress: '127.0.0.14' })).status, 429);
    // A take that names a bucket twice is an error, and takes nothing.
    const take = (names) => sql(a, `SELECT slot, ok, given FROM tollgate_rate_take('{${names}}', '{5,5}', '{60,60}', 1)`);
    assert.deepEqual(sql(a, "SELECT slot, ok, given FROM tollgate_rate_take('{dup:x}', '{5}', '{60}', 1)"), [['1', 't', '1']]);
    assert.throws(() => take('dup:x,dup:x'), /named twice/);
    assert.throws(() => take('dup:y,dup:y')); // PostgreSQL's own ON CONFLICT error
    assert.deepEqual(sql(a, "SELECT name, n FROM rate_buckets WHERE name LIKE 'dup:%'"), [['dup:x', '1']]);
    // A take that waits for its bucket's row past the window's end runs
    // in the window it gets the row in: the clock is read with the row held.
    const one = "SELECT given, ends_at, clock FROM tollgate_rate_take('{wait:x}', '{5}', '{2}', 1)";
    let first = '';
    const holder = spawn('psql', ['-X', '-q', '-A', '-t', '-d', c.url,
      '-c', 'BEGIN', '-c', one, '-c', 'SELECT pg_sleep(4)', '-c', 'COMMIT'], { stdio: ['ignore', 'pipe', 'ignore'] });
    holder.stdout.on('data', (d) => { first += d; });
    const held = new Promise((r) => holder.on('close', r));
    try {
      await holderSleeping(a); // it has taken, and holds the row
      const [[given, endsAt, clock]] = sql(a, `SET lock_timeout = '20s'; ${one}`); // waits for the holder
      await held;
      const [given1, endsAt1] = first.trim().split('\n')[0].split('|');
      assert.equal(given1, '1', `the holder took first: ${first}`);
      assert.ok(Number(clock) >= Number(endsAt1), `the waiting take ran at ${clock}, after the window ending ${endsAt1}`);
      assert.equal(given, '1', 'a new window, not the ended one');
      assert.equal(Number(endsAt), Number(clock) + 2);
    } finally { holder.kill('SIGKILL'); }
  } finally { await c.stop(); }
});

test('TOLLGATE_RATELIMIT=local on PostgreSQL: each host counts its own', { skip }, async () => {
  const c = await startHosts(2, { TOLLGATE_RATELIMIT: 'local', TOLLGATE_RATE_IP: '4' });
  try {
    const codes = [];
    for (const h of c.hosts) for (let i = 0; i < 5; i++) codes.push((await call(h, 'GET', '/v1/health', { localAddress: '127.0.0.12' })).status);
    assert.deepEqual(codes, [200, 200, 200, 200, 429, 200, 200, 200, 200, 429]);
    assert.deepEqual(sql(c.hosts[0], 'SELECT count(*) FROM rate_buckets'), [['0']]);
  } finally { await c.stop(); }
});

test('a made-up TOLLGATE_RATELIMIT, redis, or postgresql on SQLite is refused at start', async () => {
  const { execFileSync } = await import('node:child_process');
  const { BIN, SECRET } = await import('../lib/stack.mjs');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-rlcfg-'));
  try {
    const start = (where, db) => {
      try {
        execFileSync(BIN, ['serve'], { env: { ...process.env, TOLLGATE_DB: db, TOLLGATE_JWT_SECRET: SECRET, TOLLGATE_RATELIMIT: where }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
        return { code: 0, err: '' };
      } catch (e) { return { code: e.status, err: e.stderr }; }
    };
    const lite = join(dir, 't.db');
    let r = start('postgresql', lite);
    assert.equal(r.code, 1);
    assert.match(r.err, /TOLLGATE_RATELIMIT=postgresql needs the PostgreSQL store/);
    r = start('redis', lite);
    assert.equal(r.code, 1);
    assert.match(r.err, /TOLLGATE_RATELIMIT=redis is not part of this build/);
    r = start('memcached', lite);
    assert.equal(r.code, 1);
    assert.match(r.err, /must be "local" or "postgresql"/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
