// shutdown.test.mjs: SIGTERM lets requests in flight finish and exits 0;
// a bad setting refuses to start with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { startStack, BIN, SECRET } from '../lib/stack.mjs';

test('SIGTERM during load: every answer whole, then exit 0', async () => {
  const stack = await startStack({}, { keep: true });
  const serve = execFileSync('pgrep', ['-f', `${stack.dir}/run/tollgate.sock`], { encoding: 'utf8' })
    .trim().split('\n').map(Number);
  assert.equal(serve.length, 1);
  const results = [];
  const load = [];
  for (let c = 0; c < 16; c++) {
    load.push((async () => {
      for (let i = 0; i < 40; i++) {
        try {
          const r = await fetch(`${stack.base}/v1/health`);
          const text = await r.text();
          results.push({ status: r.status, body: JSON.parse(text) });
        } catch (e) { results.push({ status: 'cut', error: String(e) }); }
      }
    })());
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; !results.some((r) => r.status === 200); i++) { // requests in flight
    assert.ok(i < 400, 'no answer before the signal');
    await sleep(25);
  }
  const before = results.length;
  process.kill(serve[0], 'SIGTERM');
  await Promise.all(load);
  assert.ok(before < 16 * 40, `the signal came during the load (${before} answered before it)`);
  for (let i = 0; i < 300 && !/serve: stopped/.test(stack.log()); i++) await sleep(100);
  const log = stack.log();
  await stack.stop();
  // Answered before the signal: 200. After it, nginx answers the contract's
  // 503 UNAVAILABLE. Never a cut connection or a half body.
  const cut = results.filter((r) => r.status === 'cut');
  assert.equal(cut.length, 0, JSON.stringify(cut.slice(0, 3)));
  for (const r of results) {
    if (r.status === 200) assert.equal(r.body.status, 'ok');
    else { assert.equal(r.status, 503); assert.equal(r.body.errorCode, 'UNAVAILABLE'); }
  }
  assert.ok(results.some((r) => r.status === 200));
  assert.match(log, /serve: signal 15/);
  assert.match(log, /serve: stopped/);
});

test('a short JWT secret or a bad setting refuses to start', () => {
  const env = { ...process.env, TOLLGATE_DB: '/tmp/tollgate-refuse.db' };
  let r = spawnSync(BIN, ['serve', '--socket', '/tmp/tollgate-refuse.sock'],
    { env: { ...env, TOLLGATE_JWT_SECRET: 'short' }, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TOLLGATE_JWT_SECRET must be at least 32 bytes/);
  r = spawnSync(BIN, ['serve', '--socket', '/tmp/tollgate-refuse.sock'],
    { env: { ...env, TOLLGATE_JWT_SECRET: SECRET, TOLLGATE_THREADS: 'many' }, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TOLLGATE_THREADS must be a whole number/);
});
