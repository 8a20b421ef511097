// users.test.mjs: roles and their permissions, the last admin, ending a
// user's session, admin password reset, tenant isolation and the audit trail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody } from '../lib/stack.mjs';
import { adminSession, userWithRole, login, uniqueEmail, PASSWORD } from '../lib/fixtures.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

test('roles: admin everything, member projects, viewer read only', async () => {
  const admin = await adminSession(stack);
  const member = await userWithRole(stack, admin, 'member');
  // Trial allows 2 users: the admin and the member. Upgrade for a viewer.
  assert.equal((await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'starter' } })).status, 200);
  const viewer = await userWithRole(stack, admin, 'viewer');
  const denied = [
    [viewer, 'GET', '/v1/users'], [member, 'GET', '/v1/users'],
    [viewer, 'POST', '/v1/api-keys', { name: 'k', scopes: ['read'] }],
    [member, 'GET', '/v1/billing/usage'], [viewer, 'GET', '/v1/audit'],
    [viewer, 'POST', '/v1/projects', { name: 'p' }],
    [member, 'PUT', '/v1/billing/plan', { plan: 'pro' }],
  ];
  for (const [who, method, path, json] of denied) {
    const r = await api(stack, method, path, { token: who.token, json });
    assert.ok(isErrorBody(r, 403, 'PERMISSION_DENIED'), `${who.user.role} ${method} ${path}: ${r.text}`);
  }
  const p = await api(stack, 'POST', '/v1/projects', { token: member.token, json: { name: 'Member project' } });
  assert.equal(p.status, 201, p.text);
  assert.equal((await api(stack, 'GET', '/v1/projects', { token: viewer.token })).body.data.length, 1);
  assert.equal((await api(stack, 'GET', `/v1/projects/${p.body.id}`, { token: viewer.token })).status, 200);
  assert.equal((await api(stack, 'GET', '/v1/users', { token: admin.token })).body.data.length, 3);
});

test('users meter: Trial allows 2 users, the third is PLAN_LIMIT', async () => {
  const admin = await adminSession(stack);
  await userWithRole(stack, admin, 'member');
  const r = await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email: uniqueEmail(), password: PASSWORD, role: 'viewer' } });
  assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), r.text);
  assert.deepEqual(r.body.details, { meter: 'users', used: 2, limit: 2, resetsAt: null, requested: 1 });
  assert.match(r.body.error, /Billing → Usage/);
});

test('user creation validates and refuses duplicates', async () => {
  const admin = await adminSession(stack);
  const bad = await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email: uniqueEmail(), password: PASSWORD, role: 'owner' } });
  assert.ok(isErrorBody(bad, 400, 'INVALID_BODY'));
  assert.equal(bad.body.details.field, 'role');
  const dup = await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email: admin.email, password: PASSWORD, role: 'member' } });
  assert.ok(isErrorBody(dup, 409, 'CONFLICT'), dup.text);
});

test('the last admin cannot be demoted or deleted', async () => {
  const admin = await adminSession(stack);
  const demote = await api(stack, 'PATCH', `/v1/users/${admin.user.id}`, { token: admin.token, json: { role: 'member' } });
  assert.ok(isErrorBody(demote, 409, 'CONFLICT'), demote.text);
  const del = await api(stack, 'DELETE', `/v1/users/${admin.user.id}`, { token: admin.token });
  assert.ok(isErrorBody(del, 409, 'CONFLICT'));
  const member = await userWithRole(stack, admin, 'member');
  const promote = await api(stack, 'PATCH', `/v1/users/${member.user.id}`, { token: admin.token, json: { role: 'admin' } });
  assert.equal(promote.status, 200);
  assert.equal(promote.body.role, 'admin');
  // The promoted role acts at once, on the same token.
  assert.equal((await api(stack, 'GET', '/v1/users', { token: member.token })).status, 200);
  const nowOk = await api(stack, 'PATCH', `/v1/users/${admin.user.id}`, { token: member.token, json: { role: 'viewer' } });
  assert.equal(nowOk.status, 200);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/users', { token: admin.token }), 403, 'PERMISSION_DENIED'));
});

test('deleting a user, ending their session, resetting their password', async () => {
  const admin = await adminSession(stack);
  const m = await userWithRole(stack, admin, 'member');
  const end = await api(stack, 'DELETE', `/v1/users/${m.user.id}/session`, { token: admin.token });
  assert.equal(end.status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/auth/session', { token: m.token }), 401, 'SESSION_REVOKED'));
  const t2 = await login(stack, m.email);
  const reset = await api(stack, 'POST', `/v1/users/${m.user.id}/password`, { token: admin.token, json: { newPassword: 'reset by admin 1' } });
  assert.equal(reset.status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/auth/session', { token: t2 }), 401, 'SESSION_REVOKED'));
  const t3 = await login(stack, m.email, 'reset by admin 1');
  const del = await api(stack, 'DELETE', `/v1/users/${m.user.id}`, { token: admin.token });
  assert.equal(del.status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/auth/session', { token: t3 }), 401, 'SESSION_REVOKED'));
  const gone = await api(stack, 'POST', '/v1/auth/login', { json: { email: m.email, password: 'reset by admin 1' } });
  assert.ok(isErrorBody(gone, 401, 'INVALID_CREDENTIALS'));
});

test("another organization's users are 404, the same as a missing id", async () => {
  const a = await adminSession(stack);
  const b = await adminSession(stack);
  const strip = (r) => ({ status: r.status, body: { ...r.body, requestId: undefined } });
  for (const [method, path, json] of [
    ['PATCH', `/v1/users/${a.user.id}`, { role: 'member' }],
    ['DELETE', `/v1/users/${a.user.id}`],
    ['DELETE', `/v1/users/${a.user.id}/session`],
    ['POST', `/v1/users/${a.user.id}/password`, { newPassword: 'something long' }],
  ]) {
    const other = await api(stack, method, path, { token: b.token, json });
    const missing = await api(stack, method, path.replace(a.user.id, 'usr_doesnotexist000000'), { token: b.token, json });
    assert.ok(isErrorBody(other, 404, 'NOT_FOUND'), `${method} ${path}: ${other.text}`);
    assert.deepEqual(strip(other), strip(missing));
  }
  const list = await api(stack, 'GET', '/v1/users', { token: b.token });
  assert.deepEqual(list.body.data.map((u) => u.id), [b.user.id]);
  // A still works: nothing was changed by B.
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: a.token })).status, 200);
});

test('the audit trail records identity events, paginated, without secrets', async () => {
  const admin = await adminSession(stack);
  await api(stack, 'POST', '/v1/auth/login', { json: { email: admin.email, password: 'wrong password x' } });
  const m = await userWithRole(stack, admin, 'member');
  await api(stack, 'PATCH', `/v1/users/${m.user.id}`, { token: admin.token, json: { role: 'viewer' } });
  await api(stack, 'DELETE', `/v1/users/${m.user.id}/session`, { token: admin.token });
  const forced = await login(stack, admin.email, PASSWORD, { force: true });
  const all = [];
  let cursor = null;
  do {
    const r = await api(stack, 'GET', `/v1/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: forced });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.data.length <= 2);
    all.push(...r.body.data);
    cursor = r.body.nextCursor;
  } while (cursor);
  const events = all.map((e) => e.event);
  for (const e of ['signup', 'login', 'login.failed', 'user.created', 'role.changed', 'session.revoked', 'session.takeover']) {
    assert.ok(events.includes(e), `${e} in ${events}`);
  }
  for (const e of all) {
    assert.match(e.at, /Z$/);
    assert.equal(typeof e.requestId, 'string');
    assert.equal(e.ip, '127.0.0.1');
  }
  const text = JSON.stringify(all);
  assert.ok(!text.includes(PASSWORD) && !text.includes('wrong password x') && !text.includes(admin.token.split('.')[2]));
  const badCursor = await api(stack, 'GET', '/v1/audit?cursor=zzz', { token: forced });
  assert.ok(isErrorBody(badCursor, 400, 'INVALID_BODY'));
  const badLimit = await api(stack, 'GET', '/v1/audit?limit=501', { token: forced });
  assert.ok(isErrorBody(badLimit, 400, 'INVALID_BODY'));
});
