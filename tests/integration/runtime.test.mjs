// runtime.test.mjs: the foundation through a real nginx: routing, errors,
// request ids, body limits, static files, migrations, graceful shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startStack, api, isErrorBody, schemaVersion } from '../lib/stack.mjs';

let stack;
before(async () => { stack = await startStack({ TOLLGATE_MAX_BODY: '64k' }); });
after(async () => { await stack?.stop(); });

test('health answers through nginx without credentials', async () => {
  const r = await api(stack, 'GET', '/v1/health');
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'ok');
  assert.equal(r.body.database, 'ok');
  assert.match(r.body.version, /^\d+\.\d+\.\d+$/);
  assert.match(r.headers.get('content-type'), /^application\/json; charset=utf-8/);
});

test('unknown path is 404 NOT_FOUND in the error body', async () => {
  for (const p of ['/v1/nope', '/v1/health/', '/v1/', '/v1/tables/%2e%2e', '/v1/tables/a%27b']) {
    const r = await api(stack, 'GET', p);
    assert.ok(isErrorBody(r, 404, 'NOT_FOUND'), `${p}: ${r.status} ${r.text}`);
  }
  // nginx itself refuses a NUL in the path before Tollgate sees it.
  const nul = await api(stack, 'GET', '/v1/health%00');
  assert.equal(nul.status, 400);
});

test('wrong method is 405 with Allow', async () => {
  for (const m of ['POST', 'DELETE', 'PUT', 'PATCH']) {
    const r = await api(stack, m, '/v1/health');
    assert.ok(isErrorBody(r, 405, 'METHOD_NOT_ALLOWED'), r.text);
    assert.equal(r.headers.get('allow'), 'GET');
  }
});

test('request ids: echoed when sane, made when absent or insane', async () => {
  const a = await api(stack, 'GET', '/v1/nope', { headers: { 'X-Request-Id': 'client-42.a' } });
  assert.equal(a.headers.get('x-request-id'), 'client-42.a');
  assert.equal(a.body.requestId, 'client-42.a');
  const b = await api(stack, 'GET', '/v1/health');
  const c = await api(stack, 'GET', '/v1/health');
  assert.match(b.headers.get('x-request-id'), /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.notEqual(b.headers.get('x-request-id'), c.headers.get('x-request-id'));
  const d = await api(stack, 'GET', '/v1/health', { headers: { 'X-Request-Id': 'x'.repeat(65) } });
  assert.match(d.headers.get('x-request-id'), /^[0-9A-Z]{26}$/);
  const e = await api(stack, 'GET', '/v1/health', { headers: { 'X-Request-Id': 'a"b' } });
  assert.match(e.headers.get('x-request-id'), /^[0-9A-Z]{26}$/);
});

// A raw HTTP request that sends headers and only the first bytes of a body.
function rawStatus(port, head, firstBody) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/health', headers: head });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.write(firstBody);
    // Never finish the body: the answer must come without it.
  });
}

test('413 from Content-Length alone, before the body is sent', async () => {
  const r = await rawStatus(stack.port,
    { 'Content-Type': 'application/json', 'Content-Length': String(10 * 1024 * 1024) }, '{');
  assert.equal(r.status, 413);
  const body = JSON.parse(r.text);
  assert.equal(body.errorCode, 'PAYLOAD_TOO_LARGE');
  assert.equal(typeof body.requestId, 'string');
});

test('the web app is served with security headers', async () => {
  const r = await fetch(`${stack.base}/`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /<html/);
  assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
});

test('errors never leak internals', async () => {
  const r = await api(stack, 'GET', `/v1/${'a'.repeat(3000)}`);
  assert.ok(isErrorBody(r, 404, 'NOT_FOUND'));
  assert.doesNotMatch(r.text, /sqlite|\.c:|errno|\/tmp/i);
});

test('migrations are recorded once and a restart applies none', async () => {
  const v = schemaVersion(stack);
  assert.ok(Number(v) >= 1);
  const again = await startStack({ TOLLGATE_DB: stack.db });
  try {
    assert.equal(schemaVersion(stack), v);
    assert.match(again.log(), /\(0 applied\)/);
    assert.doesNotMatch(again.log(), /applied \d{3}_/);
  } finally { await again.stop(); }
});
