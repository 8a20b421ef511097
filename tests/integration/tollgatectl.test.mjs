// tollgatectl.test.mjs: deploy/tollgatectl, the admin commands against the
// systemd installation's live database, without a running systemd: -n
// prints the exact commands, and with a stand-in systemd-run (which runs
// the command as the transient unit would: the credential in
// $CREDENTIALS_DIRECTORY, the unit's Environment=) a first admin is made
// with signup closed, a plan set and a backup lands at PATH.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOP, BIN, SECRET, startStack, api } from '../lib/stack.mjs';
import { tempDir } from '../lib/webservers.mjs';

const CTL = join(TOP, 'deploy', 'tollgatectl');
let dir;
let state;
let config;
let fakeBin;

// A systemd-run that records its arguments and then runs the command the
// way the unit would.
const FAKE = `#!/bin/sh
printf '%s\\n' "$*" >>"$FAKE_LOG"
cred=$(mktemp -d)
while [ $# -gt 0 ]; do
	case $1 in
	-p)
		case $2 in
		LoadCredential=*) v=\${2#LoadCredential=}; cp "\${v#*:}" "$cred/\${v%%:*}" ;;
		Environment=*) export "\${2#Environment=}" ;;
		esac
		shift 2 ;;
	-*) shift ;;
	*) break ;;
	esac
done
export CREDENTIALS_DIRECTORY=$cred
bin=$1; shift
set -- "$bin" "$@"
i=0; n=$#
while [ $i -lt $n ]; do
	a=$1; shift
	case $a in '\${CREDENTIALS_DIRECTORY}'*) a=$cred\${a#'\${CREDENTIALS_DIRECTORY}'} ;; esac
	set -- "$@" "$a"; i=$((i + 1))
done
"$@"; rc=$?
rm -rf "$cred"
exit $rc
`;

before(() => {
  dir = tempDir('tollgate-ctl-');
  state = join(dir, 'state');
  mkdirSync(state);
  config = join(dir, 'tollgate.conf');
  writeFileSync(config, `TOLLGATE_JWT_SECRET=${SECRET}\nTOLLGATE_SIGNUP=closed\n`, { mode: 0o600 });
  fakeBin = join(dir, 'bin');
  mkdirSync(fakeBin);
  writeFileSync(join(fakeBin, 'systemd-run'), FAKE, { mode: 0o755 });
});
after(() => { rmSync(dir, { recursive: true, force: true }); });

function ctl(args, { input, fake = false } = {}) {
  const env = { ...process.env, TOLLGATE_BIN: BIN, TOLLGATE_CONFIG: config, TOLLGATE_STATE: state,
    FAKE_LOG: join(dir, 'systemd-run.log') };
  if (fake) env.PATH = `${fakeBin}:${process.env.PATH}`;
  delete env.TOLLGATE_DB;
  delete env.TOLLGATE_JWT_SECRET;
  return spawnSync('sh', [CTL, ...args], { input, encoding: 'utf8', env, timeout: 30000 });
}

test('-n prints the transient unit tollgate.service runs in, and the command with its arguments quoted', () => {
  const r = ctl(['-n', 'create-org', '--name', "Joe's Shop", '--email', 'joe@example.test']);
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.trim();
  assert.equal(line.split('\n').length, 1);
  for (const p of ['DynamicUser=yes', 'User=tollgate', 'StateDirectory=tollgate', `LoadCredential=tollgate.conf:${config}`,
    `Environment=TOLLGATE_DB=${state}/tollgate.db`]) {
    assert.ok(line.includes(`'-p' '${p}'`), `${p}: ${line}`);
  }
  assert.match(line, /^'systemd-run' '--quiet' '--pipe' '--wait' '--collect' /);
  assert.ok(line.endsWith(`'${BIN}' '--config' '\${CREDENTIALS_DIRECTORY}/tollgate.conf' 'create-org' '--name' 'Joe'\\''s Shop' '--email' 'joe@example.test'`), line);
  // What the unit file says, the wrapper says: the same user and state.
  const unit = readFileSync(join(TOP, 'deploy', 'systemd', 'tollgate.service'), 'utf8');
  assert.match(unit, /^DynamicUser=yes$/m);
  assert.match(unit, /^StateDirectory=tollgate$/m);
  assert.match(unit, /^LoadCredential=tollgate\.conf:\/etc\/tollgate\/tollgate\.conf$/m);
  assert.match(unit, /^Environment=TOLLGATE_DB=\/var\/lib\/tollgate\/tollgate\.db$/m);
  const defaults = spawnSync('sh', [CTL, '-n', 'rotate-jwt-secret'], { encoding: 'utf8',
    env: { PATH: process.env.PATH } });
  assert.match(defaults.stdout, /'LoadCredential=tollgate\.conf:\/etc\/tollgate\/tollgate\.conf'.*'Environment=TOLLGATE_DB=\/var\/lib\/tollgate\/tollgate\.db' '\/usr\/local\/bin\/tollgate'/);
});

test('bad arguments: the usage and exit 2, nothing run', () => {
  for (const args of [[], ['frobnicate'], ['backup'], ['backup', '-x'], ['backup', 'a', 'b'], ['-n']]) {
    const r = ctl(args, { fake: true });
    assert.equal(r.status, 2, `${args}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^usage: tollgatectl /m, String(args));
  }
  assert.ok(!existsSync(join(dir, 'systemd-run.log')), 'systemd-run was called');
  const help = ctl(['help']);
  assert.equal(help.status, 0);
  for (const c of ['create-org', 'set-plan', 'rotate-jwt-secret', 'backup']) assert.match(help.stdout, new RegExp(c));
});

test('with signup closed: the first admin from create-org, a plan, a key rotation and a backup at PATH', async () => {
  const made = ctl(['create-org', '--name', 'First', '--email', 'first@example.test'], { input: 'a first admin password\n', fake: true });
  assert.equal(made.status, 0, made.stderr);
  const org = made.stdout.match(/organization (org_\w+)/)[1];
  assert.equal(ctl(['set-plan', org, 'pro'], { fake: true }).status, 0);
  const rot = ctl(['rotate-jwt-secret'], { fake: true });
  assert.equal(rot.status, 0, rot.stderr);
  const out = join(dir, 'copy.db');
  const b = ctl(['backup', out], { fake: true });
  assert.equal(b.status, 0, b.stderr);
  assert.ok(statSync(out).size > 0);
  assert.equal((statSync(out).mode & 0o777).toString(8), '600');
  assert.deepEqual(spawnSync('ls', ['-A', state], { encoding: 'utf8' }).stdout.split('\n').filter((f) => /backup/.test(f)), []);
  // The live database has the admin, who signs in while signup stays closed.
  const stack = await startStack({ TOLLGATE_DB: join(state, 'tollgate.db'), TOLLGATE_SIGNUP: 'closed' });
  try {
    const s = await api(stack, 'POST', '/v1/signup', { json: { organization: 'X', email: 'x@example.test', password: 'correct horse battery' } });
    assert.notEqual(s.status, 201);
    const l = await api(stack, 'POST', '/v1/auth/login', { json: { email: 'first@example.test', password: 'a first admin password', device: 'ctl' } });
    assert.equal(l.status, 200, l.text);
    const me = await api(stack, 'GET', '/v1/auth/session', { token: l.body.token });
    assert.equal(me.body.organization.id, org);
    assert.equal(me.body.organization.plan, 'pro');
  } finally { await stack.stop(); }
});
