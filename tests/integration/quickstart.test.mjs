// quickstart.test.mjs: the README's quick start, the ```sh block right after
// the line "<!-- quickstart -->", runs as written against a fresh stack (as
// against a fresh `make run`) and ends with exit 0; it stops at the first
// error instead of going on with empty ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOP, startStack, sql } from '../lib/stack.mjs';

const TIMEOUT_MS = 60000;

// The block the README marks as the quick start, exactly as a reader sees it.
function quickstartBlock(readme) {
  const m = readme.match(/^<!-- quickstart -->\n```sh\n([\s\S]*?)^```$/m);
  assert.ok(m, 'README.md has a ```sh block right after <!-- quickstart -->');
  return m[1];
}

// Runs script with bash, API pointing at base; answers {code, stdout,
// stderr, ms}. The process group is killed after TIMEOUT_MS, and in any
// case before this returns.
function runScript(script, base) {
  const started = Date.now();
  const child = spawn('bash', ['-c', script], {
    env: { ...process.env, API: base },
    cwd: TOP,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const kill = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  const timer = setTimeout(kill, TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      kill();
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const script = quickstartBlock(readFileSync(join(TOP, 'README.md'), 'utf8'));

test('the quick start block starts with set -eu and defaults to make run\'s address', () => {
  assert.match(script, /^set -eu\n/);
  assert.match(script, /API=\$\{API:-http:\/\/127\.0\.0\.1:8080\}/);
});

test('the README quick start runs top to bottom against a fresh server', async () => {
  const stack = await startStack();
  try {
    const run = await runScript(script, stack.base);
    assert.equal(run.signal, null, `killed after ${TIMEOUT_MS} ms:\n${run.stderr}`);
    assert.equal(run.code, 0, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    assert.equal(run.stderr, '');
    // What each step printed: the import, the ingest, the finished job, the usage.
    const answers = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(answers.length, 4, run.stdout);
    const [imported, ingested, job, usage] = answers;
    assert.equal(imported.imported, 2);
    assert.deepEqual(imported.schema.columns.map((c) => c.type), ['text', 'integer', 'boolean']);
    assert.equal(ingested.accepted, 1);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.result.processed, 3);
    assert.equal(usage.plan.id, 'trial');
    assert.equal(usage.meters.find((m) => m.meter === 'records').used, 3);
    assert.equal(usage.meters.find((m) => m.meter === 'jobs').used, 1);

    // A second run against the same server signs up a new account and
    // passes too (a reader who runs it twice).
    const again = await runScript(script, stack.base);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(sql(stack, 'SELECT count(*) FROM organizations')[0][0], '2');
  } finally {
    await stack.stop();
  }
});

test('the quick start stops at the first error, naming it', async () => {
  const stack = await startStack({ TOLLGATE_SIGNUP: 'closed' });
  try {
    const run = await runScript(script, stack.base);
    assert.equal(run.signal, null, `killed after ${TIMEOUT_MS} ms`);
    assert.notEqual(run.code, 0, run.stdout);
    assert.match(run.stderr, /quickstart: POST \/v1\/signup failed: .*"errorCode":"NOT_FOUND"/);
    // Nothing after the signup ran: no login, no request with an empty id.
    assert.equal(run.stdout, '');
    assert.doesNotMatch(run.stderr, /auth\/login|\/v1\/projects/);
    assert.ok(run.ms < 10000, `failed after ${run.ms} ms`);
    // The server saw the refused signup and nothing after it.
    assert.match(stack.log(), /POST \/v1\/signup 404/);
    assert.doesNotMatch(stack.log(), /POST \/v1\/auth\/login/);
  } finally {
    await stack.stop();
  }
});

// A failure in the middle (a key without the ingest scope is refused) also
// stops the script there: the steps after it never run.
test('a refused step in the middle stops the quick start there', async () => {
  const broken = script.replace('"scopes":["ingest","trigger","read"]', '"scopes":["read"]');
  assert.notEqual(broken, script, 'the quick start makes a key with the ingest scope');
  const stack = await startStack();
  try {
    const run = await runScript(broken, stack.base);
    assert.notEqual(run.code, 0, run.stdout);
    assert.match(run.stderr, /quickstart: POST \/v1\/tables\/tbl_\w+\/records failed: .*"errorCode":"MISSING_SCOPE"/);
    assert.doesNotMatch(run.stderr + run.stdout, /spinners/);
    assert.equal(sql(stack, 'SELECT count(*) FROM spinners')[0][0], '0');
  } finally {
    await stack.stop();
  }
});
