// expiry.test.mjs: sessions end after the idle timeout and after their
// absolute lifetime, with short configured timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody } from '../lib/stack.mjs';
import { adminSession, login, PASSWORD } from '../lib/fixtures.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('idle timeout: SESSION_EXPIRED, and a new login needs no force', async () => {
  const stack = await startStack({ TOLLGATE_SESSION_IDLE: '3' });
  try {
    const s = await adminSession(stack);
    assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: s.token })).status, 200);
    // Activity resets the idle clock (kept in whole seconds): 4 s of use
    // with pauses of 1 s stays signed in.
    for (let i = 0; i < 4; i++) {
      await sleep(1000);
      assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: s.token })).status, 200);
    }
    await sleep(4200);
    const r = await api(stack, 'GET', '/v1/auth/session', { token: s.token });
    assert.ok(isErrorBody(r, 401, 'SESSION_EXPIRED'), r.text);
    assert.equal(r.body.error, 'Your session has expired. Please sign in again.');
    await login(stack, s.email, PASSWORD); // no 409: the old session is over
  } finally { await stack.stop(); }
});

test('absolute lifetime: SESSION_EXPIRED even while active', async () => {
  const stack = await startStack({ TOLLGATE_SESSION_IDLE: '60', TOLLGATE_SESSION_TTL: '3' });
  try {
    const s = await adminSession(stack);
    const t0 = Date.now();
    let last;
    while (Date.now() - t0 < 4500) {
      last = await api(stack, 'GET', '/v1/auth/session', { token: s.token });
      if (last.status !== 200) break;
      await sleep(300);
    }
    assert.ok(isErrorBody(last, 401, 'SESSION_EXPIRED'), last.text);
    assert.ok(Date.now() - t0 >= 1900, 'not before its lifetime');
  } finally { await stack.stop(); }
});
