// ratelimit.test.mjs: HTTP rate limits through nginx: headers on every
// answer, exact counts under concurrency and across two processes, separate
// budgets per IP and key, X-Forwarded-For only from trusted proxies,
// Retry-After, and the login budgets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'node:http';
import { chmodSync, statSync } from 'node:fs';
import { startStack, api, isErrorBody, STORE } from '../lib/stack.mjs';
import { adminSession, createKey, signup, PASSWORD } from '../lib/fixtures.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A GET from a chosen loopback source address, with extra headers.
function getFrom(stack, path, { localAddress = '127.0.0.1', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: stack.port, path, localAddress, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end();
  });
}

function checkHeaders(h, limit) {
  assert.equal(h.get('x-ratelimit-limit'), String(limit));
  assert.match(h.get('x-ratelimit-remaining'), /^\d+$/);
  assert.ok(Number(h.get('x-ratelimit-reset')) > Date.now() / 1000 - 1);
  assert.match(h.get('ratelimit-policy'), new RegExp(`q=${limit};w=60`));
  assert.match(h.get('ratelimit'), /r=\d+;t=\d+/);
}

test('headers on 200s and on every kind of error', async () => {
  const stack = await startStack({ TOLLGATE_RATE_IP: '100', TOLLGATE_RATE_USER: '600', TOLLGATE_RATE_LOGIN: '1000' });
  try {
    for (const [m, p, opts] of [
      ['GET', '/v1/health'], ['GET', '/v1/nope'], ['DELETE', '/v1/health'], ['GET', '/v1/users'],
      ['POST', '/v1/signup', { body: '{', headers: { 'Content-Type': 'application/json' } }],
      ['POST', '/v1/signup', { body: '{}', headers: { 'Content-Type': 'text/plain' } }],
    ]) {
      const r = await api(stack, m, p, opts);
      checkHeaders(r.headers, 100);
    }
    const remaining = Number((await api(stack, 'GET', '/v1/health')).headers.get('x-ratelimit-remaining'));
    assert.equal(Number((await api(stack, 'GET', '/v1/health')).headers.get('x-ratelimit-remaining')), remaining - 1);
    const s = await adminSession(stack);
    const u = await api(stack, 'GET', '/v1/auth/session', { token: s.token });
    checkHeaders(u.headers, 600);
    assert.match(u.headers.get('ratelimit-policy'), /^"user"/);
  } finally { await stack.stop(); }
});

test('exactly N in a window with 16 concurrent clients', async () => {
  const stack = await startStack({ TOLLGATE_RATE_IP: '50' });
  try {
    const results = [];
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = 0; i < 8; i++) results.push(await api(stack, 'GET', '/v1/health'));
    }));
    // The start-up health check took one: exactly 50 in all.
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    console.log(`# 128 requests + 1 start-up check, limit 50: ${ok.length + 1} allowed, ${limited.length} refused`);
    assert.equal(ok.length, 49);
    assert.equal(limited.length, 79);
    for (const r of limited) {
      assert.ok(isErrorBody(r, 429, 'RATE_LIMITED'));
      const n = r.headers.get('retry-after');
      assert.match(n, /^\d+$/);
      assert.equal(r.body.error, `Rate limit exceeded. Try again in ${n} seconds.`);
      assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
    }
  } finally { await stack.stop(); }
});

test('exact across two tollgate serve processes sharing one database', async () => {
  const a = await startStack({ TOLLGATE_RATE_IP: '40' });
  const b = await startStack({ TOLLGATE_RATE_IP: '40', TOLLGATE_DB: a.db });
  try {
    // The health checks that started each stack took 1 each.
    const results = [];
    await Promise.all(Array.from({ length: 16 }, async (_, c) => {
      for (let i = 0; i < 6; i++) results.push((await api(c % 2 ? a : b, 'GET', '/v1/health')).status);
    }));
    const ok = results.filter((s) => s === 200).length;
    console.log(`# two processes, limit 40: ${ok + 2} allowed of ${results.length + 2}`);
    assert.equal(ok, 38);
    assert.equal(results.filter((s) => s === 429).length, results.length - 38);
  } finally { await b.stop(); await a.stop(); }
});

test('a rate-limit file others may open is made 0600 in place: a second process still shares the first one\'s table',
  { skip: process.env.TOLLGATE_STORE === 'postgresql' && 'the rate-limit file is named after the SQLite file' }, async () => {
  const a = await startStack({ TOLLGATE_RATE_IP: '10' });
  let b;
  try {
    const file = `${a.db}-ratelimit`;
    const before = statSync(file);
    chmodSync(file, 0o666);
    b = await startStack({ TOLLGATE_RATE_IP: '10', TOLLGATE_DB: a.db });
    const after = statSync(file);
    assert.equal(after.ino, before.ino, 'the same file, not a new one');
    assert.equal((after.mode & 0o777).toString(8), '600');
    // One budget of 10 across both (each start-up health check took 1).
    const codes = [];
    for (let i = 0; i < 10; i++) codes.push((await api(i % 2 ? a : b, 'GET', '/v1/health')).status);
    assert.equal(codes.filter((c) => c === 200).length, 8, codes.join(' '));
  } finally { await b?.stop(); await a.stop(); }
});

test('each client address and each API key has its own budget', async () => {
  const stack = await startStack({ TOLLGATE_RATE_IP: '5', TOLLGATE_RATE_KEY: '4', TOLLGATE_RATE_LOGIN: '100', TOLLGATE_RATE_USER: '1000' });
  try {
    for (const ip of ['127.0.0.2', '127.0.0.3']) {
      const codes = [];
      for (let i = 0; i < 7; i++) codes.push((await getFrom(stack, '/v1/health', { localAddress: ip })).status);
      assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429], ip);
    }
    // A spoofed X-Forwarded-For does not buy a new budget.
    const spoofed = await getFrom(stack, '/v1/health', { localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '203.0.113.9' } });
    assert.equal(spoofed.status, 429);
    // Keys: from one address, two keys, each with 4.
    const s = await signup(stack);
    const login = await api(stack, 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD } });
    const k1 = await createKey(stack, login.body.token, ['read']);
    const k2 = await createKey(stack, login.body.token, ['read']);
    for (const k of [k1, k2]) {
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await api(stack, 'GET', '/v1/billing/usage', { token: k.key })).status);
      assert.deepEqual(codes, [200, 200, 200, 200, 429]);
    }
  } finally { await stack.stop(); }
});

test('X-Forwarded-For counts only from a trusted proxy', async () => {
  const stack = await startStack({ TOLLGATE_RATE_IP: '3', TOLLGATE_TRUSTED_PROXIES: '127.0.0.1' });
  try {
    const codes = async (xff) => {
      const out = [];
      for (let i = 0; i < 4; i++) out.push((await getFrom(stack, '/v1/health', { headers: { 'X-Forwarded-For': xff } })).status);
      return out;
    };
    assert.deepEqual(await codes('203.0.113.1'), [200, 200, 200, 429]);
    assert.deepEqual(await codes('203.0.113.2'), [200, 200, 200, 429]);
    // From an untrusted address the header is ignored.
    const direct = [];
    for (let i = 0; i < 4; i++) direct.push((await getFrom(stack, '/v1/health', { localAddress: '127.0.0.5', headers: { 'X-Forwarded-For': `203.0.113.${10 + i}` } })).status);
    assert.deepEqual(direct, [200, 200, 200, 429]);
  } finally { await stack.stop(); }
});

test('a client that waits Retry-After seconds then succeeds', async () => {
  const stack = await startStack({ TOLLGATE_RATE_IP: '2', TOLLGATE_RATE_WINDOW: '2' });
  try {
    await sleep(2100); // the start-up health check opened a window: let it end
    assert.equal((await api(stack, 'GET', '/v1/health')).status, 200);
    assert.equal((await api(stack, 'GET', '/v1/health')).status, 200);
    const r = await api(stack, 'GET', '/v1/health');
    assert.equal(r.status, 429);
    const wait = Number(r.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 2, String(wait));
    await sleep(wait * 1000 + 100);
    assert.equal((await api(stack, 'GET', '/v1/health')).status, 200);
  } finally { await stack.stop(); }
});

test('the failed-login budget of an account holds under parallel guesses', async () => {
  // 16 threads: 4 KDF threads hash guesses at the same time.
  const stack = await startStack({ TOLLGATE_THREADS: '16', TOLLGATE_RATE_LOGIN: '1000', TOLLGATE_RATE_LOGIN_ACCOUNT: '3', TOLLGATE_RATE_IP: '1000' });
  try {
    const s = await signup(stack);
    const wrong = { email: s.email, password: 'wrong password 1' };
    const codes = (await Promise.all(Array.from({ length: 16 }, () => api(stack, 'POST', '/v1/auth/login', { json: wrong }))))
      .map((r) => r.status);
    assert.equal(codes.filter((c) => c === 401).length, 3, codes.join(' '));
    assert.equal(codes.filter((c) => c === 429).length, 13, codes.join(' '));
  } finally { await stack.stop(); }
});

test('login budgets: per IP, and failed attempts per account', async () => {
  const stack = await startStack({ TOLLGATE_RATE_LOGIN: '4', TOLLGATE_RATE_LOGIN_ACCOUNT: '2', TOLLGATE_RATE_IP: '1000' });
  try {
    const s = await signup(stack); // 1 of the 4 login/signup attempts
    const wrong = { email: s.email, password: 'wrong password 1' };
    assert.ok(isErrorBody(await api(stack, 'POST', '/v1/auth/login', { json: wrong }), 401, 'INVALID_CREDENTIALS'));
    assert.ok(isErrorBody(await api(stack, 'POST', '/v1/auth/login', { json: wrong }), 401, 'INVALID_CREDENTIALS'));
    // Two failures: even the right password is refused for now.
    const right = await api(stack, 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD } });
    assert.ok(isErrorBody(right, 429, 'RATE_LIMITED'), right.text);
    assert.match(right.headers.get('ratelimit-policy'), /"login-acct";q=2;w=3600/);
    // The per-IP login budget (4 a minute) is spent now, for any account.
    const other = await api(stack, 'POST', '/v1/auth/login', { json: { email: 'x@example.test', password: 'whatever12' } });
    assert.ok(isErrorBody(other, 429, 'RATE_LIMITED'), other.text);
    assert.match(other.headers.get('ratelimit-policy'), /"login-ip";q=4;w=60/);
    // From another address the per-IP budget is fresh, the account's is not.
    const loginFrom = (localAddress, json) => new Promise((resolve, reject) => {
      const body = JSON.stringify(json);
      const req = request({ host: '127.0.0.1', port: stack.port, path: '/v1/auth/login', method: 'POST', localAddress, agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const elsewhere = await loginFrom('127.0.0.9', { email: s.email, password: PASSWORD });
    assert.equal(elsewhere.status, 429, JSON.stringify(elsewhere.body));
    assert.equal(elsewhere.body.errorCode, 'RATE_LIMITED');
    assert.match(elsewhere.headers['ratelimit-policy'], /"login-acct";q=2;w=3600/);
    // And another email from there is not refused: the per-IP budget is fresh.
    assert.equal((await loginFrom('127.0.0.9', { email: 'y@example.test', password: 'whatever12' })).status, 401);
  } finally { await stack.stop(); }
});

test('an email of no account answers 429 at the same limit, alike, so a 429 tells nothing', async () => {
  const stack = await startStack({ TOLLGATE_RATE_LOGIN_ACCOUNT: '3' });
  try {
    const s = await signup(stack);
    const made = `nobody-${Date.now()}@example.test`;
    const answers = {};
    for (const email of [s.email, made]) {
      for (let i = 0; i < 3; i++) {
        // The case of an email does not buy a new budget.
        const r = await api(stack, 'POST', '/v1/auth/login', { json: { email: i === 1 ? email.toUpperCase() : email, password: `wrong password ${i}` } });
        assert.ok(isErrorBody(r, 401, 'INVALID_CREDENTIALS'), `${email}: ${r.text}`);
      }
      answers[email] = await api(stack, 'POST', '/v1/auth/login', { json: { email, password: 'wrong password 9' } });
    }
    const [real, fake] = [answers[s.email], answers[made]];
    for (const r of [real, fake]) {
      assert.ok(isErrorBody(r, 429, 'RATE_LIMITED'), r.text);
      assert.match(r.headers.get('ratelimit-policy'), /^"login-acct";q=3;w=3600$/);
      assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
      assert.ok(Number(r.headers.get('retry-after')) >= 3590, r.headers.get('retry-after'));
    }
    const names = (r) => [...r.headers.keys()].filter((k) => k !== 'date').sort();
    assert.deepEqual(names(fake), names(real));
    for (const h of ['x-ratelimit-limit', 'ratelimit-policy', 'content-type']) assert.equal(fake.headers.get(h), real.headers.get(h), h);
    assert.deepEqual(Object.keys(fake.body).sort(), Object.keys(real.body).sort());
    assert.equal(fake.body.error.replace(/\d+/, 'N'), real.body.error.replace(/\d+/, 'N'));
    // Another made-up email has its own budget.
    assert.equal((await api(stack, 'POST', '/v1/auth/login', { json: { email: `other-${made}`, password: 'x' } })).status, 401);
  } finally { await stack.stop(); }
});

// One request on agent (keep-alive), with headers; answers {status, headers, body}.
function call(stack, agent, method, path, { headers = {}, json } = {}) {
  return new Promise((resolve, reject) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const h = { ...headers };
    if (body !== undefined) Object.assign(h, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    const req = request({ host: '127.0.0.1', port: stack.port, method, path, headers: h, agent }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null }));
    });
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

test('a flood of distinct names does not lock new clients out, nor reset an account budget', { timeout: 240000 }, async () => {
  // Every client a distinct IPv6 /64 (a bucket each) behind the trusted
  // nginx: on the local limiter 200,000, three times its table's 65,536
  // slots; on the cluster limiter (PostgreSQL), whose buckets are rows with
  // no such bound, 20,000, each a round trip to the store. With logins for
  // distinct emails among them, each of which once made a bucket too.
  // A window longer than the flood, so a busy client's count must survive it.
  const stack = await startStack({ TOLLGATE_TRUSTED_PROXIES: '127.0.0.1', TOLLGATE_RATE_IP: '100', TOLLGATE_RATE_LOGIN: '20', TOLLGATE_RATE_LOGIN_ACCOUNT: '3', TOLLGATE_RATE_WINDOW: '900' });
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const xff = (i) => ({ 'X-Forwarded-For': `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1` });
  try {
    const total = STORE === 'postgresql' ? 20000 : 200000, logins = 300;
    // A busy client spends 99 of its 100 before the flood.
    for (let i = 0; i < 99; i++) {
      const r = await call(stack, agent, 'GET', '/v1/health', { headers: xff(total + 400) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const t0 = Date.now();
    const codes = new Map();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = next++; i < total; i = next++) {
        const r = i < logins
          ? await call(stack, agent, 'POST', '/v1/auth/login', { headers: xff(i), json: { email: `flood-${i}@example.test`, password: 'not the password' } })
          : await call(stack, agent, 'GET', '/v1/health', { headers: xff(i) });
        codes.set(r.status, (codes.get(r.status) || 0) + 1);
      }
    }));
    const secs = (Date.now() - t0) / 1000;
    console.log(`# flood: ${total} names in ${secs.toFixed(1)} s: ${[...codes].map(([c, n]) => `${n} x ${c}`).join(', ')}`);
    // Not one of them was refused: each was a client's first request.
    assert.deepEqual([...codes.keys()].sort(), [200, 401], [...codes].join(' '));
    assert.equal(codes.get(401), logins);
    // New callers still get through, for a plain request and a signup.
    for (let i = 0; i < 50; i++) {
      const r = await call(stack, agent, 'GET', '/v1/health', { headers: xff(total + i) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const email = `real-${Date.now()}@example.test`;
    const up = await call(stack, agent, 'POST', '/v1/signup', { headers: xff(total + 100), json: { organization: 'Real', email, password: PASSWORD } });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    // A real account's budget still counts, from addresses never seen.
    for (let i = 0; i < 3; i++) {
      const r = await call(stack, agent, 'POST', '/v1/auth/login', { headers: xff(total + 200 + i), json: { email, password: 'wrong password' } });
      assert.equal(r.status, 401, JSON.stringify(r.body));
    }
    const spent = await call(stack, agent, 'POST', '/v1/auth/login', { headers: xff(total + 300), json: { email, password: PASSWORD } });
    assert.equal(spent.status, 429, JSON.stringify(spent.body));
    assert.match(spent.headers['ratelimit-policy'], /"login-acct";q=3;w=3600/);
    // And the busy client's count was not reset by the flood: one left.
    const busy = [];
    for (let i = 0; i < 3; i++) busy.push((await call(stack, agent, 'GET', '/v1/health', { headers: xff(total + 400) })).status);
    assert.deepEqual(busy, [200, 429, 429]);
    // The device that made the account signs in despite the spent budget.
    const mine = await call(stack, agent, 'POST', '/v1/auth/login', { headers: xff(total + 500), json: { email, password: PASSWORD, deviceToken: up.body.deviceToken } });
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
  } finally {
    agent.destroy();
    await stack.stop();
  }
});
