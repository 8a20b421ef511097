// badinput.test.mjs: a corpus of bad input sent through the real web server
// (nginx) to every route that reads input: truncated and oversized bodies,
// wrong and missing Content-Type and Content-Length, deep and huge JSON,
// invalid UTF-8, NUL bytes, numbers out of range, very long headers and
// paths, path traversal in ids, SQL metacharacters in every string field.
// Every answer is the contract's (an error body with its errorCode, or a
// success that stored the text as sent), never a 5xx, never internals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import { contractProblems } from '../lib/contract.mjs';
import { tableWithSchema, createKey, setPlan, importCsv, PASSWORD, uniqueEmail } from '../lib/fixtures.mjs';

let stack, env, sent = 0;
const LEAK = /sqlite|SQL logic|syntax error|constraint failed|\.c:\d|\/tmp\/|\/work\/|errno|segfault|<html|nginx/i;

before(async () => {
  stack = await startStack({ TOLLGATE_MAX_BODY: '256k' });
  const t = await tableWithSchema(stack, 'n,name,score,ok\n1,a,1.5,true\n');
  setPlan(stack, t.admin.org.id, 'starter');
  const key = await createKey(stack, t.admin.token, ['ingest', 'read']);
  // Rotated by the corpus (an empty body is a valid rotation).
  const spare = await createKey(stack, t.admin.token, ['read']);
  env = { ...t, key: key.key, keyId: key.id, spareKeyId: spare.id };
});
after(async () => { await stack?.stop(); });

// Never a 5xx, never internals; an error is the contract's body. Answers r.
function sound(r, what) {
  sent++;
  assert.ok(r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
  assert.doesNotMatch(r.text, LEAK, `${what}: leaks: ${r.text.slice(0, 300)}`);
  if (r.status >= 400) {
    const b = JSON.parse(r.text);
    assert.equal(typeof b.error, 'string', what);
    assert.match(b.errorCode, /^[A-Z_]+$/, what);
    assert.equal(typeof b.requestId, 'string', what);
  }
  return r;
}

// One request as raw bytes on a fresh connection (HTTP/1.0 unless the head
// says otherwise, so the answer ends with the connection); answers
// {status, headers (lower-case object), text} or {status: 0} when the
// server closed without an answer. endAfter half-closes the connection after
// the bytes (nginx then drops a request whose client went away).
function raw(bytes, { endAfter = false, wait = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = connect(stack.port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => s.destroy(), wait);
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('latin1');
      const m = all.match(/^HTTP\/1\.[01] (\d{3})/);
      if (!m) return resolve({ status: 0, headers: {}, text: all });
      const [head, ...rest] = all.split('\r\n\r\n');
      const headers = {};
      for (const l of head.split('\r\n').slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      let text = rest.join('\r\n\r\n');
      if (/chunked/i.test(headers['transfer-encoding'] || '')) {
        let out = '';
        for (let p = 0; ;) {
          const nl = text.indexOf('\r\n', p);
          const n = parseInt(text.slice(p, nl), 16);
          if (!n) break;
          out += text.slice(nl + 2, nl + 2 + n);
          p = nl + 2 + n + 2;
        }
        text = out;
      }
      resolve({ status: Number(m[1]), headers, text: Buffer.from(text, 'latin1').toString('utf8') });
    });
    s.write(bytes);
    if (endAfter) s.end();
  });
}

const head = (method, path, headers = {}, proto = 'HTTP/1.0') =>
  `${method} ${path} ${proto}\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

// The routes that read a JSON body, with a valid body each and the auth they need.
function jsonRoutes() {
  const admin = { Authorization: `Bearer ${env.admin.token}` };
  return [
    ['POST', '/v1/signup', {}, { organization: 'O', email: uniqueEmail('bad'), password: PASSWORD }],
    ['POST', '/v1/auth/login', {}, { email: 'nobody@example.test', password: 'x'.repeat(12) }],
    ['POST', '/v1/auth/password', admin, { currentPassword: 'wrong wrong 1', newPassword: 'x'.repeat(12) }],
    ['POST', '/v1/users', admin, { email: uniqueEmail('bad'), password: PASSWORD, role: 'nobody' }],
    ['PATCH', `/v1/users/${env.admin.user.id}`, admin, { role: 'nobody' }],
    ['POST', `/v1/users/usr_nope/password`, admin, { newPassword: 'x'.repeat(12) }],
    ['POST', '/v1/api-keys', admin, { name: 'k', scopes: ['nope'] }],
    ['POST', `/v1/api-keys/${env.spareKeyId}/rotate`, admin, { gracePeriodSeconds: -1 }],
    ['POST', '/v1/projects', admin, { name: '' }],
    ['POST', `/v1/projects/${env.project.id}/tables`, admin, { name: '' }],
    ['POST', `/v1/tables/${env.table.id}/records`, { 'X-API-Key': env.key }, { records: [{ n: 'x' }] }],
    ['PUT', '/v1/billing/plan', admin, { plan: 'nope' }],
  ];
}

test('bodies: truncated, not JSON, deep, huge, invalid UTF-8, NUL, out-of-range numbers on every JSON route', async () => {
  const deep = '{"a":'.repeat(100000) + '1' + '}'.repeat(100000);
  const wide = `{${Array.from({ length: 15000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
  const bodies = {
    truncated: '{"email": "a@b.c", "pass',
    empty: '',
    'not an object': '[{"a":1}]',
    'a string': '"hello"',
    'deep nesting': deep.slice(0, 200000),
    'nesting 40': '{"a":'.repeat(40) + '1' + '}'.repeat(40),
    'wide object': wide,
    'long strings': `{${['email', 'password', 'newPassword', 'currentPassword', 'name', 'organization', 'role', 'plan'].map((f) => `"${f}": "${f[0].repeat(25000)}"`).join(', ')}, "records": [], "scopes": []}`,
    'invalid UTF-8': Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    'overlong UTF-8': Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
    'raw NUL': Buffer.from('{"name": "a\u0000b", "email": "a\u0000@b.c"}'),
    'escaped NUL': '{"name": "a\\u0000b", "organization": "a\\u0000b", "email": "a\\u0000@b.c", "password": "\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000"}',
    'lone surrogate': '{"name": "\\ud800", "organization": "\\udfff"}',
    'huge numbers': '{"gracePeriodSeconds": 1e999, "role": 99999999999999999999999999, "records": [{"n": 1e400}], "plan": -1e-400}',
    'int64 edges': '{"gracePeriodSeconds": 9223372036854775808, "records": [{"n": -9223372036854775809, "score": 1.7976931348623157e309}]}',
    'NaN and Infinity': '{"gracePeriodSeconds": NaN, "x": Infinity}',
    'duplicate keys': '{"name": "a", "name": "b", "role": "admin", "role": "viewer"}',
    'BOM': '\ufeff{"name": "a"}',
    'trailing garbage': '{"name": "a"} {"name": "b"}',
    'wrong types': '{"email": 1, "password": true, "name": [], "organization": {}, "records": "x", "scopes": "read", "role": null, "plan": 3, "gracePeriodSeconds": "10"}',
  };
  const seen = {};
  for (const [method, path, auth, valid] of jsonRoutes()) {
    for (const [name, body] of Object.entries(bodies)) {
      const r = await api(stack, method, path, { body, headers: { ...auth, 'Content-Type': 'application/json' } });
      sound(r, `${method} ${path} ${name}`);
      // An empty body is a valid rotation; json-c reads a lone surrogate
      // as U+FFFD (valid UTF-8), so such a name is taken.
      // Duplicate names are valid JSON (RFC 8259 says SHOULD be unique):
      // the last one counts, as in json-c and JavaScript.
      const maybeValid = ['lone surrogate', 'duplicate keys'].includes(name);
      const ok = (name === 'empty' && path.endsWith('/rotate')) || (maybeValid && r.status < 300) ? r.status : 400;
      if (r.status < 300 && name === 'duplicate keys' && r.body.name !== undefined) assert.equal(r.body.name, 'b');
      if (r.status < 300 && name === 'lone surrogate') assert.ok(!r.text.includes('\\ud800'), r.text);
      assert.ok([ok, 401, 403, 404, 409, 413].includes(r.status), `${method} ${path} ${name}: ${r.status} ${r.text.slice(0, 200)}`);
      seen[r.status] = (seen[r.status] || 0) + 1;
    }
    // The route does take its valid body (the corpus is about the body, not the route).
    sound(await api(stack, method, path, { json: valid, headers: auth }), `${method} ${path} valid`);
  }
  // Nothing of that reached the data.
  assert.equal(sql(stack, `SELECT count(*) FROM records WHERE table_id = '${env.table.id}'`)[0][0], '1');
  // PRAGMA integrity_check is SQLite's (PostgreSQL has no such check).
  if (stack.store === 'sqlite') assert.equal(sql(stack, 'PRAGMA integrity_check')[0][0], 'ok');
  console.log(`# bad bodies: ${Object.keys(bodies).length} kinds x ${jsonRoutes().length} JSON routes: ${JSON.stringify(seen)} (status: count), no 5xx`);
});

test('Content-Type and Content-Length: wrong, missing, malformed, lying', async () => {
  const path = `/v1/tables/${env.table.id}/records`;
  const auth = { 'X-API-Key': env.key };
  const good = JSON.stringify({ records: [{ n: 5 }] });
  for (const ct of [undefined, '', 'text/plain', 'application/jsonx', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json\u0000', 'APPLICATION/JSON; charset=utf-8']) {
    const h = { ...auth, 'Content-Length': Buffer.byteLength(good) };
    if (ct !== undefined) h['Content-Type'] = ct;
    const r = sound(await raw(head('POST', path, h) + good), `Content-Type ${JSON.stringify(ct)}`);
    if (ct === 'APPLICATION/JSON; charset=utf-8') assert.equal(r.status, 200, r.text);
    else assert.ok([400, 415].includes(r.status), `${JSON.stringify(ct)}: ${r.status} ${r.text}`);
  }
  const cases = {
    // Content-Length longer than the body, then the client closes: nothing stored.
    'short body': [{ endAfter: true, wait: 1500 }, head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Content-Length': 500 }) + good, [0, 400]],
    'non-numeric length': [head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Content-Length': 'abc' }) + good, [400]],
    'negative length': [head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Content-Length': '-5' }) + good, [400]],
    'two lengths': [head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Content-Length': `${good.length}\r\nContent-Length: 3` }) + good, [400]],
    'huge length': [head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Content-Length': '99999999999999999999' }) + good, [400, 413]],
    // nginx answers at once, then lingers for the unread body: cut it short.
    'over the cap': [{ wait: 800 }, head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Content-Length': 300 * 1024 }) + good, [413]],
    'no length, HTTP/1.0': [head('POST', path, { ...auth, 'Content-Type': 'application/json' }) + good, [400, 411]],
    'length and chunked': [head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Content-Length': 3, 'Transfer-Encoding': 'chunked' }, 'HTTP/1.1') + `${good.length.toString(16)}\r\n${good}\r\n0\r\n\r\n`, [200, 400]],
    'bad chunk size': [head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', Connection: 'close' }, 'HTTP/1.1') + `zz\r\n${good}\r\n0\r\n\r\n`, [400]],
  };
  for (const [name, c] of Object.entries(cases)) {
    const [opts, bytes, want] = c.length === 3 ? c : [{}, ...c];
    const r = await raw(bytes, opts);
    if (r.status !== 0) sound(r, name);
    else sent++;
    assert.ok(want.includes(r.status), `${name}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  // Chunked without a length is read whole (nginx buffers it): stored once.
  const chunked = await raw(head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', Connection: 'close' }, 'HTTP/1.1') +
    `${(5).toString(16)}\r\n${good.slice(0, 5)}\r\n${(good.length - 5).toString(16)}\r\n${good.slice(5)}\r\n0\r\n\r\n`);
  assert.equal(sound(chunked, 'chunked').status, 200, chunked.text);
  // Chunked past the cap: 413 as the contract's body.
  const bigChunk = 'a'.repeat(64 * 1024);
  const over = await raw(head('POST', path, { ...auth, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', Connection: 'close' }, 'HTTP/1.1') +
    `${bigChunk.length.toString(16)}\r\n${bigChunk}\r\n`.repeat(5) + '0\r\n\r\n');
  assert.ok(isErrorBody({ ...over, body: JSON.parse(over.text), headers: new Headers(over.headers) }, 413, 'PAYLOAD_TOO_LARGE'), over.text);
  sent++;
  const stored = Number(sql(stack, `SELECT count(*) FROM records WHERE table_id = '${env.table.id}'`)[0][0]);
  // The seed, the upper-case Content-Type, perhaps "length and chunked", the chunked one.
  assert.ok(stored >= 3 && stored <= 4, `records stored: ${stored}`);
});

test('long headers and paths, odd methods, path traversal in ids', async () => {
  const auth = { Authorization: `Bearer ${env.admin.token}` };
  const checks = [
    ['GET', `/v1/tables/${'a'.repeat(65)}`],
    ['GET', `/v1/${'a/'.repeat(3000)}`],
    ['GET', `/v1/tables/${'a'.repeat(9000)}`],
    ['GET', `/v1/tables/${env.table.id}/records?${'limit=1&'.repeat(2000)}`],
    ['GET', `/v1/tables/${env.table.id}/records?limit=99999999999999999999`],
    ['GET', `/v1/tables/${env.table.id}/records?limit=-1`],
    ['GET', `/v1/tables/${env.table.id}/records?limit=1e3`],
    ['GET', `/v1/tables/${env.table.id}/records?cursor=${'9'.repeat(40)}`],
    ['GET', `/v1/tables/${env.table.id}/records?cursor=-1`],
    ['GET', `/v1/tables/${env.table.id}/records?cursor=%00`],
    ['GET', `/v1/tables/${env.table.id}/records?limit=%ff%fe`],
    ['GET', `/v1/tables/${env.table.id}/records?limit=1%`],
    ['GET', '/v1/audit?limit=0&cursor=abc'],
    ['GET', '/v1/users/..%5c..%5cetc'],
    ['DELETE', '/v1/users/%252e%252e'],
    ['GET', '/v1/projects/%00'],
    ['GET', '/v1/tables/a%0d%0aSet-Cookie:%20x=1'],
    ['GET', `/v1/tables/${encodeURIComponent("' OR '1'='1")}`],
    ['GET', `/v1/api-keys/${encodeURIComponent('1; DROP TABLE api_keys;--')}`],
    ['GET', '/v1/tables/%e2%80%ae'],
    ['PATCH', '/v1/health'],
    ['OPTIONS', '/v1/health'],
    ['TRACE', '/v1/health'],
    ['FOO', '/v1/health'],
  ];
  for (const [m, p] of checks) {
    const r = sound(await raw(head(m, p, auth)), `${m} ${p.slice(0, 80)}`);
    assert.ok(r.status >= 400 || p.includes('/records?'), `${m} ${p.slice(0, 80)}: ${r.status}`);
    assert.doesNotMatch(r.text, /root:x:0|Set-Cookie/);
    assert.equal(r.headers['set-cookie'], undefined);
  }
  // Traversal that nginx decodes and normalizes out of /v1/ (to the web
  // app's files, or above the root): never a file, never a 5xx.
  for (const p of ['/v1/tables/../../../../etc/passwd', '/v1/../../etc/passwd', '/v1/tables/..%2f..%2f..%2fetc%2fpasswd', '/v1/tables/%2e%2e%2f%2e%2e%2fusers', '/v1/%2e%2e/%2e%2e/%2e%2e/etc/passwd']) {
    const r = await raw(head('GET', p, auth));
    sent++;
    assert.ok(r.status >= 400 && r.status < 500, `${p}: ${r.status}`);
    assert.doesNotMatch(r.text, /root:x:0/);
  }
  const headers = {
    'long Authorization': { Authorization: `Bearer ${'a'.repeat(6000)}` },
    'long X-API-Key': { 'X-API-Key': `tg_${'a'.repeat(6000)}` },
    'past nginx buffers': { 'X-Filler': 'a'.repeat(9000) },
    'many headers': Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`X-H${i}`, 'v'.repeat(20)])),
    'long X-Request-Id': { 'X-Request-Id': 'r'.repeat(7000) },
    'odd X-Request-Id': { 'X-Request-Id': '"><script>alert(1)</script>' },
    'long Idempotency-Key': { 'Idempotency-Key': 'k'.repeat(7000) },
    'long X-Forwarded-For': { 'X-Forwarded-For': Array.from({ length: 500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ') },
    'UTF-8 in a header': { Authorization: 'Bearer ünï' },
    'latin1 bytes in a header': { 'X-API-Key': 'tg_\xff\xfe\xfd' },
  };
  for (const [name, h] of Object.entries(headers)) {
    const r = sound(await raw(head('GET', '/v1/auth/session', h)), name);
    assert.ok(r.status >= 400, `${name}: ${r.status}`);
    assert.doesNotMatch(r.text, /<script>/);
  }
});

test('SQL metacharacters in every string field are stored as text, and find nothing', async () => {
  const evil = [
    "'; DROP TABLE users; --",
    "\" OR 1=1 --",
    "x' UNION SELECT secret_hash FROM api_keys --",
    "%_\\' /* */ ;",
    "Robert'); DELETE FROM records; --",
  ];
  const t = await tableWithSchema(stack, 'n,name,score,ok\n1,a,1.5,true\n');
  setPlan(stack, t.admin.org.id, 'pro');
  const auth = { token: t.admin.token };
  let i = 0;
  for (const s of evil) {
    i++;
    // Names, stored and read back byte for byte.
    const p = sound(await api(stack, 'POST', '/v1/projects', { ...auth, json: { name: s } }), `project ${s}`);
    assert.equal(p.status, 201, p.text);
    assert.equal((await api(stack, 'GET', `/v1/projects/${p.body.id}`, auth)).body.name, s);
    const tb = sound(await api(stack, 'POST', `/v1/projects/${p.body.id}/tables`, { ...auth, json: { name: s } }), `table ${s}`);
    assert.equal(tb.status, 201, tb.text);
    assert.equal(tb.body.name, s);
    const k = sound(await api(stack, 'POST', '/v1/api-keys', { ...auth, json: { name: s, scopes: ['read'] } }), `key ${s}`);
    assert.equal(k.status, 201, k.text);
    assert.equal(k.body.name, s);
    const u = sound(await api(stack, 'POST', '/v1/users', { ...auth, json: { email: `x${i}@example.test`, password: PASSWORD, role: 'viewer', name: s } }), `user ${s}`);
    assert.equal(u.status, 201, u.text);
    assert.equal(u.body.name, s);
    const org = sound(await api(stack, 'POST', '/v1/signup', { json: { organization: s, email: uniqueEmail('sql'), password: PASSWORD, name: s } }), `signup ${s}`);
    assert.equal(org.status, 201, org.text);
    assert.equal(org.body.organization.name, s);
    // In records, as values and as an unknown column's name.
    const rec = sound(await api(stack, 'POST', `/v1/tables/${t.table.id}/records`, { ...auth, json: { records: [{ n: i, name: s }] } }), `record ${s}`);
    assert.equal(rec.status, 200, rec.text);
    const col = sound(await api(stack, 'POST', `/v1/tables/${t.table.id}/records`, { ...auth, json: { records: [{ [s]: 1 }] } }), `column ${s}`);
    assert.ok(isErrorBody(col, 400, 'SCHEMA_MISMATCH'), col.text);
    assert.deepEqual(col.body.details, { problems: [{ index: 0, field: s, problem: 'unknown column' }], problemCount: 1 });
    // As credentials and query values: refused, finding nothing.
    const login = sound(await api(stack, 'POST', '/v1/auth/login', { json: { email: s, password: s } }), `login ${s}`);
    assert.ok([400, 401].includes(login.status), login.text);
    const login2 = sound(await api(stack, 'POST', '/v1/auth/login', { json: { email: `${t.admin.email}' --`, password: `${PASSWORD}' OR '1'='1` } }), 'login 2');
    assert.equal(login2.status, 401);
    sound(await api(stack, 'GET', `/v1/tables/${t.table.id}/records?cursor=${encodeURIComponent(s)}&limit=${encodeURIComponent(s)}`, auth), `query ${s}`);
    sound(await api(stack, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': `tg_${s}` } }), `key header ${s}`);
    sound(await api(stack, 'PUT', '/v1/billing/plan', { ...auth, json: { plan: s } }), `plan ${s}`);
    sound(await api(stack, 'POST', `/v1/tables/${t.table.id}/records`, { ...auth, json: { records: [{ n: 100 + i }] }, headers: { 'Idempotency-Key': s } }), `idempotency ${s}`);
    const csv = sound(await importCsv(stack, t.admin.token, t.table.id, `n,name,score,ok\n${50 + i},"${s.replaceAll('"', '""')}",1,false\n`), `csv ${s}`);
    assert.equal(csv.status, 200, csv.text);
    // As a value in the wrong column: the problem names the column, not the value.
    const wrong = sound(await importCsv(stack, t.admin.token, t.table.id, `n,name,score,ok\n1,a,1,false\n"${s.replaceAll('"', '""')}",b,2,true\n`), `csv cell ${s}`);
    assert.ok(isErrorBody(wrong, 400, 'SCHEMA_MISMATCH'), wrong.text);
    assert.deepEqual(wrong.body.details, { problems: [{ index: 1, line: 3, field: 'n', problem: 'wrong type', expected: 'integer' }], problemCount: 1 });
  }
  const rows = (await api(stack, 'GET', `/v1/tables/${t.table.id}/records?limit=500`, auth)).body.data;
  for (const s of evil) assert.equal(rows.filter((r) => r.name === s).length, 2, s);
  // Every table is still there and whole (integrity_check: SQLite's).
  if (stack.store === 'sqlite') assert.equal(sql(stack, 'PRAGMA integrity_check')[0][0], 'ok');
  for (const table of ['users', 'records', 'api_keys', 'organizations', 'projects']) {
    assert.ok(Number(sql(stack, `SELECT count(*) FROM ${table}`)[0][0]) > 0, table);
  }
  console.log(`# bad input: ${sent} requests through nginx, every one answered below 500 with the contract's body and no internals`);
});
