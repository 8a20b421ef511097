// pg_outage.test.mjs: PostgreSQL stopped under load (pg_ctl stop -m
// immediate, as a crash of the database host) and started again. While it
// is down every answer that needs it is 503 UNAVAILABLE with Retry-After
// (never a 500), the server keeps running, and once it is back the same
// process serves again; every batch acknowledged before, during or after is
// stored whole. Runs in the PostgreSQL pass of make check, on a cluster of
// its own (the pass's shared one serves the other files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, api, isErrorBody, holderSleeping, STORE, TOP } from '../lib/stack.mjs';
import { tableWithSchema, createKey, setPlan, readAllRecords } from '../lib/fixtures.mjs';
import { servePids } from '../lib/faults.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PG_LOCAL = join(TOP, 'deploy', 'pg-local.sh');
const PG_CTL = '/usr/lib/postgresql/15/bin/pg_ctl';

function asOwner(cmd, args) {
  const o = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] };
  return process.getuid() === 0 ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], o)
    : execFileSync(cmd, args, o);
}

test('PostgreSQL down under load: only 503s meanwhile, full service after, nothing acknowledged lost',
  { skip: STORE !== 'postgresql' && 'the PostgreSQL pass runs it' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-pgdown-'));
    const url = execFileSync('sh', [PG_LOCAL, 'start', dir], { encoding: 'utf8' }).trim();
    let stack;
    try {
      stack = await startStack({ TOLLGATE_DB: url });
      const { admin, table } = await tableWithSchema(stack, 'batch,seq\nseed,0\n');
      await setPlan(stack, admin.org.id, 'enterprise');
      const key = await createKey(stack, admin.token, ['ingest', 'read']);
      const [pid] = servePids(stack);
      const acked = new Map(); // batch -> size
      const statuses = { up: [], down: [], after: [] };
      let phase = 'up';
      let stop = false;

      const client = async (c) => {
        for (let i = 0; !stop; i++) {
          const id = `c${c}-${i}`;
          const size = 1 + (i % 20);
          const at = phase;
          const r = await api(stack, 'POST', `/v1/tables/${table.id}/records`, {
            headers: { Authorization: `Bearer ${key.key}` },
            json: { records: Array.from({ length: size }, (_, s) => ({ batch: id, seq: s })) },
          });
          statuses[at].push(r.status);
          if (r.status === 200 || r.status === 201) acked.set(id, size);
          else {
            assert.ok(isErrorBody(r, 503, 'UNAVAILABLE'), `${at}: ${r.status} ${r.text}`);
            assert.match(r.headers.get('retry-after') || '', /^\d+$/);
            await sleep(20);
          }
          const g = await api(stack, 'GET', `/v1/tables/${table.id}`, { token: admin.token });
          statuses[at].push(g.status);
          if (g.status !== 200) assert.ok(isErrorBody(g, 503, 'UNAVAILABLE'), `${at}: GET ${g.status} ${g.text}`);
        }
      };
      const clients = Array.from({ length: 4 }, (_, c) => client(c));
      await sleep(700);
      phase = 'down';
      asOwner(PG_CTL, ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      await sleep(1500);
      const health = await api(stack, 'GET', '/v1/health');
      assert.equal(health.status, 503, health.text);
      execFileSync('sh', [PG_LOCAL, 'start', dir], { encoding: 'utf8' });
      phase = 'after';
      // Back within seconds: the threads reconnect on their next request.
      let back = false;
      for (let i = 0; i < 100 && !back; i++) {
        back = (await api(stack, 'GET', '/v1/health')).status === 200;
        if (!back) await sleep(100);
      }
      assert.ok(back, 'service is back once PostgreSQL is');
      await sleep(700);
      stop = true;
      await Promise.all(clients);

      assert.deepEqual(servePids(stack), [pid], 'the same tollgate serve throughout');
      assert.ok(statuses.down.includes(503), 'requests while it was down were refused with 503');
      assert.ok(statuses.after.filter((s) => s === 200 || s === 201).length > 0, 'writes after it came back');
      assert.ok(!Object.values(statuses).flat().some((s) => s >= 500 && s !== 503), 'no 5xx but 503');

      const stored = new Map();
      for (const rec of await readAllRecords(stack, table.id, { headers: { Authorization: `Bearer ${key.key}` } })) {
        if (rec.batch !== 'seed') stored.set(rec.batch, (stored.get(rec.batch) || 0) + 1);
      }
      for (const [id, size] of acked) assert.equal(stored.get(id), size, `acknowledged batch ${id} whole`);
      for (const [id, n] of stored) assert.ok(acked.has(id) ? n === acked.get(id) : true, `batch ${id} whole`);
      console.log(`# ${acked.size} batches acknowledged; while down: ${statuses.down.filter((s) => s === 503).length} answers 503`);
    } finally {
      if (stack) await stack.stop();
      try { execFileSync('sh', [PG_LOCAL, 'stop', dir], { stdio: 'ignore' }); } catch { /* already stopped */ }
      try { asOwner(PG_CTL, ['-D', join(dir, 'data'), '-m', 'immediate', 'stop']); } catch { /* not running */ }
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('a write that waits out lock_timeout is 503, and every thread serves after it',
  { skip: STORE !== 'postgresql' && 'the PostgreSQL pass runs it' }, async () => {
    const stack = await startStack();
    let holder;
    try {
      const { admin } = await tableWithSchema(stack, 'n\n1\n');
      setPlan(stack, admin.org.id, 'enterprise');
      // Another writer holds the writers' advisory lock (db.c) past the 5 s
      // lock_timeout of the write below.
      holder = spawn('psql', ['-X', '-q', '-d', stack.db, '-c',
        'SELECT pg_advisory_lock(8390043843661231205); SELECT pg_sleep(8)'], { stdio: 'ignore' });
      const held = new Promise((r) => holder.on('close', r));
      await holderSleeping(stack); // it holds the lock
      const r = await api(stack, 'POST', '/v1/projects', { token: admin.token, json: { name: 'waits' } });
      assert.ok(isErrorBody(r, 503, 'UNAVAILABLE'), r.text);
      await held;
      // Every worker thread (4) writes and reads again: none is left in the
      // failed transaction of the write that timed out.
      const answers = await Promise.all(Array.from({ length: 16 }, async (_, i) => [
        (await api(stack, 'POST', '/v1/projects', { token: admin.token, json: { name: `after ${i}` } })).status,
        (await api(stack, 'GET', '/v1/projects', { token: admin.token })).status]));
      assert.ok(answers.flat().every((s) => s === 200 || s === 201), JSON.stringify(answers));
    } finally {
      if (holder && holder.exitCode === null) holder.kill('SIGKILL');
      await stack.stop();
    }
  });
