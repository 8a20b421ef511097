// stack.mjs: starts the real stack for a test file exactly as `make run`
// does (deploy/run.sh: nginx in front of `tollgate serve`) on a free
// loopback port with its own database, and talks HTTP to it. With
// TOLLGATE_STORE=postgresql (tests/run.sh) that database is a PostgreSQL
// one, made on the test server TOLLGATE_TEST_PG
// (postgresql://user:pass@127.0.0.1:port/, a role with CREATEDB).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { assertContract } from './contract.mjs';

export const TOP = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.TOLLGATE_BIN || join(TOP, 'build', 'tollgate');
export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The store the tests run on: 'postgresql' under TOLLGATE_STORE=postgresql,
// else 'sqlite'. A test that gives TOLLGATE_DB itself runs on what it gives.
export const STORE = process.env.TOLLGATE_STORE === 'postgresql' ? 'postgresql' : 'sqlite';

const isUrl = (db) => /^postgres(ql)?:\/\//.test(db);

// psql on the database at url: runs the statements of input one by one,
// stopping at the first error (which throws); answers rows as arrays of
// strings (NULL as '', booleans as 't'/'f').
function psql(url, input) {
  const out = execFileSync('psql', ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-d', url],
    { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// A new empty database on the test server; answers {name, url}.
export function pgCreate() {
  const server = process.env.TOLLGATE_TEST_PG;
  if (!server) throw new Error('TOLLGATE_STORE=postgresql needs TOLLGATE_TEST_PG (tests/run.sh sets it)');
  const name = `tollgate_t${process.pid}_${randomBytes(6).toString('hex')}`;
  psql(server, `CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { name, url: url.href };
}

// Drops a database pgCreate made, whoever is still connected to it. An
// autovacuum worker on it is not the test role's to end (PostgreSQL 15
// refuses the drop): it finishes in moments, so the drop is tried again,
// for 10 s at most.
export function pgDrop(name) {
  for (let i = 0; ; i++) {
    try {
      psql(process.env.TOLLGATE_TEST_PG, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (e) {
      if (i >= 100 || !/member of the role whose process is being terminated/.test(String(e.stderr))) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

// Starts nginx + tollgate; env adds TOLLGATE_* settings. Returns a stack
// with base, dir, db (a file, or a PostgreSQL URL), store ('sqlite' or
// 'postgresql'), log() and stop(). Without env.TOLLGATE_DB the stack has a
// database of its own on STORE, which stop() removes unless opts.keep; a
// database given in env.TOLLGATE_DB is the caller's and stays. The plans'
// own request budgets (sql/011) are cleared, so the TOLLGATE_RATE_*
// settings below (or the test's) apply to every plan, unless
// opts.planRates keeps them.
export async function startStack(env = {}, opts = {}) {
  const dir = opts.dir || mkdtempSync(join(tmpdir(), 'tollgate-'));
  const port = await freePort();
  const own = !env.TOLLGATE_DB && STORE === 'postgresql' ? pgCreate() : null;
  const db = env.TOLLGATE_DB || (own ? own.url : join(dir, 'tollgate.db'));
  const logs = [];
  const child = spawn('sh', [join(TOP, 'deploy', 'run.sh')], {
    env: {
      ...process.env,
      PORT: String(port),
      TOLLGATE_BIN: BIN,
      TOLLGATE_RUN: join(dir, 'run'),
      TOLLGATE_DB: db,
      TOLLGATE_JWT_SECRET: SECRET,
      // Test files sign in and sign up far more than 20 times a minute from
      // one address: roomy budgets unless a test sets its own (the rate
      // limit tests do, with the real defaults where they matter).
      TOLLGATE_RATE_IP: '100000',
      TOLLGATE_RATE_USER: '100000',
      TOLLGATE_RATE_KEY: '100000',
      TOLLGATE_RATE_ORG: '100000',
      TOLLGATE_RATE_LOGIN: '100000',
      TOLLGATE_RATE_LOGIN_ACCOUNT: '100000',
      TOLLGATE_RATE_LOGIN_DEVICE: '100000',
      ...env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => logs.push(d.toString()));
  child.stderr.on('data', (d) => logs.push(d.toString()));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const stack = {
    base: `http://127.0.0.1:${port}`,
    port,
    dir,
    db,
    store: isUrl(db) ? 'postgresql' : 'sqlite',
    child,
    exited,
    log: () => logs.join(''),
    // Ends run.sh's process group (nginx, the supervisor, tollgate serve):
    // SIGTERM, then SIGKILL if it has not ended within 40 s (run.sh gives
    // the server 30 s to finish).
    async stop() {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 40000);
      await exited;
      clearTimeout(t);
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
      if (own && !opts.keep) pgDrop(own.name);
      // On PostgreSQL the rate limiter's table is in /dev/shm, named after
      // the URL's hash (config.c).
      if (isUrl(db) && !opts.keep) {
        const hash = createHash('sha256').update(db).digest('hex').slice(0, 16);
        rmSync(`/dev/shm/tollgate-${process.geteuid()}-${hash}-ratelimit`, { force: true });
      }
      // Under `make check SANITIZE=1` a sanitizer report fails the test file.
      const report = logs.join('').match(/==\d+==ERROR: \w+Sanitizer[^\n]*|runtime error:[^\n]*/);
      if (report) throw new Error(`sanitizer report from tollgate: ${report[0]}\n${logs.join('').slice(-4000)}`);
    },
  };
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${stack.base}/v1/health`);
      if (r.status === 200) {
        if (!opts.planRates) sql(stack, 'UPDATE plans SET rate_key = NULL, rate_user = NULL, rate_org = NULL');
        return stack;
      }
    } catch { /* not up yet */ }
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stack.stop();
  throw new Error(`stack did not start:\n${logs.join('')}`);
}

// One HTTP call: json (object) is sent as JSON; answers {status, headers,
// body (parsed JSON or null), text}. Throws when the answer is off the
// contract, docs/openapi.yaml (tests/lib/contract.mjs).
export async function api(stack, method, path, { json, body, headers = {}, token } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    h['Content-Type'] = h['Content-Type'] || 'application/json';
    body = JSON.stringify(json);
  }
  const r = await fetch(stack.base + path, { method, headers: h, body });
  const text = await r.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  const res = { status: r.status, headers: r.headers, body: parsed, text };
  assertContract(method, path, res);
  return res;
}

// Asserts the error body of docs/openapi.yaml (components.schemas.Error).
export function isErrorBody(res, status, code) {
  const b = res.body;
  return res.status === status && b !== null && typeof b.error === 'string' &&
    b.error.length > 0 && b.errorCode === code && typeof b.requestId === 'string' &&
    res.headers.get('x-request-id') === b.requestId;
}

// Runs sql on the SQLite file db with the sqlite3 shell (waiting up to 5 s
// for the server's write lock); answers rows as arrays of strings.
export function sqlite(db, sql) {
  const out = execFileSync('sqlite3', ['-batch', '-cmd', '.timeout 5000', '-separator', '\t', db, sql], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// Runs query on the stack's database, whichever the store (the sqlite3
// shell or psql); answers rows as arrays of strings, NULL as ''. The SQL
// is the store's own: where the two differ, the caller asks stack.store.
export function sql(stack, query) {
  return stack.store === 'postgresql' ? psql(stack.db, query) : sqlite(stack.db, query);
}

// Waits until a psql session a test started on stack's PostgreSQL
// database sleeps in pg_sleep, so it holds what it took before it (at
// most 5 s; throws after).
export async function holderSleeping(stack) {
  for (let i = 0; i < 200; i++) {
    if (psql(stack.db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()")[0][0] === '1') return;
    await sleep(25);
  }
  throw new Error('the holder never got to its sleep');
}

// The schema version the server has migrated the stack's database to:
// PRAGMA user_version on SQLite, the highest of tollgate_schema on
// PostgreSQL.
export function schemaVersion(stack) {
  return sql(stack, stack.store === 'postgresql' ? 'SELECT max(version) FROM tollgate_schema' : 'PRAGMA user_version')[0][0];
}

// Starts n stacks that share one new PostgreSQL database, each with a
// rate-limit table file of its own, as n hosts would be (the cluster
// limiter's tests). Answers {hosts, url, stop()}; stop() ends every stack,
// then drops the database. On PostgreSQL only.
export async function startHosts(n, env = {}, hostEnv = []) {
  const { name, url } = pgCreate();
  const hosts = [];
  const stop = async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    pgDrop(name);
  };
  try {
    for (let i = 0; i < n; i++) {
      const dir = mkdtempSync(join(tmpdir(), `tollgate-host${i}-`));
      hosts.push(await startStack({ ...env, ...hostEnv[i], TOLLGATE_DB: url, TOLLGATE_RATELIMIT_FILE: join(dir, 'ratelimit') }, { dir }));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { hosts, url, stop };
}
