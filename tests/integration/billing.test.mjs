// billing.test.mjs: plans, usage and the plan meters: every meter reaching
// PLAN_LIMIT with its details, upgrades and downgrades, exact limits under
// 200 concurrent triggers, and the monthly reset (the clock is fixed with
// TOLLGATE_NOW, and moved across the month by restarting on the same database).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startStack, api, isErrorBody, sql, BIN } from '../lib/stack.mjs';
import {
  adminSession, userWithRole, createKey, createProject, createTable, importCsv, tableWithSchema,
  ingest, createSpinner, publishSpinner, trigger, waitJob, uniqueEmail, PASSWORD,
} from '../lib/fixtures.mjs';

const at = (iso) => String(Date.parse(iso) / 1000);
const NOV = '2026-11-15T12:00:00Z';
const DEC_1 = '2026-12-01T00:00:00Z';

let stack;
before(async () => { stack = await startStack({ TOLLGATE_NOW: at(NOV) }); });
after(async () => { await stack?.stop(); });

// Asserts a 403 PLAN_LIMIT with exactly the contract's details, requested
// (how many the request would have added) among them.
function assertPlanLimit(res, meter, used, limit, resetsAt, requested = 1) {
  assert.ok(isErrorBody(res, 403, 'PLAN_LIMIT'), `${res.status} ${res.text}`);
  const want = { meter, used, limit, resetsAt };
  if (requested !== null) want.requested = requested; // null: none
  assert.deepEqual(res.body.details, want);
  assert.match(res.body.error, /Billing/);
  assert.match(res.body.error, /upgrade/);
  // Freeing capacity is offered only for meters of live objects.
  if (resetsAt === null) assert.match(res.body.error, /free capacity \(/);
  else assert.doesNotMatch(res.body.error, /free/);
}

// A fresh Trial organization with a project, a table (column email, no
// records) and a published spinner over it.
async function orgWithSpinner(s = stack) {
  const { admin, project, table } = await tableWithSchema(s, 'email\n');
  const sp = await createSpinner(s, admin.token, project.id, table.id);
  await publishSpinner(s, admin.token, sp.id);
  return { admin, project, table: table.id, spinner: sp.id };
}

// A CSV of n rows of column email.
const emails = (n) => `email\n${Array.from({ length: n }, (_, i) => `u${i}@example.test`).join('\n')}\n`;

const meter = (usage, name) => usage.meters.find((m) => m.meter === name);

// Every plan's request budgets here: startStack clears the plans' own, so
// its TOLLGATE_RATE_* settings show (ratelimit_plans.test.mjs has the
// plans' own).
const RATES = { key: 100000, user: 100000, organization: 100000, window: 60 };

test('usage has exactly the contract shape; who may read it', async () => {
  const admin = await adminSession(stack);
  const u = await api(stack, 'GET', '/v1/billing/usage', { token: admin.token });
  assert.equal(u.status, 200, u.text);
  assert.deepEqual(u.body, {
    plan: { id: 'trial', name: 'Trial', rateLimits: RATES },
    period: { start: '2026-11-01T00:00:00Z', end: DEC_1 },
    meters: [
      { meter: 'projects', used: 0, limit: 1, resetsAt: null },
      { meter: 'users', used: 1, limit: 2, resetsAt: null },
      { meter: 'apiKeys', used: 0, limit: 2, resetsAt: null },
      { meter: 'jobs', used: 0, limit: 50, resetsAt: DEC_1 },
      { meter: 'records', used: 0, limit: 10000, resetsAt: DEC_1 },
      { meter: 'webhooks', used: 0, limit: 1, resetsAt: null },
    ],
  });
  // Each meter moves with what it counts.
  const project = await createProject(stack, admin.token);
  const table = (await createTable(stack, admin.token, project.id)).id;
  assert.equal((await importCsv(stack, admin.token, table, emails(812))).status, 200);
  const sp = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  const readKey = await createKey(stack, admin.token, ['read']);
  const triggerKey = await createKey(stack, admin.token, ['trigger']);
  await trigger(stack, triggerKey.key, sp.id);
  const member = await userWithRole(stack, admin, 'member');
  const byKey = await api(stack, 'GET', '/v1/billing/usage', { token: readKey.key });
  assert.equal(byKey.status, 200, byKey.text);
  assert.deepEqual(byKey.body.meters.map((m) => [m.meter, m.used]),
    [['projects', 1], ['users', 2], ['apiKeys', 2], ['jobs', 1], ['records', 812], ['webhooks', 0]]);
  assert.deepEqual((await api(stack, 'GET', '/v1/billing/usage', { token: admin.token })).body, byKey.body);

  const noScope = await api(stack, 'GET', '/v1/billing/usage', { token: triggerKey.key });
  assert.ok(isErrorBody(noScope, 403, 'MISSING_SCOPE'));
  assert.equal(noScope.body.error, 'Key missing read scope');
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/billing/usage', { token: member.token }), 403, 'PERMISSION_DENIED'));
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/billing/usage'), 401, 'TOKEN_MISSING'));
  assert.ok(isErrorBody(await api(stack, 'PUT', '/v1/billing/plan', { token: member.token, json: { plan: 'pro' } }), 403, 'PERMISSION_DENIED'));
  assert.ok(isErrorBody(await api(stack, 'PUT', '/v1/billing/plan', { token: readKey.key, json: { plan: 'pro' } }), 403, 'PERMISSION_DENIED'));
});

test('plans are the contract table; null is unlimited', async () => {
  const admin = await adminSession(stack);
  const r = await api(stack, 'GET', '/v1/billing/plans', { token: admin.token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    data: [
      { id: 'trial', name: 'Trial', limits: { projects: 1, users: 2, apiKeys: 2, jobs: 50, records: 10000, webhooks: 1 }, rateLimits: RATES },
      { id: 'starter', name: 'Starter', limits: { projects: 5, users: 10, apiKeys: 10, jobs: 1000, records: 1000000, webhooks: 5 }, rateLimits: RATES },
      { id: 'pro', name: 'Pro', limits: { projects: 25, users: 50, apiKeys: 50, jobs: 20000, records: 20000000, webhooks: 25 }, rateLimits: RATES },
      { id: 'enterprise', name: 'Enterprise', limits: { projects: null, users: null, apiKeys: null, jobs: null, records: null, webhooks: null }, rateLimits: RATES },
    ],
  });
  const bad = await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'platinum' } });
  assert.ok(isErrorBody(bad, 400, 'INVALID_BODY'));
  assert.equal(bad.body.details.field, 'plan');
});

test('projects, users and apiKeys: PLAN_LIMIT with details, never 429 or 500', async () => {
  const admin = await adminSession(stack);
  await createProject(stack, admin.token);
  const second = await api(stack, 'POST', '/v1/projects', { token: admin.token, json: { name: 'second' } });
  assertPlanLimit(second, 'projects', 1, 1, null);
  assert.equal(second.body.error, 'Your plan allows 1 project; 1 is in use. To go on, free capacity '
    + '(delete a project you no longer need) or upgrade your plan in Billing → Usage.');
  await userWithRole(stack, admin, 'member');
  assertPlanLimit(await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email: uniqueEmail(), password: PASSWORD, role: 'viewer' } }),
    'users', 2, 2, null);
  await createKey(stack, admin.token);
  await createKey(stack, admin.token);
  const third = await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json: { name: 'third', scopes: ['read'] } });
  assertPlanLimit(third, 'apiKeys', 2, 2, null);
  assert.equal(third.body.error, 'Your plan allows 2 API keys; 2 are in use. To go on, free capacity '
    + '(revoke a key you no longer use) or upgrade your plan in Billing → Usage.');
  // Nothing was stored by the refusals.
  assert.deepEqual(sql(stack, `SELECT (SELECT count(*) FROM projects WHERE org_id = '${admin.org.id}'),
    (SELECT count(*) FROM users WHERE org_id = '${admin.org.id}'), (SELECT count(*) FROM api_keys WHERE org_id = '${admin.org.id}')`)[0],
  ['1', '2', '2']);
  // A revoked key frees its slot.
  const keys = (await api(stack, 'GET', '/v1/api-keys', { token: admin.token })).body.data;
  assert.equal((await api(stack, 'DELETE', `/v1/api-keys/${keys[0].id}`, { token: admin.token })).status, 204);
  await createKey(stack, admin.token, ['read']);
});

test('jobs: the 51st trigger of the month is PLAN_LIMIT; an upgrade clears it', async () => {
  const { admin, spinner } = await orgWithSpinner();
  for (let i = 0; i < 50; i++) await trigger(stack, admin.token, spinner);
  const r = await api(stack, 'POST', `/v1/spinners/${spinner}/trigger`, { token: admin.token });
  assertPlanLimit(r, 'jobs', 50, 50, DEC_1);
  assert.equal(r.body.error, 'Your plan allows 50 jobs a month; 50 are used. To go on, upgrade your plan '
    + 'in Billing → Usage, or wait until the meter resets on 2026-12-01 (UTC).');
  assert.equal(sql(stack, `SELECT count(*) FROM jobs WHERE org_id = '${admin.org.id}'`)[0][0], '50');
  assert.deepEqual(meter((await api(stack, 'GET', '/v1/billing/usage', { token: admin.token })).body, 'jobs'),
    { meter: 'jobs', used: 50, limit: 50, resetsAt: DEC_1 });

  const up = await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'starter' } });
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(up.body.plan, { id: 'starter', name: 'Starter', rateLimits: RATES });
  assert.deepEqual(meter(up.body, 'jobs'), { meter: 'jobs', used: 50, limit: 1000, resetsAt: DEC_1 });
  await trigger(stack, admin.token, spinner);
  const audit = (await api(stack, 'GET', '/v1/audit', { token: admin.token })).body.data;
  assert.ok(audit.some((e) => e.event === 'plan.changed' && e.target === 'starter'));
  // Enterprise: no limit at all.
  const ent = await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'enterprise' } });
  assert.deepEqual(meter(ent.body, 'jobs'), { meter: 'jobs', used: 51, limit: null, resetsAt: DEC_1 });
});

test('records: ingest past the month\'s records is PLAN_LIMIT, and so is a trigger while they are used up', async () => {
  const { admin, table, spinner } = await orgWithSpinner();
  const imp = await importCsv(stack, admin.token, table, emails(9999));
  assert.equal(imp.status, 200, imp.text);
  await trigger(stack, admin.token, spinner);
  const over = await api(stack, 'POST', `/v1/tables/${table}/records`,
    { token: admin.token, json: { records: [{ email: 'a@x.test' }, { email: 'b@x.test' }] } });
  assertPlanLimit(over, 'records', 9999, 10000, DEC_1, 2);
  assert.equal(over.body.error, 'Your plan allows 10,000 records a month; 9,999 are used, and this request '
    + 'would add 2. To go on, upgrade your plan in Billing → Usage, or wait until the meter resets on 2026-12-01 (UTC).');
  const last = await ingest(stack, admin.token, table, [{ email: 'a@x.test' }]);
  assert.deepEqual(last.usage, { meter: 'records', used: 10000, limit: 10000, resetsAt: DEC_1 });

  const r = await api(stack, 'POST', `/v1/spinners/${spinner}/trigger`, { token: admin.token });
  assertPlanLimit(r, 'records', 10000, 10000, DEC_1);
  assert.match(r.body.error, /^Your plan allows 10,000 records a month; 10,000 are used\. /);
  const usage = (await api(stack, 'GET', '/v1/billing/usage', { token: admin.token })).body;
  assert.equal(meter(usage, 'jobs').used, 1, 'a refused trigger takes no job');
  assert.equal(sql(stack, `SELECT count(*) FROM records WHERE table_id = '${table}'`)[0][0], '10000');

  // Upgrading clears both.
  await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'starter' } });
  await trigger(stack, admin.token, spinner);
  await ingest(stack, admin.token, table, [{ email: 'c@x.test' }]);
});

test('import past the month\'s records: refused while it is read, so no requested; ingest says its batch', async () => {
  const { admin, table } = await orgWithSpinner();
  const big = await importCsv(stack, admin.token, table, emails(10001));
  assertPlanLimit(big, 'records', 0, 10000, DEC_1, null);
  assert.ok(!('requested' in big.body.details));
  assert.equal(big.body.error, 'Your plan allows 10,000 records a month; 0 are used, and this request '
    + 'would pass it. To go on, upgrade your plan in Billing → Usage, or wait until the meter resets on 2026-12-01 (UTC).');
  assert.equal((await importCsv(stack, admin.token, table, emails(9600))).status, 200);
  const batch = Array.from({ length: 500 }, (_, i) => ({ email: `b${i}@x.test` }));
  const over = await api(stack, 'POST', `/v1/tables/${table}/records`, { token: admin.token, json: { records: batch } });
  assertPlanLimit(over, 'records', 9600, 10000, DEC_1, 500);
  assert.match(over.body.error, /; 9,600 are used, and this request would add 500\./);
});

test('downgrade below usage: what exists stays, new objects are refused', async () => {
  const admin = await adminSession(stack);
  await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'starter' } });
  const projects = [];
  for (let i = 0; i < 3; i++) projects.push(await createProject(stack, admin.token, `project ${i}`));
  for (let i = 0; i < 3; i++) await createKey(stack, admin.token, ['read']);
  const member = await userWithRole(stack, admin, 'member');
  await userWithRole(stack, admin, 'viewer');

  const down = await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'trial' } });
  assert.equal(down.status, 200, down.text);
  assert.deepEqual(down.body.meters.slice(0, 3), [
    { meter: 'projects', used: 3, limit: 1, resetsAt: null },
    { meter: 'users', used: 3, limit: 2, resetsAt: null },
    { meter: 'apiKeys', used: 3, limit: 2, resetsAt: null },
  ]);
  const list = await api(stack, 'GET', '/v1/projects', { token: admin.token });
  assert.deepEqual(list.body.data.map((p) => p.id), projects.map((p) => p.id));
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: member.token })).status, 200);
  assert.equal((await api(stack, 'GET', '/v1/api-keys', { token: admin.token })).body.data.length, 3);
  assertPlanLimit(await api(stack, 'POST', '/v1/projects', { token: admin.token, json: { name: 'more' } }), 'projects', 3, 1, null);
  assertPlanLimit(await api(stack, 'POST', '/v1/users', { token: admin.token, json: { email: uniqueEmail(), password: PASSWORD, role: 'viewer' } }),
    'users', 3, 2, null);
  assertPlanLimit(await api(stack, 'POST', '/v1/api-keys', { token: admin.token, json: { name: 'more', scopes: ['read'] } }),
    'apiKeys', 3, 2, null);
  // Back under the limit, creation works again.
  for (const p of projects) assert.equal((await api(stack, 'DELETE', `/v1/projects/${p.id}`, { token: admin.token })).status, 204);
  await createProject(stack, admin.token, 'after');
});

test('200 simultaneous triggers on a fresh Trial organization: exactly 50 jobs, 150 PLAN_LIMIT, no 5xx', async () => {
  const { admin, spinner } = await orgWithSpinner();
  const key = await createKey(stack, admin.token, ['trigger']);
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    api(stack, 'POST', `/v1/spinners/${spinner}/trigger`, { token: i % 2 ? key.key : admin.token })));
  const ms = Date.now() - t0;
  const by = {};
  for (const r of results) by[r.status] = (by[r.status] || 0) + 1;
  console.log(`# 200 concurrent triggers in ${ms} ms: ${JSON.stringify(by)}`);
  assert.deepEqual(by, { 201: 50, 403: 150 });
  for (const r of results.filter((x) => x.status === 403)) assertPlanLimit(r, 'jobs', 50, 50, DEC_1);
  assert.equal(new Set(results.filter((r) => r.status === 201).map((r) => r.body.job.id)).size, 50);
  assert.equal(sql(stack, `SELECT count(*) FROM jobs WHERE org_id = '${admin.org.id}'`)[0][0], '50');
  assert.equal(sql(stack, `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'jobs'`)[0][0], '50');
  // Every job runs to its end.
  const jobs = results.filter((r) => r.status === 201).map((r) => r.body.job.id);
  for (const id of jobs) assert.equal((await waitJob(stack, admin.token, id, 20000)).status, 'succeeded');
});

test('the month rolls over on the 1st (UTC): jobs and records reset, history kept', async () => {
  const s1 = await startStack({ TOLLGATE_NOW: at('2026-11-30T23:59:00Z') }, { keep: true });
  let s2, s3;
  try {
    const { admin, table, spinner } = await orgWithSpinner(s1);
    for (let i = 0; i < 50; i++) await trigger(s1, admin.token, spinner);
    assert.equal((await importCsv(s1, admin.token, table, emails(812))).status, 200);
    assertPlanLimit(await api(s1, 'POST', `/v1/spinners/${spinner}/trigger`, { token: admin.token }), 'jobs', 50, 50, DEC_1);
    assert.deepEqual((await api(s1, 'GET', '/v1/billing/usage/history', { token: admin.token })).body, { data: [] });
    await s1.stop();

    // 90 seconds later it is December: the same token, a fresh month.
    s2 = await startStack({ TOLLGATE_DB: s1.db, TOLLGATE_NOW: at('2026-12-01T00:00:30Z') });
    const u = (await api(s2, 'GET', '/v1/billing/usage', { token: admin.token })).body;
    assert.deepEqual(u.period, { start: DEC_1, end: '2027-01-01T00:00:00Z' });
    assert.deepEqual(u.meters.slice(3, 5), [
      { meter: 'jobs', used: 0, limit: 50, resetsAt: '2027-01-01T00:00:00Z' },
      { meter: 'records', used: 0, limit: 10000, resetsAt: '2027-01-01T00:00:00Z' },
    ]);
    const job = await trigger(s2, admin.token, spinner);
    assert.equal(job.createdAt, '2026-12-01T00:00:30Z');
    assert.equal(meter((await api(s2, 'GET', '/v1/billing/usage', { token: admin.token })).body, 'jobs').used, 1);
    const h = await api(s2, 'GET', '/v1/billing/usage/history', { token: admin.token });
    assert.equal(h.status, 200);
    assert.deepEqual(h.body, { data: [{ period: '2026-11', meters: [{ meter: 'jobs', used: 50 }, { meter: 'records', used: 812 }] }] });
    await s2.stop();

    // January: both past months, newest first; the admin CLI changes the plan.
    s3 = await startStack({ TOLLGATE_DB: s1.db, TOLLGATE_NOW: at('2027-01-15T08:00:00Z') });
    const token = (await api(s3, 'POST', '/v1/auth/login', { json: { email: admin.email, password: admin.password, force: true } })).body.token;
    const h3 = (await api(s3, 'GET', '/v1/billing/usage/history', { token })).body;
    assert.deepEqual(h3.data.map((m) => m.period), ['2026-12', '2026-11']);
    assert.deepEqual(h3.data[0].meters, [{ meter: 'jobs', used: 1 }]);
    const out = execFileSync(BIN, ['set-plan', admin.org.id, 'pro'], { env: { ...process.env, TOLLGATE_DB: s1.db }, encoding: 'utf8', stdio: 'pipe' });
    assert.match(out, /is on pro/);
    assert.deepEqual((await api(s3, 'GET', '/v1/billing/usage', { token })).body.plan, { id: 'pro', name: 'Pro', rateLimits: RATES });
  } finally {
    await s2?.stop();
    await s3?.stop();
    execFileSync('rm', ['-rf', s1.dir]);
  }
});
