// files.test.mjs: the files Tollgate writes and the signing keys in them.
// Under umask 022 the database, its -wal and -shm and a backup are 0600;
// a rotated key is stored wrapped, so neither the database nor its backup
// holds a secret that signs; a key an earlier version stored in clear is
// wrapped on start and the tokens it signed keep verifying. On PostgreSQL
// there are no database files: what is stored is checked, not the files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, api, sql, BIN, SECRET } from '../lib/stack.mjs';
import { adminSession, login, decodeJwt, signJwt } from '../lib/fixtures.mjs';

const mode = (p) => (statSync(p).mode & 0o777).toString(8).padStart(4, '0');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let stack;
let oldUmask;
before(async () => {
  // What an ordinary shell gives: group and others may read new files.
  oldUmask = process.umask(0o022);
  stack = await startStack({}, { keep: true });
});
after(async () => {
  await stack?.stop();
  process.umask(oldUmask);
});

const run = (args, env = {}) => spawnSync(BIN, args, {
  encoding: 'utf8', env: { ...process.env, TOLLGATE_DB: stack.db, TOLLGATE_JWT_SECRET: SECRET, ...env },
});

// Every run of 96 hex digits in the files: what a key stored in hex looks like.
function hexRuns(files) {
  const found = new Set();
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const m of readFileSync(f).toString('latin1').matchAll(/[0-9a-f]{96}/g)) found.add(m[0]);
  }
  return [...found];
}

// Whether key is the HMAC key that signed token.
const signs = (token, key) => {
  const [h, p, sig] = token.split('.');
  return createHmac('sha256', key).update(`${h}.${p}`).digest('base64url') === sig;
};

test('under umask 022 the database, -wal, -shm and a backup are 0600', { skip: process.env.TOLLGATE_STORE === 'postgresql' && 'the SQLite files' }, async () => {
  const s = await adminSession(stack); // writes: the WAL is in use
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: s.token })).status, 200);
  for (const f of [stack.db, `${stack.db}-wal`, `${stack.db}-shm`]) {
    assert.ok(existsSync(f), `${f} exists`);
    assert.equal(mode(f), '0600', f);
  }
  const copy = join(stack.dir, 'copy.db');
  const b = run(['backup', copy]);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(mode(copy), '0600');
});

test('a rotated key is stored wrapped: neither the database nor a backup signs', async () => {
  const r = run(['rotate-jwt-secret']);
  assert.equal(r.status, 0, r.stderr);
  const kid = r.stdout.match(/new signing key (\S+);/)[1];
  const [[stored]] = sql(stack, `SELECT secret FROM jwt_keys WHERE kid = '${kid}'`);
  assert.match(stored, /^aes256gcm:[A-Za-z0-9+/=]+$/);
  await sleep(5500); // servers reload keys every 5 s
  const s = await adminSession(stack);
  assert.equal(decodeJwt(s.token).header.kid, kid);
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: s.token })).status, 200);
  if (stack.store === 'sqlite') {
    const copy = join(stack.dir, 'after-rotation.db');
    assert.equal(run(['backup', copy]).status, 0);
    const files = [stack.db, `${stack.db}-wal`, copy];
    const runs = hexRuns(files);
    assert.equal(runs.filter((k) => signs(s.token, k)).length, 0, 'a stored value signs the token');
  } else {
    const secrets = sql(stack, 'SELECT secret FROM jwt_keys').flat();
    assert.equal(secrets.filter((k) => signs(s.token, k)).length, 0, 'a stored value signs the token');
  }
  // The stored text itself is no HMAC key for it either.
  assert.equal(signs(s.token, stored), false);
});

test('a key stored in clear by an earlier version is wrapped on start; its tokens still verify', async () => {
  const s = await adminSession(stack);
  const me = decodeJwt(s.token).payload;
  await stack.stop();
  // As an earlier version stored a rotated key: 96 hex digits, newest of all.
  const clear = 'c0ffee'.repeat(16);
  sql(stack, `INSERT INTO jwt_keys (kid, secret, created_at) VALUES ('k_clear', '${clear}', ${Math.floor(Date.now() / 1000) + 2})`);
  if (stack.store === 'sqlite') chmodSync(stack.db, 0o644); // and as `make run` left the file
  const now = Math.floor(Date.now() / 1000);
  const token = signJwt({ alg: 'HS256', typ: 'JWT', kid: 'k_clear' },
    { ...me, iat: now, exp: now + 3600, jti: 'jti_clear' }, { secret: clear });
  stack = await startStack({ TOLLGATE_DB: stack.db }, { dir: stack.dir });
  if (stack.store === 'sqlite') assert.equal(mode(stack.db), '0600');
  const [[stored]] = sql(stack, "SELECT secret FROM jwt_keys WHERE kid = 'k_clear'");
  assert.match(stored, /^aes256gcm:/);
  assert.ok(!stored.includes('c0ffee'));
  if (stack.store === 'sqlite') assert.equal(hexRuns([stack.db, `${stack.db}-wal`]).includes(clear), false);
  const res = await api(stack, 'GET', '/v1/auth/session', { token });
  assert.equal(res.status, 200, res.text);
  // Starting again changes nothing: wrapped once.
  assert.equal(run(['migrate']).status, 0);
  const [[again]] = sql(stack, "SELECT secret FROM jwt_keys WHERE kid = 'k_clear'");
  assert.equal(again, stored);
  // New sign-ins are signed with it (the newest key) and verify.
  const t2 = await login(stack, s.email, undefined, { force: true });
  assert.equal(decodeJwt(t2).header.kid, 'k_clear');
  assert.equal((await api(stack, 'GET', '/v1/auth/session', { token: t2 })).status, 200);
});
