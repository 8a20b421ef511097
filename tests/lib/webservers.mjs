// webservers.mjs: runs the shipped deploy/ configs for real on loopback.
// A config is rendered by replacing the site values its header documents
// with test paths and ports; nginx, Apache or lighttpd then runs it in the
// foreground from a temp dir, in front of a real `tollgate serve` or of a
// FastCGI echo responder (to see exactly what the web server hands over).
// Everything started here is stopped by stop(), also after a failure.
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync,
  rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOP, BIN, SECRET, freePort } from './stack.mjs';

export const IS_ROOT = process.getuid() === 0;

// The one set of security headers every shipped config (deploy/nginx,
// deploy/apache, deploy/lighttpd) and `make run` (deploy/nginx/dev.conf.in)
// send on every answer: the web app's pages and files, the API's answers and
// the web server's own error answers.
export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
    "require-trusted-types-for 'script'; trusted-types 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

// Asserts headers (a Headers) carry exactly SECURITY_HEADERS, each once.
export function assertSecurityHeaders(headers, what) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(headers.get(name), value, `${what}: ${name}`);
  }
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The web server's user and group when it drops root (Debian's www-data).
const webId = (flag) => {
  try { return Number(execFileSync('id', [flag, 'www-data'], { encoding: 'utf8' }).trim()); } catch { return null; }
};
const WEB_UID = webId('-u');
const WEB_GID = webId('-g');

// A temp dir the web server's user can traverse (not list) to its socket.
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

// The shipped file (relative to the top) with each [from, to] replaced.
// A from that is missing fails loudly: the file's documented site values
// changed, and the test would otherwise run production paths.
export function render(file, pairs) {
  let text = readFileSync(join(TOP, file), 'utf8');
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`${file}: site value ${JSON.stringify(from)} not found`);
    text = text.split(from).join(to);
  }
  return text;
}

// Polls fn until it returns a truthy value; throws after ms with what.
export async function waitFor(fn, what, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

// A process in its own process group, its output kept; stop() ends the
// group (SIGKILL after 5 s) and waits.
export function startProcess(cmd, args, opts = {}) {
  const logs = [];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts, detached: true });
  child.stdout?.on('data', (d) => logs.push(d.toString()));
  child.stderr?.on('data', (d) => logs.push(d.toString()));
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (e) => { logs.push(String(e)); resolve({ code: -1, signal: null }); });
  });
  return {
    child,
    exited,
    log: () => logs.join(''),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      try { process.kill(-child.pid, signal); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

// Lets the web server's user reach a socket this process created.
export function shareSocket(sock) {
  if (IS_ROOT && WEB_GID !== null) chownSync(sock, 0, WEB_GID);
}

// `tollgate serve` on a UNIX socket, with its own database in dir.
export async function startTollgate(dir, { sock = join(dir, 'tollgate.sock'), env = {}, threads = 4 } = {}) {
  const db = env.TOLLGATE_DB || join(dir, 'tollgate.db');
  const proc = startProcess(BIN, ['serve', '--socket', sock, '--threads', String(threads)], {
    env: { ...process.env, TOLLGATE_DB: db, TOLLGATE_JWT_SECRET: SECRET, ...env },
  });
  try {
    await waitFor(() => /ready with/.test(proc.log()) && existsSync(sock), 'tollgate serve');
  } catch (e) {
    await proc.stop();
    throw new Error(`${e.message}:\n${proc.log()}`);
  }
  shareSocket(sock);
  return { ...proc, sock, db };
}

// ---- a FastCGI responder that answers each request with its params ----

function fcgiRecord(type, id, content) {
  const pad = (8 - (content.length % 8)) % 8;
  const h = Buffer.alloc(8);
  h[0] = 1;
  h[1] = type;
  h.writeUInt16BE(id, 2);
  h.writeUInt16BE(content.length, 4);
  h[6] = pad;
  return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

function fcgiParams(buf) {
  const params = {};
  let i = 0;
  const len = () => {
    if (buf[i] < 128) return buf[i++];
    const n = buf.readUInt32BE(i) & 0x7fffffff;
    i += 4;
    return n;
  };
  while (i < buf.length) {
    const nl = len();
    const vl = len();
    params[buf.subarray(i, i + nl).toString()] = buf.subarray(i + nl, i + nl + vl).toString();
    i += nl + vl;
  }
  return params;
}

// Listens on sock; each request is answered 200 with JSON {params, body,
// keepConn (the web server asked to keep the connection)} and recorded.
export async function startEcho(sock) {
  const requests = [];
  const server = createServer((conn) => {
    let buf = Buffer.alloc(0);
    let params = Buffer.alloc(0);
    let stdin = Buffer.alloc(0);
    let keepConn = null;
    conn.on('error', () => {});
    conn.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        const type = buf[1];
        const id = buf.readUInt16BE(2);
        const clen = buf.readUInt16BE(4);
        const total = 8 + clen + buf[6];
        if (buf.length < total) return;
        const content = buf.subarray(8, 8 + clen);
        buf = buf.subarray(total);
        if (type === 1) keepConn = (content[2] & 1) === 1; // FCGI_KEEP_CONN
        if (type === 4) params = Buffer.concat([params, content]);
        if (type === 5 && clen > 0) stdin = Buffer.concat([stdin, content]);
        if (type === 5 && clen === 0) {
          const req = { params: fcgiParams(params), body: stdin.toString(), keepConn };
          requests.push(req);
          const out = Buffer.from(`Status: 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: echo\r\n\r\n${JSON.stringify(req)}`);
          const end = Buffer.alloc(8);
          conn.end(Buffer.concat([fcgiRecord(6, id, out), fcgiRecord(6, id, Buffer.alloc(0)), fcgiRecord(3, id, end)]));
        }
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(sock, resolve);
  });
  shareSocket(sock);
  chmodSync(sock, 0o660);
  return { sock, requests, close: () => new Promise((r) => server.close(() => r())) };
}

// ---- a FastCGI request without a web server (cgi-fcgi, libfcgi-bin) ----

// Sends GET path to the FastCGI socket; answers {status, headers, body}.
export function fcgiGet(sock, path, headers = {}) {
  const env = { REQUEST_METHOD: 'GET', DOCUMENT_URI: path, SCRIPT_NAME: path, QUERY_STRING: '',
    REMOTE_ADDR: '127.0.0.1', SERVER_PROTOCOL: 'HTTP/1.1', PATH: process.env.PATH };
  for (const [k, v] of Object.entries(headers)) env[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  const r = spawnSync('cgi-fcgi', ['-bind', '-connect', sock], { env, encoding: 'utf8', timeout: 10000 });
  const text = r.stdout || '';
  const at = text.indexOf('\r\n\r\n');
  const head = at < 0 ? text : text.slice(0, at);
  const body = at < 0 ? '' : text.slice(at + 4);
  const hs = {};
  for (const line of head.split('\r\n')) {
    const c = line.indexOf(':');
    if (c > 0) hs[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
  }
  return { status: Number((hs.status || '200').split(' ')[0]), headers: hs, body, raw: text, stderr: r.stderr };
}

// ---- the web servers, each with the shipped config ----

const NGINX_MAIN = (dir, site) => `${IS_ROOT ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	client_body_temp_path ${dir}/tmp/body;
	fastcgi_temp_path ${dir}/tmp/fastcgi;
	proxy_temp_path ${dir}/tmp/proxy;
	uwsgi_temp_path ${dir}/tmp/uwsgi;
	scgi_temp_path ${dir}/tmp/scgi;
	include ${site};
}
`;

const APACHE_MODULES = ['mpm_event', 'authz_core', 'mime', 'dir', 'headers', 'rewrite', 'unique_id', 'setenvif'];

const APACHE_MAIN = (dir, port, modules, site) => `ServerRoot ${dir}
ServerName localhost
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
ErrorLog ${dir}/error.log
LogLevel warn
ServerTokens Prod
${IS_ROOT ? 'User www-data\nGroup www-data' : ''}
${modules.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join('\n')}
TypesConfig /etc/mime.types
Include ${site}
`;

// Site values shared by the shipped configs.
const SOCKET = '/run/tollgate/tollgate.sock';
const WWW = '/usr/local/share/tollgate/www';

// A web server from its shipped config: kind 'nginx', 'apache' (mod_proxy_fcgi),
// 'apache-fcgid' (Apache starts `tollgate serve` itself) or 'lighttpd'.
// opts: sock, www, maxBody (bytes), and for apache-fcgid env (TOLLGATE_*).
// Answers { name, base, port, dir, conf, check(), stop(), log() }; the web
// server is not started when opts.start is false (config checks only).
export async function webServer(kind, { sock, www, maxBody, env = {}, start = true }) {
  const dir = tempDir(`tollgate-${kind}-`);
  const port = await freePort();
  let conf;
  let cmd;
  let args;
  let check;
  try {
    if (kind === 'nginx') {
      mkdirSync(join(dir, 'tmp'));
      symlinkSync('/etc/nginx/fastcgi_params', join(dir, 'fastcgi_params'));
      const site = join(dir, 'tollgate.conf');
      writeFileSync(site, render('deploy/nginx/tollgate.conf', [
        ['listen 80;', `listen 127.0.0.1:${port};`],
        ['listen [::]:80;', ''],
        [SOCKET, sock],
        [WWW, www],
        ['client_max_body_size 8m;', `client_max_body_size ${maxBody};`],
      ]));
      conf = join(dir, 'nginx.conf');
      writeFileSync(conf, NGINX_MAIN(dir, site));
      cmd = 'nginx';
      args = ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')];
      check = ['nginx', ['-t', ...args]];
    } else if (kind === 'apache' || kind === 'apache-fcgid') {
      const site = join(dir, 'tollgate.conf');
      const pairs = [
        ['*:80', `127.0.0.1:${port}`],
        [WWW, www],
        ['8388608', String(maxBody)],
      ];
      let modules = APACHE_MODULES;
      if (kind === 'apache') {
        pairs.push([SOCKET, sock]);
        modules = [...modules, 'proxy', 'proxy_fcgi'];
        writeFileSync(site, render('deploy/apache/tollgate.conf', pairs));
      } else {
        // The workers mod_fcgid starts read their settings from a file.
        const settings = join(dir, 'tollgate.env');
        writeFileSync(settings, Object.entries({ TOLLGATE_JWT_SECRET: SECRET, ...env })
          .map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o640 });
        if (IS_ROOT && WEB_GID !== null) chownSync(settings, 0, WEB_GID);
        pairs.push(['/usr/local/bin/tollgate', BIN], ['/etc/tollgate/tollgate.conf', settings],
          ['/var/lib/tollgate/tollgate.db', env.TOLLGATE_DB]);
        modules = [...modules, 'fcgid'];
        writeFileSync(site, render('deploy/apache/tollgate-fcgid.conf', pairs));
      }
      conf = join(dir, 'httpd.conf');
      // What Debian's fcgid.conf leaves at compiled-in defaults under /var/lib.
      const extra = kind === 'apache-fcgid' ? `FcgidIPCDir ${dir}/fcgid\nFcgidProcessTableFile ${dir}/fcgid-shm\n` : '';
      writeFileSync(conf, APACHE_MAIN(dir, port, modules, site).replace(/^Include /m, `${extra}Include `));
      cmd = 'apache2';
      args = ['-DFOREGROUND', '-f', conf];
      check = ['apache2', ['-t', '-f', conf]];
    } else if (kind === 'lighttpd') {
      const lua = join(dir, 'errors.lua');
      copyFileSync(join(TOP, 'deploy/lighttpd/errors.lua'), lua);
      chmodSync(lua, 0o644);
      // lighttpd opens its error log after it drops to www-data.
      writeFileSync(join(dir, 'error.log'), '');
      if (IS_ROOT && WEB_GID !== null) chownSync(join(dir, 'error.log'), WEB_UID, WEB_GID);
      conf = join(dir, 'lighttpd.conf');
      writeFileSync(conf, render('deploy/lighttpd/tollgate.conf', [
        ['\nserver.port = 80\n', `\nserver.port = ${port}\nserver.bind = "127.0.0.1"\n`],
        [SOCKET, sock],
        [`${WWW}"`, `${www}"`],
        ['/usr/local/share/tollgate/deploy/lighttpd/errors.lua', lua],
        ['/run/lighttpd.pid', join(dir, 'lighttpd.pid')],
        ['/var/log/lighttpd/error.log', join(dir, 'error.log')],
        ['server.max-request-size = 8192', `server.max-request-size = ${Math.floor(maxBody / 1024)}`],
      ]));
      cmd = 'lighttpd';
      args = ['-D', '-f', conf];
      check = ['lighttpd', ['-tt', '-f', conf]];
    } else {
      throw new Error(`unknown web server ${kind}`);
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const ws = {
    name: kind,
    base: `http://127.0.0.1:${port}`,
    port,
    dir,
    conf,
    proc: null,
    check: () => spawnSync(check[0], check[1], { encoding: 'utf8' }),
    log: () => `${ws.proc ? ws.proc.log() : ''}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`,
    async stop() {
      if (ws.proc) await ws.proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (!start) return ws;
  ws.proc = startProcess(cmd, args);
  try {
    await waitFor(async () => (await fetch(`${ws.base}/`)).status === 200, `${kind} on ${ws.base}`);
  } catch (e) {
    const log = ws.log();
    await ws.stop();
    throw new Error(`${e.message}:\n${log}`);
  }
  return ws;
}
