// cluster.test.mjs: three hosts on one PostgreSQL, as docs/cluster.md lays
// them out: each host its own nginx, `tollgate serve` and rate-limit table,
// all of them the same database and secret. A client must not be able to
// tell how many hosts there are: tokens and the single live session,
// revocation, the jobs and records meters, idempotency, a host killed in
// the middle of ingest, and the job runner (a job finished once, a
// schedule fired once per interval) hold across them. The rate limits
// across hosts are in ratelimit_cluster.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, api, isErrorBody, sql, pgCreate, pgDrop, STORE } from '../lib/stack.mjs';
import {
  adminSession, createKey, tableWithSchema, login, createSpinner, publishSpinner, waitJob, PASSWORD,
} from '../lib/fixtures.mjs';

const skip = STORE !== 'postgresql' && 'the PostgreSQL pass runs it';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const epoch = () => Math.floor(Date.now() / 1000);

let hosts = [];
let pg;

before(async () => {
  if (skip) return;
  pg = pgCreate();
  // The first host migrates the database; then the others join it. Each
  // has a rate-limit table of its own, as a machine of its own has.
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-host-'));
    hosts.push(await startStack({ TOLLGATE_DB: pg.url, TOLLGATE_RATELIMIT_FILE: join(dir, 'ratelimit') }, { dir }));
  }
});
after(async () => {
  await Promise.all(hosts.map((h) => h.stop().catch(() => {})));
  if (pg) pgDrop(pg.name);
});

// The hosts in turn: the i-th call goes to host i % 3.
const on = (i) => hosts[i % hosts.length];

// The pid of a host's `tollgate serve`.
function servePid(h) {
  const pids = execFileSync('pgrep', ['-f', `${h.dir}/run/tollgate.sock`], { encoding: 'utf8' })
    .trim().split('\n').map(Number);
  assert.equal(pids.length, 1);
  return pids[0];
}

// How many times the hosts' logs say job id ended as status.
const finishedLines = (id, status = 'succeeded') =>
  hosts.map((h) => h.log().split(`runner: ${id} ${status}`).length - 1).reduce((a, b) => a + b, 0);

test('a token from one host works on every host; one live session across hosts', { skip }, async () => {
  const [a, b, c] = hosts;
  const admin = await adminSession(a);
  for (const h of hosts)
    assert.equal((await api(h, 'GET', '/v1/auth/session', { token: admin.token })).status, 200);
  // A second sign-in on B while A's session lives.
  const second = await api(b, 'POST', '/v1/auth/login', { json: { email: admin.email, password: PASSWORD } });
  assert.ok(isErrorBody(second, 409, 'SESSION_ACTIVE'), second.text);
  // Forced on C: A's token is replaced, seen from B.
  const cToken = await login(c, admin.email, PASSWORD, { force: true });
  assert.ok(isErrorBody(await api(b, 'GET', '/v1/auth/session', { token: admin.token }), 401, 'SESSION_REPLACED'));
  for (const h of hosts)
    assert.equal((await api(h, 'GET', '/v1/auth/session', { token: cToken })).status, 200);

  // 12 forced sign-ins at once, over the three hosts: one session lives.
  const tokens = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    login(on(i), admin.email, PASSWORD, { force: true })));
  const live = [];
  for (const [i, t] of tokens.entries()) {
    const rs = await Promise.all(hosts.map((h) => api(h, 'GET', '/v1/auth/session', { token: t })));
    const codes = new Set(rs.map((r) => r.status));
    assert.equal(codes.size, 1, `token ${i} answered differently on different hosts`);
    if (rs[0].status === 200) live.push(i);
    else assert.ok(isErrorBody(rs[0], 401, 'SESSION_REPLACED'), rs[0].text);
  }
  assert.equal(live.length, 1, `live tokens: ${live}`);
  assert.equal(sql(a, `SELECT count(*) FROM sessions WHERE user_id = '${admin.user.id}' AND ended_at IS NULL`)[0][0], '1');
});

test('a key revoked on one host is refused on the others on the very next request', { skip }, async () => {
  const [a, b, c] = hosts;
  const admin = await adminSession(a);
  const key = await createKey(a, admin.token, ['read']);
  for (const h of hosts)
    assert.equal((await api(h, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': key.key } })).status, 200);
  assert.equal((await api(b, 'DELETE', `/v1/api-keys/${key.id}`, { token: admin.token })).status, 204);
  for (const h of [c, a]) {
    const r = await api(h, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': key.key } });
    assert.ok(isErrorBody(r, 401, 'INVALID_API_KEY'), r.text);
  }
});

test('200 triggers spread over three hosts on Trial: exactly 50 jobs, 150 PLAN_LIMIT, each job finished once', { skip }, async () => {
  const { admin, project, table } = await tableWithSchema(hosts[0], 'email\n');
  const sp = await publishSpinner(hosts[0], admin.token, (await createSpinner(hosts[0], admin.token, project.id, table.id)).id);
  const key = await createKey(hosts[0], admin.token, ['trigger']);
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    api(on(i), 'POST', `/v1/spinners/${sp.id}/trigger`, { token: i % 2 ? key.key : admin.token })));
  const by = {};
  for (const r of results) by[r.status] = (by[r.status] || 0) + 1;
  assert.deepEqual(by, { 201: 50, 403: 150 });
  for (const r of results.filter((x) => x.status === 403)) assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), r.text);
  const jobs = results.filter((r) => r.status === 201).map((r) => r.body.job.id);
  assert.equal(new Set(jobs).size, 50);
  assert.equal(sql(hosts[0], `SELECT count(*) FROM jobs WHERE org_id = '${admin.org.id}'`)[0][0], '50');
  assert.equal(sql(hosts[0], `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'jobs'`)[0][0], '50');
  for (const id of jobs) assert.equal((await waitJob(hosts[0], admin.token, id, 30000)).status, 'succeeded');
  await sleep(300); // a second finish, were there one, would be logged by now
  for (const id of jobs) assert.equal(finishedLines(id), 1, `${id} finished ${finishedLines(id)} times`);
  const runners = new Set(jobs.map((id) => sql(hosts[0], `SELECT runner FROM jobs WHERE id = '${id}'`)[0][0]));
  console.log(`# 200 triggers over 3 hosts: ${JSON.stringify(by)}; the 50 jobs ran on ${runners.size} host(s)`);
});

test('ingest on all three hosts at once never takes the records meter past its limit; stored = meter', { skip }, async () => {
  const { admin, table } = await tableWithSchema(hosts[0], 'n\n1\n');
  const used0 = Number(sql(hosts[0], `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'records'`)[0][0]);
  const size = 300;
  const limit = 10000; // Trial
  const fits = Math.floor((limit - used0) / size);
  const results = [];
  // 12 clients, 4 a host, 4 batches each: 48 batches, more than fit.
  await Promise.all(Array.from({ length: 12 }, async (_, c) => {
    for (let k = 0; k < 4; k++) {
      const r = await api(on(c), 'POST', `/v1/tables/${table.id}/records`,
        { token: admin.token, json: { records: Array.from({ length: size }, (_, i) => ({ n: c * 10000 + k * 1000 + i })) } });
      results.push(r);
    }
  }));
  const ok = results.filter((r) => r.status === 200);
  for (const r of results.filter((x) => x.status !== 200)) assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), r.text);
  assert.equal(ok.length, fits);
  const used = Number(sql(hosts[0], `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'records'`)[0][0]);
  const stored = Number(sql(hosts[0], `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]);
  assert.ok(used <= limit);
  assert.equal(used, used0 + fits * size);
  assert.equal(stored, used);
});

test('one Idempotency-Key sent to two hosts at once stores the batch once', { skip }, async () => {
  const { admin, table } = await tableWithSchema(hosts[0], 'n\n1\n');
  const key = await createKey(hosts[0], admin.token, ['ingest']);
  const before = Number(sql(hosts[0], `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]);
  const body = { records: Array.from({ length: 50 }, (_, i) => ({ n: i })) };
  const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => api(on(i % 2), 'POST', `/v1/tables/${table.id}/records`,
    { headers: { 'X-API-Key': key.key, 'Idempotency-Key': 'cluster-batch-1' }, json: body })));
  const ok = rs.filter((r) => r.status === 200);
  for (const r of rs.filter((x) => x.status !== 200)) assert.equal(r.status, 409, r.text);
  assert.ok(ok.length >= 1);
  for (const r of ok) assert.deepEqual(r.body, ok[0].body);
  const after = Number(sql(hosts[0], `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]);
  assert.equal(after - before, 50);
});

test('a host killed with SIGKILL in the middle of ingest: nothing it acknowledged is lost, the others answer no 5xx', { skip }, async () => {
  const { admin, table } = await tableWithSchema(hosts[0], 'batch,i\nx,0\n');
  const victim = hosts[2];
  const acked = []; // [batch marker, host index]
  const others5xx = [];
  let stop = false;
  let n = 0;
  const clients = Array.from({ length: 6 }, async (_, c) => {
    while (!stop) {
      const marker = `b${c}-${n++}`;
      const h = c % 3;
      let r;
      try {
        r = await api(hosts[h], 'POST', `/v1/tables/${table.id}/records`,
          { token: admin.token, json: { records: Array.from({ length: 40 }, (_, i) => ({ batch: marker, i })) } });
      } catch (e) {
        if (h !== 2) throw e;
        await sleep(20);
        continue;
      }
      if (r.status === 200) acked.push([marker, h]);
      else if (h !== 2 && r.status >= 500) others5xx.push(r.status);
      if (h === 2 && r.status !== 200) await sleep(20);
    }
  });
  await sleep(700);
  process.kill(servePid(victim), 'SIGKILL');
  const killedAt = Date.now();
  await sleep(700);
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(others5xx, []);
  assert.ok(acked.some(([, h]) => h === 2), 'the killed host acknowledged batches before it died');
  assert.ok(acked.some(([, h]) => h !== 2));
  const counts = new Map(sql(hosts[0], `SELECT data::json->>'batch', count(*) FROM records WHERE table_id = '${table.id}' GROUP BY 1`));
  for (const [marker] of acked) assert.equal(counts.get(marker), '40', `batch ${marker}`);
  // Nothing half stored either: every batch there is whole.
  for (const [marker, count] of counts) if (marker !== 'x') assert.equal(count, '40', `batch ${marker}`);
  console.log(`# SIGKILL of one host of three at ${killedAt}: ${acked.length} batches acknowledged, all stored whole`);
});

test('the job runner across hosts: a dead host\'s job is finished once by another; a schedule fires once per interval', { skip }, async () => {
  const h0 = hosts[0];
  const { admin, project, table } = await tableWithSchema(h0, 'email\na@x.test\n');
  const sp = await publishSpinner(h0, admin.token, (await createSpinner(h0, admin.token, project.id, table.id)).id);
  // As a host that died mid-job leaves it: running, its lease over.
  sql(h0, `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at, started_at)
    VALUES ('job_deadhost1', '${admin.org.id}', '${sp.id}', 'api', 'running', 1, 'run_deadhost', ${epoch()} - 1,
    ${epoch()} - 30, ${epoch()} - 30)`);
  assert.equal((await waitJob(h0, admin.token, 'job_deadhost1')).status, 'succeeded');
  await sleep(500);
  assert.equal(finishedLines('job_deadhost1'), 1);
  assert.equal(sql(h0, "SELECT attempts FROM jobs WHERE id = 'job_deadhost1'")[0][0], '2');

  // A spinner run every minute; its next run is made due three times.
  const every = await createSpinner(h0, admin.token, project.id, table.id, { schedule: 1 });
  await publishSpinner(h0, admin.token, every.id);
  const scheduled = () => Number(sql(h0, `SELECT count(*) FROM jobs WHERE spinner_id = '${every.id}' AND trigger = 'schedule'`)[0][0]);
  for (let round = 1; round <= 3; round++) {
    const due = epoch() - 1;
    sql(h0, `UPDATE spinners SET next_run_at = ${due} WHERE id = '${every.id}'`);
    for (let i = 0; i < 100 && scheduled() < round; i++) await sleep(50);
    await sleep(800); // every host's runner has looked at least twice since
    assert.equal(scheduled(), round, `round ${round}`);
    assert.equal(Number(sql(h0, `SELECT next_run_at FROM spinners WHERE id = '${every.id}'`)[0][0]), due + 60);
  }
  const jobs = sql(h0, `SELECT id FROM jobs WHERE spinner_id = '${every.id}'`).map((r) => r[0]);
  for (const id of jobs) assert.equal((await waitJob(h0, admin.token, id)).status, 'succeeded');
});
