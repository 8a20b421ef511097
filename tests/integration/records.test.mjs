// records.test.mjs: the bodies POST /v1/tables/{id}/records and /import take
// besides plain JSON and CSV (Content-Encoding: gzip, application/x-ndjson),
// partial batches (?partial=true), and GET /v1/tables/{id}/records as CSV
// (Accept: text/csv), all through nginx, with their bad inputs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import {
  adminSession, createKey, createProject, createTable, tableWithSchema, readAllRecords, importCsv,
} from '../lib/fixtures.mjs';

const MAX_BODY = 1 << 20;
let stack;
before(async () => { stack = await startStack({ TOLLGATE_MAX_BODY: String(MAX_BODY) }); });
after(async () => { await stack?.stop(); });

const SCHEMA_CSV = 'n,name,score,ok\n1,a,1.5,true\n';
const count = (table) => Number(sql(stack, `SELECT count(*) FROM records WHERE table_id = '${table}'`)[0][0]);
const recordsPath = (id, q = '') => `/v1/tables/${id}/records${q}`;
const post = (id, body, headers, opts = {}) =>
  api(stack, 'POST', recordsPath(id, opts.query || ''), { token: opts.token, body, headers });
const ndjson = (records) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
const batch = (n, from = 0) => Array.from({ length: n }, (_, i) => ({ n: from + i, name: `r${from + i}`, score: i / 2, ok: i % 2 === 0 }));
const JSON_GZ = { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' };
const ND = { 'Content-Type': 'application/x-ndjson' };
const ND_GZ = { ...ND, 'Content-Encoding': 'gzip' };

// ---- Content-Encoding: gzip ----

test('gzip: a compressed JSON batch, NDJSON batch and CSV import are stored as sent plainly', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const a = await post(table.id, gzipSync(JSON.stringify({ records: batch(3, 10) })), JSON_GZ, { token: admin.token });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.body.accepted, 3);
  const b = await post(table.id, gzipSync(ndjson(batch(2, 20))), ND_GZ, { token: admin.token });
  assert.equal(b.status, 200, b.text);
  assert.equal(b.body.accepted, 2);
  // Several gzip members one after the other are one body (RFC 1952).
  const two = Buffer.concat([gzipSync(ndjson(batch(1, 30))), gzipSync(ndjson(batch(1, 31)))]);
  const c = await post(table.id, two, ND_GZ, { token: admin.token });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.body.accepted, 2);
  const imp = await importCsv(stack, admin.token, table.id, gzipSync('n,name,score,ok\n40,x,2,false\n'), { 'Content-Encoding': 'gzip' });
  assert.equal(imp.status, 200, imp.text);
  assert.equal(imp.body.imported, 1);
  const rows = await readAllRecords(stack, table.id, { token: admin.token });
  assert.deepEqual(rows.map((r) => r.n), [1, 10, 11, 12, 20, 21, 30, 31, 40]);
  // A first import, whose schema is inferred, may be compressed too.
  const other = await adminSession(stack);
  const t = await createTable(stack, other.token, (await createProject(stack, other.token)).id);
  const first = await importCsv(stack, other.token, t.id, gzipSync('a,b\n1,x\n'), { 'Content-Encoding': 'gzip' });
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.body.schema.columns.map((c) => c.type), ['integer', 'text']);
});

test('gzip: a bomb is 413 PAYLOAD_TOO_LARGE once inflated past TOLLGATE_MAX_BODY; nothing stored', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  // 64 MiB of blanks inside a valid batch, about 64 KiB compressed: small
  // enough for nginx's cap, 64 times the service's once inflated.
  const bomb = gzipSync(Buffer.concat([Buffer.from('{"records": ['), Buffer.alloc(64 << 20, ' '), Buffer.from('{"n": 1}]}')]));
  assert.ok(bomb.length < MAX_BODY, `bomb is ${bomb.length} bytes`);
  const t0 = Date.now();
  const r = await post(table.id, bomb, JSON_GZ, { token: admin.token });
  assert.ok(isErrorBody(r, 413, 'PAYLOAD_TOO_LARGE'), r.text);
  assert.match(r.body.error, /once decompressed/);
  assert.deepEqual(r.body.details, { limit: MAX_BODY });
  assert.ok(Date.now() - t0 < 5000, 'the bomb was stopped early');
  const csvBomb = gzipSync(Buffer.concat([Buffer.from('n,name,score,ok\n'), Buffer.alloc(64 << 20, '\n')]));
  const i = await importCsv(stack, admin.token, table.id, csvBomb, { 'Content-Encoding': 'gzip' });
  assert.ok(isErrorBody(i, 413, 'PAYLOAD_TOO_LARGE'), i.text);
  // Just under the cap once inflated still passes.
  const fits = gzipSync(Buffer.concat([Buffer.from('{"records": ['), Buffer.alloc(MAX_BODY - 100, ' '), Buffer.from('{"n": 2}]}')]));
  const ok = await post(table.id, fits, JSON_GZ, { token: admin.token });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(count(table.id), 2);
});

test('gzip: a small body of many values is 400 INVALID_BODY before any tree is built; nothing stored', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  // 300,000 zeros: under the inflated cap, a few hundred bytes compressed,
  // past the JSON value limit; the server answers without building them.
  const zeros = gzipSync(`{"records": [${'0,'.repeat(299999)}0]}`);
  assert.ok(zeros.length < 10000, `${zeros.length} bytes`);
  const before = count(table.id);
  const r = await post(table.id, zeros, JSON_GZ, { token: admin.token });
  assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), r.text);
  assert.match(r.body.error, /too many values/);
  assert.equal(count(table.id), before);
});

test('gzip: a truncated or damaged stream is 400 INVALID_BODY saying so; nothing stored', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const good = gzipSync(JSON.stringify({ records: batch(50) }));
  const truncated = good.subarray(0, good.length - 12);
  const t = await post(table.id, truncated, JSON_GZ, { token: admin.token });
  assert.ok(isErrorBody(t, 400, 'INVALID_BODY'), t.text);
  assert.match(t.body.error, /gzip.*truncated/);
  assert.deepEqual(t.body.details, { field: 'Content-Encoding' });
  const damaged = Buffer.from(good);
  damaged[damaged.length - 6] ^= 0xff; // the CRC-32 no longer matches
  const d = await post(table.id, damaged, JSON_GZ, { token: admin.token });
  assert.ok(isErrorBody(d, 400, 'INVALID_BODY'), d.text);
  assert.match(d.body.error, /gzip.*(check|crc)/i);
  const notGzip = await post(table.id, JSON.stringify({ records: batch(1) }), JSON_GZ, { token: admin.token });
  assert.ok(isErrorBody(notGzip, 400, 'INVALID_BODY'), notGzip.text);
  assert.match(notGzip.body.error, /gzip/);
  const empty = await post(table.id, Buffer.alloc(0), JSON_GZ, { token: admin.token });
  assert.ok(isErrorBody(empty, 400, 'INVALID_BODY'), empty.text);
  const imp = await importCsv(stack, admin.token, table.id, gzipSync('n,name,score,ok\n2,b,1,true\n').subarray(0, 20), { 'Content-Encoding': 'gzip' });
  assert.ok(isErrorBody(imp, 400, 'INVALID_BODY'), imp.text);
  assert.equal(count(table.id), 1);
});

test('gzip: any other Content-Encoding is 415; JSON-only routes take none', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  for (const enc of ['br', 'deflate', 'gzip, br', 'compress']) {
    const r = await post(table.id, JSON.stringify({ records: batch(1) }), { 'Content-Type': 'application/json', 'Content-Encoding': enc }, { token: admin.token });
    assert.ok(isErrorBody(r, 415, 'UNSUPPORTED_MEDIA_TYPE'), `${enc}: ${r.text}`);
    assert.deepEqual(r.body.details, { field: 'Content-Encoding' });
  }
  const imp = await importCsv(stack, admin.token, table.id, 'n,name,score,ok\n', { 'Content-Encoding': 'zstd' });
  assert.ok(isErrorBody(imp, 415, 'UNSUPPORTED_MEDIA_TYPE'), imp.text);
  const identity = await post(table.id, JSON.stringify({ records: batch(1) }), { 'Content-Type': 'application/json', 'Content-Encoding': 'identity' }, { token: admin.token });
  assert.equal(identity.status, 200, identity.text);
  const proj = await api(stack, 'POST', '/v1/projects', { token: admin.token, body: gzipSync('{"name":"x"}'), headers: JSON_GZ });
  assert.ok(isErrorBody(proj, 415, 'UNSUPPORTED_MEDIA_TYPE'), proj.text);
  assert.equal(count(table.id), 2);
});

// ---- application/x-ndjson ----

test('ndjson: one record a line, CRLF and blank lines allowed; the answer and meter as for JSON', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const r = await post(table.id, '{"n": 2, "name": "b"}\r\n\n{"n": 3, "ok": false}\n\n', ND, { token: admin.token });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.body).sort(), ['accepted', 'usage']);
  assert.equal(r.body.accepted, 2);
  assert.equal(r.body.usage.used, 3);
  const noFinalEol = await post(table.id, '{"n": 4}', ND, { token: admin.token });
  assert.equal(noFinalEol.status, 200, noFinalEol.text);
  const charset = await post(table.id, '{"n": 5}\n', { 'Content-Type': 'application/x-ndjson; charset=utf-8' }, { token: admin.token });
  assert.equal(charset.status, 200, charset.text);
  const rows = await readAllRecords(stack, table.id, { token: admin.token });
  assert.deepEqual(rows.slice(1), [
    { n: 2, name: 'b', score: null, ok: null },
    { n: 3, name: null, score: null, ok: false },
    { n: 4, name: null, score: null, ok: null },
    { n: 5, name: null, score: null, ok: null },
  ]);
});

test('ndjson: 500 lines pass, 501 are BATCH_TOO_LARGE; an empty body is INVALID_BODY; nothing stored', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const ok = await post(table.id, ndjson(batch(500)), ND, { token: admin.token });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.accepted, 500);
  const big = await post(table.id, ndjson(batch(501)), ND, { token: admin.token });
  assert.ok(isErrorBody(big, 400, 'BATCH_TOO_LARGE'), big.text);
  assert.deepEqual(big.body.details, { limit: 500, received: 501 });
  const bigGz = await post(table.id, gzipSync(ndjson(batch(501))), ND_GZ, { token: admin.token });
  assert.ok(isErrorBody(bigGz, 400, 'BATCH_TOO_LARGE'), bigGz.text);
  for (const body of ['', '\n\n', '  \r\n']) {
    const e = await post(table.id, body, ND, { token: admin.token });
    assert.ok(isErrorBody(e, 400, 'INVALID_BODY'), `${JSON.stringify(body)}: ${e.text}`);
    assert.deepEqual(e.body.details, { field: 'records' });
  }
  assert.equal(count(table.id), 501);
});

test('ndjson: a line that is not JSON is INVALID_BODY naming it; one not an object is SCHEMA_MISMATCH with index and line', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const bad = await post(table.id, '{"n": 2}\n\n{"n": 3,\n', ND, { token: admin.token });
  assert.ok(isErrorBody(bad, 400, 'INVALID_BODY'), bad.text);
  assert.deepEqual(bad.body.details, { line: 3 });
  assert.match(bad.body.error, /^Line 3 is not valid JSON/);
  const two = await post(table.id, '{"n": 2} {"n": 3}\n', ND, { token: admin.token });
  assert.ok(isErrorBody(two, 400, 'INVALID_BODY'), two.text);
  assert.deepEqual(two.body.details, { line: 1 });
  const r = await post(table.id, '{"n": 2}\n[1, 2]\n\n42\nnull\n{"n": "x", "zz": 1}\n', ND, { token: admin.token });
  assert.ok(isErrorBody(r, 400, 'SCHEMA_MISMATCH'), r.text);
  assert.deepEqual(r.body.details, {
    problems: [
      { index: 1, line: 2, field: null, problem: 'not an object' },
      { index: 2, line: 4, field: null, problem: 'not an object' },
      { index: 3, line: 5, field: null, problem: 'not an object' },
      { index: 4, line: 6, field: 'n', problem: 'wrong type', expected: 'integer' },
      { index: 4, line: 6, field: 'zz', problem: 'unknown column' },
    ],
    problemCount: 5,
  });
  assert.equal(count(table.id), 1);
});

test('ndjson: Idempotency-Key replays the first answer and stores once; the same records as JSON are another body', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const key = await createKey(stack, admin.token, ['ingest']);
  const h = { ...ND, 'X-API-Key': key.key, 'Idempotency-Key': 'nd-1' };
  const body = ndjson(batch(3));
  const first = await post(table.id, body, h);
  assert.equal(first.status, 200, first.text);
  const again = await post(table.id, gzipSync(body), { ...h, 'Content-Encoding': 'gzip' });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.body, first.body);
  const asJson = await post(table.id, JSON.stringify({ records: batch(3) }), { 'Content-Type': 'application/json', 'X-API-Key': key.key, 'Idempotency-Key': 'nd-1' });
  assert.ok(isErrorBody(asJson, 422, 'IDEMPOTENCY_KEY_REUSED'), asJson.text);
  assert.equal(count(table.id), 4);
});

// ---- ?partial=true ----

test('partial: the good records are stored and the bad listed; the meter takes only the stored', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const records = [{ n: 2 }, { n: 'two' }, { n: 3, name: 'c' }, 7, { zz: 1, ok: 'no' }];
  const r = await api(stack, 'POST', recordsPath(table.id, '?partial=true'), { token: admin.token, json: { records } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.accepted, 2);
  assert.equal(r.body.usage.used, 3);
  assert.deepEqual(r.body.rejected, [
    { index: 1, problems: [{ index: 1, field: 'n', problem: 'wrong type', expected: 'integer' }], problemCount: 1 },
    { index: 3, problems: [{ index: 3, field: null, problem: 'not an object' }], problemCount: 1 },
    {
      index: 4,
      problems: [
        { index: 4, field: 'zz', problem: 'unknown column' },
        { index: 4, field: 'ok', problem: 'wrong type', expected: 'boolean' },
      ],
      problemCount: 2,
    },
  ]);
  const rows = await readAllRecords(stack, table.id, { token: admin.token });
  assert.deepEqual(rows.map((x) => x.n), [1, 2, 3]);
  const usage = await api(stack, 'GET', '/v1/billing/usage', { token: admin.token });
  assert.equal(usage.body.meters.find((m) => m.meter === 'records').used, 3);
  // A clean batch with partial answers an empty rejected list.
  const clean = await api(stack, 'POST', recordsPath(table.id, '?partial=1'), { token: admin.token, json: { records: [{ n: 9 }] } });
  assert.equal(clean.status, 200, clean.text);
  assert.deepEqual(clean.body.rejected, []);
  // NDJSON rejections name the line too.
  const nd = await post(table.id, '{"n": 10}\n\n{"n": 1.5}\n', ND, { token: admin.token, query: '?partial=true' });
  assert.equal(nd.status, 200, nd.text);
  assert.deepEqual(nd.body.rejected, [{ index: 1, line: 3, problems: [{ index: 1, line: 3, field: 'n', problem: 'wrong type', expected: 'integer' }], problemCount: 1 }]);
  assert.equal(count(table.id), 5);
});

test('partial: every record bad is 400 SCHEMA_MISMATCH as today; partial=false and no partial are all or nothing', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const allBad = await api(stack, 'POST', recordsPath(table.id, '?partial=true'), { token: admin.token, json: { records: [{ n: 'x' }, 'y'] } });
  assert.ok(isErrorBody(allBad, 400, 'SCHEMA_MISMATCH'), allBad.text);
  assert.equal(allBad.body.details.problemCount, 2);
  assert.equal(allBad.body.details.problems.length, 2);
  for (const q of ['', '?partial=false', '?partial=0']) {
    const r = await api(stack, 'POST', recordsPath(table.id, q), { token: admin.token, json: { records: [{ n: 2 }, { n: 'x' }] } });
    assert.ok(isErrorBody(r, 400, 'SCHEMA_MISMATCH'), `${q}: ${r.text}`);
  }
  for (const q of ['?partial=yes', '?partial=', '?partial=TRUE2']) {
    const r = await api(stack, 'POST', recordsPath(table.id, q), { token: admin.token, json: { records: [{ n: 2 }] } });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), `${q}: ${r.text}`);
    assert.deepEqual(r.body.details, { field: 'partial' });
  }
  assert.equal(count(table.id), 1);
});

test('partial: with an Idempotency-Key a retry answers the same and stores nothing twice', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const json = { records: [{ n: 2 }, { n: 'bad' }, { n: 3 }] };
  const h = { 'Idempotency-Key': 'partial-1' };
  const first = await api(stack, 'POST', recordsPath(table.id, '?partial=true'), { token: admin.token, json, headers: h });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.body.accepted, 2);
  const again = await api(stack, 'POST', recordsPath(table.id, '?partial=true'), { token: admin.token, json, headers: h });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.body, first.body);
  // The same key and body without partial asks for another answer.
  const other = await api(stack, 'POST', recordsPath(table.id), { token: admin.token, json, headers: h });
  assert.ok(isErrorBody(other, 422, 'IDEMPOTENCY_KEY_REUSED'), other.text);
  assert.equal(count(table.id), 3);
});

// ---- GET records as CSV ----

const csvGet = (id, q, auth = {}) => api(stack, 'GET', recordsPath(id, q), { ...auth, headers: { Accept: 'text/csv', ...(auth.headers || {}) } });

test('export: the schema\'s columns, RFC 4180 quoting, nulls empty, booleans and numbers as stored', async () => {
  const { admin, table } = await tableWithSchema(stack, 'id,text,score,ok\n1,plain,1.50,true\n');
  // Sent as text: JavaScript would rewrite -1e-3 and the 20-digit number.
  const r0 = await post(table.id, `{"records": [
    {"id": 2, "text": "a, b", "score": -1e-3, "ok": false},
    {"id": 3, "text": "say \\"hi\\"", "score": 12345678901234567890},
    {"id": 4, "text": "two\\nlines"},
    {"id": 5, "text": " padded "},
    {"id": 6, "text": "cr\\rhere", "ok": null},
    {"text": "é ünïcode"}]}`, { 'Content-Type': 'application/json' }, { token: admin.token });
  assert.equal(r0.status, 200, r0.text);
  const r = await csvGet(table.id, '', { token: admin.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'text/csv; charset=utf-8');
  assert.equal(r.headers.get('link'), null);
  assert.equal(r.headers.get('x-next-cursor'), null);
  assert.equal(r.text, [
    'id,text,score,ok',
    '1,plain,1.5,true',
    '2,"a, b",-1e-3,false',
    '3,"say ""hi""",12345678901234567890,',
    '4,"two\nlines",,',
    '5," padded ",,',
    '6,"cr\rhere",,',
    ',é ünïcode,,',
    '',
  ].join('\r\n'));
  // Accept that ranks JSON first, or */*, is the JSON listing.
  for (const accept of ['application/json, text/csv;q=0.5', '*/*', 'text/csv;q=0, application/json']) {
    const j = await api(stack, 'GET', recordsPath(table.id), { token: admin.token, headers: { Accept: accept } });
    assert.equal(j.status, 200, j.text);
    assert.equal(j.body.data.length, 7, accept);
  }
  const pref = await csvGet(table.id, '', { token: admin.token, headers: { Accept: 'text/csv, application/json;q=0.9' } });
  assert.match(pref.headers.get('content-type'), /^text\/csv/);
});

test('export: pages by limit and cursor, the next in Link and X-Next-Cursor, as the JSON listing', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const r0 = await api(stack, 'POST', recordsPath(table.id), { token: admin.token, json: { records: batch(4, 2) } });
  assert.equal(r0.status, 200, r0.text);
  const seen = [];
  let q = '?limit=2';
  let pages = 0;
  for (;;) {
    const r = await csvGet(table.id, q, { token: admin.token });
    assert.equal(r.status, 200, r.text);
    const lines = r.text.split('\r\n');
    assert.equal(lines[0], 'n,name,score,ok');
    assert.equal(lines.at(-1), '');
    seen.push(...lines.slice(1, -1).map((l) => Number(l.split(',')[0])));
    pages += 1;
    const next = r.headers.get('x-next-cursor');
    const json = await api(stack, 'GET', recordsPath(table.id, q), { token: admin.token });
    assert.equal(json.body.nextCursor, next, 'the same cursor as the JSON listing');
    if (!next) {
      assert.equal(r.headers.get('link'), null);
      break;
    }
    assert.equal(r.headers.get('link'), `</v1/tables/${table.id}/records?limit=2&cursor=${next}>; rel="next"`);
    q = `?limit=2&cursor=${next}`;
  }
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(pages, 3);
  const bad = await csvGet(table.id, '?cursor=zz', { token: admin.token });
  assert.ok(isErrorBody(bad, 400, 'INVALID_BODY'), bad.text);
  const badLimit = await csvGet(table.id, '?limit=501', { token: admin.token });
  assert.ok(isErrorBody(badLimit, 400, 'INVALID_BODY'), badLimit.text);
});

test('export: a table with no schema is 400 NO_SCHEMA; scopes and visibility as the JSON listing', async () => {
  const admin = await adminSession(stack);
  const p = await createProject(stack, admin.token);
  const t = await createTable(stack, admin.token, p.id);
  const none = await csvGet(t.id, '', { token: admin.token });
  assert.ok(isErrorBody(none, 400, 'NO_SCHEMA'), none.text);
  const imp = await importCsv(stack, admin.token, t.id, 'n\n1\n');
  assert.equal(imp.status, 200, imp.text);
  const reader = await createKey(stack, admin.token, ['read']);
  const ingestOnly = await createKey(stack, admin.token, ['ingest']);
  // Unpublished: an API key sees no such table.
  const hidden = await csvGet(t.id, '', { headers: { 'X-API-Key': reader.key } });
  assert.ok(isErrorBody(hidden, 404, 'NOT_FOUND'), hidden.text);
  const pub = await api(stack, 'POST', `/v1/tables/${t.id}/publish`, { token: admin.token });
  assert.equal(pub.status, 200, pub.text);
  const ok = await csvGet(t.id, '', { headers: { 'X-API-Key': reader.key } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.text, 'n\r\n1\r\n');
  const scope = await csvGet(t.id, '', { headers: { 'X-API-Key': ingestOnly.key } });
  assert.ok(isErrorBody(scope, 403, 'MISSING_SCOPE'), scope.text);
  const other = await adminSession(stack);
  const foreign = await csvGet(t.id, '', { token: other.token });
  assert.ok(isErrorBody(foreign, 404, 'NOT_FOUND'), foreign.text);
  const anon = await csvGet(t.id, '');
  assert.ok(isErrorBody(anon, 401, 'TOKEN_MISSING'), anon.text);
});

test('export: a full page of 500 wide records streams out whole', async () => {
  const { admin, table } = await tableWithSchema(stack, SCHEMA_CSV);
  const long = 'x'.repeat(300);
  const r0 = await api(stack, 'POST', recordsPath(table.id), { token: admin.token, json: { records: batch(500).map((b) => ({ ...b, name: `${long},${b.n}` })) } });
  assert.equal(r0.status, 200, r0.text);
  const r = await csvGet(table.id, '?limit=500', { token: admin.token });
  assert.equal(r.status, 200, r.text.slice(0, 200));
  const lines = r.text.split('\r\n');
  assert.equal(lines.length, 1 + 500 + 1);
  assert.equal(lines[1], '1,a,1.5,true');
  assert.equal(lines[500], `498,"${long},498",249,true`);
  assert.equal(r.headers.get('x-next-cursor') !== null, true, 'the first record is on the next page');
});
