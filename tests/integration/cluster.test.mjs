// cluster.test.mjs: several hosts on one PostgreSQL database (docs/cluster.md).
// Three stacks on loopback (each deploy/run.sh: nginx + `tollgate serve`,
// a run directory and a rate-limit table of its own) share one database:
// a token or a revocation on one host holds on every host, one live session
// a user whichever host signs in, the plan meters exact under triggers and
// ingest spread over the hosts, one Idempotency-Key stored once, a host
// killed mid-ingest loses nothing it acknowledged, a dead host's job is
// finished once by another, a scheduled spinner runs once per interval;
// and `make cluster` (deploy/cluster.sh) serves through its balancer and
// stops cleanly. The PostgreSQL pass of make check runs it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { startStack, api, isErrorBody, sql, pgCreate, pgDrop, freePort, STORE, TOP, BIN, SECRET } from '../lib/stack.mjs';
import {
  signup, login, createKey, tableWithSchema, setPlan, createSpinner, publishSpinner, waitJob, PASSWORD,
} from '../lib/fixtures.mjs';
import { servePids } from '../lib/faults.mjs';

const PG = STORE === 'postgresql';
const skip = !PG && 'the PostgreSQL pass runs it';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// n hosts on one new database: each a stack with its own directory and
// rate-limit table, all with the same TOLLGATE_DB and secret. Answers
// {hosts, db, stop()}; stop() ends every host and drops the database.
async function startHosts(n, env = {}) {
  const { name, url } = pgCreate();
  const started = await Promise.allSettled(Array.from({ length: n }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-host-'));
    return startStack({ TOLLGATE_DB: url, TOLLGATE_RATELIMIT_FILE: join(dir, 'ratelimit'), ...env }, { dir });
  }));
  const hosts = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const cluster = {
    hosts,
    db: url,
    async stop() {
      await Promise.allSettled(hosts.map((h) => h.stop()));
      pgDrop(name);
    },
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await cluster.stop();
    throw failed.reason;
  }
  return cluster;
}

let cluster;
before(async () => { if (PG) cluster = await startHosts(3); });
after(async () => { await cluster?.stop(); });
const host = (i) => cluster.hosts[i % cluster.hosts.length];

test('a token from one host works on every host; one live session a user across hosts', { skip }, async () => {
  const s = await signup(host(0));
  const a = await login(host(0), s.email, PASSWORD, { device: 'A' });
  for (let i = 0; i < 3; i++) assert.equal((await api(host(i), 'GET', '/v1/auth/session', { token: a })).status, 200);
  const b = await api(host(1), 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD, device: 'B' } });
  assert.ok(isErrorBody(b, 409, 'SESSION_ACTIVE'), b.text);
  assert.equal(b.body.details.activeSession.device, 'A');
  const c = await login(host(2), s.email, PASSWORD, { device: 'C', force: true });
  const old = await api(host(1), 'GET', '/v1/auth/session', { token: a });
  assert.ok(isErrorBody(old, 401, 'SESSION_REPLACED'), old.text);
  assert.equal(old.body.details.device, 'C');
  for (let i = 0; i < 3; i++) assert.equal((await api(host(i), 'GET', '/v1/auth/session', { token: c })).status, 200);

  // 12 forced logins at once, spread over the hosts: exactly one lives.
  const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => api(host(i), 'POST', '/v1/auth/login',
    { json: { email: s.email, password: PASSWORD, device: `d${i}`, force: true } })));
  for (const r of rs) assert.equal(r.status, 200, r.text);
  const live = [];
  for (const [i, r] of rs.entries()) {
    const g = await api(host(i + 1), 'GET', '/v1/auth/session', { token: r.body.token });
    if (g.status === 200) live.push(i);
    else assert.ok(isErrorBody(g, 401, 'SESSION_REPLACED'), g.text);
  }
  assert.equal(live.length, 1, `live sessions: ${live}`);
  assert.equal(sql(host(0), `SELECT count(*) FROM sessions WHERE user_id = '${s.user.id}' AND ended_at IS NULL`)[0][0], '1');

  // Logout on one host ends the session on the others at once.
  const token = rs[live[0]].body.token;
  assert.equal((await api(host(1), 'POST', '/v1/auth/logout', { token })).status, 204);
  for (const i of [0, 2]) {
    const g = await api(host(i), 'GET', '/v1/auth/session', { token });
    assert.ok(isErrorBody(g, 401, 'SESSION_REVOKED'), g.text);
  }
});

test('an API key revoked on one host is refused on the others on the very next request', { skip }, async () => {
  const { admin, table } = await tableWithSchema(host(0), 'n\n1\n');
  setPlan(host(0), admin.org.id, 'enterprise');
  for (let by = 0; by < 3; by++) {
    const key = await createKey(host(by + 1), admin.token, ['read']);
    const read = (i) => api(host(i), 'GET', `/v1/tables/${table.id}/records`, { headers: { 'X-API-Key': key.key } });
    for (let i = 0; i < 3; i++) assert.equal((await read(i)).status, 200);
    assert.equal((await api(host(by), 'DELETE', `/v1/api-keys/${key.id}`, { token: admin.token })).status, 204);
    for (let i = 0; i < 3; i++) {
      const r = await read(by + i);
      assert.ok(isErrorBody(r, 401, 'INVALID_API_KEY'), `host ${(by + i) % 3} after revocation on host ${by}: ${r.text}`);
    }
  }
});

test('200 concurrent triggers over three hosts on Trial: exactly 50 jobs, 150 PLAN_LIMIT, each job run once', { skip }, async () => {
  const { admin, project, table } = await tableWithSchema(host(0), 'email\na@x.test\n');
  const sp = await publishSpinner(host(0), admin.token, (await createSpinner(host(0), admin.token, project.id, table.id)).id);
  const key = await createKey(host(0), admin.token, ['trigger']);
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    api(host(i), 'POST', `/v1/spinners/${sp.id}/trigger`, { token: i % 2 ? key.key : admin.token })));
  const by = {};
  for (const r of rs) by[r.status] = (by[r.status] || 0) + 1;
  assert.deepEqual(by, { 201: 50, 403: 150 });
  for (const r of rs.filter((x) => x.status === 403)) assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), r.text);
  const ids = rs.filter((r) => r.status === 201).map((r) => r.body.job.id);
  assert.equal(new Set(ids).size, 50);
  assert.equal(sql(host(0), `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'jobs'`)[0][0], '50');
  let done;
  for (let i = 0; i < 400; i++) {
    done = Number(sql(host(0), `SELECT count(*) FROM jobs WHERE org_id = '${admin.org.id}' AND status = 'succeeded'`)[0][0]);
    if (done === 50) break;
    await sleep(50);
  }
  assert.equal(done, 50);
  assert.equal(sql(host(0), `SELECT count(*) FROM jobs WHERE org_id = '${admin.org.id}'`)[0][0], '50');
  // Each job finished once, by one host: one "succeeded" line in all the
  // hosts' logs together, and no host found one no longer its own.
  const logs = cluster.hosts.map((h) => h.log()).join('\n');
  for (const id of ids) {
    assert.equal(logs.split(`runner: ${id} succeeded`).length - 1, 1, `job ${id} finished lines`);
  }
  assert.doesNotMatch(logs, /was no longer ours to finish/);
  const runners = sql(host(0), `SELECT count(DISTINCT runner) FROM jobs WHERE org_id = '${admin.org.id}'`)[0][0];
  console.log(`# cluster triggers: ${JSON.stringify(by)}, 50 jobs run once each by ${runners} of 3 hosts`);
});

test('concurrent ingest on all hosts never passes the records meter; stored = meter', { skip }, async () => {
  const { admin, table } = await tableWithSchema(host(0), 'n\n0\n');
  const key = await createKey(host(0), admin.token, ['ingest', 'read']);
  // Trial allows 10,000 records a month; the import took 1.
  const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => api(host(i), 'POST', `/v1/tables/${table.id}/records`,
    { headers: { 'X-API-Key': key.key }, json: { records: Array.from({ length: 250 }, (_, k) => ({ n: i * 1000 + k })) } })));
  let ok = 0;
  for (const r of rs) {
    if (r.status === 200) ok++;
    else assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), r.text);
  }
  const stored = Number(sql(host(0), `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]);
  const meter = Number(sql(host(0), `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'records'`)[0][0]);
  assert.equal(stored, 1 + ok * 250);
  assert.equal(meter, stored);
  assert.ok(meter <= 10000, `meter ${meter}`);
  assert.equal(ok, 39, 'as many batches as fit: (10000 - 1) / 250');
});

test('one Idempotency-Key sent to two hosts at once is stored once', { skip }, async () => {
  const { admin, table } = await tableWithSchema(host(0), 'n\n0\n');
  const key = await createKey(host(0), admin.token, ['ingest', 'read']);
  const records = Array.from({ length: 50 }, (_, i) => ({ n: i }));
  for (let round = 0; round < 10; round++) {
    const rs = await Promise.all([1, 2, 1, 2].map((h) => api(host(h), 'POST', `/v1/tables/${table.id}/records`,
      { headers: { 'X-API-Key': key.key, 'Idempotency-Key': `cluster-${round}` }, json: { records } })));
    for (const r of rs) assert.ok(r.status === 200 || isErrorBody(r, 409, 'CONFLICT'), r.text);
    const ok = rs.filter((r) => r.status === 200);
    assert.ok(ok.length >= 1);
    for (const r of ok) assert.equal(r.text, ok[0].text);
  }
  assert.equal(Number(sql(host(0), `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]), 1 + 10 * 50);
});

test('a scheduled spinner runs once per interval with three hosts up', { skip }, async () => {
  const { admin, project, table } = await tableWithSchema(host(0), 'email\na@x.test\n');
  setPlan(host(0), admin.org.id, 'enterprise');
  const sp = await createSpinner(host(0), admin.token, project.id, table.id, { schedule: 1 });
  await publishSpinner(host(0), admin.token, sp.id);
  const count = () => Number(sql(host(0), `SELECT count(*) FROM jobs WHERE spinner_id = '${sp.id}'`)[0][0]);
  // Each interval comes due at once (its next run moved to now, rather
  // than a minute waited for); every host's runner looks at least every
  // 200 ms, so a second look by each passes before the next interval.
  const INTERVALS = 4;
  for (let k = 1; k <= INTERVALS; k++) {
    sql(host(0), `UPDATE spinners SET next_run_at = ${Math.floor(Date.now() / 1000) - 1} WHERE id = '${sp.id}'`);
    for (let i = 0; i < 100 && count() < k; i++) await sleep(20);
    await sleep(700);
    assert.equal(count(), k, `after interval ${k}`);
    const next = Number(sql(host(0), `SELECT next_run_at FROM spinners WHERE id = '${sp.id}'`)[0][0]);
    assert.ok(next > Date.now() / 1000 + 50, `next run ${next}: a minute on`);
  }
  assert.equal(sql(host(0), `SELECT count(*) FROM jobs WHERE spinner_id = '${sp.id}' AND trigger = 'schedule'`)[0][0], String(INTERVALS));
});

test('a job a dead host left running is finished once, by another host, when its lease ends', { skip }, async () => {
  const { admin, project, table } = await tableWithSchema(host(0), 'email\na@x.test\n');
  const sp = await publishSpinner(host(0), admin.token, (await createSpinner(host(0), admin.token, project.id, table.id)).id);
  const now = Math.floor(Date.now() / 1000);
  // As a host that died mid-job leaves it: running, its lease over.
  sql(host(0), `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at, started_at)
    VALUES ('job_deadhost1', '${admin.org.id}', '${sp.id}', 'api', 'running', 1, 'run_deadhost', ${now - 1}, ${now - 30}, ${now - 30})`);
  const job = await waitJob(host(1), admin.token, 'job_deadhost1');
  assert.equal(job.status, 'succeeded');
  await sleep(500); // a second finish, were there one, would be logged by now
  const lines = cluster.hosts.map((h) => h.log().split('runner: job_deadhost1 succeeded').length - 1);
  assert.equal(lines.reduce((a, b) => a + b, 0), 1, `finished on the hosts: ${lines}`);
  assert.equal(sql(host(0), "SELECT attempts FROM jobs WHERE id = 'job_deadhost1'")[0][0], '2');
});

test('a host killed with SIGKILL mid-ingest: nothing it acknowledged is lost, the others answer no 5xx', { skip }, async () => {
  const c = await startHosts(3);
  try {
    const { admin, table } = await tableWithSchema(c.hosts[0], 'batch,seq\nseed,0\n');
    setPlan(c.hosts[0], admin.org.id, 'enterprise');
    const key = await createKey(c.hosts[0], admin.token, ['ingest', 'read']);
    const acked = new Map();
    const others = [];
    let dead = false;
    let stop = false;
    const client = async (n) => {
      const h = c.hosts[n % 3];
      for (let i = 0; !stop; i++) {
        const id = `c${n}-${i}`;
        const size = 1 + (i % 30);
        let r;
        try {
          r = await api(h, 'POST', `/v1/tables/${table.id}/records`, {
            headers: { 'X-API-Key': key.key, 'Idempotency-Key': id },
            json: { records: Array.from({ length: size }, (_, s) => ({ batch: id, seq: s })) },
          });
        } catch (e) {
          if (e.problems) throw e;
          assert.equal(n % 3, 0, `host ${n % 3} failed: ${e.message}`);
          await sleep(20);
          continue;
        }
        if (n % 3 !== 0) others.push(r.status);
        if (r.status === 200) acked.set(id, size);
        else if (n % 3 === 0 && dead) assert.ok(r.status >= 500, r.text);
        else assert.fail(`host ${n % 3}: ${r.status} ${r.text}`);
      }
    };
    const clients = Array.from({ length: 9 }, (_, n) => client(n));
    await sleep(800);
    // The whole host at once: its nginx, run.sh's supervisor and its server.
    const victim = c.hosts[0];
    dead = true;
    process.kill(-victim.child.pid, 'SIGKILL');
    for (const pid of servePids(victim)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await sleep(1500);
    stop = true;
    await Promise.all(clients);
    const stored = new Map(sql(c.hosts[1], `SELECT data::jsonb ->> 'batch', count(*) FROM records WHERE table_id = '${table.id}' GROUP BY 1`)
      .map(([id, n]) => [id, Number(n)]));
    for (const [id, size] of acked) assert.equal(stored.get(id), size, `acknowledged batch ${id}`);
    for (const s of others) assert.ok(s < 500, `a surviving host answered ${s}`);
    const total = Number(sql(c.hosts[1], `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]);
    const meter = Number(sql(c.hosts[1], `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'records'`)[0][0]);
    assert.equal(meter, total);
    console.log(`# cluster kill: ${acked.size} batches acknowledged, all stored; ${others.length} answers from the other hosts, no 5xx`);
  } finally {
    await c.stop();
  }
});

// GET path on 127.0.0.1:port from the local address from, with headers:
// {status, headers, body}.
function get(port, path, { from = '127.0.0.1', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, localAddress: from, headers, timeout: 10000 }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('make cluster (deploy/cluster.sh) serves through its balancer from every host; Ctrl-C stops it all', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cluster-'));
  chmodSync(dir, 0o711); // user postgres (under root) reaches its data in dir/pg
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn('sh', [join(TOP, 'deploy', 'cluster.sh')], {
    env: { ...process.env, PORT: String(ports[0]), HOST_PORTS: ports.slice(1).join(' '), CLUSTER_DIR: dir, TOLLGATE_BIN: BIN, TOLLGATE_JWT_SECRET: SECRET },
    detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  try {
    for (let i = 0; i < 600 && !/Tollgate cluster on/.test(out); i++) await sleep(50);
    assert.match(out, new RegExp(`Tollgate cluster on http://127.0.0.1:${ports[0]}/`));
    const seen = new Set();
    for (let i = 0; i < 12; i++) {
      const r = await get(ports[0], '/v1/health');
      assert.equal(r.status, 200, r.text);
      seen.add(r.headers['x-tollgate-host']);
    }
    assert.deepEqual([...seen].sort(), ports.slice(1).map((p) => `127.0.0.1:${p}`).sort());
    const page = await get(ports[0], '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/i);
    // The client the hosts see is the one the balancer saw (from
    // 127.0.0.3), not what it claims in X-Forwarded-For.
    const email = `lb-${Date.now()}@example.test`;
    const post = (path, json, token) => new Promise((resolve, reject) => {
      const data = Buffer.from(JSON.stringify(json));
      const h = { 'Content-Type': 'application/json', 'Content-Length': data.length, 'X-Forwarded-For': '203.0.113.9' };
      if (token) h.Authorization = `Bearer ${token}`;
      const req = http.request({ host: '127.0.0.1', port: ports[0], method: 'POST', path, localAddress: '127.0.0.3', headers: h }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text || 'null'), text }));
      });
      req.on('error', reject);
      req.end(data);
    });
    assert.equal((await post('/v1/signup', { organization: 'LB', email, password: PASSWORD })).status, 201);
    const lg = await post('/v1/auth/login', { email, password: PASSWORD });
    assert.equal(lg.status, 200, lg.text);
    const act = await get(ports[0], '/v1/auth/activity', { headers: { Authorization: `Bearer ${lg.body.token}` } });
    assert.equal(act.status, 200, act.text);
    const current = JSON.parse(act.text).data.find((s) => s.current);
    assert.equal(current.ip, '127.0.0.3');
  } finally {
    try { process.kill(-child.pid, 'SIGINT'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 40000);
    const end = await exited;
    clearTimeout(t);
    const left = spawn('pgrep', ['-f', dir]);
    const leftCode = await new Promise((resolve) => left.on('close', resolve));
    const pgRunning = (() => { try { readFileSync(join(dir, 'pg', 'data', 'postmaster.pid')); return true; } catch { return false; } })();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(end, { code: 0, signal: null }, out);
    assert.equal(leftCode, 1, 'a process of the cluster is left running');
    assert.equal(pgRunning, false, 'PostgreSQL is left running');
  }
});
