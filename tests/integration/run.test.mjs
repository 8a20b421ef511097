// run.test.mjs: `make run` (deploy/run.sh) and `tollgate serve --socket` as
// a person meets them: a port or a socket already taken is refused within
// seconds, naming it, and the first instance keeps serving its own
// database; the database is migrated once; Ctrl-C stops everything with
// exit 0 and no error text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, api, TOP, BIN, SECRET, freePort } from '../lib/stack.mjs';
import { startProcess, waitFor } from '../lib/webservers.mjs';

const RUN = join(TOP, 'deploy', 'run.sh');

// deploy/run.sh in its own process group; answers {code, signal, out, ms}
// once it ends, killing the group after ms.
function runSh(env, ms = 20000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn('sh', [RUN], {
      env: { ...process.env, TOLLGATE_BIN: BIN, TOLLGATE_JWT_SECRET: SECRET, ...env },
      detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, ms: Date.now() - t0 }); });
  });
}

async function signup(stack, tag) {
  const r = await api(stack, 'POST', '/v1/signup', {
    json: { organization: `Org ${tag}`, email: `${tag}-${Date.now()}@example.test`, password: 'correct horse battery' },
  });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

test('a second run on a taken port fails within seconds, naming the port; the first serves its own database', async () => {
  const first = await startStack();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-second-'));
  try {
    const made = await signup(first, 'first');
    const sock = join(first.dir, 'run', 'tollgate.sock');
    const inode = statSync(sock).ino;
    // The same run directory and port as the first (as two `make run` in
    // one checkout share var/run-PORT), but another database.
    const same = await runSh({ PORT: String(first.port), TOLLGATE_RUN: join(first.dir, 'run'), TOLLGATE_DB: join(dir, 'other.db') });
    assert.notEqual(same.code, 0, same.out);
    assert.ok(same.ms < 5000, `took ${same.ms} ms`);
    assert.match(same.out, new RegExp(`port ${first.port}\\b.*in use`));
    assert.doesNotMatch(same.out, /Tollgate on http/);
    // Its own run directory, the same port.
    const own = await runSh({ PORT: String(first.port), TOLLGATE_RUN: join(dir, 'run'), TOLLGATE_DB: join(dir, 'other.db') });
    assert.notEqual(own.code, 0, own.out);
    assert.match(own.out, new RegExp(`port ${first.port}\\b.*in use`));
    assert.ok(!existsSync(join(dir, 'other.db')), 'the second run touched a database');
    // The first's socket is the one it made, and it answers from its own data.
    assert.equal(statSync(sock).ino, inode);
    const r = await api(first, 'POST', '/v1/auth/login', {
      json: { email: made.user.email, password: 'correct horse battery', device: 'run.test', force: true },
    });
    assert.equal(r.status, 200, r.text);
  } finally {
    await first.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a port another program holds (on 0.0.0.0) ends run.sh with the port named, leaving nothing running', async () => {
  const port = await freePort();
  const holder = createServer();
  await new Promise((resolve) => holder.listen(port, '0.0.0.0', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bind-'));
  try {
    const r = await runSh({ PORT: String(port), TOLLGATE_RUN: join(dir, 'run'), TOLLGATE_DB: join(dir, 'db') });
    assert.notEqual(r.code, 0, r.out);
    assert.ok(r.ms < 8000, `took ${r.ms} ms`);
    assert.match(r.out, new RegExp(`port ${port}\\b`));
    assert.doesNotMatch(r.out, /Tollgate on http/);
    assert.equal(spawnSync('pgrep', ['-f', dir]).status, 1, 'a process of the failed run is left');
  } finally {
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nginx failing to bind (the port taken after the check) ends run.sh too, naming the port', async () => {
  const port = await freePort();
  const holder = createServer();
  await new Promise((resolve) => holder.listen(port, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-nginx-bind-'));
  try {
    // A perl whose port check passes: the port is taken only for nginx.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const perl = spawnSync('sh', ['-c', 'command -v perl'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(bin, 'perl'), `#!/bin/sh\ncase "$*" in *PF_INET,*) exit 0 ;; esac\nexec ${perl} "$@"\n`, { mode: 0o755 });
    const r = await runSh({ PATH: `${bin}:${process.env.PATH}`, PORT: String(port), TOLLGATE_RUN: join(dir, 'run'), TOLLGATE_DB: join(dir, 'db') });
    assert.notEqual(r.code, 0, r.out);
    assert.ok(r.ms < 10000, `took ${r.ms} ms`);
    assert.match(r.out, new RegExp(`port ${port}\\b.*in use`));
    assert.doesNotMatch(r.out, /Tollgate on http/);
    assert.deepEqual(spawnSync('pgrep', ['-af', dir], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l && !/pgrep/.test(l)), []);
  } finally {
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one migration on start, and Ctrl-C (SIGINT to the group) stops with exit 0 and no error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sigint-'));
  const port = await freePort();
  const p = startProcess('sh', [RUN], {
    env: { ...process.env, PORT: String(port), TOLLGATE_BIN: BIN, TOLLGATE_JWT_SECRET: SECRET,
      TOLLGATE_RUN: join(dir, 'run'), TOLLGATE_DB: join(dir, 'db') },
  });
  try {
    await waitFor(() => /Ctrl-C stops it/.test(p.log()), 'run.sh to start', 15000);
    const at = p.log().match(/at version \d+ \(\d+ applied\)/g) || [];
    assert.equal(at.length, 1, p.log());
    process.kill(-p.child.pid, 'SIGINT');
    const r = await Promise.race([p.exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 15000))]);
    assert.deepEqual(r, { code: 0, signal: null }, p.log());
    assert.doesNotMatch(p.log(), /Terminated|Interrupt|Error|error|died/);
    assert.equal(spawnSync('pgrep', ['-f', dir]).status, 1, 'a process of the stopped run is left');
  } finally {
    await p.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('make run: the recipe execs run.sh, so make sees its exit 0 and reports nothing', () => {
  const r = spawnSync('make', ['-n', 'run'], { cwd: TOP, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^PORT=\S+ exec sh deploy\/run\.sh$/m);
});

test('serve --socket refuses a path where a server answers, and replaces a stale socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sock-'));
  const sock = join(dir, 'tollgate.sock');
  const env = { ...process.env, TOLLGATE_JWT_SECRET: SECRET };
  const live = startProcess(BIN, ['serve', '--socket', sock], { env: { ...env, TOLLGATE_DB: join(dir, 'one.db') } });
  let next = null;
  try {
    await waitFor(() => /ready with/.test(live.log()), 'the first server');
    const inode = statSync(sock).ino;
    const second = spawnSync(BIN, ['serve', '--socket', sock], {
      env: { ...env, TOLLGATE_DB: join(dir, 'two.db') }, encoding: 'utf8', timeout: 10000,
    });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`a server is listening on ${sock.replace(/[.]/g, '\\.')} already`));
    assert.equal(statSync(sock).ino, inode, 'the live socket was replaced');
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('two.db')), 'the refused server opened its database');
    live.child.kill('SIGKILL');
    await live.exited;
    // What it left is stale: the next server takes the path over.
    assert.ok(statSync(sock).isSocket());
    next = startProcess(BIN, ['serve', '--socket', sock], { env: { ...env, TOLLGATE_DB: join(dir, 'two.db') } });
    await waitFor(() => /ready with/.test(next.log()), `the server on a stale socket: ${next.log()}`);
    const connected = await new Promise((resolve) => {
      const c = connect(sock, () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    assert.ok(connected, 'nobody answers on the replaced socket');
  } finally {
    await live.stop('SIGKILL');
    await next?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
