// sessions.test.mjs: signup, login, the single active session, logout, and
// every way a user token can be refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import {
  signup, login, adminSession, uniqueEmail, PASSWORD, signJwt, decodeJwt, envKid, b64url,
  rawRequest, utf8Json,
} from '../lib/fixtures.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

test('signup makes an organization on Trial with its first admin', async () => {
  const email = uniqueEmail();
  const r = await api(stack, 'POST', '/v1/signup', { json: { organization: 'Globex', email, password: PASSWORD, name: 'Gil' } });
  assert.equal(r.status, 201);
  assert.equal(r.body.organization.plan, 'trial');
  assert.equal(r.body.organization.name, 'Globex');
  assert.equal(r.body.user.role, 'admin');
  assert.equal(r.body.user.email, email);
  assert.equal(r.body.user.organizationId, r.body.organization.id);
  assert.equal(r.body.user.password, undefined);
  const again = await api(stack, 'POST', '/v1/signup', { json: { organization: 'Other', email: email.toUpperCase(), password: PASSWORD } });
  assert.ok(isErrorBody(again, 409, 'CONFLICT'), again.text);
});

test('signup refuses bad fields with details.field and stores nothing', async () => {
  const cases = [
    [{ organization: 'A', email: uniqueEmail(), password: 'short' }, 'password'],
    [{ organization: 'A', email: 'not-an-email', password: PASSWORD }, 'email'],
    [{ organization: '', email: uniqueEmail(), password: PASSWORD }, 'organization'],
    [{ email: uniqueEmail(), password: PASSWORD }, 'organization'],
    [{ organization: 'A', email: uniqueEmail(), password: 12345678901 }, 'password'],
    [{ organization: 'A\u0001B', email: uniqueEmail(), password: 12 }, 'password'],
  ];
  const before = sql(stack, 'SELECT count(*) FROM users')[0][0];
  for (const [body, field] of cases) {
    const r = await api(stack, 'POST', '/v1/signup', { json: body });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), r.text);
    assert.equal(r.body.details.field, field);
  }
  // A \u0000 escape is refused by the JSON check itself.
  const nul = await api(stack, 'POST', '/v1/signup', { json: { organization: 'A\u0000B', email: uniqueEmail(), password: PASSWORD } });
  assert.ok(isErrorBody(nul, 400, 'INVALID_BODY'));
  assert.match(nul.body.error, /NUL/);
  assert.equal(sql(stack, 'SELECT count(*) FROM users')[0][0], before);
});

test('malformed JSON bodies: 400 INVALID_BODY, never a 5xx', async () => {
  const bodies = [
    '{"organization": "A", "email": ',            // truncated
    '['.repeat(5000) + ']'.repeat(5000),          // deeply nested
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // invalid UTF-8
    '{"a": "b\u0000c"}'.replace('\\u0000', '\u0000'), // a raw NUL byte
    '{"a": 1} trailing',
    "{'a': 1}",
    '',
    'null',
    '[1, 2]',
    '{"a": NaN}',
  ];
  for (const body of bodies) {
    const r = await api(stack, 'POST', '/v1/signup', { body, headers: { 'Content-Type': 'application/json' } });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), `${String(body).slice(0, 30)}: ${r.status} ${r.text}`);
  }
});

test('wrong Content-Type is 415', async () => {
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
    const r = await api(stack, 'POST', '/v1/auth/login', { body: '{}', headers: { 'Content-Type': ct } });
    assert.ok(isErrorBody(r, 415, 'UNSUPPORTED_MEDIA_TYPE'), r.text);
  }
  const none = await api(stack, 'POST', '/v1/auth/login', { body: '{}' });
  assert.ok(isErrorBody(none, 415, 'UNSUPPORTED_MEDIA_TYPE'), none.text);
});

test('login answers the contract shape; the token carries the claims', async () => {
  const s = await signup(stack);
  const r = await api(stack, 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD, device: 'Laptop' } });
  assert.equal(r.status, 200);
  assert.equal(r.body.tokenType, 'Bearer');
  assert.match(r.body.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(r.body.session.device, 'Laptop');
  assert.equal(r.body.user.id, s.user.id);
  const { header, payload } = decodeJwt(r.body.token);
  assert.equal(header.alg, 'HS256');
  assert.equal(header.kid, envKid());
  for (const c of ['sub', 'org', 'sid', 'iat', 'exp', 'jti']) assert.ok(payload[c] !== undefined, c);
  assert.equal(payload.sub, s.user.id);
  assert.equal(payload.org, s.org.id);
  assert.equal(payload.sid, r.body.session.id);
  const me = await api(stack, 'GET', '/v1/auth/session', { token: r.body.token });
  assert.equal(me.status, 200);
  assert.equal(me.body.session.id, r.body.session.id);
  assert.equal(me.body.user.email, s.email);
  assert.deepEqual(me.body.organization, { id: s.org.id, name: 'Acme', plan: 'trial' });
});

test('INVALID_CREDENTIALS: unknown email and wrong password look the same', async () => {
  const s = await signup(stack);
  const time = async (body) => {
    const t0 = process.hrtime.bigint();
    const r = await api(stack, 'POST', '/v1/auth/login', { json: body });
    return { r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
  };
  // Alternating samples, the fastest of each compared: a stall of the
  // machine slows one answer, not every one of a kind.
  const wrongs = [], unknowns = [];
  for (let i = 0; i < 3; i++) {
    wrongs.push(await time({ email: s.email, password: 'wrong password!' }));
    unknowns.push(await time({ email: uniqueEmail('nobody'), password: 'wrong password!' }));
  }
  for (const { r } of [...wrongs, ...unknowns]) assert.ok(isErrorBody(r, 401, 'INVALID_CREDENTIALS'));
  const fastest = (xs) => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const wrong = fastest(wrongs), unknown = fastest(unknowns);
  const strip = (b) => ({ ...b, requestId: undefined });
  assert.deepEqual(strip(wrong.r.body), strip(unknown.r.body));
  // Both write an audit row (the unknown one under no organization), so
  // neither path skips the write lock the other waits for.
  const rid = unknown.r.body.requestId;
  assert.deepEqual(sql(stack, `SELECT CASE WHEN org_id IS NULL THEN 1 ELSE 0 END, event FROM audit WHERE request_id = '${rid}'`), [['1', 'login.failed']]);
  // Both run argon2id: neither is many times faster than the other.
  const ratio = Math.max(wrong.ms, unknown.ms) / Math.min(wrong.ms, unknown.ms);
  console.log(`# login timing: wrong password ${wrong.ms.toFixed(1)} ms, unknown email ${unknown.ms.toFixed(1)} ms`);
  assert.ok(ratio < 3, `timing ratio ${ratio}`);
});

test('a second login is 409 SESSION_ACTIVE; force replaces the first', async () => {
  const s = await signup(stack);
  const first = await login(stack, s.email, PASSWORD, { device: 'Office PC' });
  const second = await api(stack, 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD, device: 'Phone' } });
  assert.ok(isErrorBody(second, 409, 'SESSION_ACTIVE'), second.text);
  assert.equal(second.body.details.activeSession.device, 'Office PC');
  assert.match(second.body.details.activeSession.createdAt, /Z$/);
  assert.match(second.body.details.activeSession.lastSeenAt, /Z$/);
  // The 409 left the first session alone.
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: first })).status, 200);
  const forced = await login(stack, s.email, PASSWORD, { device: 'Phone', force: true });
  const old = await api(stack, 'GET', '/v1/auth/session', { token: first });
  assert.ok(isErrorBody(old, 401, 'SESSION_REPLACED'), old.text);
  assert.equal(old.body.details.device, 'Phone');
  assert.match(old.body.details.replacedAt, /^\d{4}-.*Z$/);
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: forced })).status, 200);
});

test('concurrent forced logins leave exactly one live session', async () => {
  const s = await signup(stack);
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    api(stack, 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD, device: `d${i}`, force: true } })));
  const tokens = results.filter((r) => r.status === 200).map((r) => r.body.token);
  for (const r of results) assert.ok(r.status === 200 || r.status === 503, r.text);
  assert.ok(tokens.length >= 1);
  const live = sql(stack, `SELECT count(*) FROM sessions WHERE user_id = '${s.user.id}' AND ended_at IS NULL`)[0][0];
  assert.equal(live, '1');
  const ok = [];
  for (const t of tokens) ok.push((await api(stack, 'GET', '/v1/auth/session', { token: t })).status);
  assert.equal(ok.filter((c) => c === 200).length, 1, JSON.stringify(ok));
  console.log(`# ${results.length} forced logins: ${tokens.length} answered 200, 1 live session`);
});

test('logout ends the session: SESSION_REVOKED, and a new login needs no force', async () => {
  const s = await signup(stack);
  const t = await login(stack, s.email);
  const out = await api(stack, 'POST', '/v1/auth/logout', { token: t });
  assert.equal(out.status, 204);
  const after = await api(stack, 'GET', '/v1/auth/session', { token: t });
  assert.ok(isErrorBody(after, 401, 'SESSION_REVOKED'));
  const again = await api(stack, 'POST', '/v1/auth/logout', { token: t });
  assert.ok(isErrorBody(again, 401, 'SESSION_REVOKED'));
  await login(stack, s.email);
});

test('TOKEN_MISSING and TOKEN_INVALID for every bad token', async () => {
  const s = await adminSession(stack);
  const good = decodeJwt(s.token).payload;
  const now = Math.floor(Date.now() / 1000);
  const kid = envKid();
  const missing = await api(stack, 'GET', '/v1/auth/session');
  assert.ok(isErrorBody(missing, 401, 'TOKEN_MISSING'));
  const [h, p] = s.token.split('.');
  const tampered = { ...good, sub: 'usr_someoneelse000000000' };
  const bad = {
    garbage: 'not-a-token',
    'three dots': `${s.token}.x`,
    'alg none': `${b64url({ alg: 'none', typ: 'JWT', kid })}.${p}.`,
    'alg none, no kid': `${b64url({ alg: 'none' })}.${p}.`,
    HS512: signJwt({ alg: 'HS512', typ: 'JWT', kid }, good, { alg: 'sha512' }),
    HS384: signJwt({ alg: 'HS384', typ: 'JWT', kid }, good, { alg: 'sha384' }),
    'RS256 with the secret': signJwt({ alg: 'RS256', typ: 'JWT', kid }, good),
    'tampered payload': `${h}.${b64url(tampered)}.${s.token.split('.')[2]}`,
    'wrong secret': signJwt({ alg: 'HS256', typ: 'JWT', kid }, good, { secret: 'another-secret-0123456789abcdef0123456789' }),
    'empty signature': `${h}.${p}.`,
    'unknown kid': signJwt({ alg: 'HS256', typ: 'JWT', kid: 'k_nope' }, good),
    'float exp': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, exp: now + 3600.5 }),
    'string exp': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, exp: String(now + 3600) }),
    'missing exp': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, exp: undefined }),
    'nbf in the future': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, nbf: now + 3600 }),
    'wrong iss': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, iss: 'evil' }),
    'wrong typ': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, typ: 'refresh' }),
    'iat in the future': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, iat: now + 7200 }),
    'other org claim': signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, org: 'org_other' }),
    'Basic scheme': null,
  };
  for (const [name, token] of Object.entries(bad)) {
    const headers = token === null ? { Authorization: 'Basic dXNlcjpwYXNz' } : { Authorization: `Bearer ${token}` };
    const r = await api(stack, 'GET', '/v1/auth/session', { headers });
    assert.ok(isErrorBody(r, 401, 'TOKEN_INVALID'), `${name}: ${r.status} ${r.text}`);
  }
  // A correctly signed token past its exp: the session's lifetime is over.
  const expired = signJwt({ alg: 'HS256', typ: 'JWT', kid }, { ...good, exp: now - 10 });
  const e = await api(stack, 'GET', '/v1/auth/session', { token: expired });
  assert.ok(isErrorBody(e, 401, 'SESSION_EXPIRED'), e.text);
  // The hand-made signer is right: the same claims re-signed are accepted.
  const resigned = signJwt({ alg: 'HS256', typ: 'JWT', kid }, good);
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: resigned })).status, 200);
});

test('password change revokes the session; the new password works', async () => {
  const s = await adminSession(stack);
  const wrong = await api(stack, 'POST', '/v1/auth/password', { token: s.token, json: { currentPassword: 'nope nope nope', newPassword: 'a new password 1' } });
  assert.ok(isErrorBody(wrong, 401, 'INVALID_CREDENTIALS'));
  const short = await api(stack, 'POST', '/v1/auth/password', { token: s.token, json: { currentPassword: PASSWORD, newPassword: 'short' } });
  assert.ok(isErrorBody(short, 400, 'INVALID_BODY'));
  assert.equal(short.body.details.field, 'newPassword');
  const ok = await api(stack, 'POST', '/v1/auth/password', { token: s.token, json: { currentPassword: PASSWORD, newPassword: 'a new password 1' } });
  assert.equal(ok.status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/auth/session', { token: s.token }), 401, 'SESSION_REVOKED'));
  const old = await api(stack, 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD } });
  assert.ok(isErrorBody(old, 401, 'INVALID_CREDENTIALS'));
  await login(stack, s.email, 'a new password 1');
});

test('a User-Agent of invalid UTF-8 names the device sanitised, in valid UTF-8 everywhere', async () => {
  const s = await signup(stack);
  const ua = 'Mozilla \xff\xfe'; // sent as the bytes ff fe (latin1)
  const r = await rawRequest(stack, 'POST', '/v1/auth/login', { headers: { 'User-Agent': ua }, json: { email: s.email, password: PASSWORD } });
  assert.equal(r.status, 200, r.buf.toString());
  const body = utf8Json(r);
  assert.equal(body.session.device, 'Mozilla \ufffd\ufffd');
  const me = await rawRequest(stack, 'GET', '/v1/auth/session', { token: body.token });
  assert.equal(utf8Json(me).session.device, 'Mozilla \ufffd\ufffd');
  // The other device's SESSION_ACTIVE shows it too.
  const second = await rawRequest(stack, 'POST', '/v1/auth/login', { json: { email: s.email, password: PASSWORD, device: 'Phone' } });
  assert.equal(second.status, 409);
  assert.equal(utf8Json(second).details.activeSession.device, 'Mozilla \ufffd\ufffd');
  // A long User-Agent is cut to 100 bytes at a character boundary: "é" is
  // two bytes (sent as UTF-8 bytes, each as one latin1 character).
  const long = Buffer.from('é'.repeat(120)).toString('latin1');
  const t = await rawRequest(stack, 'POST', '/v1/auth/login', { headers: { 'User-Agent': `x${long}` }, json: { email: s.email, password: PASSWORD, force: true } });
  assert.equal(t.status, 200, t.buf.toString());
  assert.equal(utf8Json(t).session.device, `x${'é'.repeat(49)}`);
});
