// ratelimit_plans.test.mjs: request budgets by plan, through nginx: each
// plan's per-key, per-user and per-organization limits in /v1/billing/plans
// and /usage, the TOLLGATE_RATE_* defaults for a plan that sets none, one
// budget shared by all of an organization's keys (exact under concurrency,
// refused requests taking nothing), the headers naming the budget that
// binds first and listing each, and a plan change counting from the next
// request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import { adminSession, createKey, setPlan } from '../lib/fixtures.mjs';

let stack;
before(async () => {
  // The plans keep their own budgets (sql/011); these are the defaults for
  // a plan that sets none.
  stack = await startStack({ TOLLGATE_RATE_KEY: '4', TOLLGATE_RATE_USER: '50', TOLLGATE_RATE_ORG: '9' }, { planRates: true });
});
after(async () => { await stack?.stop(); });

// A plan of its own for one test: rates {key, user, org}, null for none.
function plan(id, { key = null, user = null, org = null }) {
  const v = (x) => (x === null ? 'NULL' : String(x));
  sql(stack, `INSERT INTO plans (id, name, position, projects, users, api_keys, jobs, records, rate_key, rate_user, rate_org)
    VALUES ('${id}', '${id}', 90, 5, 5, 10, 50, 1000, ${v(key)}, ${v(user)}, ${v(org)})`);
}

const usage = (token) => api(stack, 'GET', '/v1/billing/usage', { token });

test('the plans and the usage show each plan\'s rate limits; a plan that sets none has the defaults', async () => {
  plan('rl-none', {});
  const admin = await adminSession(stack);
  const plans = await api(stack, 'GET', '/v1/billing/plans', { token: admin.token });
  assert.equal(plans.status, 200, plans.text);
  const by = Object.fromEntries(plans.body.data.map((p) => [p.id, p.rateLimits]));
  assert.deepEqual(by.trial, { key: 600, user: 600, organization: 1200, window: 60 });
  assert.deepEqual(by.starter, { key: 1200, user: 1200, organization: 3000, window: 60 });
  assert.deepEqual(by.pro, { key: 3000, user: 3000, organization: 10000, window: 60 });
  assert.deepEqual(by.enterprise, { key: 10000, user: 10000, organization: 50000, window: 60 });
  assert.deepEqual(by['rl-none'], { key: 4, user: 50, organization: 9, window: 60 });

  const u = await usage(admin.token);
  assert.equal(u.status, 200, u.text);
  assert.deepEqual(u.body.plan.rateLimits, { key: 600, user: 600, organization: 1200, window: 60 });
  // A signed-in user takes from the user's and the organization's budget.
  assert.equal(u.headers.get('ratelimit-policy'), '"user";q=600;w=60, "org";q=1200;w=60');
  assert.match(u.headers.get('ratelimit'), /^"user";r=\d+;t=\d+$/);
  assert.equal(u.headers.get('x-ratelimit-limit'), '600');

  const up = await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'starter' } });
  assert.equal(up.status, 200, up.text);
  assert.deepEqual(up.body.plan.rateLimits, { key: 1200, user: 1200, organization: 3000, window: 60 });

  // On a plan that sets none, the defaults are enforced, not only shown.
  setPlan(stack, admin.org.id, 'rl-none');
  const key = await createKey(stack, admin.token, ['read']); // 1 of the org's 9
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await usage(key.key)).status);
  assert.deepEqual(codes, [200, 200, 200, 200, 429]);
  const n = await usage(admin.token);
  assert.deepEqual(n.body.plan.rateLimits, { key: 4, user: 50, organization: 9, window: 60 });
  assert.equal(n.headers.get('ratelimit-policy'), '"user";q=50;w=60, "org";q=9;w=60');
});

test('two keys of one organization share its budget; the key binds first for one key', async () => {
  plan('rl-share', { key: 6, user: 1000, org: 10 });
  const admin = await adminSession(stack);
  setPlan(stack, admin.org.id, 'rl-share');
  // The two key creations take 2 of the organization's 10: 8 are left.
  const k1 = await createKey(stack, admin.token, ['read']);
  const k2 = await createKey(stack, admin.token, ['read']);

  const first = [];
  for (let i = 0; i < 7; i++) first.push(await usage(k1.key));
  assert.deepEqual(first.map((r) => r.status), [200, 200, 200, 200, 200, 200, 429]);
  // The key's 6 bind before the org's 8: its headers are the key's.
  assert.equal(first[0].headers.get('ratelimit-policy'), '"key";q=6;w=60, "org";q=10;w=60');
  assert.equal(first[0].headers.get('x-ratelimit-limit'), '6');
  assert.equal(first[0].headers.get('x-ratelimit-remaining'), '5');
  assert.match(first[0].headers.get('ratelimit'), /^"key";r=5;t=\d+$/);
  assert.ok(isErrorBody(first[6], 429, 'RATE_LIMITED'));
  assert.match(first[6].headers.get('ratelimit'), /^"key";r=0;t=\d+$/);
  assert.equal(first[6].headers.get('ratelimit-policy'), '"key";q=6;w=60, "org";q=10;w=60');

  // The other key has its own 6, but the org has 2 left (the refused
  // request took nothing): exactly 2 more, then the org refuses.
  const second = [];
  for (let i = 0; i < 4; i++) second.push(await usage(k2.key));
  assert.deepEqual(second.map((r) => r.status), [200, 200, 429, 429]);
  assert.equal(second[0].headers.get('x-ratelimit-limit'), '10');
  assert.equal(second[0].headers.get('x-ratelimit-remaining'), '1');
  assert.match(second[0].headers.get('ratelimit'), /^"org";r=1;t=\d+$/);
  const refused = second[2];
  assert.ok(isErrorBody(refused, 429, 'RATE_LIMITED'));
  assert.match(refused.headers.get('ratelimit'), /^"org";r=0;t=\d+$/);
  assert.equal(refused.headers.get('x-ratelimit-limit'), '10');
  assert.equal(refused.headers.get('x-ratelimit-remaining'), '0');
  assert.equal(refused.body.error, `Rate limit exceeded. Try again in ${refused.headers.get('retry-after')} seconds.`);
  // A signed-in user of the organization is held by the same budget.
  const user = await usage(admin.token);
  assert.ok(isErrorBody(user, 429, 'RATE_LIMITED'));
  assert.equal(user.headers.get('ratelimit-policy'), '"user";q=1000;w=60, "org";q=10;w=60');
  assert.match(user.headers.get('ratelimit'), /^"org";r=0;/);
  // Another organization is not.
  const other = await adminSession(stack);
  assert.equal((await usage(other.token)).status, 200);
});

test('60 concurrent requests over 3 keys with an organization budget of 20: exactly 20 pass', async () => {
  plan('rl-race', { key: 100, user: 1000, org: 23 });
  const admin = await adminSession(stack);
  setPlan(stack, admin.org.id, 'rl-race');
  const keys = [];
  for (let i = 0; i < 3; i++) keys.push(await createKey(stack, admin.token, ['read'])); // 3 of 23
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => usage(keys[i % 3].key)));
  const ok = results.filter((r) => r.status === 200).length;
  console.log(`# 60 concurrent over 3 keys, org budget 20 left: ${ok} allowed`);
  assert.equal(ok, 20);
  for (const r of results.filter((x) => x.status !== 200)) assert.ok(isErrorBody(r, 429, 'RATE_LIMITED'), r.text);
  // The keys were charged exactly the 20 that passed: with room in the org
  // again, each key's remaining (it binds now) shows what it was charged.
  sql(stack, "UPDATE plans SET rate_org = 100000 WHERE id = 'rl-race'");
  let charged = 0;
  for (const k of keys) {
    const r = await usage(k.key);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('ratelimit'), /^"key";/);
    charged += 100 - 1 - Number(r.headers.get('x-ratelimit-remaining'));
  }
  assert.equal(charged, 20);
});

test('an upgrade raises the limit on the next request, a downgrade lowers it', async () => {
  plan('rl-small', { key: 3, user: 1000, org: 1000 });
  plan('rl-big', { key: 6, user: 1000, org: 1000 });
  const admin = await adminSession(stack);
  setPlan(stack, admin.org.id, 'rl-small');
  const k = await createKey(stack, admin.token, ['read']);
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await usage(k.key)).status);
  assert.deepEqual(codes, [200, 200, 200, 429]);

  const up = await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'rl-big' } });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.plan.rateLimits.key, 6);
  const next = await usage(k.key);
  assert.equal(next.status, 200, next.text);
  assert.equal(next.headers.get('x-ratelimit-limit'), '6');
  assert.equal(next.headers.get('x-ratelimit-remaining'), '2');
  assert.equal(next.body.plan.rateLimits.key, 6);

  const down = await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'rl-small' } });
  assert.equal(down.status, 200, down.text);
  const after = await usage(k.key);
  assert.ok(isErrorBody(after, 429, 'RATE_LIMITED'));
  assert.equal(after.headers.get('x-ratelimit-limit'), '3');
});
