// backup.test.mjs: `tollgate backup PATH` while the stack serves and another
// connection keeps writing: the copy is one consistent snapshot (every
// transaction whole or absent), passes integrity_check, and a server started
// on it answers; bad uses fail without leaving debris. SQLite only: the
// backup is a copy of the SQLite file (PostgreSQL has pg_dump).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, api, sqlite, BIN, STORE } from '../lib/stack.mjs';
import { waitFor } from '../lib/webservers.mjs';

const ROWS_PER_TX = 50;
const skip = STORE === 'postgresql' && 'tollgate backup copies the SQLite file';
let stack;
before(async () => { if (!skip) stack = await startStack(); });
after(async () => { await stack?.stop(); });

function backup(path, db = stack.db) {
  return new Promise((resolve) => {
    const p = spawn(BIN, ['backup', path], { env: { ...process.env, TOLLGATE_DB: db } });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, err })); // close: after stderr is read
  });
}

// How many whole writer transactions the database holds; fails if any is
// partial or one is missing between them.
function batches(db) {
  const partial = sqlite(db, `SELECT value, count(*) FROM meta WHERE key LIKE 'batch:%'
    GROUP BY value HAVING count(*) != ${ROWS_PER_TX}`);
  assert.deepEqual(partial, [], `partial transactions in ${db}`);
  const [[n, max]] = sqlite(db, `SELECT count(DISTINCT value), coalesce(max(CAST(value AS INTEGER)), -1)
    FROM meta WHERE key LIKE 'batch:%'`);
  assert.equal(Number(n), Number(max) + 1, `a transaction is missing in ${db}`);
  return Number(n);
}

test('a backup taken while writes go on is a consistent, restorable snapshot', { skip }, async (t) => {
  // About 20 MB, so that the copy takes many steps.
  sqlite(stack.db, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000)
    INSERT INTO meta SELECT 'fill:' || i, hex(randomblob(1000)) FROM c`);
  // Another connection commits transactions of ROWS_PER_TX rows, one after
  // another (at most 2000, or until stopped).
  const script = join(stack.dir, 'writer.sh');
  writeFileSync(script, `i=0
while [ $i -lt 2000 ]; do
	v=""
	j=0
	while [ $j -lt ${ROWS_PER_TX} ]; do
		v="$v\${v:+,}('batch:$i:$j','$i')"
		j=$((j + 1))
	done
	sqlite3 -cmd '.timeout 10000' "$1" "BEGIN IMMEDIATE; INSERT INTO meta VALUES $v; COMMIT;" || exit 1
	i=$((i + 1))
done
`);
  const writer = spawn('sh', [script, stack.db], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let writerErr = '';
  writer.stderr.on('data', (d) => { writerErr += d; });
  const writerExit = new Promise((r) => writer.on('exit', r));
  try {
    await waitFor(() => batches(stack.db) >= 5, 'the writer');
    const copy = join(stack.dir, 'backups', 'tollgate.db');
    mkdirSync(join(stack.dir, 'backups'));
    // The server keeps answering while the backup runs.
    const running = backup(copy);
    let done = false;
    running.then(() => { done = true; });
    const answers = [];
    while (!done) answers.push((await api(stack, 'GET', '/v1/health')).status);
    const r = await running;
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /backup: .* integrity ok/);
    assert.ok(answers.every((s) => s === 200), JSON.stringify(answers));
    // The writer went on after the snapshot.
    const inCopy = batches(copy);
    await waitFor(() => batches(stack.db) > inCopy, 'a write after the backup');
    assert.ok(inCopy >= 5, `only ${inCopy} transactions in the copy`);
    t.diagnostic(`${inCopy} writer transactions in the copy; ${answers.length} requests answered during the backup`);

    assert.deepEqual(sqlite(copy, 'PRAGMA integrity_check'), [['ok']]);
    assert.deepEqual(sqlite(copy, 'PRAGMA journal_mode'), [['delete']]);
    assert.deepEqual(readdirSync(join(stack.dir, 'backups')), ['tollgate.db']);
    assert.equal(sqlite(copy, "SELECT count(*) FROM meta WHERE key LIKE 'fill:%'")[0][0], '10000');

    // Restored: a server on the copy migrates nothing and answers.
    const restored = join(stack.dir, 'restored');
    mkdirSync(restored);
    copyFileSync(copy, join(restored, 'tollgate.db'));
    const again = await startStack({ TOLLGATE_DB: join(restored, 'tollgate.db') });
    try {
      const h = await api(again, 'GET', '/v1/health');
      assert.equal(h.status, 200);
      assert.equal(h.body.database, 'ok');
      assert.match(again.log(), /\(0 applied\)/);
      assert.equal(batches(join(restored, 'tollgate.db')), inCopy);
    } finally { await again.stop(); }
  } finally {
    try { process.kill(-writer.pid, 'SIGTERM'); } catch { /* done */ }
    await writerExit;
  }
  assert.equal(writerErr, '');
});

test('a second backup replaces the first whole', { skip }, async () => {
  const copy = join(stack.dir, 'again.db');
  assert.equal((await backup(copy)).code, 0);
  sqlite(stack.db, "INSERT INTO meta VALUES ('after-first', 'x')");
  assert.equal((await backup(copy)).code, 0);
  assert.deepEqual(sqlite(copy, "SELECT value FROM meta WHERE key = 'after-first'"), [['x']]);
  assert.ok(!existsSync(`${copy}.tmp`));
});

test('bad uses fail with a message and leave nothing behind', { skip }, async () => {
  let r = spawnSync(BIN, ['backup'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: tollgate .*backup PATH/);
  r = spawnSync(BIN, ['backup', stack.db], { encoding: 'utf8', env: { ...process.env, TOLLGATE_DB: stack.db } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /must not be the database itself/);
  const nowhere = join(stack.dir, 'no', 'such', 'dir', 'b.db');
  r = await backup(nowhere);
  assert.equal(r.code, 1);
  assert.match(r.err, /tollgate: backup: cannot create/);
  const missing = join(stack.dir, 'missing.db');
  const out = join(stack.dir, 'never.db');
  r = await backup(out, missing);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot open .*missing\.db/);
  assert.ok(!existsSync(missing) && !existsSync(out) && !existsSync(`${out}.tmp`));
});
