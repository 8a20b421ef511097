// crash.test.mjs: crash consistency. Concurrent ingest clients write tagged
// batches while `tollgate serve` is killed with SIGKILL at random moments
// and deploy/run.sh's supervisor starts it again, many times. Then the
// database must be intact, every acknowledged batch whole, every other batch
// whole or absent (never twice: retries carry an Idempotency-Key), and the
// records meter equal to what is stored. TOLLGATE_LONG=1 kills 50 times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, sql, STORE } from '../lib/stack.mjs';
import { tableWithSchema, createKey, setPlan } from '../lib/fixtures.mjs';
import { servePids, killServe } from '../lib/faults.mjs';

const LONG = process.env.TOLLGATE_LONG === '1';
// On PostgreSQL 20 kills: a restart there also reconnects and prepares again.
const KILLS = Number(process.env.TOLLGATE_CRASH_KILLS || (LONG ? 50 : STORE === 'postgresql' ? 20 : 10));
const CLIENTS = 8;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test(`kill -9 during concurrent ingest, ${KILLS} times: nothing acknowledged is lost, nothing is half stored`, async () => {
  const stack = await startStack();
  try {
    const { admin, table } = await tableWithSchema(stack, 'batch,seq,note\nseed,0,first\n');
    setPlan(stack, admin.org.id, 'enterprise');
    const key = await createKey(stack, admin.token, ['ingest', 'read']);
    const batches = new Map(); // id -> {size, acked, tries, outcome}
    let stop = false;
    let requests = 0;

    const client = async (c) => {
      for (let i = 0; !stop; i++) {
        const id = `c${c}-${i}`;
        const size = 1 + Math.floor(Math.random() * 60);
        const records = Array.from({ length: size }, (_, s) => ({ batch: id, seq: s, note: `it's "${id}"; DROP TABLE records;--` }));
        const b = { size, acked: false, tries: 0, outcome: null };
        batches.set(id, b);
        // A client that gets no answer retries with the same key, as the
        // contract tells integrators to; 409 (the first try's claim is
        // still held by a killed process) means give up on this batch.
        while (!b.acked && b.tries < 5 && !stop) {
          b.tries++;
          requests++;
          let r;
          try {
            r = await api(stack, 'POST', `/v1/tables/${table.id}/records`, {
              json: { records }, headers: { 'X-API-Key': key.key, 'Idempotency-Key': id },
            });
          } catch (e) {
            if (e.problems) throw e; // off the contract: a real failure
            b.outcome = 'cut';
            await sleep(20);
            continue;
          }
          b.outcome = r.status;
          if (r.status === 200) {
            assert.equal(r.body.accepted, size, r.text);
            b.acked = true;
          } else if (r.status === 503) {
            await sleep(20);
          } else if (r.status === 409) {
            break;
          } else {
            assert.fail(`unexpected ${r.status}: ${r.text}`);
          }
        }
      }
    };

    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
    const restarts = [];
    let pid = servePids(stack)[0];
    for (let k = 0; k < KILLS; k++) {
      await sleep(100 + Math.random() * 300);
      const t0 = Date.now();
      pid = await killServe(stack, pid);
      restarts.push(Date.now() - t0);
    }
    await sleep(300);
    stop = true;
    await Promise.all(clients);

    // PRAGMA integrity_check is SQLite's (PostgreSQL has no such check).
    if (stack.store === 'sqlite') assert.equal(sql(stack, 'PRAGMA integrity_check')[0][0], 'ok');
    const field = (f) => (stack.store === 'postgresql' ? `data::jsonb ->> '${f}'` : `json_extract(data, '$.${f}')`);
    const stored = new Map(sql(stack,
      `SELECT ${field('batch')}, count(*), count(DISTINCT ${field('seq')})
       FROM records WHERE table_id = '${table.id}' GROUP BY 1`).map(([id, n, d]) => [id, { n: Number(n), distinct: Number(d) }]));
    let acked = 0, present = 0, absent = 0, records = 0;
    for (const [id, b] of batches) {
      const s = stored.get(id) || { n: 0, distinct: 0 };
      records += s.n;
      if (b.acked) {
        acked++;
        assert.equal(s.n, b.size, `acknowledged batch ${id}: ${s.n} of ${b.size} records stored`);
      } else {
        assert.ok(s.n === 0 || s.n === b.size, `unacknowledged batch ${id}: ${s.n} of ${b.size} records stored`);
      }
      assert.equal(s.distinct, s.n, `batch ${id} stored ${s.n} records, ${s.distinct} distinct: stored twice`);
      if (s.n > 0) present++; else absent++;
    }
    for (const id of stored.keys()) assert.ok(id === 'seed' || batches.has(id), `unknown batch ${id}`);
    // The records meter is what is stored (the seed row of the import counts too).
    const total = Number(sql(stack, `SELECT count(*) FROM records r JOIN data_tables t ON t.id = r.table_id WHERE t.org_id = '${admin.org.id}'`)[0][0]);
    const meter = Number(sql(stack, `SELECT coalesce(sum(used), 0) FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'records'`)[0][0]);
    assert.equal(meter, total, `records meter ${meter}, stored ${total}`);
    const usage = await api(stack, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': key.key } });
    assert.equal(usage.body.meters.find((m) => m.meter === 'records').used, total);
    const unacked = batches.size - acked;
    restarts.sort((a, b) => a - b);
    console.log(`# crash: ${KILLS} kill -9s, ${CLIENTS} clients, ${requests} requests, ${batches.size} batches (${acked} acknowledged, ${unacked} not: ${present - acked} of those stored whole, ${absent} absent), ${records + 1} records checked; integrity_check ok; meter ${meter} = stored ${total}`);
    console.log(`# crash: restart to healthy median ${restarts[restarts.length >> 1]} ms, max ${restarts[restarts.length - 1]} ms`);
    assert.ok(acked > KILLS, `only ${acked} batches acknowledged`);
  } finally { await stack.stop(); }
});
