// load.test.mjs: a mixed load (ingest, triggers, logins, reads, usage)
// from 32 keep-alive connections through nginx for 10 s (60 s with
// TOLLGATE_LONG=1, or TOLLGATE_LOAD_SECONDS): no 5xx at all (so no
// SQLITE_BUSY reached a client as 503), the latency percentiles printed,
// and the server's resident memory stable from a warmed-up start to the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { startStack, api, sql } from '../lib/stack.mjs';
import { tableWithSchema, createKey, setPlan, PASSWORD } from '../lib/fixtures.mjs';
import { servePids, rssKiB } from '../lib/faults.mjs';

const LONG = process.env.TOLLGATE_LONG === '1';
const SECONDS = Number(process.env.TOLLGATE_LOAD_SECONDS || (LONG ? 60 : 10));
const CONNECTIONS = 32;

test(`mixed load, ${CONNECTIONS} connections for ${SECONDS} s: no 5xx, p99 printed, memory stable`, async () => {
  const big = '100000000';
  const stack = await startStack({ TOLLGATE_RATE_IP: big, TOLLGATE_RATE_USER: big, TOLLGATE_RATE_KEY: big, TOLLGATE_RATE_LOGIN: big, TOLLGATE_RATE_LOGIN_ACCOUNT: big });
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    const { admin, project, table } = await tableWithSchema(stack, 'n,name,score,ok\n1,a,1.5,true\n');
    setPlan(stack, admin.org.id, 'enterprise');
    const key = await createKey(stack, admin.token, ['ingest', 'trigger', 'read']);
    const people = [];
    for (let i = 0; i < 8; i++) {
      const email = `load-${i}-${Date.now()}@example.test`;
      const u = await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email, password: PASSWORD, role: 'viewer' } });
      assert.equal(u.status, 201, u.text);
      people.push(email);
    }
    const made = await api(stack, 'POST', `/v1/projects/${project.id}/spinners`, { token: admin.token, json: { name: 'load', tableId: table.id } });
    assert.equal(made.status, 201, made.text);
    assert.equal((await api(stack, 'POST', `/v1/spinners/${made.body.id}/publish`, { token: admin.token })).status, 200);
    const spinner = made.body.id;

    const K = { 'X-API-Key': key.key };
    const U = { Authorization: `Bearer ${admin.token}` };
    const J = { 'Content-Type': 'application/json' };
    const recs = (n) => JSON.stringify({ records: Array.from({ length: n }, (_, i) => ({ n: i, name: `r${i}`, score: i / 3, ok: i % 2 === 0 })) });
    // The mix, by weight: what a busy tenant does.
    const mix = [
      [30, 'ingest', () => ['POST', `/v1/tables/${table.id}/records`, { ...K, ...J }, recs(1 + Math.floor(Math.random() * 50))]],
      [25, 'read records', () => ['GET', `/v1/tables/${table.id}/records?limit=50`, K]],
      [10, 'read table', () => ['GET', `/v1/tables/${table.id}`, U]],
      [10, 'usage', () => ['GET', '/v1/billing/usage', Math.random() < 0.5 ? K : U]],
      [10, 'projects', () => ['GET', '/v1/projects', U]],
      [5, 'session', () => ['GET', '/v1/auth/session', U]],
      [3, 'login', () => ['POST', '/v1/auth/login', J, JSON.stringify({ email: people[Math.floor(Math.random() * people.length)], password: PASSWORD, force: true })]],
      [2, 'failed login', () => ['POST', '/v1/auth/login', J, JSON.stringify({ email: people[0], password: 'wrong password!' })]],
      [5, 'trigger', () => ['POST', `/v1/spinners/${spinner}/trigger`, K]],
    ];
    const total = mix.reduce((a, [w]) => a + w, 0);
    const pick = () => { let x = Math.random() * total; for (const m of mix) { if ((x -= m[0]) < 0) return m; } return mix[0]; };

    const send = (method, path, headers, body) => new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request({ host: '127.0.0.1', port: stack.port, method, path, headers: { ...headers, ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}) }, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, text, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      });
      req.on('error', (e) => resolve({ status: 0, text: String(e), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      req.end(body);
    });

    const run = async (seconds) => {
      const stats = { n: 0, byKind: {}, byStatus: {}, ms: [], bad: [], ingested: 0 };
      const until = Date.now() + seconds * 1000;
      await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < until) {
          const [, kind, make] = pick();
          const r = await send(...make());
          stats.n++;
          stats.ms.push(r.ms);
          stats.byKind[kind] = (stats.byKind[kind] || 0) + 1;
          stats.byStatus[r.status] = (stats.byStatus[r.status] || 0) + 1;
          const expected = kind === 'failed login' ? r.status === 401 : kind === 'trigger' ? r.status === 201 : r.status === 200;
          if (!expected && stats.bad.length < 5) stats.bad.push(`${kind}: ${r.status} ${r.text.slice(0, 200)}`);
          if (kind === 'ingest' && r.status === 200) stats.ingested += JSON.parse(r.text).accepted;
        }
      }));
      return stats;
    };

    // Warm up (caches, threads, argon2's memory), then measure.
    await run(Math.min(3, SECONDS / 3));
    const pid = servePids(stack)[0];
    const rssBefore = rssKiB(pid);
    const t0 = Date.now();
    const s = await run(SECONDS);
    const secs = (Date.now() - t0) / 1000;
    const rssAfter = rssKiB(pid);
    assert.deepEqual(servePids(stack), [pid], 'the server never restarted');

    s.ms.sort((a, b) => a - b);
    const q = (p) => s.ms[Math.min(s.ms.length - 1, Math.floor(p * s.ms.length))].toFixed(1);
    const fivexx = Object.entries(s.byStatus).filter(([k]) => Number(k) >= 500 || k === '0').reduce((a, [, v]) => a + v, 0);
    console.log(`# load: ${s.n} requests in ${secs.toFixed(1)} s from ${CONNECTIONS} connections (${(s.n / secs).toFixed(0)}/s): ${JSON.stringify(s.byKind)}`);
    console.log(`# load: statuses ${JSON.stringify(s.byStatus)}; latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${s.ms[s.ms.length - 1].toFixed(1)} ms`);
    console.log(`# load: server RSS ${(rssBefore / 1024).toFixed(1)} MiB after warm-up, ${(rssAfter / 1024).toFixed(1)} MiB after the run`);
    assert.equal(fivexx, 0, `5xx or cut connections: ${JSON.stringify(s.byStatus)}`);
    assert.deepEqual(s.bad, []);
    // Every acknowledged record is there (plus the warm-up's and the seed).
    const stored = Number(sql(stack, `SELECT count(*) FROM records WHERE table_id = '${table.id}'`)[0][0]);
    assert.ok(stored >= s.ingested + 1, `${stored} stored, ${s.ingested} acknowledged in the run`);
    // Stable memory: the run adds less than a quarter (or 16 MiB) to a warm server.
    assert.ok(rssAfter - rssBefore < Math.max(16 * 1024, rssBefore / 4), `RSS grew from ${rssBefore} to ${rssAfter} KiB`);
  } finally {
    agent.destroy();
    await stack.stop();
  }
});
