// webhooks.test.mjs: signed webhooks end to end, against receivers on
// 127.0.0.1 only (node:http servers this file starts and stops): usage
// alerts at 80 % and 100 %, retries, a kill -9 with deliveries pending, the
// address rules (no allow-list, a redirect, an IPv4-mapped loopback), the
// events of sessions, jobs and expiring keys, and the routes themselves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startStack, api, isErrorBody, sql, freePort, BIN, SECRET } from '../lib/stack.mjs';
import {
  adminSession, userWithRole, login, tableWithSchema, importCsv, setPlan, createSpinner,
  publishSpinner, trigger, waitJob, createKey, PASSWORD,
} from '../lib/fixtures.mjs';
import { servePids, killServe } from '../lib/faults.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ENV = { TOLLGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', TOLLGATE_WEBHOOK_BACKOFF_BASE: '1' };

// Polls fn until it answers something truthy (or fails after ms).
async function until(fn, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A receiver on 127.0.0.1: answer(req, n) gives {status, headers} for the
// n-th request (from 1) of an event id. Keeps every request it got.
async function receiver(answer = () => ({ status: 200 }), port = 0) {
  const got = [];
  const hanging = [];
  const perEvent = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = req.headers['tollgate-event-id'] || '';
      const n = (perEvent.get(id) || 0) + 1;
      perEvent.set(id, n);
      const r = { method: req.method, path: req.url, headers: req.headers, body, n };
      got.push(r);
      const a = answer(r, n);
      if (a.hang) { // never answers: the sender gives up after its timeout
        hanging.push(res);
        return;
      }
      res.writeHead(a.status, a.headers || {});
      res.end('ok');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    got,
    url(path = '/hook') { return `http://127.0.0.1:${this.port}${path}`; },
    close: () => new Promise((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

// Whether header is a valid Tollgate-Signature of body under secret.
function signed(secret, header, body) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header || '');
  if (!m) return false;
  const want = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(want, Buffer.from(m[2], 'hex')) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

async function createWebhook(stack, token, url, events) {
  const r = await api(stack, 'POST', '/v1/webhooks', { token, json: { url, events } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

async function deliveries(stack, token, id) {
  const r = await api(stack, 'GET', `/v1/webhooks/${id}/deliveries`, { token });
  assert.equal(r.status, 200, r.text);
  return r.body.data;
}

// Signs in again with "force": true, replacing the live session: a
// session.replaced event.
async function replaceSession(stack, admin, device = 'laptop') {
  const r = await api(stack, 'POST', '/v1/auth/login', { json: { email: admin.email, password: PASSWORD, force: true, device } });
  assert.equal(r.status, 200, r.text);
  admin.token = r.body.token;
  return r.body;
}

function csvRows(n, from = 1) {
  let s = 'n,name,score,ok\n';
  for (let i = from; i < from + n; i++) s += `${i},r${i},1.5,true\n`;
  return s;
}

let stack;
const receivers = [];
before(async () => { stack = await startStack(ENV); });
after(async () => {
  for (const r of receivers) await r.close();
  if (stack) await stack.stop();
});
async function openReceiver(answer, port) {
  const r = await receiver(answer, port);
  receivers.push(r);
  return r;
}

test('POST /v1/webhooks checks its body, is for admins, shows the secret once and stores it sealed; meter webhooks', async () => {
  const admin = await adminSession(stack);
  const member = await userWithRole(stack, admin, 'member');
  const bad = [
    [{}, 'url'],
    [{ url: 'https://hooks.example/x' }, 'events'],
    [{ url: 'https://hooks.example/x', events: [] }, 'events'],
    [{ url: 'https://hooks.example/x', events: 'meter.threshold' }, 'events'],
    [{ url: 'https://hooks.example/x', events: ['meter.threshold', 'meter.thresholds'] }, 'events'],
    [{ url: 'https://hooks.example/x', events: [42] }, 'events'],
    [{ url: 42, events: ['job.finished'] }, 'url'],
    [{ url: 'ftp://hooks.example/x', events: ['job.finished'] }, 'url'],
    [{ url: 'hooks.example/x', events: ['job.finished'] }, 'url'],
    [{ url: 'http://hooks.example/x', events: ['job.finished'] }, 'url'], // http:// to a host not allowed
    [{ url: 'https://user:pw@hooks.example/x', events: ['job.finished'] }, 'url'],
    [{ url: 'http://[::ffff:127.0.0.1]:9/x', events: ['job.finished'] }, 'url'],
    [{ url: 'https://10.0.0.1/x', events: ['job.finished'] }, 'url'],
    [{ url: 'https://169.254.169.254/latest', events: ['job.finished'] }, 'url'],
    [{ url: `https://hooks.example/${'x'.repeat(2100)}`, events: ['job.finished'] }, 'url'],
  ];
  for (const [json, field] of bad) {
    const r = await api(stack, 'POST', '/v1/webhooks', { token: admin.token, json });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), `${JSON.stringify(json).slice(0, 80)}: ${r.text}`);
    assert.equal(r.body.details?.field, field, r.text);
  }
  assert.equal((await api(stack, 'GET', '/v1/webhooks', { token: admin.token })).body.data.length, 0, 'a refused body stored nothing');

  const denied = await api(stack, 'POST', '/v1/webhooks', { token: member.token, json: { url: 'https://hooks.example/x', events: ['job.finished'] } });
  assert.ok(isErrorBody(denied, 403, 'PERMISSION_DENIED'), denied.text);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/webhooks', { token: member.token }), 403, 'PERMISSION_DENIED'));

  // localhost: never looked up outside this machine, and refused at an
  // attempt (no event happens to this organization anyway).
  const w = await createWebhook(stack, admin.token, 'https://localhost:9/tollgate', ['meter.threshold', 'job.finished', 'meter.threshold']);
  assert.match(w.secret, /^whsec_[0-9a-f]{64}$/);
  assert.deepEqual(w.events, ['meter.threshold', 'job.finished'], 'each event once, in the order given');
  const got = await api(stack, 'GET', `/v1/webhooks/${w.id}`, { token: admin.token });
  assert.equal(got.status, 200);
  assert.equal(got.body.secret, undefined, 'the secret is shown once');
  const list = await api(stack, 'GET', '/v1/webhooks', { token: admin.token });
  assert.deepEqual(list.body.data.map((x) => x.id), [w.id]);
  assert.ok(!list.text.includes(w.secret));
  // A copy of the database alone does not reveal the secret.
  const [[stored]] = sql(stack, `SELECT secret FROM webhooks WHERE id = '${w.id}'`);
  assert.ok(!stored.includes(w.secret.slice(6)) && !stored.includes('whsec_'), 'the secret is stored sealed');
  assert.ok(!sql(stack, 'SELECT body FROM webhook_events').flat().join('').includes(w.secret.slice(6)));

  // Trial allows one webhook.
  const full = await api(stack, 'POST', '/v1/webhooks', { token: admin.token, json: { url: 'https://hooks.example/2', events: ['job.finished'] } });
  assert.ok(isErrorBody(full, 403, 'PLAN_LIMIT'), full.text);
  assert.equal(full.body.details.meter, 'webhooks');
  const usage = await api(stack, 'GET', '/v1/billing/usage', { token: admin.token });
  assert.deepEqual(usage.body.meters.find((m) => m.meter === 'webhooks'), { meter: 'webhooks', used: 1, limit: 1, resetsAt: null });
  const plans = await api(stack, 'GET', '/v1/billing/plans', { token: admin.token });
  assert.deepEqual(plans.body.data.map((p) => p.limits.webhooks), [1, 5, 25, null]);

  // Another organization's webhook does not exist for it.
  const other = await adminSession(stack);
  for (const [method, path] of [['GET', `/v1/webhooks/${w.id}`], ['DELETE', `/v1/webhooks/${w.id}`],
    ['GET', `/v1/webhooks/${w.id}/deliveries`], ['POST', `/v1/webhooks/${w.id}/deliveries/dlv_x/retry`]]) {
    const r = await api(stack, method, path, { token: other.token });
    assert.ok(isErrorBody(r, 404, 'NOT_FOUND'), `${method} ${path}: ${r.text}`);
  }
  assert.equal((await api(stack, 'GET', '/v1/webhooks', { token: other.token })).body.data.length, 0);

  assert.equal((await api(stack, 'DELETE', `/v1/webhooks/${w.id}`, { token: admin.token })).status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', `/v1/webhooks/${w.id}`, { token: admin.token }), 404, 'NOT_FOUND'));
  assert.ok(isErrorBody(await api(stack, 'DELETE', `/v1/webhooks/${w.id}`, { token: admin.token }), 404, 'NOT_FOUND'));
  const after2 = await api(stack, 'GET', '/v1/billing/usage', { token: admin.token });
  assert.equal(after2.body.meters.find((m) => m.meter === 'webhooks').used, 0);
});

test('the records meter reaching 80 % and 100 % sends exactly one signed meter.threshold each; a retry sends it again', async () => {
  const rx = await openReceiver();
  const { admin, table } = await tableWithSchema(stack); // 1 record of the 10000 of Trial
  const w = await createWebhook(stack, admin.token, rx.url(), ['meter.threshold']);
  let imp = await importCsv(stack, admin.token, table.id, csvRows(7998, 2)); // 7999: under 80 %
  assert.equal(imp.status, 200, imp.text);
  await sleep(1200);
  assert.equal(rx.got.length, 0, 'nothing before 80 %');
  imp = await importCsv(stack, admin.token, table.id, csvRows(1, 8000)); // 8000: 80 %
  assert.equal(imp.status, 200, imp.text);
  imp = await importCsv(stack, admin.token, table.id, csvRows(1999, 8001)); // 9999
  assert.equal(imp.status, 200, imp.text);
  imp = await importCsv(stack, admin.token, table.id, csvRows(1, 10000)); // 10000: 100 %
  assert.equal(imp.status, 200, imp.text);
  const refused = await importCsv(stack, admin.token, table.id, csvRows(1, 10001));
  assert.ok(isErrorBody(refused, 403, 'PLAN_LIMIT'), refused.text);
  await until(() => rx.got.length >= 2, 10000, 'two events');
  await sleep(1500); // and no third
  assert.equal(rx.got.length, 2, rx.got.map((g) => g.body).join('\n'));

  const events = rx.got.map((g) => {
    assert.equal(g.method, 'POST');
    assert.equal(g.path, '/hook');
    assert.match(g.headers['content-type'], /^application\/json/);
    assert.ok(signed(w.secret, g.headers['tollgate-signature'], g.body), `signature ${g.headers['tollgate-signature']}`);
    assert.ok(!signed(`${w.secret}x`, g.headers['tollgate-signature'], g.body));
    const e = JSON.parse(g.body);
    assert.deepEqual(Object.keys(e).sort(), ['createdAt', 'data', 'id', 'organizationId', 'type']);
    assert.equal(g.headers['tollgate-event-id'], e.id);
    assert.equal(e.type, 'meter.threshold');
    assert.equal(e.organizationId, admin.org.id);
    assert.match(e.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    return e;
  }).sort((a, b) => a.data.threshold - b.data.threshold);
  const resets = (await api(stack, 'GET', '/v1/billing/usage', { token: admin.token })).body.meters.find((m) => m.meter === 'records').resetsAt;
  assert.deepEqual(events.map((e) => e.data), [
    { meter: 'records', used: 8000, limit: 10000, threshold: 80, resetsAt: resets },
    { meter: 'records', used: 10000, limit: 10000, threshold: 100, resetsAt: resets },
  ]);

  const ds = await until(async () => {
    const d = await deliveries(stack, admin.token, w.id);
    return d.length === 2 && d.every((x) => x.status === 'succeeded') && d;
  }, 5000, 'both deliveries succeeded');
  for (const d of ds) {
    assert.equal(d.attempts, 1);
    assert.equal(d.lastStatus, 200);
    assert.equal(d.error, null);
    assert.equal(d.nextAttemptAt, null);
    assert.equal(d.event, 'meter.threshold');
  }

  // Retry: the same event again, freshly signed.
  const again = await api(stack, 'POST', `/v1/webhooks/${w.id}/deliveries/${ds[0].id}/retry`, { token: admin.token });
  assert.equal(again.status, 202, again.text);
  assert.equal(again.body.status, 'pending');
  await until(() => rx.got.length === 3, 5000, 'the retried delivery');
  assert.equal(rx.got[2].headers['tollgate-event-id'], ds[0].eventId);
  assert.ok(signed(w.secret, rx.got[2].headers['tollgate-signature'], rx.got[2].body));
  const d0 = await until(async () => (await deliveries(stack, admin.token, w.id)).find((x) => x.id === ds[0].id && x.status === 'succeeded'), 5000, 'retry recorded');
  assert.equal(d0.attempts, 2);
  const missing = await api(stack, 'POST', `/v1/webhooks/${w.id}/deliveries/dlv_nope/retry`, { token: admin.token });
  assert.ok(isErrorBody(missing, 404, 'NOT_FOUND'), missing.text);
});

test('a receiver answering 500 twice gets the event on the third attempt', async () => {
  const rx = await openReceiver((r, n) => ({ status: n <= 2 ? 500 : 204 }));
  const admin = await adminSession(stack);
  const w = await createWebhook(stack, admin.token, rx.url(), ['session.replaced']);
  const old = (await api(stack, 'GET', '/v1/auth/session', { token: admin.token })).body;
  const now = await replaceSession(stack, admin, 'the-new-phone');
  await until(() => rx.got.length >= 3, 15000, 'three attempts');
  await sleep(1500);
  assert.equal(rx.got.length, 3, 'none after the 2xx');
  const ids = new Set(rx.got.map((g) => g.headers['tollgate-event-id']));
  assert.equal(ids.size, 1, 'the same event each time');
  for (const g of rx.got) assert.ok(signed(w.secret, g.headers['tollgate-signature'], g.body));
  assert.equal(rx.got[0].body, rx.got[2].body, 'the same body each time');
  const e = JSON.parse(rx.got[2].body);
  assert.equal(e.type, 'session.replaced');
  assert.equal(e.data.userId, admin.user.id);
  assert.equal(e.data.sessionId, old.session?.id ?? e.data.sessionId);
  assert.deepEqual(e.data.replacedBy, { sessionId: now.session.id, device: 'the-new-phone' });
  const [d] = await until(async () => {
    const x = await deliveries(stack, admin.token, w.id);
    return x[0]?.status === 'succeeded' && x;
  }, 5000, 'the delivery succeeded');
  assert.equal(d.attempts, 3);
  assert.equal(d.lastStatus, 204);
  assert.equal(d.error, null);
});

test('a redirect is not followed: it counts as a failure and is retried', async () => {
  let rx;
  rx = await openReceiver((r) => (r.path === '/hook'
    ? { status: 302, headers: { Location: `http://127.0.0.1:${rx.port}/elsewhere` } }
    : { status: 200 }));
  const admin = await adminSession(stack);
  const w = await createWebhook(stack, admin.token, rx.url(), ['session.replaced']);
  await replaceSession(stack, admin);
  const [d] = await until(async () => {
    const x = await deliveries(stack, admin.token, w.id);
    return x[0]?.attempts >= 2 && x[0].lastStatus !== null && x;
  }, 10000, 'two attempts');
  assert.equal(d.status, 'pending');
  assert.equal(d.lastStatus, 302);
  assert.match(d.error, /redirect/i);
  assert.ok(d.nextAttemptAt !== null);
  assert.ok(rx.got.every((g) => g.path === '/hook'), `followed to ${rx.got.map((g) => g.path)}`);
  // Past its 24 hours (moved into the past here), the next failure is the last.
  sql(stack, `UPDATE webhook_deliveries SET give_up_at = ${Math.floor(Date.now() / 1000) - 1} WHERE id = '${d.id}'`);
  const failed = await until(async () => (await deliveries(stack, admin.token, w.id)).find((x) => x.status === 'failed'), 10000, 'failed');
  assert.equal(failed.nextAttemptAt, null);
  assert.equal(failed.lastStatus, 302);
  const seen = rx.got.length;
  await sleep(2500);
  assert.equal(rx.got.length, seen, 'a failed delivery is not retried by itself');
  // A retry makes it pending again, for another 24 hours.
  const again = await api(stack, 'POST', `/v1/webhooks/${w.id}/deliveries/${d.id}/retry`, { token: admin.token });
  assert.equal(again.status, 202, again.text);
  assert.equal(again.body.status, 'pending');
  await until(() => rx.got.length > seen, 5000, 'the retried attempt');
  assert.equal((await api(stack, 'DELETE', `/v1/webhooks/${w.id}`, { token: admin.token })).status, 204);
  const n = rx.got.length;
  await sleep(2500);
  assert.ok(rx.got.length <= n + 1, 'a deleted webhook is not retried');
});

test('a receiver that does not answer within 5 seconds is a failure, retried', async () => {
  const rx = await openReceiver((r, n) => (n === 1 ? { hang: true } : { status: 200 }));
  const admin = await adminSession(stack);
  const w = await createWebhook(stack, admin.token, rx.url(), ['session.replaced']);
  await replaceSession(stack, admin);
  const [d] = await until(async () => {
    const x = await deliveries(stack, admin.token, w.id);
    return x[0]?.status === 'succeeded' && x;
  }, 20000, 'the delivery after a timeout');
  assert.equal(d.attempts, 2);
  assert.equal(rx.got.length, 2);
  assert.equal(rx.got[0].headers['tollgate-event-id'], rx.got[1].headers['tollgate-event-id']);
  const log = stack.log();
  assert.match(log, new RegExp(`${d.id} attempt 1 pending: .*(timed out|Timeout)`, 'i'));
});

test('kill -9 with deliveries pending loses none and invents none', async () => {
  const port = await freePort(); // nothing listens yet: every attempt fails
  const admin = await adminSession(stack);
  const w = await createWebhook(stack, admin.token, `http://127.0.0.1:${port}/hook`, ['session.replaced']);
  for (let i = 0; i < 3; i++) await replaceSession(stack, admin, `device-${i}`);
  let pid = servePids(stack)[0];
  pid = await killServe(stack, pid); // at once: some may not have been tried at all
  await until(async () => {
    const x = await deliveries(stack, admin.token, w.id);
    return x.length === 3 && x.every((d) => d.attempts >= 1) && x;
  }, 15000, 'every delivery tried once');
  pid = await killServe(stack, pid); // again, while they wait for their retry
  const events = sql(stack, `SELECT id, body FROM webhook_events WHERE org_id = '${admin.org.id}' ORDER BY seq`);
  assert.equal(events.length, 3);
  const rx = await openReceiver(undefined, port);
  // A delivery the kill caught between its claim and its outcome is claimed
  // again only when its lease ends (SENDER_LEASE, 60 s), so the wait is longer.
  await until(() => new Set(rx.got.map((g) => g.headers['tollgate-event-id'])).size === 3, 90000, 'all three events');
  const byId = new Map(events);
  for (const g of rx.got) {
    const id = g.headers['tollgate-event-id'];
    assert.ok(byId.has(id), `an event that never happened: ${id}`);
    assert.equal(g.body, byId.get(id));
    assert.ok(signed(w.secret, g.headers['tollgate-signature'], g.body));
  }
  assert.deepEqual(rx.got.map((g) => JSON.parse(g.body).data.replacedBy.device).sort(), ['device-0', 'device-1', 'device-2']);
  await until(async () => (await deliveries(stack, admin.token, w.id)).every((d) => d.status === 'succeeded'), 5000, 'all succeeded');
});

test('two serve processes on one database send each delivery once', async () => {
  const second = spawn(BIN, ['serve', '--socket', join(stack.dir, 'second.sock')], {
    env: { ...process.env, ...ENV, TOLLGATE_DB: stack.db, TOLLGATE_JWT_SECRET: SECRET },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  second.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => second.on('close', resolve));
  try {
    await until(() => log.includes('webhooks: sender'), 15000, 'the second sender');
    const rx = await openReceiver(() => ({ status: 200 }));
    const admin = await adminSession(stack);
    await createWebhook(stack, admin.token, rx.url(), ['session.replaced']);
    const N = 16;
    for (let i = 0; i < N; i++) await replaceSession(stack, admin, `d${i}`);
    await until(() => rx.got.length >= N, 15000, `${N} deliveries`);
    await sleep(2000);
    const ids = rx.got.map((g) => g.headers['tollgate-event-id']);
    assert.equal(new Set(ids).size, N);
    assert.equal(ids.length, N, 'no delivery sent twice');
    const bySecond = (log.match(/webhooks: dlv_\w+ attempt 1 succeeded/g) || []).length;
    console.log(`# the second process sent ${bySecond} of ${N}`);
  } finally {
    second.kill('SIGTERM');
    await exited;
  }
});

test('job.finished and key.expiring (7 days and 1 day before), each once', async () => {
  const rx = await openReceiver();
  const { admin, project, table } = await tableWithSchema(stack);
  const w = await createWebhook(stack, admin.token, rx.url(), ['job.finished', 'key.expiring']);
  const sp = await createSpinner(stack, admin.token, project.id, table.id);
  await publishSpinner(stack, admin.token, sp.id);
  const job = await waitJob(stack, admin.token, (await trigger(stack, admin.token, sp.id)).id);
  const soon = new Date(Date.now() + 3 * 86400e3).toISOString().replace(/\.\d+Z$/, 'Z');
  const sooner = new Date(Date.now() + 12 * 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
  const k7 = await createKey(stack, admin.token, ['read'], { expiresAt: soon });
  await createKey(stack, admin.token, ['read']); // no expiry: no notice (and Trial has 2 keys)
  await until(() => rx.got.some((g) => JSON.parse(g.body).type === 'job.finished'), 10000, 'job.finished');
  await until(() => rx.got.some((g) => JSON.parse(g.body).data.keyId === k7.id), 20000, 'key.expiring 7d');
  setPlan(stack, admin.org.id, 'starter');
  const k1 = await createKey(stack, admin.token, ['read'], { expiresAt: sooner });
  await until(() => rx.got.some((g) => JSON.parse(g.body).data.keyId === k1.id), 20000, 'key.expiring 1d');
  await sleep(6000); // a scan later: nothing twice
  const bodies = rx.got.map((g) => {
    assert.ok(signed(w.secret, g.headers['tollgate-signature'], g.body));
    return JSON.parse(g.body);
  });
  const jobs = bodies.filter((e) => e.type === 'job.finished');
  assert.equal(jobs.length, 1);
  assert.deepEqual({ ...jobs[0].data, finishedAt: undefined }, {
    jobId: job.id, spinnerId: sp.id, status: 'succeeded', result: job.result, reason: null, finishedAt: undefined,
  });
  const keys = bodies.filter((e) => e.type === 'key.expiring').map((e) => e.data);
  assert.deepEqual(keys.sort((a, b) => a.notice.localeCompare(b.notice)), [
    { keyId: k1.id, name: 'integration', expiresAt: k1.expiresAt, notice: '1d' },
    { keyId: k7.id, name: 'integration', expiresAt: k7.expiresAt, notice: '7d' },
  ]);
});

test('without the allow-list: 127.0.0.1 and http:// are refused, and a name resolving to loopback is refused at the attempt', async () => {
  const plain = await startStack({ TOLLGATE_WEBHOOK_BACKOFF_BASE: '1' });
  const connections = [];
  const tcp = createTcpServer((s) => { connections.push(s.remoteAddress); s.destroy(); });
  await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = tcp.address().port;
  try {
    const admin = await adminSession(plain);
    for (const url of [`http://127.0.0.1:${port}/hook`, `https://127.0.0.1:${port}/hook`,
      `https://[::ffff:127.0.0.1]:${port}/hook`, `https://[::1]:${port}/hook`, `https://0.0.0.0:${port}/`]) {
      const r = await api(plain, 'POST', '/v1/webhooks', { token: admin.token, json: { url, events: ['session.replaced'] } });
      assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), `${url}: ${r.text}`);
      assert.equal(r.body.details.field, 'url');
    }
    // A name is not resolved when the webhook is made (the answer would
    // tell the caller about the network); every attempt checks it.
    const w = await createWebhook(plain, admin.token, `https://localhost:${port}/hook`, ['session.replaced']);
    await replaceSession(plain, admin);
    const [d] = await until(async () => {
      const x = await deliveries(plain, admin.token, w.id);
      return x[0]?.attempts >= 1 && x[0].error && x;
    }, 10000, 'an attempt');
    assert.equal(d.status, 'pending');
    assert.equal(d.lastStatus, null);
    assert.match(d.error, /refused: localhost resolves to a private, loopback or reserved address/);
    assert.ok(!d.error.includes('127.0.0.1') && !d.error.includes('::1'), d.error);
    await sleep(1500);
    assert.deepEqual(connections, [], 'nothing connected to the loopback receiver');
  } finally {
    tcp.close();
    await plain.stop();
  }
});
