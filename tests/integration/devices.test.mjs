// devices.test.mjs: device credentials (OWASP "device cookies") and the
// sign-in budgets through nginx: failures from unknown devices cannot lock
// out a device that signed in before; a device's own budget; the same
// device takes its session over without force; GET and DELETE
// /v1/auth/devices (a revoked device's session ends); revocation on
// password change and user deletion; and the wrong current password of a
// password change takes a budget failed logins cannot spend, and is audited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import { signup, userWithRole, uniqueEmail, PASSWORD } from '../lib/fixtures.mjs';

let stack;
before(async () => {
  stack = await startStack({ TOLLGATE_RATE_LOGIN_ACCOUNT: '10', TOLLGATE_RATE_LOGIN_DEVICE: '3' });
});
after(async () => { await stack?.stop(); });

const loginAs = (email, password, extra = {}, headers = {}) =>
  api(stack, 'POST', '/v1/auth/login', { json: { email, password, ...extra }, headers });

test('signup and login answer a deviceToken, stored only as its hash', async () => {
  const email = uniqueEmail();
  const up = await api(stack, 'POST', '/v1/signup', { json: { organization: 'Dev', email, password: PASSWORD } });
  assert.equal(up.status, 201, up.text);
  assert.match(up.body.deviceToken, /^tgd_[0-9a-f]{64}$/);
  const r = await loginAs(email, PASSWORD);
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.deviceToken, /^tgd_[0-9a-f]{64}$/);
  assert.notEqual(r.body.deviceToken, up.body.deviceToken);
  // A login with its valid token keeps that token.
  const again = await loginAs(email, PASSWORD, { deviceToken: r.body.deviceToken });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.deviceToken, r.body.deviceToken);
  const dump = sql(stack, 'SELECT secret_hash FROM devices').flat().join(',');
  assert.ok(!dump.includes(r.body.deviceToken.slice(4)), 'no token in the clear');
});

test('ten wrong passwords from anywhere do not lock out the device that signed in before', async () => {
  const s = await signup(stack);
  const mine = await loginAs(s.email, PASSWORD, { device: 'My laptop' });
  assert.equal(mine.status, 200, mine.text);
  const deviceToken = mine.body.deviceToken;
  assert.equal((await api(stack, 'POST', '/v1/auth/logout', { token: mine.body.token })).status, 204);
  // The attacker knows the email in any case; the account budget (10) goes.
  for (let i = 0; i < 10; i++) {
    const r = await loginAs(i % 2 ? s.email.toUpperCase() : s.email, `wrong password ${i}`);
    assert.ok(isErrorBody(r, 401, 'INVALID_CREDENTIALS'), r.text);
  }
  const blocked = await loginAs(s.email, PASSWORD);
  assert.ok(isErrorBody(blocked, 429, 'RATE_LIMITED'), blocked.text);
  assert.match(blocked.headers.get('ratelimit-policy'), /"login-acct";q=10;w=3600/);
  // A forged, unknown or malformed device token is no device: still 429,
  // never an error that tells anything.
  for (const bad of ['tgd_' + '0'.repeat(64), 'tgd_nope', 'x'.repeat(500), deviceToken.toUpperCase()]) {
    const r = await loginAs(s.email, PASSWORD, { deviceToken: bad });
    assert.ok(isErrorBody(r, 429, 'RATE_LIMITED'), r.text);
  }
  // The owner, with the device credential, signs in.
  const owner = await loginAs(s.email, PASSWORD, { deviceToken });
  assert.equal(owner.status, 200, owner.text);
  assert.equal(owner.body.deviceToken, deviceToken);
});

test("a device's own budget: its failures spend it, not the account's", async () => {
  const s = await signup(stack);
  const first = await loginAs(s.email, PASSWORD);
  const deviceToken = first.body.deviceToken;
  for (let i = 0; i < 3; i++) {
    const r = await loginAs(s.email, 'wrong password', { deviceToken });
    assert.ok(isErrorBody(r, 401, 'INVALID_CREDENTIALS'), r.text);
  }
  const spent = await loginAs(s.email, PASSWORD, { deviceToken });
  assert.ok(isErrorBody(spent, 429, 'RATE_LIMITED'), spent.text);
  assert.match(spent.headers.get('ratelimit-policy'), /"login-device";q=3;w=900/);
  // The account's budget is whole: another device signs in (with force, as
  // the first device's session is live).
  const other = await loginAs(s.email, PASSWORD, { force: true });
  assert.equal(other.status, 200, other.text);
  // Another account's device token is no device for this one: with the
  // account's budget spent, it does not get a device's budget instead.
  const t = await signup(stack);
  const theirs = (await loginAs(t.email, PASSWORD)).body.deviceToken;
  for (let i = 0; i < 10; i++) assert.equal((await loginAs(s.email, 'wrong password')).status, 401);
  const cross = await loginAs(s.email, PASSWORD, { deviceToken: theirs, force: true });
  assert.ok(isErrorBody(cross, 429, 'RATE_LIMITED'), cross.text);
  assert.match(cross.headers.get('ratelimit-policy'), /"login-acct";q=10;w=3600/);
  // Its own account still takes it.
  assert.equal((await loginAs(t.email, PASSWORD, { deviceToken: theirs })).status, 200);
});

test('the same device takes its live session over without force; another device gets 409', async () => {
  const s = await signup(stack);
  const first = await loginAs(s.email, PASSWORD, { device: 'Tab one' });
  const deviceToken = first.body.deviceToken;
  const same = await loginAs(s.email, PASSWORD, { deviceToken, device: 'Tab two' });
  assert.equal(same.status, 200, same.text);
  const old = await api(stack, 'GET', '/v1/auth/session', { token: first.body.token });
  assert.ok(isErrorBody(old, 401, 'SESSION_REPLACED'), old.text);
  assert.equal(old.body.details.device, 'Tab two');
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: same.body.token })).status, 200);
  // A device that never signed in, or one whose token is not valid.
  const other = await loginAs(s.email, PASSWORD, { device: 'Elsewhere' });
  assert.ok(isErrorBody(other, 409, 'SESSION_ACTIVE'), other.text);
  assert.equal(other.body.details.activeSession.device, 'Tab two');
  const forged = await loginAs(s.email, PASSWORD, { deviceToken: 'tgd_' + 'a'.repeat(64) });
  assert.ok(isErrorBody(forged, 409, 'SESSION_ACTIVE'), forged.text);
  const audit = sql(stack, `SELECT count(*) FROM audit WHERE event = 'session.takeover' AND actor = '${s.user.id}'`);
  assert.equal(audit[0][0], '1');
});

test('GET /v1/auth/devices lists the caller\'s devices; DELETE revokes one, only the caller\'s', async () => {
  const s = await signup(stack);
  const a = await loginAs(s.email, PASSWORD, {}, { 'User-Agent': 'Browser A/1.0' });
  await api(stack, 'POST', '/v1/auth/logout', { token: a.body.token });
  const b = await loginAs(s.email, PASSWORD, {}, { 'User-Agent': 'Browser B/2.0' });
  const list = await api(stack, 'GET', '/v1/auth/devices', { token: b.body.token });
  assert.equal(list.status, 200, list.text);
  const names = list.body.data.map((d) => d.name);
  assert.ok(names.includes('Browser A/1.0') && names.includes('Browser B/2.0'), names.join(', '));
  for (const d of list.body.data) {
    assert.match(d.id, /^dev_/);
    assert.match(d.createdAt, /Z$/);
    assert.match(d.lastUsedAt, /Z$/);
    assert.equal(d.deviceToken, undefined);
  }
  const devA = list.body.data.find((d) => d.name === 'Browser A/1.0').id;
  // Another account cannot see or revoke it: 404, as for an unknown id.
  const t = await signup(stack);
  const tLogin = await loginAs(t.email, PASSWORD);
  const theirs = await api(stack, 'GET', '/v1/auth/devices', { token: tLogin.body.token });
  assert.ok(!theirs.body.data.some((d) => d.id === devA));
  assert.ok(isErrorBody(await api(stack, 'DELETE', `/v1/auth/devices/${devA}`, { token: tLogin.body.token }), 404, 'NOT_FOUND'));
  assert.ok(isErrorBody(await api(stack, 'DELETE', '/v1/auth/devices/dev_nope', { token: b.body.token }), 404, 'NOT_FOUND'));
  assert.equal((await api(stack, 'DELETE', `/v1/auth/devices/${devA}`, { token: b.body.token })).status, 204);
  const after = await api(stack, 'GET', '/v1/auth/devices', { token: b.body.token });
  assert.ok(!after.body.data.some((d) => d.id === devA));
  // The revoked token is no device: no takeover without force.
  const revoked = await loginAs(s.email, PASSWORD, { deviceToken: a.body.deviceToken });
  assert.ok(isErrorBody(revoked, 409, 'SESSION_ACTIVE'), revoked.text);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/auth/devices'), 401, 'TOKEN_MISSING'));
  // Revoking the device of a live session ends that session with it.
  const devB = list.body.data.find((d) => d.name === 'Browser B/2.0').id;
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: tLogin.body.token })).status, 200);
  assert.equal((await api(stack, 'DELETE', `/v1/auth/devices/${devB}`, { token: b.body.token })).status, 204);
  const gone = await api(stack, 'GET', '/v1/auth/session', { token: b.body.token });
  assert.ok(isErrorBody(gone, 401, 'SESSION_REVOKED'), gone.text);
  assert.deepEqual(sql(stack, `SELECT end_reason FROM sessions WHERE user_id = '${s.user.id}' ORDER BY created_at, rowid`).map((r) => r[0]), ['logout', 'revoked']);
  // Another account's session is not touched.
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: tLogin.body.token })).status, 200);
  // With no live session left, a login from anywhere needs no force.
  assert.equal((await loginAs(s.email, PASSWORD)).status, 200);
});

test('a password change revokes every device; deleting a user deletes theirs', async () => {
  const s = await signup(stack);
  const a = await loginAs(s.email, PASSWORD);
  const change = await api(stack, 'POST', '/v1/auth/password', { token: a.body.token, json: { currentPassword: PASSWORD, newPassword: 'another password 1' } });
  assert.equal(change.status, 204, change.text);
  assert.equal(sql(stack, `SELECT count(*) FROM devices WHERE user_id = '${s.user.id}'`)[0][0], '0');
  const b = await loginAs(s.email, 'another password 1', { deviceToken: a.body.deviceToken });
  assert.equal(b.status, 200, b.text);
  assert.notEqual(b.body.deviceToken, a.body.deviceToken);
  // An admin's reset too, and deletion.
  const m = await userWithRole(stack, { token: b.body.token }, 'member');
  assert.equal(sql(stack, `SELECT count(*) FROM devices WHERE user_id = '${m.user.id}'`)[0][0], '1');
  const reset = await api(stack, 'POST', `/v1/users/${m.user.id}/password`, { token: b.body.token, json: { newPassword: 'reset password 12' } });
  assert.equal(reset.status, 204, reset.text);
  assert.equal(sql(stack, `SELECT count(*) FROM devices WHERE user_id = '${m.user.id}'`)[0][0], '0');
  await loginAs(m.email, 'reset password 12');
  assert.equal((await api(stack, 'DELETE', `/v1/users/${m.user.id}`, { token: b.body.token })).status, 204);
  assert.equal(sql(stack, `SELECT count(*) FROM devices WHERE user_id = '${m.user.id}'`)[0][0], '0');
});

test('a password change from a known device takes that device\'s budget: spent logins cannot block it', async () => {
  const s = await signup(stack);
  const a = await loginAs(s.email, PASSWORD);
  const change = (currentPassword, newPassword = 'a new password 1') =>
    api(stack, 'POST', '/v1/auth/password', { token: a.body.token, json: { currentPassword, newPassword } });
  // Someone who knows only the email spends the account budget (10).
  for (let i = 0; i < 10; i++) assert.equal((await loginAs(s.email, 'wrong password')).status, 401);
  const blocked = await loginAs(s.email, PASSWORD);
  assert.ok(isErrorBody(blocked, 429, 'RATE_LIMITED'), blocked.text);
  // The owner, signed in on a known device, still changes the password.
  assert.equal((await change(PASSWORD)).status, 204);
});

test('wrong current passwords hit 429 at their own budget, each one audited', async () => {
  const s = await signup(stack);
  const a = await loginAs(s.email, PASSWORD);
  const change = (currentPassword) => api(stack, 'POST', '/v1/auth/password', { token: a.body.token, json: { currentPassword, newPassword: 'a new password 1' } });
  // Failed logins do not share it; the device's budget is 3.
  for (let i = 0; i < 4; i++) assert.equal((await loginAs(s.email, 'wrong password')).status, 401);
  for (let i = 0; i < 3; i++) {
    const r = await change(`guess number ${i}`);
    assert.ok(isErrorBody(r, 401, 'INVALID_CREDENTIALS'), r.text);
  }
  // Spent: even the right one is refused now, and nothing changed.
  const right = await change(PASSWORD);
  assert.ok(isErrorBody(right, 429, 'RATE_LIMITED'), right.text);
  assert.match(right.headers.get('ratelimit-policy'), /"login-device";q=3;w=900/);
  assert.ok(Number(right.headers.get('retry-after')) > 800);
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: a.body.token })).status, 200);
  const audit = await api(stack, 'GET', '/v1/audit?limit=100', { token: a.body.token });
  assert.equal(audit.status, 200, audit.text);
  assert.equal(audit.body.data.filter((e) => e.event === 'password.change_failed' && e.actor === s.user.id).length, 3);
  // The account's budget was not spent by them: another device signs in.
  const other = await loginAs(s.email, PASSWORD, { force: true });
  assert.equal(other.status, 200, other.text);
});

test('a session of no known device has a password-change budget of its own', async () => {
  const s = await signup(stack);
  const a = await loginAs(s.email, PASSWORD);
  // A session from before device credentials: no device_id.
  sql(stack, `UPDATE sessions SET device_id = NULL WHERE user_id = '${s.user.id}'`);
  const change = (currentPassword) => api(stack, 'POST', '/v1/auth/password', { token: a.body.token, json: { currentPassword, newPassword: 'a new password 1' } });
  for (let i = 0; i < 10; i++) assert.equal((await loginAs(s.email, 'wrong password')).status, 401);
  for (let i = 0; i < 10; i++) {
    const r = await change(`guess number ${i}`);
    assert.ok(isErrorBody(r, 401, 'INVALID_CREDENTIALS'), r.text);
  }
  const right = await change(PASSWORD);
  assert.ok(isErrorBody(right, 429, 'RATE_LIMITED'), right.text);
  assert.match(right.headers.get('ratelimit-policy'), /"password";q=10;w=3600/);
});
