// copy_store.test.mjs: `tollgate copy-store` moves an SQLite installation
// into a new PostgreSQL database: the same tokens, keys, records, jobs and
// meters answer there, new rows follow the copied ones, and a second copy
// into the same database is refused without touching it. Needs the test
// PostgreSQL server: runs under TOLLGATE_STORE=postgresql (tests/run.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, api, sql, sqlite, pgCreate, pgDrop, BIN, SECRET, STORE } from '../lib/stack.mjs';
import {
  tableWithSchema, ingest, createKey, userWithRole, createSpinner, publishSpinner, trigger,
  waitJob, readAllRecords, login, decodeJwt,
} from '../lib/fixtures.mjs';

const copyStore = (from, to) => spawnSync(BIN, ['copy-store', '--from', from, '--to', to], {
  encoding: 'utf8', env: { ...process.env, TOLLGATE_JWT_SECRET: SECRET }, timeout: 60000,
});

// What a client sees of the installation: the admin's session, the member's,
// the records (by the admin and by the API key), the job, the usage.
async function observe(stack, s) {
  const get = async (path, token) => {
    const r = await api(stack, 'GET', path, { token });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.body;
  };
  return {
    admin: (await get('/v1/auth/session', s.admin.token)).user,
    member: (await get('/v1/auth/session', s.member.token)).user,
    records: await readAllRecords(stack, s.table.id, { token: s.admin.token }),
    byKey: await readAllRecords(stack, s.table.id, { token: s.key.key }),
    job: await get(`/v1/jobs/${s.job.id}`, s.admin.token),
    usage: await get('/v1/billing/usage', s.admin.token),
  };
}

const tableCounts = (stack) => sql(stack,
  "SELECT 'organizations', count(*) FROM organizations UNION ALL SELECT 'users', count(*) FROM users " +
  "UNION ALL SELECT 'sessions', count(*) FROM sessions UNION ALL SELECT 'records', count(*) FROM records " +
  "UNION ALL SELECT 'jobs', count(*) FROM jobs UNION ALL SELECT 'plans', count(*) FROM plans ORDER BY 1");

test('copy-store moves a live SQLite installation to PostgreSQL', { skip: STORE !== 'postgresql' && 'needs TOLLGATE_STORE=postgresql' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-copy-'));
  const source = join(dir, 'source.db');
  let lite, pg, target;
  try {
    lite = await startStack({ TOLLGATE_DB: source });
    assert.equal(lite.store, 'sqlite');
    const s = await tableWithSchema(lite);
    // Text COPY must carry tabs, newlines, backslashes and quotes as they are.
    await ingest(lite, s.admin.token, s.table.id, [
      { n: 2, name: 'tab\there\nnewline \\N back\\slash "quoted"', score: 0.1, ok: false },
      { n: 3, name: 'ünïcode ✓', score: 1e-7, ok: true },
    ]);
    s.key = await createKey(lite, s.admin.token);
    s.member = await userWithRole(lite, s.admin, 'member');
    const spinner = await createSpinner(lite, s.admin.token, s.project.id, s.table.id);
    await publishSpinner(lite, s.admin.token, spinner.id);
    s.job = await trigger(lite, s.admin.token, spinner.id);
    assert.equal((await waitJob(lite, s.admin.token, s.job.id)).status, 'succeeded');
    const before = await observe(lite, s);
    await lite.stop();
    lite = null;
    // A signing key of the database's own (wrapped with the secret).
    const rot = spawnSync(BIN, ['rotate-jwt-secret'], {
      encoding: 'utf8', env: { ...process.env, TOLLGATE_DB: source, TOLLGATE_JWT_SECRET: SECRET },
    });
    assert.equal(rot.status, 0, rot.stderr);
    const kid = rot.stdout.match(/new signing key (\S+);/)[1];
    // Rowids a fresh identity would not give, to tell a copied one.
    sqlite(source, 'UPDATE sessions SET rowid = rowid + 1000; UPDATE jwt_keys SET rowid = rowid + 1000');
    const rowids = (q) => sqlite(source, q);
    const sessions = rowids('SELECT rowid, id FROM sessions ORDER BY rowid');
    const keys = rowids('SELECT rowid, kid FROM jwt_keys ORDER BY rowid');
    assert.ok(sessions.length >= 2 && keys.length >= 1);

    target = pgCreate();
    const r = copyStore(source, target.url);
    assert.equal(r.status, 0, r.stderr);
    for (const t of ['organizations', 'users', 'sessions', 'jwt_keys', 'records', 'jobs', 'plans', 'meta']) {
      assert.match(r.stdout, new RegExp(`^${t} +\\d+ rows$`, 'm'), `no line for ${t}:\n${r.stdout}`);
    }
    assert.match(r.stdout, /^copied \d+ tables, \d+ rows, .* at schema version \d+; the row counts match/m);
    const password = new URL(target.url).password;
    assert.ok(password && !(r.stdout + r.stderr).includes(password), 'the password is printed');

    pg = await startStack({ TOLLGATE_DB: target.url });
    assert.equal(pg.store, 'postgresql');
    const after = await observe(pg, s);
    assert.deepEqual(after, before);
    // SQLite's rowid (the order of sign-ins, of keys) is the rowid column.
    assert.deepEqual(sql(pg, 'SELECT rowid, id FROM sessions ORDER BY rowid'), sessions);
    assert.deepEqual(sql(pg, 'SELECT rowid, kid FROM jwt_keys ORDER BY rowid'), keys);

    // New rows take identities past the copied ones: a record, a sign-in.
    await ingest(pg, s.admin.token, s.table.id, [{ n: 4, name: 'after', score: 2, ok: true }]);
    const records = await readAllRecords(pg, s.table.id, { token: s.key.key });
    assert.equal(records.length, before.records.length + 1);
    const token = await login(pg, s.member.email, undefined, { force: true });
    assert.equal(decodeJwt(token).header.kid, kid, 'not signed with the copied key');
    assert.equal((await api(pg, 'GET', '/v1/auth/session', { token })).status, 200);
    const n = sql(pg, 'SELECT max(rowid) FROM sessions')[0][0];
    assert.ok(Number(n) > Number(sessions.at(-1)[0]), `${n}`);

    // A second copy into the same database is refused, and changes nothing.
    const counts = tableCounts(pg);
    const again = copyStore(source, target.url);
    assert.equal(again.status, 1, again.stdout + again.stderr);
    assert.match(again.stderr, /holds data already \(organizations: \d+ rows\)/);
    assert.deepEqual(tableCounts(pg), counts);
    assert.equal((await readAllRecords(pg, s.table.id, { token: s.admin.token })).length, records.length);

    // Usage errors: a URL as the source, a path as the target.
    assert.equal(copyStore(target.url, source).status, 2);
    assert.equal(spawnSync(BIN, ['copy-store', '--from', source], { encoding: 'utf8' }).status, 2);
  } finally {
    await lite?.stop();
    await pg?.stop();
    if (target) pgDrop(target.name);
    rmSync(dir, { recursive: true, force: true });
  }
});
