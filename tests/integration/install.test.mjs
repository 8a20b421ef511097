// install.test.mjs: `make install PREFIX DESTDIR` puts the binary,
// migrations, web app, deploy/ configs, systemd units and tollgate(8) in
// place with the installed paths; the man page is clean and names every
// command, flag and TOLLGATE_* setting the binary has.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TOP } from '../lib/stack.mjs';
import { tempDir } from '../lib/webservers.mjs';

const PREFIX = '/opt/tollgate-test';
let dest;
before(() => { dest = tempDir('tollgate-install-'); });
after(() => { rmSync(dest, { recursive: true, force: true }); });

test('make install puts everything under DESTDIR/PREFIX, naming PREFIX', () => {
  const args = ['-s', '--no-print-directory', 'install', `PREFIX=${PREFIX}`, `DESTDIR=${dest}`];
  if ((process.env.BUILD || '').includes('sanitize')) args.push('SANITIZE=1');
  const r = spawnSync('make', args, { cwd: TOP, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const root = join(dest, PREFIX);
  const bin = join(root, 'bin/tollgate');
  assert.match(execFileSync(bin, ['version'], { encoding: 'utf8' }), /^tollgate \d+\.\d+\.\d+/);
  for (const f of ['share/tollgate/sql/001_foundation.sql', 'share/tollgate/www/index.html',
    'share/tollgate/deploy/nginx/tollgate.conf', 'share/tollgate/deploy/apache/tollgate.conf',
    'share/tollgate/deploy/apache/tollgate-fcgid.conf', 'share/tollgate/deploy/lighttpd/tollgate.conf',
    'share/tollgate/deploy/lighttpd/errors.lua', 'share/tollgate/deploy/spawn-fcgi/tollgate-spawn',
    'lib/systemd/system/tollgate.socket', 'lib/systemd/system/tollgate.service',
    'share/man/man8/tollgate.8', 'sbin/tollgatectl']) {
    assert.ok(existsSync(join(root, f)), f);
  }
  assert.ok(statSync(join(root, 'share/tollgate/deploy/spawn-fcgi/tollgate-spawn')).mode & 0o111);
  assert.ok(statSync(join(root, 'sbin/tollgatectl')).mode & 0o111);
  const ctl = spawnSync('sh', [join(root, 'sbin/tollgatectl'), '-n', 'version'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.match(ctl.stdout, new RegExp(`'${PREFIX}/bin/tollgate' '--config'`), ctl.stdout + ctl.stderr);
  const unit = readFileSync(join(root, 'lib/systemd/system/tollgate.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${PREFIX}/bin/tollgate `, 'm'));
  for (const f of ['nginx/tollgate.conf', 'apache/tollgate.conf', 'lighttpd/tollgate.conf']) {
    const text = readFileSync(join(root, 'share/tollgate/deploy', f), 'utf8');
    assert.ok(text.includes(`${PREFIX}/share/tollgate/www`), f);
    assert.ok(!text.includes('/usr/local'), f);
  }
});

test('tollgate(8) is lint-clean and covers every command, flag and setting', () => {
  const page = join(TOP, 'man/tollgate.8');
  const lint = spawnSync('mandoc', ['-Tlint', '-Wwarning', page], { encoding: 'utf8' });
  assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  assert.equal(`${lint.stdout}${lint.stderr}`, '');
  const text = execFileSync('mandoc', ['-Tascii', page], { encoding: 'utf8' }).replace(/.\x08/g, '');
  const settings = [...readFileSync(join(TOP, 'src/config.c'), 'utf8').matchAll(/"(TOLLGATE_[A-Z_]+)"/g)].map((m) => m[1]);
  assert.ok(settings.length >= 10);
  for (const s of [...settings, 'TOLLGATE_CONFIG']) assert.ok(text.includes(s), s);
  const usage = spawnSync(join(TOP, process.env.BUILD || 'build', 'tollgate'), ['help'], { encoding: 'utf8' }).stdout;
  const commands = [...usage.matchAll(/^ {2}([a-z]+)/gm)].map((m) => m[1]);
  assert.ok(commands.includes('serve') && commands.includes('backup'), usage);
  for (const c of [...commands, 'help']) assert.match(text, new RegExp(`^ {5}tollgate .*\\b${c}\\b`, 'm'), c);
  for (const flag of new Set([...usage.matchAll(/(--[a-z-]+)/g)].map((m) => m[1]))) assert.ok(text.includes(flag), flag);
});
