// fcgi_socket.test.mjs: the FastCGI socket and the process behind it.
// libfcgi 2.4.2 aborts on crafted PARAMS lengths, so only the web server may
// reach the socket: it is created 0660, and another local user cannot
// connect. A server that dies anyway (kill -9, an abort) is started again by
// the supervisor of deploy/run.sh, and systemd's unit says Restart= too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, api, TOP, BIN, SECRET } from '../lib/stack.mjs';
import { servePids, killServe } from '../lib/faults.mjs';

// Connects to a UNIX socket as user `nobody`; answers the error code or 'ok'.
function connectAs(user, path) {
  const js = `const s = require('net').connect(${JSON.stringify(path)});
    s.on('connect', () => { console.log('ok'); s.destroy(); });
    s.on('error', (e) => console.log(e.code));`;
  const r = spawnSync('runuser', ['-u', user, '--', process.execPath, '-e', js], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('the socket is 0660, owned by the server\'s user: another local user gets EACCES', { skip: process.getuid() !== 0 && 'needs root to act as another user' }, async () => {
  const stack = await startStack();
  try {
    const sock = join(stack.dir, 'run', 'tollgate.sock');
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal((st.mode & 0o777).toString(8), '660');
    assert.equal(st.uid, process.getuid());
    // Only the socket's own mode may keep them out: open the directories.
    chmodSync(stack.dir, 0o755);
    chmodSync(join(stack.dir, 'run'), 0o755);
    assert.equal(connectAs('nobody', sock), 'EACCES');
    // The server's own user (the web server's) connects.
    assert.equal(connectAs('root', sock), 'ok');
    // And it was never wider, not even for a moment: the server creates it
    // under a umask, not chmod after bind (src/fcgi.c fcgi_listen).
    assert.match(readFileSync(join(TOP, 'src', 'fcgi.c'), 'utf8'), /umask\(\(mode_t\)\(~mode & 0777\)\)/);
    console.log(`# socket ${(st.mode & 0o777).toString(8)}: user nobody refused with EACCES`);
  } finally { await stack.stop(); }
});

test('a server killed with SIGKILL or SIGABRT is restarted by the supervisor and serves again', async () => {
  const stack = await startStack();
  try {
    let pid = servePids(stack)[0];
    assert.ok(pid > 0);
    const t0 = Date.now();
    const next = await killServe(stack, pid);
    assert.notEqual(next, pid);
    const first = Date.now() - t0;
    // An abort (what libfcgi does on a crafted record) is a death by signal too.
    process.kill(next, 'SIGABRT');
    for (let i = 0; i < 400 && (servePids(stack).filter((p) => p !== next).length !== 1); i++) await new Promise((r) => setTimeout(r, 25));
    pid = servePids(stack).find((p) => p !== next);
    assert.ok(pid, 'restarted after SIGABRT');
    let ok = false;
    for (let i = 0; i < 200 && !ok; i++) {
      ok = await fetch(`${stack.base}/v1/health`).then((r) => r.status === 200).catch(() => false);
      if (!ok) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(ok, 'healthy after SIGABRT');
    // The same database, the same data: a signup works and is readable.
    const s = await api(stack, 'POST', '/v1/signup', { json: { organization: 'After', email: `after-${Date.now()}@example.test`, password: 'correct horse battery' } });
    assert.equal(s.status, 201, s.text);
    assert.match(stack.log(), /tollgate serve died \(status 137\); starting it again/);
    assert.match(stack.log(), /tollgate serve died \(status 134\); starting it again/);
    console.log(`# supervisor: kill -9 to healthy in ${first} ms; SIGABRT restarted too`);
  } finally { await stack.stop(); }
});

test('a server that exits by itself (SIGTERM) is not restarted; nginx answers 503 with the contract\'s body', async () => {
  const stack = await startStack();
  try {
    process.kill(servePids(stack)[0], 'SIGTERM');
    // Gone once it has stopped (a sanitizer build takes longer), and a
    // second later still gone, with no restart logged.
    for (let i = 0; i < 400 && servePids(stack).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(servePids(stack), []);
    assert.doesNotMatch(stack.log(), /starting it again/);
    const r = await api(stack, 'GET', '/v1/health');
    assert.equal(r.status, 503);
    assert.equal(r.body.errorCode, 'UNAVAILABLE');
  } finally { await stack.stop(); }
});

test('systemd: the unit restarts a server that fails', () => {
  const unit = readFileSync(join(TOP, 'deploy', 'systemd', 'tollgate.service'), 'utf8');
  assert.match(unit, /^Restart=(on-failure|always|on-abnormal|on-abort)$/m);
  const sock = readFileSync(join(TOP, 'deploy', 'systemd', 'tollgate.socket'), 'utf8');
  assert.match(sock, /^SocketMode=0660$/m);
});

test('a socket handed over survives a SIGTERM: the next server on it serves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-handover-'));
  const sock = join(dir, 'sock');
  const holder = spawn('perl', [join(TOP, 'tests/lib/handover.pl'), BIN, sock], {
    env: { ...process.env, TOLLGATE_DB: join(dir, 'db'), TOLLGATE_JWT_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: the finally below ends both servers with it,
    // whatever assertion failed.
    detached: true,
  });
  const gone = new Promise((resolve) => holder.on('close', resolve));
  let out = '';
  holder.stdout.on('data', (d) => { out += d; });
  holder.stderr.on('data', (d) => { out += d; });
  try {
    for (let i = 0; i < 100 && !/ready \d+/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /first exited 0/);
    assert.match(out, /serve: stopped/);
    const second = Number(out.match(/ready (\d+)/)[1]);
    let res;
    for (let i = 0; i < 10; i++) {
      res = spawnSync('cgi-fcgi', ['-bind', '-connect', sock], {
        env: { ...process.env, REQUEST_METHOD: 'GET', DOCUMENT_URI: '/v1/health' }, encoding: 'utf8', timeout: 2000,
      });
      if (/^Status: 200/m.test(res.stdout)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(res.stdout, /^Status: 200/m, `${res.stdout}${res.stderr}\n${out}`);
    process.kill(second, 'SIGTERM');
  } finally {
    try { process.kill(-holder.pid, 'SIGKILL'); } catch { /* gone */ }
    await gone;
    rmSync(dir, { recursive: true, force: true });
  }
});
