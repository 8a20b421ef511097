// metrics.test.mjs: GET /v1/metrics: off unless configured, only to the
// bearer of TOLLGATE_METRICS_TOKEN, and counting what happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody } from '../lib/stack.mjs';
import { adminSession, createKey } from '../lib/fixtures.mjs';

const TOKEN = 'metrics-token-0123456789abcdef0123';

test('off unless TOLLGATE_METRICS_TOKEN is set', async () => {
  const stack = await startStack();
  try {
    const r = await api(stack, 'GET', '/v1/metrics', { token: TOKEN });
    assert.ok(isErrorBody(r, 404, 'NOT_FOUND'));
  } finally { await stack.stop(); }
});

test('only to its bearer; counts requests, latency, ingest and busy waits', async () => {
  const stack = await startStack({ TOLLGATE_METRICS_TOKEN: TOKEN });
  try {
    assert.ok(isErrorBody(await api(stack, 'GET', '/v1/metrics'), 401, 'TOKEN_MISSING'));
    assert.ok(isErrorBody(await api(stack, 'GET', '/v1/metrics', { token: `${TOKEN}x` }), 401, 'TOKEN_INVALID'));
    for (let i = 0; i < 3; i++) await api(stack, 'GET', '/v1/nope');
    const admin = await adminSession(stack);
    const key = await createKey(stack, admin.token, ['ingest']);
    const p = await api(stack, 'POST', '/v1/projects', { token: admin.token, json: { name: 'm' } });
    const t = await api(stack, 'POST', `/v1/projects/${p.body.id}/tables`, { token: admin.token, json: { name: 't' } });
    await api(stack, 'POST', `/v1/tables/${t.body.id}/import`, { token: admin.token, body: 'a,b\n1,x\n2,y\n', headers: { 'Content-Type': 'text/csv' } });
    await api(stack, 'POST', `/v1/tables/${t.body.id}/publish`, { token: admin.token });
    const ing = await api(stack, 'POST', `/v1/tables/${t.body.id}/records`, { token: key.key, json: { records: [{ a: 3, b: 'z' }] } });
    assert.equal(ing.status, 200, ing.text);
    const r = await fetch(`${stack.base}/v1/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const text = await r.text();
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    assert.match(text, /^tollgate_requests_total\{route="none",status="404"\} 3$/m);
    assert.match(text, /^tollgate_requests_total\{route="POST \/v1\/tables\/\{id\}\/records",status="200"\} 1$/m);
    assert.match(text, /^tollgate_requests_total\{route="GET \/v1\/metrics",status="401"\} 2$/m);
    assert.match(text, /^tollgate_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    assert.match(text, /^tollgate_request_duration_seconds_bucket\{le="0.001"\} \d+$/m);
    assert.match(text, /^tollgate_ingest_records_total 3$/m);
    assert.match(text, /^tollgate_db_busy_retries_total \d+$/m);
    assert.match(text, /^tollgate_db_group_commits_total \d+$/m);
    assert.match(text, /^tollgate_db_group_pieces_total \d+$/m);
    const count = Number(text.match(/^tollgate_request_duration_seconds_count (\d+)$/m)[1]);
    const sum = [...text.matchAll(/^tollgate_requests_total\{.*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    assert.equal(count, sum, 'the histogram counts every request');
  } finally { await stack.stop(); }
});
