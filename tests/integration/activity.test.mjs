// activity.test.mjs: sign-in activity through nginx. GET /v1/auth/activity
// shows the caller's sessions newest first with how each ended (logout,
// replaced by which device, revoked by an admin, a password change or the
// revocation of its device, expired while idle), its own marked current,
// and the devices on the first page; it pages with limit and cursor. Admins
// see a user's with GET /v1/users/{id}/activity: another organization's
// user is 404, members and viewers 403. Every answer is checked against
// docs/openapi.yaml by api().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody } from '../lib/stack.mjs';
import { adminSession, signup, userWithRole, login, PASSWORD } from '../lib/fixtures.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const loginAs = async (email, extra = {}) => {
  const r = await api(stack, 'POST', '/v1/auth/login', { json: { email, password: PASSWORD, ...extra } });
  assert.equal(r.status, 200, r.text);
  return r.body;
};
const activity = async (token, query = '') => {
  const r = await api(stack, 'GET', `/v1/auth/activity${query}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.body;
};

test('login, logout and a forced takeover: newest first, how each ended, the current one marked', async () => {
  const s = await signup(stack);
  const laptop = await loginAs(s.email, { device: 'Laptop' });
  let a = await activity(laptop.token);
  assert.equal(a.data.length, 1);
  const [live] = a.data;
  assert.equal(live.id, laptop.session.id);
  assert.equal(live.device, 'Laptop');
  assert.equal(live.ip, '127.0.0.1');
  assert.equal(live.current, true);
  assert.equal(live.endedAt, null);
  assert.equal(live.endReason, null);
  assert.equal(live.replacedBy, null);
  assert.equal(a.nextCursor, null);
  // Signup and this login each made a device; this session's is current.
  assert.equal(a.devices.length, 2);
  const mine = a.devices.filter((d) => d.current);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].id, live.deviceId);
  assert.equal(mine[0].name, 'Laptop');

  assert.equal((await api(stack, 'POST', '/v1/auth/logout', { token: laptop.token })).status, 204);
  const phone = await loginAs(s.email, { device: 'Phone' });
  const tablet = await loginAs(s.email, { device: 'Tablet', force: true });
  // The replaced token is refused, the replacing one sees the history.
  const old = await api(stack, 'GET', '/v1/auth/activity', { token: phone.token });
  assert.ok(isErrorBody(old, 401, 'SESSION_REPLACED'), old.text);
  a = await activity(tablet.token);
  assert.deepEqual(a.data.map((x) => x.device), ['Tablet', 'Phone', 'Laptop']);
  assert.deepEqual(a.data.map((x) => x.current), [true, false, false]);
  assert.deepEqual(a.data.map((x) => x.endReason), [null, 'replaced', 'logout']);
  assert.deepEqual(a.data.map((x) => x.replacedBy), [null, 'Tablet', null]);
  assert.equal(a.data[0].endedAt, null);
  for (const x of a.data.slice(1)) {
    assert.ok(Date.parse(x.endedAt) >= Date.parse(x.createdAt), JSON.stringify(x));
  }
  assert.equal(a.devices.length, 4);
  assert.equal(a.devices[0].name, 'Tablet', 'most recently used first');
});

test('pages: limit and cursor walk every session once, the devices only on the first', async () => {
  const s = await signup(stack);
  const names = ['one', 'two', 'three', 'four', 'five'];
  let last;
  for (const device of names) last = await loginAs(s.email, { device, force: true });
  const full = await activity(last.token);
  assert.deepEqual(full.data.map((x) => x.device), [...names].reverse());
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const page = await activity(last.token, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(page.data.length <= 2);
    assert.equal('devices' in page, pages === 0, `devices on page ${pages}`);
    seen.push(...page.data.map((x) => x.id));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== null && pages < 10);
  assert.equal(pages, 3);
  assert.deepEqual(seen, full.data.map((x) => x.id));

  for (const bad of ['?limit=0', '?limit=501', '?limit=x', '?cursor=zzz', '?cursor=c']) {
    const r = await api(stack, 'GET', `/v1/auth/activity${bad}`, { token: last.token });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), `${bad}: ${r.text}`);
  }
  const none = await api(stack, 'GET', '/v1/auth/activity');
  assert.ok(isErrorBody(none, 401, 'TOKEN_MISSING'), none.text);
});

test("an admin's revoke shows as revoked, to the user and to the admin", async () => {
  const admin = await adminSession(stack);
  const member = await userWithRole(stack, admin, 'member');
  const path = `/v1/users/${member.user.id}/activity`;
  let r = await api(stack, 'GET', path, { token: admin.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.data.length, 1);
  assert.equal(r.body.data[0].endReason, null);
  assert.equal(r.body.data[0].current, false, "the member's session is not the admin's");
  assert.ok(r.body.devices.length >= 1);
  assert.ok(r.body.devices.every((d) => d.current === false));

  assert.equal((await api(stack, 'DELETE', `/v1/users/${member.user.id}/session`, { token: admin.token })).status, 204);
  r = await api(stack, 'GET', path, { token: admin.token });
  assert.equal(r.body.data[0].endReason, 'revoked');
  assert.notEqual(r.body.data[0].endedAt, null);

  // Signed in again (no force: nothing is live), the member sees it too.
  const again = await login(stack, member.email);
  const mine = await activity(again);
  assert.deepEqual(mine.data.map((x) => x.endReason), [null, 'revoked']);
  // The admin's own activity is not the member's.
  const adminOwn = await activity(admin.token);
  assert.ok(adminOwn.data.every((x) => !mine.data.some((m) => m.id === x.id)));
});

test('a password change ends the session as revoked', async () => {
  const s = await adminSession(stack);
  const r = await api(stack, 'POST', '/v1/auth/password', { token: s.token, json: { currentPassword: PASSWORD, newPassword: 'a brand new password' } });
  assert.equal(r.status, 204, r.text);
  const t = await login(stack, s.email, 'a brand new password');
  const a = await activity(t);
  assert.deepEqual(a.data.map((x) => x.endReason), [null, 'revoked']);
  assert.equal(a.devices.length, 1, 'the change revoked the devices before it');
});

test("revoking a device removes it from the activity's devices", async () => {
  const s = await adminSession(stack);
  const before = await activity(s.token);
  const other = before.devices.find((d) => !d.current);
  assert.ok(other, JSON.stringify(before.devices));
  const del = await api(stack, 'DELETE', `/v1/auth/devices/${other.id}`, { token: s.token });
  assert.equal(del.status, 204, del.text);
  const afterDel = await activity(s.token);
  assert.deepEqual(afterDel.devices.map((d) => d.id), before.devices.filter((d) => d.id !== other.id).map((d) => d.id));
});

test('revoking the device of the current session ends it as revoked', async () => {
  const s = await signup(stack);
  const here = await loginAs(s.email, { device: 'Kiosk' });
  const a = await activity(here.token);
  const mine = a.devices.find((d) => d.current);
  assert.equal(mine.name, 'Kiosk');
  const del = await api(stack, 'DELETE', `/v1/auth/devices/${mine.id}`, { token: here.token });
  assert.equal(del.status, 204, del.text);
  const gone = await api(stack, 'GET', '/v1/auth/activity', { token: here.token });
  assert.ok(isErrorBody(gone, 401, 'SESSION_REVOKED'), gone.text);
  // Signed in again without force: the Kiosk session shows revoked, its
  // device is no longer listed.
  const again = await loginAs(s.email, { device: 'Kiosk' });
  const b = await activity(again.token);
  assert.deepEqual(b.data.map((x) => x.endReason), [null, 'revoked']);
  assert.equal(b.data[1].deviceId, mine.id);
  assert.ok(!b.devices.some((d) => d.id === mine.id));
});

test("admins only, and only their organization's users", async () => {
  const admin = await adminSession(stack);
  const member = await userWithRole(stack, admin, 'member');
  const stranger = await adminSession(stack);
  // Trial has room for two users: the viewer is the stranger's.
  const viewer = await userWithRole(stack, stranger, 'viewer');
  for (const who of [member, viewer]) {
    const r = await api(stack, 'GET', `/v1/users/${admin.user.id}/activity`, { token: who.token });
    assert.ok(isErrorBody(r, 403, 'PERMISSION_DENIED'), r.text);
    // Their own activity is theirs to see.
    assert.equal((await activity(who.token)).data[0].current, true);
  }
  const theirs = await api(stack, 'GET', `/v1/users/${stranger.user.id}/activity`, { token: admin.token });
  const missing = await api(stack, 'GET', '/v1/users/usr_missing/activity', { token: admin.token });
  assert.ok(isErrorBody(theirs, 404, 'NOT_FOUND'), theirs.text);
  assert.ok(isErrorBody(missing, 404, 'NOT_FOUND'), missing.text);
  assert.equal(theirs.body.error, missing.body.error);
  const bad = await api(stack, 'GET', `/v1/users/${member.user.id}/activity?cursor=nope`, { token: admin.token });
  assert.ok(isErrorBody(bad, 400, 'INVALID_BODY'), bad.text);
});

test('an idle session shows as expired, at the moment it timed out', async () => {
  const idle = await startStack({ TOLLGATE_SESSION_IDLE: '2' });
  try {
    const up = await api(idle, 'POST', '/v1/signup', { json: { organization: 'Idle', email: `idle-${process.pid}@example.test`, password: PASSWORD } });
    assert.equal(up.status, 201, up.text);
    const email = `idle-${process.pid}@example.test`;
    const first = await login(idle, email);
    const m = await api(idle, 'POST', '/v1/users', { token: first, json: { email: `m-${email}`, password: PASSWORD, role: 'member' } });
    assert.equal(m.status, 201, m.text);
    await login(idle, `m-${email}`);
    await sleep(3000);
    // Both sessions timed out unused; the admin signs in again without force.
    const admin = await login(idle, email);
    const r = await api(idle, 'GET', `/v1/users/${m.body.id}/activity`, { token: admin });
    assert.equal(r.status, 200, r.text);
    const [s] = r.body.data;
    assert.equal(s.endReason, 'expired', 'never ended, but timed out');
    assert.equal(Date.parse(s.endedAt), Date.parse(s.lastSeenAt) + 2000);
    // The admin's own: the earlier session was ended by this login, and is
    // shown ending when it timed out, not when that was noticed.
    const own = await api(idle, 'GET', '/v1/auth/activity', { token: admin });
    assert.deepEqual(own.body.data.map((x) => x.endReason), [null, 'expired']);
    const ended = own.body.data[1];
    assert.equal(Date.parse(ended.endedAt), Date.parse(ended.lastSeenAt) + 2000);
    assert.ok(Date.parse(ended.endedAt) < Date.parse(own.body.data[0].createdAt));
  } finally { await idle.stop(); }
});
