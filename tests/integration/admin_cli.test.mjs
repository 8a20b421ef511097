// admin_cli.test.mjs: the admin subcommands: create-org (password never in
// argv), set-plan, rotate-jwt-secret with old tokens still valid, routes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, api, isErrorBody, BIN, SECRET, TOP } from '../lib/stack.mjs';
import { adminSession, login, decodeJwt, envKid, uniqueEmail } from '../lib/fixtures.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const run = (args, input, env = {}) => spawnSync(BIN, args, {
  input, encoding: 'utf8', env: { ...process.env, TOLLGATE_DB: stack.db, TOLLGATE_JWT_SECRET: SECRET, ...env },
});

test('create-org takes the password from stdin, and signs in', async () => {
  const email = uniqueEmail('cli');
  const r = run(['create-org', '--name', 'Initech', '--email', email], 'a password from stdin\n');
  assert.equal(r.status, 0, r.stderr);
  const org = r.stdout.match(/organization (org_\w+)/)[1];
  const token = await login(stack, email, 'a password from stdin');
  const me = await api(stack, 'GET', '/v1/auth/session', { token });
  assert.equal(me.body.organization.id, org);
  assert.equal(me.body.user.role, 'admin');
  const dup = run(['create-org', '--name', 'Initech', '--email', email], 'a password from stdin\n');
  assert.equal(dup.status, 1);
  assert.match(dup.stderr, /exists already/);
  const short = run(['create-org', '--name', 'X', '--email', uniqueEmail()], 'short\n');
  assert.equal(short.status, 2);
  const env = run(['create-org', '--name', 'Y', '--email', uniqueEmail()], '', { TOLLGATE_ADMIN_PASSWORD: 'from the environment' });
  assert.equal(env.status, 0, env.stderr);
});

test('set-plan moves an organization; an unknown plan is refused', async () => {
  const s = await adminSession(stack);
  const r = run(['set-plan', s.org.id, 'pro']);
  assert.equal(r.status, 0, r.stderr);
  const usage = await api(stack, 'GET', '/v1/billing/usage', { token: s.token });
  assert.deepEqual({ id: usage.body.plan.id, name: usage.body.plan.name }, { id: 'pro', name: 'Pro' });
  assert.equal(run(['set-plan', s.org.id, 'platinum']).status, 1);
  assert.equal(run(['set-plan', 'org_nope', 'pro']).status, 1);
});

test('rotate-jwt-secret: new tokens use the new key, old ones stay valid', async () => {
  const s = await adminSession(stack);
  assert.equal(decodeJwt(s.token).header.kid, envKid());
  const r = run(['rotate-jwt-secret']);
  assert.equal(r.status, 0, r.stderr);
  const kid = r.stdout.match(/new signing key (\S+);/)[1];
  await new Promise((res) => setTimeout(res, 5500)); // servers reload keys every 5 s
  const t2 = await login(stack, s.email, undefined, { force: true });
  assert.equal(decodeJwt(t2).header.kid, kid);
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: t2 })).status, 200);
  // A token signed with the previous key (the configured secret) still verifies:
  // its session was replaced, so the answer is about the session, not the token.
  const old = await api(stack, 'GET', '/v1/auth/session', { token: s.token });
  assert.ok(isErrorBody(old, 401, 'SESSION_REPLACED'), old.text);
  const other = await adminSession(stack); // signed with the new key
  assert.equal(decodeJwt(other.token).header.kid, kid);
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: other.token })).status, 200);
});

test('ten rotations later, a token signed with an older rotated key still verifies', async () => {
  const s = await adminSession(stack);
  const first = run(['rotate-jwt-secret']);
  assert.equal(first.status, 0, first.stderr);
  const kid = first.stdout.match(/new signing key (\S+);/)[1];
  await new Promise((res) => setTimeout(res, 5500)); // servers reload keys every 5 s
  const token = await login(stack, s.email, undefined, { force: true });
  assert.equal(decodeJwt(token).header.kid, kid);
  for (let i = 0; i < 10; i++) assert.equal(run(['rotate-jwt-secret']).status, 0);
  await new Promise((res) => setTimeout(res, 5500));
  const me = await api(stack, 'GET', '/v1/auth/session', { token });
  assert.equal(me.status, 200, me.text);
});

// The commands main.c dispatches on: strcmp(argv[i], "NAME") == 0.
function dispatched() {
  const main = readFileSync(join(TOP, 'src', 'main.c'), 'utf8');
  const names = [...main.matchAll(/strcmp\(argv\[i\], "([a-z][a-z-]*)"\) == 0/g)].map((m) => m[1]);
  return [...new Set(names)];
}

test('the usage (tollgate help, and no command) lists every command main.c dispatches', () => {
  const names = dispatched();
  for (const n of ['serve', 'migrate', 'create-org', 'set-plan', 'rotate-jwt-secret', 'backup', 'version', 'help']) {
    assert.ok(names.includes(n), `main.c no longer dispatches ${n}?`);
  }
  const help = spawnSync(BIN, ['help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  const none = spawnSync(BIN, [], { encoding: 'utf8' });
  assert.equal(none.status, 2);
  assert.equal(none.stderr, help.stdout);
  for (const n of names) assert.match(help.stdout, new RegExp(`^  ${n}\\b`, 'm'), `usage lacks ${n}`);
});

test('the man page\'s synopsis and command list name every command main.c dispatches', () => {
  const man = readFileSync(join(TOP, 'man', 'tollgate.8'), 'utf8');
  const synopsis = man.slice(man.indexOf('.Sh SYNOPSIS'), man.indexOf('.Sh DESCRIPTION'));
  const list = man.slice(man.indexOf('The commands are:'), man.indexOf('.Sh ENVIRONMENT'));
  for (const n of dispatched()) {
    assert.match(synopsis, new RegExp(`^\\.Cm ${n}$`, 'm'), `SYNOPSIS lacks ${n}`);
    assert.match(list, new RegExp(`^\\.It Cm ${n}\\b`, 'm'), `the command list lacks ${n}`);
    }
  });

test('routes prints the route table as JSON, with no database or settings', () => {
  const r = spawnSync(BIN, ['routes'], { encoding: 'utf8', env: { PATH: process.env.PATH, TOLLGATE_DB: '/nonexistent/dir/x.db' } });
  assert.equal(r.status, 0, r.stderr);
  const routes = JSON.parse(r.stdout);
  assert.ok(Array.isArray(routes) && routes.length > 40, `${routes.length} routes`);
  assert.deepEqual(routes[0], { method: 'GET', pattern: '/v1/health', access: 'public', permission: 'none', scope: null, body: 'none', kdf: false });
  const login = routes.find((x) => x.method === 'POST' && x.pattern === '/v1/auth/login');
  assert.deepEqual(login, { method: 'POST', pattern: '/v1/auth/login', access: 'public', permission: 'none', scope: null, body: 'json', kdf: true });
  const ingest = routes.find((x) => x.method === 'POST' && x.pattern === '/v1/tables/{id}/records');
  assert.deepEqual(ingest, { method: 'POST', pattern: '/v1/tables/{id}/records', access: 'any', permission: 'write', scope: 'ingest', body: 'records', kdf: false });
  for (const x of routes) {
    assert.match(x.method, /^(GET|POST|PUT|PATCH|DELETE)$/);
    assert.ok(['public', 'user', 'any'].includes(x.access), JSON.stringify(x));
    assert.equal(x.scope === null, x.access !== 'any', JSON.stringify(x));
  }
});
