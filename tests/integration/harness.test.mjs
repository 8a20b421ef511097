// harness.test.mjs: the test harness itself (tests/lib, tests/run.sh) and
// the two commands. A test that fails while its servers run still ends, and
// leaves no process behind; `make check` installs the packages its tests
// need, `make run` only what running needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TOP } from '../lib/stack.mjs';

const lib = (f) => pathToFileURL(join(TOP, 'tests', 'lib', f)).href;

// Runs `node --test file` with its temp dirs under dir (TMPDIR) and env;
// answers the result once it ends (killed after 90 s).
function nodeTest(dir, file, env = {}, args = []) {
  // NODE_TEST_CONTEXT would make the child a part of this run.
  const { NODE_TEST_CONTEXT, ...outer } = process.env;
  return spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...args, file], {
    cwd: TOP, encoding: 'utf8', timeout: 90000, killSignal: 'SIGKILL',
    env: { ...outer, TMPDIR: dir, ...env },
  });
}

// The processes whose command line or environment names dir: every
// process the child test starts inherits TMPDIR=dir (or is given paths
// under it, as TOLLGATE_DB).
function leftIn(dir) {
  const left = [];
  for (const pid of readdirSync('/proc').filter((f) => /^\d+$/.test(f))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmd.includes(dir) || env.includes(dir)) left.push(`${pid} ${cmd}`);
    } catch { /* gone, or not ours to read */ }
  }
  return left;
}

function fails(dir, r) {
  assert.equal(r.error, undefined, `the child test did not end: ${r.error}\n${r.stdout}`);
  assert.equal(r.signal, null);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^not ok \d+ - /m, r.stdout);
  assert.match(r.stdout, /^# fail 1$/m, r.stdout);
  assert.deepEqual(leftIn(dir), []);
}

test('a test that fails while its stack and web server run ends, and nothing it started is left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-harness-'));
  chmodSync(dir, 0o711);
  try {
    const file = join(dir, 'child.test.mjs');
    writeFileSync(file, `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startStack } from ${JSON.stringify(lib('stack.mjs'))};
import { tempDir, startTollgate, webServer } from ${JSON.stringify(lib('webservers.mjs'))};
test('fails while its servers run', async () => {
  const stack = await startStack();
  const d = tempDir('tollgate-child-');
  const tg = await startTollgate(d);
  const ws = await webServer('nginx', { sock: tg.sock, www: join(${JSON.stringify(TOP)}, 'www'), maxBody: 65536 });
  try {
    assert.equal((await fetch(stack.base + '/v1/health')).status, 200);
    assert.equal(1, 2, 'a failing assertion');
  } finally {
    await ws.stop();
    await tg.stop();
    await stack.stop();
  }
});
`);
    const r = nodeTest(dir, file);
    fails(dir, r);
    assert.match(r.stdout, /a failing assertion/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the socket hand-over test, its assertion failing (no working cgi-fcgi), ends and kills both servers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-harness-'));
  try {
    // A cgi-fcgi that answers nothing, first in PATH: the assertion on its
    // answer throws while the second server of handover.pl runs.
    const bin = join(dir, 'bin');
    spawnSync('mkdir', [bin]);
    writeFileSync(join(bin, 'cgi-fcgi'), '#!/bin/sh\nexit 127\n', { mode: 0o755 });
    const r = nodeTest(dir, 'tests/integration/fcgi_socket.test.mjs', { PATH: `${bin}:${process.env.PATH}` },
      ['--test-name-pattern=handed over survives']);
    fails(dir, r);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tests/run.sh bounds every test, every file and the whole run, and reaps what is left', () => {
  const run = readFileSync(join(TOP, 'tests', 'run.sh'), 'utf8');
  assert.match(run, /timeout -k \d+ "\$\{TOLLGATE_SUITE_TIMEOUT:-\d+\}" \\\n\s+node --test /);
  assert.match(run, /--test-timeout="\$\{TOLLGATE_TEST_TIMEOUT:-\d+\}"/);
  assert.match(run, /--test-force-exit/);
  assert.match(run, /TMPDIR="\$out\/tmp"/);
  assert.match(run, /TMPDIR=\$out\/tmp/);
});

test('make check installs the test packages (deps.sh check), make run only the running ones, CI nothing else', () => {
  const dry = (target) => {
    const r = spawnSync('make', ['-n', target], { cwd: TOP, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => /deploy\/deps\.sh/.test(l));
  };
  assert.deepEqual(dry('check'), ['sh deploy/deps.sh check']);
  assert.deepEqual(dry('run'), ['sh deploy/deps.sh']);
  const ci = readFileSync(join(TOP, '.ci', 'run'), 'utf8').split('\n').filter((l) => /deps\.sh/.test(l) && !/^#/.test(l));
  for (const l of ci) assert.match(l.trim(), /^sh deploy\/deps\.sh( check)?$/, l);
  // What the tests run is in the check set: cgi-fcgi, pgrep, the web
  // servers, mandoc, chromium, the PostgreSQL server.
  const deps = readFileSync(join(TOP, 'deploy', 'deps.sh'), 'utf8');
  const check = deps.slice(deps.indexOf('wants check;'), deps.indexOf('wants bench;'));
  for (const p of ['libfcgi-bin', 'procps', 'apache2', 'lighttpd', 'mandoc', 'chromium', 'spawn-fcgi', 'postgresql-15']) {
    assert.match(check, new RegExp(`\\b${p}\\b`), p);
  }
});
