// api_keys.test.mjs: keys shown once and stored hashed, scopes, revocation,
// expiry, checksums, rotation with a grace period, the apiKeys meter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import { adminSession, createKey, login, PASSWORD, rawRequest, utf8Json } from '../lib/fixtures.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const KEY_RE = /^tg_[0-9A-Za-z]{8}_[0-9A-Za-z]{46}$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The checksum as the server makes it: CRC32 of the rest, 6 base62 digits.
function crc32(s) {
  let c = 0xffffffff;
  for (const b of Buffer.from(s)) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
function withChecksum(body) {
  const a = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let v = crc32(body);
  let out = '';
  for (let i = 0; i < 6; i++) { out = a[v % 62] + out; v = Math.floor(v / 62); }
  return body + out;
}

test('a key is shown once, listed without its secret, stored only hashed', async () => {
  const admin = await adminSession(stack);
  const k = await createKey(stack, admin.token, ['read']);
  assert.match(k.key, KEY_RE);
  assert.equal(k.prefix, k.key.slice(0, 11));
  assert.deepEqual(k.scopes, ['read']);
  assert.equal(k.revokedAt, null);
  assert.equal(k.expiresAt, null);
  assert.equal(withChecksum(k.key.slice(0, -6)), k.key, 'the test computes the same checksum');
  const list = await api(stack, 'GET', '/v1/api-keys', { token: admin.token });
  const one = await api(stack, 'GET', `/v1/api-keys/${k.id}`, { token: admin.token });
  const secret = k.key.slice(12, 52);
  for (const r of [list, one]) {
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes(secret), 'no secret in reads');
    assert.ok(!r.text.includes('"key"'));
  }
  assert.equal(list.body.data[0].prefix, k.prefix);
  const stored = sql(stack, `SELECT secret_hash FROM api_keys WHERE id = '${k.id}'`)[0][0];
  assert.match(stored, /^[0-9a-f]{64}$/);
  assert.ok(!stack.log().includes(secret), 'no secret in the logs');
});

test('a key works as Bearer and as X-API-Key; scopes allow and refuse', async () => {
  const admin = await adminSession(stack);
  const read = await createKey(stack, admin.token, ['read']);
  const ingest = await createKey(stack, admin.token, ['ingest', 'trigger']);
  const bearer = await api(stack, 'GET', '/v1/billing/usage', { token: read.key });
  assert.equal(bearer.status, 200, bearer.text);
  const header = await api(stack, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': read.key } });
  assert.equal(header.status, 200);
  const noRead = await api(stack, 'GET', '/v1/billing/usage', { token: ingest.key });
  assert.ok(isErrorBody(noRead, 403, 'MISSING_SCOPE'));
  assert.equal(noRead.body.error, 'Key missing read scope');
  // A key on a user-only endpoint.
  for (const [m, p] of [['GET', '/v1/users'], ['GET', '/v1/api-keys'], ['GET', '/v1/auth/session'], ['POST', '/v1/projects']]) {
    const r = await api(stack, m, p, { token: read.key, json: m === 'POST' ? { name: 'x' } : undefined });
    assert.ok(isErrorBody(r, 403, 'PERMISSION_DENIED'), `${m} ${p}: ${r.text}`);
  }
});

test('revoked, expired, altered and foreign keys are refused', async () => {
  const admin = await adminSession(stack);
  const k = await createKey(stack, admin.token, ['read']);
  // One character changed: the checksum refuses it without a look-up.
  const flipped = k.key.slice(0, 20) + (k.key[20] === 'a' ? 'b' : 'a') + k.key.slice(21);
  const before = (stack.log().match(/refused without a look-up/g) || []).length;
  const alt = await api(stack, 'GET', '/v1/billing/usage', { token: flipped });
  assert.ok(isErrorBody(alt, 401, 'INVALID_API_KEY'));
  assert.equal(alt.body.error, 'Invalid API key.');
  await sleep(100);
  assert.equal((stack.log().match(/refused without a look-up/g) || []).length, before + 1);
  // A well-formed key with a valid checksum but a wrong secret: looked up, refused.
  const forged = withChecksum(k.key.slice(0, 12) + 'A'.repeat(40));
  const f = await api(stack, 'GET', '/v1/billing/usage', { token: forged });
  assert.ok(isErrorBody(f, 401, 'INVALID_API_KEY'));
  await sleep(100);
  assert.equal((stack.log().match(/refused without a look-up/g) || []).length, before + 1);
  for (const bad of ['tg_', 'tg_short', `${k.key}x`, k.key.slice(0, -1)]) {
    const r = await api(stack, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': bad } });
    assert.ok(isErrorBody(r, 401, 'INVALID_API_KEY'), bad);
  }
  // Revoked: refused on the next request.
  assert.equal((await api(stack, 'GET', '/v1/billing/usage', { token: k.key })).status, 200);
  assert.equal((await api(stack, 'DELETE', `/v1/api-keys/${k.id}`, { token: admin.token })).status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/billing/usage', { token: k.key }), 401, 'INVALID_API_KEY'));
  const listed = await api(stack, 'GET', `/v1/api-keys/${k.id}`, { token: admin.token });
  assert.match(listed.body.revokedAt, /Z$/);
  // Expired.
  const soon = new Date(Date.now() + 4000).toISOString();
  const e = await createKey(stack, admin.token, ['read'], { expiresAt: soon });
  assert.equal((await api(stack, 'GET', '/v1/billing/usage', { token: e.key })).status, 200);
  await sleep(4600);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/billing/usage', { token: e.key }), 401, 'INVALID_API_KEY'));
  const past = await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json: { name: 'old', scopes: ['read'], expiresAt: '2020-01-01T00:00:00Z' } });
  assert.ok(isErrorBody(past, 400, 'INVALID_BODY'));
  assert.equal(past.body.details.field, 'expiresAt');
  // Another organization's key id is 404 to this admin.
  const other = await adminSession(stack);
  const ok = await createKey(stack, other.token, ['read']);
  for (const [m, p] of [['GET', `/v1/api-keys/${ok.id}`], ['DELETE', `/v1/api-keys/${ok.id}`], ['POST', `/v1/api-keys/${ok.id}/rotate`]]) {
    assert.ok(isErrorBody(await api(stack, m, p, { token: admin.token }), 404, 'NOT_FOUND'), `${m} ${p}`);
  }
  // And the other organization's key reads only its own usage.
  assert.equal((await api(stack, 'GET', '/v1/billing/usage', { token: ok.key })).status, 200);
});

test('bad scopes and names are 400 with details.field', async () => {
  const admin = await adminSession(stack);
  for (const [json, field] of [
    [{ name: 'k', scopes: ['admin'] }, 'scopes'], [{ name: 'k', scopes: [] }, 'scopes'],
    [{ name: 'k', scopes: 'read' }, 'scopes'], [{ name: 'k' }, 'scopes'],
    [{ scopes: ['read'] }, 'name'], [{ name: 'k', scopes: ['read'], expiresAt: 'tomorrow' }, 'expiresAt'],
  ]) {
    const r = await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), r.text);
    assert.equal(r.body.details.field, field);
  }
});

test('expiresAt is RFC 3339, strictly: impossible dates and fields are 400 naming it', async () => {
  const admin = await adminSession(stack);
  // Found in review: February 31 became March 3, and negative fields passed.
  for (const expiresAt of ['2027-02-31T10:00:00Z', '2027-01-01T-1:-1:-1Z', '2027-02-29T00:00:00Z',
    '2027-04-31T00:00:00Z', '2027-01-01T24:00:00Z', '2027-01-01T12:00:60Z', '2027-01-01T00:00:00',
    '2027-01-01 00:00:00Z', '2027-01-01T00:00:00+0100', '２027-01-01T00:00:00Z', '2027-1-1T0:0:0Z']) {
    const r = await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json: { name: 'k', scopes: ['read'], expiresAt } });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), `${expiresAt}: ${r.text}`);
    assert.equal(r.body.details.field, 'expiresAt');
    assert.match(r.body.error, /expiresAt/);
  }
  // Nothing was made by the refusals.
  const list = await api(stack, 'GET', '/v1/api-keys', { token: admin.token });
  assert.equal(list.body.data.length, 0);
  // Leap days, offsets, fractions and lower case are times.
  for (const [expiresAt, want] of [['2028-02-29T12:00:00Z', '2028-02-29T12:00:00Z'],
    ['2030-01-01T01:30:00.25+01:30', '2030-01-01T00:00:00Z'], ['2029-06-30t23:00:00z', '2029-06-30T23:00:00Z']]) {
    const k = await createKey(stack, admin.token, ['read'], { expiresAt });
    assert.equal(k.expiresAt, want);
    assert.equal((await api(stack, 'DELETE', `/v1/api-keys/${k.id}`, { token: admin.token })).status, 204);
  }
});

test('a person signing in elsewhere never breaks a key', async () => {
  const admin = await adminSession(stack);
  const k = await createKey(stack, admin.token, ['read']);
  await login(stack, admin.email, PASSWORD, { force: true, device: 'elsewhere' });
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/auth/session', { token: admin.token }), 401, 'SESSION_REPLACED'));
  assert.equal((await api(stack, 'GET', '/v1/billing/usage', { token: k.key })).status, 200);
});

test('the apiKeys meter: Trial allows 2; revoking frees a slot; rotation with no grace takes none', async () => {
  const admin = await adminSession(stack);
  const a = await createKey(stack, admin.token, ['read']);
  await createKey(stack, admin.token, ['read']);
  const third = await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json: { name: 'third', scopes: ['read'] } });
  assert.ok(isErrorBody(third, 403, 'PLAN_LIMIT'), third.text);
  assert.deepEqual(third.body.details, { meter: 'apiKeys', used: 2, limit: 2, resetsAt: null, requested: 1 });
  const rot = await api(stack, 'POST', `/v1/api-keys/${a.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 0 } });
  assert.equal(rot.status, 201, rot.text);
  assert.equal((await api(stack, 'DELETE', `/v1/api-keys/${rot.body.id}`, { token: admin.token })).status, 204);
  assert.equal((await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json: { name: 'again', scopes: ['read'] } })).status, 201);
});

// The keys of a list that still work: not revoked, or revoked from a time
// still to come (an old key in its grace period).
const live = (keys) => keys.filter((k) => k.revokedAt === null || Date.parse(k.revokedAt) > Date.now());

async function apiKeysUsed(token) {
  const u = await api(stack, 'GET', '/v1/billing/usage', { token });
  return u.body.meters.find((m) => m.meter === 'apiKeys').used;
}

test('chained rotations: a key in its grace period holds its slot; meter and list agree', async () => {
  const admin = await adminSession(stack); // Trial: 2 keys
  const keys = async () => (await api(stack, 'GET', '/v1/api-keys', { token: admin.token })).body.data;
  const a = await createKey(stack, admin.token, ['read']);
  assert.equal(await apiKeysUsed(admin.token), 1);
  // Rotating with a grace period: the old key stays live, and counts.
  const b = await api(stack, 'POST', `/v1/api-keys/${a.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 604800 } });
  assert.equal(b.status, 201, b.text);
  assert.equal(b.body.revokedAt, null);
  let list = await keys();
  assert.equal(Date.parse(list.find((k) => k.id === a.id).revokedAt) > Date.now() + 600000, true);
  assert.equal(live(list).length, 2);
  assert.equal(await apiKeysUsed(admin.token), 2);
  // Found in review: rotating the new key again and again, each with a
  // 7-day grace, left 5 live keys on Trial while usage said used: 1.
  for (let i = 0; i < 3; i++) {
    const again = await api(stack, 'POST', `/v1/api-keys/${b.body.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 604800 } });
    assert.ok(isErrorBody(again, 403, 'PLAN_LIMIT'), again.text);
    assert.deepEqual(again.body.details, { meter: 'apiKeys', used: 2, limit: 2, resetsAt: null, requested: 1 });
  }
  list = await keys();
  assert.equal(list.length, 2);
  assert.equal(live(list).length, 2);
  for (const k of [a.key, b.body.key]) assert.equal((await api(stack, 'GET', '/v1/billing/usage', { token: k })).status, 200);
  // Without a grace period the new key takes the old one's slot: no limit.
  let newest = b.body;
  for (let i = 0; i < 3; i++) {
    const next = await api(stack, 'POST', `/v1/api-keys/${newest.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 0 } });
    assert.equal(next.status, 201, next.text);
    assert.ok(isErrorBody(await api(stack, 'GET', '/v1/billing/usage', { token: newest.key }), 401, 'INVALID_API_KEY'));
    newest = next.body;
    assert.equal(await apiKeysUsed(admin.token), 2);
    assert.equal(live(await keys()).length, 2);
  }
  const third = await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json: { name: 'third', scopes: ['read'] } });
  assert.ok(isErrorBody(third, 403, 'PLAN_LIMIT'), third.text);
  // Revoking the old key ends its grace period and frees its slot.
  assert.equal((await api(stack, 'DELETE', `/v1/api-keys/${a.id}`, { token: admin.token })).status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/billing/usage', { token: a.key }), 401, 'INVALID_API_KEY'));
  assert.equal(await apiKeysUsed(admin.token), 1);
  assert.equal(live(await keys()).length, 1);
  const g = await api(stack, 'POST', `/v1/api-keys/${newest.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 60 } });
  assert.equal(g.status, 201, g.text);
  assert.equal(await apiKeysUsed(admin.token), 2);
  assert.equal(live(await keys()).length, 2);
});

test('rotation: both keys work inside the grace period, only the new one after', async () => {
  const admin = await adminSession(stack);
  const old = await createKey(stack, admin.token, ['read', 'ingest'], { expiresAt: '2030-01-01T00:00:00Z' });
  const r = await api(stack, 'POST', `/v1/api-keys/${old.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 4 } });
  assert.equal(r.status, 201, r.text);
  assert.match(r.body.key, KEY_RE);
  assert.notEqual(r.body.key, old.key);
  assert.equal(r.body.name, old.name);
  assert.deepEqual(r.body.scopes, old.scopes);
  assert.equal(r.body.expiresAt, '2030-01-01T00:00:00Z');
  for (const key of [old.key, r.body.key]) assert.equal((await api(stack, 'GET', '/v1/billing/usage', { token: key })).status, 200);
  await sleep(4600);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/billing/usage', { token: old.key }), 401, 'INVALID_API_KEY'));
  assert.equal((await api(stack, 'GET', '/v1/billing/usage', { token: r.body.key })).status, 200);
  const again = await api(stack, 'POST', `/v1/api-keys/${old.id}/rotate`, { token: admin.token });
  assert.ok(isErrorBody(again, 409, 'CONFLICT'));
  // A key is rotated once: rotating it again is 409, whatever the grace.
  const fresh = await createKey(stack, admin.token, ['read']);
  const first = await api(stack, 'POST', `/v1/api-keys/${fresh.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 0 } });
  assert.equal(first.status, 201, first.text);
  const second = await api(stack, 'POST', `/v1/api-keys/${fresh.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 600 } });
  assert.ok(isErrorBody(second, 409, 'CONFLICT'), second.text);
  const usage = await api(stack, 'GET', '/v1/billing/usage', { token: first.body.key });
  assert.equal(usage.body.meters.find((m) => m.meter === 'apiKeys').used, 2);
  const bad = await api(stack, 'POST', `/v1/api-keys/${r.body.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 604801 } });
  assert.ok(isErrorBody(bad, 400, 'INVALID_BODY'));
  // lastUsedAt is kept.
  const got = await api(stack, 'GET', `/v1/api-keys/${r.body.id}`, { token: admin.token });
  assert.match(got.body.lastUsedAt, /Z$/);
  const events = (await api(stack, 'GET', '/v1/audit?limit=500', { token: admin.token })).body.data.map((e) => e.event);
  for (const e of ['key.issued', 'key.rotated']) assert.ok(events.includes(e), events.join());
});

test('a rotated key of 90 "é" keeps its whole name, and the list stays valid UTF-8', async () => {
  const admin = await adminSession(stack);
  const name = 'é'.repeat(90); // 180 bytes: found in review, cut at 127 by a buffer
  const k = await createKey(stack, admin.token, ['read'], { name });
  const r = await rawRequest(stack, 'POST', `/v1/api-keys/${k.id}/rotate`, { token: admin.token, json: { gracePeriodSeconds: 0 } });
  assert.equal(r.status, 201, r.buf.toString());
  const rotated = utf8Json(r);
  assert.equal(rotated.name, name);
  const again = await rawRequest(stack, 'POST', `/v1/api-keys/${rotated.id}/rotate`, { token: admin.token });
  assert.equal(utf8Json(again).name, name);
  const list = await rawRequest(stack, 'GET', '/v1/api-keys', { token: admin.token });
  assert.deepEqual(utf8Json(list).data.map((x) => x.name), [name, name, name]);
  const longest = '😀'.repeat(100);
  const l = await createKey(stack, admin.token, ['read'], { name: longest });
  const lr = await rawRequest(stack, 'POST', `/v1/api-keys/${l.id}/rotate`, { token: admin.token });
  assert.equal(utf8Json(lr).name, longest);
});
