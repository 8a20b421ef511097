// webservers.test.mjs: the ways people run Tollgate (deploy/), for real on
// loopback. Each shipped web server config (nginx, Apache with
// mod_proxy_fcgi, lighttpd), rendered with test paths and ports, passes its
// own config check, hands the FastCGI params Tollgate reads to a recording
// responder, answers the contract's 503 while nothing listens, and then runs
// one smoke suite in front of the real `tollgate serve`. Then: Apache
// starting the workers itself (mod_fcgid), spawn-fcgi, a socket on fd 0, a
// socket from systemd (LISTEN_FDS), and the systemd units' checks.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TOP, BIN, SECRET, isErrorBody } from '../lib/stack.mjs';
import { IS_ROOT, tempDir, render, waitFor, startProcess, startTollgate, startEcho, fcgiGet,
  webServer, shareSocket, assertSecurityHeaders } from '../lib/webservers.mjs';
import { startStack } from '../lib/stack.mjs';

const MAX_BODY = 64 * 1024; // TOLLGATE_MAX_BODY=64k and the web servers' cap
const RATE_IP = 60; // TOLLGATE_RATE_IP: small enough to reach a 429 quickly

async function call(ws, method, path, { headers = {}, json, body } = {}) {
  const h = { ...headers };
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const r = await fetch(ws.base + path, { method, headers: h, body });
  const text = await r.text();
  let parsed = null;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, body: parsed, text };
}

// Sends the headers and only the first byte of a body: the answer must come
// from Content-Length alone.
function postHeadOnly(port, path, length) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path,
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(length) } });
    const timer = setTimeout(() => { req.destroy(); reject(new Error('no answer without the body')); }, 5000);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        let body = null;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), body, text });
      });
    });
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.write('{');
  });
}

// The web app copied beside the test, with one non-HTML file to see the
// cache headers of static assets.
function wwwCopy(dir) {
  const www = join(dir, 'www');
  cpSync(join(TOP, 'www'), www, { recursive: true });
  writeFileSync(join(www, 'probe.css'), 'body { color: black; }\n');
  chmodSync(www, 0o755);
  return www;
}

// Signs up an organization and logs in (docs/api-guide.md, "Accounts"); answers the token.
async function signIn(ws, tag) {
  const email = `admin-${tag}@example.com`;
  const password = 'correct horse battery staple';
  const s = await call(ws, 'POST', '/v1/signup', { json: { organization: `Org ${tag}`, email, password } });
  assert.equal(s.status, 201, s.text);
  const l = await call(ws, 'POST', '/v1/auth/login', { json: { email, password, device: 'webservers.test' } });
  assert.equal(l.status, 200, l.text);
  assert.equal(l.body.tokenType, 'Bearer');
  return l.body.token;
}

const SERVERS = [
  { kind: 'nginx', file: 'deploy/nginx/tollgate.conf' },
  { kind: 'apache', file: 'deploy/apache/tollgate.conf' },
  { kind: 'lighttpd', file: 'deploy/lighttpd/tollgate.conf' },
];

for (const { kind, file } of SERVERS) {
  describe(`${kind} with ${file}`, () => {
    let dir;
    let sock;
    let www;
    let ws;
    before(() => {
      dir = tempDir(`tollgate-${kind}-run-`);
      sock = join(dir, 'tollgate.sock');
      www = wwwCopy(dir);
    });
    after(async () => {
      await ws?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('the config check passes', async () => {
      const cws = await webServer(kind, { sock, www, maxBody: MAX_BODY, start: false });
      try {
        const r = cws.check();
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      } finally { await cws.stop(); }
    });

    describe('in front of a FastCGI responder that records what arrives', () => {
      let echo;
      before(async () => {
        echo = await startEcho(sock);
        ws = await webServer(kind, { sock, www, maxBody: MAX_BODY });
      });
      after(async () => { await echo?.close(); });

      test('hands over the params Tollgate reads, Authorization included', async () => {
        const r = await call(ws, 'POST', '/v1/tables/a%20b/records?limit=5&cursor=x', {
          headers: { Authorization: 'Bearer abc.def', 'X-Request-Id': 'probe-1', 'X-API-Key': 'tg_x',
            'Idempotency-Key': 'k1', Proxy: 'http://evil.example', Accept: 'text/csv' },
          json: { records: [] },
        });
        assert.equal(r.status, 200, r.text);
        const p = r.body.params;
        // http.c routes on DOCUMENT_URI, else SCRIPT_NAME: the whole decoded path.
        assert.equal(p.DOCUMENT_URI || p.SCRIPT_NAME, '/v1/tables/a b/records', JSON.stringify(p));
        assert.equal(p.REQUEST_METHOD, 'POST');
        assert.equal(p.QUERY_STRING, 'limit=5&cursor=x');
        assert.equal(p.CONTENT_TYPE, 'application/json');
        assert.equal(p.CONTENT_LENGTH, '14');
        assert.equal(r.body.body, '{"records":[]}');
        assert.equal(p.HTTP_AUTHORIZATION, 'Bearer abc.def');
        assert.equal(p.HTTP_X_API_KEY, 'tg_x');
        assert.equal(p.HTTP_IDEMPOTENCY_KEY, 'k1');
        assert.equal(p.HTTP_X_REQUEST_ID, 'probe-1');
        assert.equal(p.HTTP_ACCEPT, 'text/csv'); // export.c: records as CSV
        assert.equal(p.REMOTE_ADDR, '127.0.0.1');
        assert.ok(!p.HTTP_PROXY, `HTTP_PROXY reached the application: ${p.HTTP_PROXY}`);
      });

      test('opens a connection a request (no FCGI_KEEP_CONN: see docs/deploying.md)', async () => {
        for (let i = 0; i < 3; i++) {
          const r = await call(ws, 'GET', '/v1/health');
          assert.equal(r.body.keepConn, false);
        }
      });
    });

    test('with nothing on the socket: 503 UNAVAILABLE in the contract body', async () => {
      const r = await call(ws, 'GET', '/v1/health');
      assert.ok(isErrorBody(r, 503, 'UNAVAILABLE'), `${r.status} ${r.headers.get('content-type')} ${r.text}`);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      assert.equal(r.headers.get('retry-after'), '5');
      assertSecurityHeaders(r.headers, `${kind} 503`);
      // A body over the cap is still refused 413 with the contract's body.
      const big = await postHeadOnly(ws.port, '/v1/health', MAX_BODY * 4);
      assert.equal(big.status, 413, big.text);
      assert.equal(big.body?.errorCode, 'PAYLOAD_TOO_LARGE', big.text);
      assert.equal(big.headers.get('x-request-id'), big.body.requestId);
      assertSecurityHeaders(big.headers, `${kind} 413 with nothing on the socket`);
    });

    describe('in front of tollgate serve: the smoke suite', () => {
      let tg;
      before(async () => {
        tg = await startTollgate(dir, { sock, env: { TOLLGATE_MAX_BODY: String(MAX_BODY), TOLLGATE_RATE_IP: String(RATE_IP) } });
        // The web server may hold the socket it found dead for a moment.
        await waitFor(async () => (await fetch(`${ws.base}/v1/health`)).status !== 503, `${kind} to reach tollgate`, 3000);
      });
      after(async () => {
        const r = await tg?.stop();
        assert.equal(r?.code, 0, `tollgate serve did not stop cleanly:\n${tg?.log()}`);
      });

      test('health', async () => {
        const r = await call(ws, 'GET', '/v1/health');
        assert.equal(r.status, 200, `${r.text}\n${ws.log()}`);
        assert.deepEqual([r.body.status, r.body.database], ['ok', 'ok']);
        assert.match(r.headers.get('content-type'), /^application\/json; charset=utf-8/);
        assert.match(r.headers.get('x-request-id'), /^[0-9A-Z]{26}$/);
        assertSecurityHeaders(r.headers, `${kind} GET /v1/health`);
        const echoed = await call(ws, 'GET', '/v1/health', { headers: { 'X-Request-Id': 'smoke-1' } });
        assert.equal(echoed.headers.get('x-request-id'), 'smoke-1');
      });

      test('Tollgate\'s own errors pass through untouched: 404 and 405', async () => {
        for (const p of ['/v1/nope', '/v1/tables/a%20b']) {
          const r = await call(ws, 'GET', p);
          assert.ok(isErrorBody(r, 404, 'NOT_FOUND'), `${p}: ${r.status} ${r.text}`);
          assertSecurityHeaders(r.headers, `${kind} 404 ${p}`);
        }
        const m = await call(ws, 'POST', '/v1/health', { json: { small: true } });
        assert.ok(isErrorBody(m, 405, 'METHOD_NOT_ALLOWED'), m.text);
        assert.equal(m.headers.get('allow'), 'GET');
      });

      test('413 from the web server, from Content-Length alone, in the contract body', async () => {
        // Tollgate would answer this POST 405 (health is GET only): a 413
        // proves the web server refused it before passing it on.
        const r = await postHeadOnly(ws.port, '/v1/health', MAX_BODY * 4);
        assert.equal(r.status, 413, r.text);
        assert.equal(r.body?.errorCode, 'PAYLOAD_TOO_LARGE', r.text);
        assert.equal(typeof r.body.error, 'string');
        assert.ok(r.body.requestId.length > 0);
        assert.equal(r.headers.get('x-request-id'), r.body.requestId);
        assert.match(r.headers.get('content-type'), /^application\/json/);
        assertSecurityHeaders(r.headers, `${kind} 413`);
        // The request id has the server's format (a ULID); Apache's own
        // answers carry mod_unique_id's.
        if (kind !== 'apache') assert.match(r.body.requestId, /^[0-9A-Z]{26}$/, r.text);
      });

      test('an Authorization header does not upset a public endpoint', async () => {
        // That the header arrives is proven above with the recording
        // responder, and below by TOKEN_INVALID once sessions exist.
        const r = await call(ws, 'GET', '/v1/health', { headers: { Authorization: 'Bearer garbage' } });
        assert.equal(r.status, 200, r.text);
      });

      test('the web app: static files with the security and cache headers', async () => {
        for (const path of ['/', '/index.html', '/probe.css']) {
          const r = await fetch(ws.base + path);
          const text = await r.text();
          assert.equal(r.status, 200, path);
          assertSecurityHeaders(r.headers, `${kind} ${path}`);
          if (path === '/probe.css') {
            assert.match(r.headers.get('content-type'), /^text\/css/);
            assert.match(r.headers.get('cache-control') || '', /max-age=3600/, path);
          } else {
            assert.match(text, /<html/);
            assert.match(r.headers.get('content-type'), /^text\/html/);
            assert.match(r.headers.get('cache-control') || '', /no-cache/, path);
          }
        }
        const api = await call(ws, 'GET', '/v1/health');
        assert.equal(api.headers.get('cache-control'), 'no-store');
      });

      test('login, then the token in Authorization reaches the session check', async () => {
        const token = await signIn(ws, `${kind}-login`);
        const ok = await call(ws, 'GET', '/v1/auth/session', { headers: { Authorization: `Bearer ${token}` } });
        assert.equal(ok.status, 200, ok.text);
        // TOKEN_INVALID, not TOKEN_MISSING: the header arrived.
        const bad = await call(ws, 'GET', '/v1/auth/session', { headers: { Authorization: 'Bearer garbage' } });
        assert.ok(isErrorBody(bad, 401, 'TOKEN_INVALID'), bad.text);
        const none = await call(ws, 'GET', '/v1/auth/session');
        assert.ok(isErrorBody(none, 401, 'TOKEN_MISSING'), none.text);
      });

      test('ingest of a 500-record batch', async () => {
        const token = await signIn(ws, `${kind}-ingest`);
        const auth = { Authorization: `Bearer ${token}` };
        const project = await call(ws, 'POST', '/v1/projects', { headers: auth, json: { name: 'smoke' } });
        assert.equal(project.status, 201, project.text);
        const table = await call(ws, 'POST', `/v1/projects/${project.body.id}/tables`, { headers: auth, json: { name: 'events' } });
        assert.equal(table.status, 201, table.text);
        const imp = await call(ws, 'POST', `/v1/tables/${table.body.id}/import`, {
          headers: { ...auth, 'Content-Type': 'text/csv' }, body: 'n,label\n0,zero\n' });
        assert.equal(imp.status, 200, imp.text);
        const records = Array.from({ length: 500 }, (_, i) => ({ n: i + 1, label: `record ${i + 1}` }));
        const r = await call(ws, 'POST', `/v1/tables/${table.body.id}/records`, { headers: auth, json: { records } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.accepted, 500);
        assert.equal(r.body.usage.meter, 'records');
        // Content-Encoding reaches Tollgate (HTTP_CONTENT_ENCODING) with the
        // body as sent: the web server inflates nothing itself.
        const nd = records.slice(0, 3).map((x) => JSON.stringify({ ...x, n: x.n + 1000 })).join('\n');
        const gz = await call(ws, 'POST', `/v1/tables/${table.body.id}/records`, {
          headers: { ...auth, 'Content-Type': 'application/x-ndjson', 'Content-Encoding': 'gzip' }, body: gzipSync(nd) });
        assert.equal(gz.status, 200, gz.text);
        assert.equal(gz.body.accepted, 3);
        const br = await call(ws, 'POST', `/v1/tables/${table.body.id}/records`, {
          headers: { ...auth, 'Content-Type': 'application/x-ndjson', 'Content-Encoding': 'br' }, body: nd });
        assert.ok(isErrorBody(br, 415, 'UNSUPPORTED_MEDIA_TYPE'), br.text);
        // Accept: text/csv reaches it too, and the streamed CSV comes back whole.
        const csv = await call(ws, 'GET', `/v1/tables/${table.body.id}/records?limit=500`, { headers: { ...auth, Accept: 'text/csv' } });
        assert.equal(csv.status, 200, csv.text);
        assert.match(csv.headers.get('content-type'), /^text\/csv/);
        const lines = csv.text.split('\r\n');
        assert.equal(lines.length, 502, csv.text.slice(-200));
        assert.equal(lines[0], 'n,label');
        assert.equal(lines[500], '499,record 499');
        assert.ok(csv.headers.get('x-next-cursor'), 'three more records on the next page');
      });

      test('an import past the plan is answered 403 PLAN_LIMIT while the rest of its body is on the way', async () => {
        const token = await signIn(ws, `${kind}-import`);
        const auth = { Authorization: `Bearer ${token}` };
        const project = await call(ws, 'POST', '/v1/projects', { headers: auth, json: { name: 'big' } });
        const table = await call(ws, 'POST', `/v1/projects/${project.body.id}/tables`, { headers: auth, json: { name: 'rows' } });
        assert.equal(table.status, 201, table.text);
        // 20,000 rows, twice what a Trial plan holds a month, under the 64 KiB cap:
        // refused half way through the body.
        const csv = `n\n${'1\n'.repeat(20000)}`;
        assert.ok(csv.length < MAX_BODY);
        for (let i = 0; i < 2; i++) {
          const r = await call(ws, 'POST', `/v1/tables/${table.body.id}/import`, { headers: { ...auth, 'Content-Type': 'text/csv' }, body: csv });
          assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), `${r.status} ${r.text}`);
          assert.equal(r.body.details.limit, 10000);
        }
        const got = await call(ws, 'GET', `/v1/tables/${table.body.id}`, { headers: auth });
        assert.equal(got.body.schema, null);
      });

      test('429 with Retry-After and the rate-limit headers', async () => {
        const probe = await call(ws, 'GET', '/v1/health');
        assert.equal(probe.headers.get('x-ratelimit-limit'), String(RATE_IP));
        let r;
        for (let i = 0; i <= RATE_IP; i++) {
          r = await call(ws, 'GET', '/v1/health');
          if (r.status === 429) break;
        }
        assert.ok(isErrorBody(r, 429, 'RATE_LIMITED'), `${r.status} ${r.text}`);
        assert.match(r.headers.get('retry-after') || '', /^\d+$/);
        assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
        assert.match(r.headers.get('x-ratelimit-reset') || '', /^\d+$/);
      });
    });
  });
}

describe('Apache starting the workers itself (deploy/apache/tollgate-fcgid.conf)', () => {
  let dir;
  let ws;
  before(async () => {
    dir = tempDir('tollgate-fcgid-run-');
    // mod_fcgid runs `tollgate serve` as Apache's user: the database
    // directory is that user's.
    const data = join(dir, 'data');
    mkdirSync(data);
    if (IS_ROOT) spawnSync('chown', ['www-data:www-data', data]);
    ws = await webServer('apache-fcgid', { www: wwwCopy(dir), maxBody: MAX_BODY,
      env: { TOLLGATE_DB: join(data, 'tollgate.db'), TOLLGATE_MAX_BODY: String(MAX_BODY) } });
  });
  after(async () => {
    await ws?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the config check passes', () => {
    const r = ws.check();
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  test('health, 404 and 413 through workers Apache started', async () => {
    const r = await waitFor(async () => {
      const h = await call(ws, 'GET', '/v1/health');
      return h.status === 200 && h;
    }, 'health through mod_fcgid').catch((e) => { throw new Error(`${e.message}\n${ws.log()}`); });
    assert.equal(r.body.database, 'ok');
    assert.match(r.headers.get('x-request-id'), /^[0-9A-Z]{26}$/);
    const nf = await call(ws, 'GET', '/v1/nope');
    assert.ok(isErrorBody(nf, 404, 'NOT_FOUND'), nf.text);
    const big = await postHeadOnly(ws.port, '/v1/health', MAX_BODY * 4);
    assert.equal(big.status, 413, big.text);
    assert.equal(big.body?.errorCode, 'PAYLOAD_TOO_LARGE');
    const page = await fetch(`${ws.base}/`);
    assertSecurityHeaders(page.headers, 'apache-fcgid /');
    for (const res of [r, nf, big]) assertSecurityHeaders(res.headers, `apache-fcgid ${res.status}`);
  });
});

test('make run\'s config (deploy/nginx/dev.conf.in) sends the same security headers', async () => {
  const stack = await startStack({ TOLLGATE_MAX_BODY: String(MAX_BODY) });
  try {
    for (const path of ['/', '/v1/health', '/v1/nope']) {
      const r = await fetch(stack.base + path);
      await r.arrayBuffer();
      assertSecurityHeaders(r.headers, `dev ${path}`);
    }
    const big = await postHeadOnly(stack.port, '/v1/health', MAX_BODY * 4);
    assert.equal(big.status, 413, big.text);
    assertSecurityHeaders(big.headers, 'dev 413');
    assert.match(big.body.requestId, /^[0-9A-Z]{26}$/, big.text);
    assert.equal(big.headers.get('x-request-id'), big.body.requestId);
    // The request's log line is written after its answer: wait for it.
    const line = new RegExp(`${big.body.requestId} POST /v1/health 413`);
    for (let i = 0; i < 50 && !line.test(stack.log()); i++) await new Promise((res) => setTimeout(res, 100));
    assert.match(stack.log(), line);
  } finally { await stack.stop(); }
});

describe('without a web server config: sockets handed over', () => {
  let dir;
  before(() => { dir = tempDir('tollgate-sockets-'); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const env = () => ({ ...process.env, TOLLGATE_DB: join(dir, 'tollgate.db'), TOLLGATE_JWT_SECRET: SECRET });

  test('deploy/spawn-fcgi/tollgate-spawn starts, serves on fd 0, and stops', async () => {
    const sock = join(dir, 'spawn.sock');
    const pidfile = join(dir, 'spawn.pid');
    const config = join(dir, 'tollgate.conf');
    writeFileSync(config, `TOLLGATE_JWT_SECRET=${SECRET}\nTOLLGATE_DB=${join(dir, 'tollgate.db')}\n`, { mode: 0o600 });
    const senv = { ...process.env, TOLLGATE_BIN: BIN, TOLLGATE_CONFIG: config, TOLLGATE_SOCKET: sock,
      TOLLGATE_PIDFILE: pidfile, TOLLGATE_USER: '', TOLLGATE_WEB_GROUP: '' };
    const script = join(TOP, 'deploy/spawn-fcgi/tollgate-spawn');
    let pid = null;
    try {
      const start = spawnSync('sh', [script, 'start'], { env: senv, encoding: 'utf8', timeout: 10000 });
      assert.equal(start.status, 0, start.stderr);
      pid = Number(readFileSync(pidfile, 'utf8'));
      const r = await waitFor(() => { const g = fcgiGet(sock, '/v1/health'); return g.status === 200 && g; }, 'spawn-fcgi');
      assert.equal(JSON.parse(r.body).database, 'ok');
      // Without --socket and without LISTEN_FDS: the socket is fd 0.
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      assert.doesNotMatch(environ, /LISTEN_FDS/);
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '), /serve $/);
      const status = spawnSync('sh', [script, 'status'], { env: senv, encoding: 'utf8' });
      assert.equal(status.status, 0, status.stdout);
      const stop = spawnSync('sh', [script, 'stop'], { env: senv, encoding: 'utf8', timeout: 40000 });
      assert.equal(stop.status, 0, stop.stderr);
      assert.ok(!existsSync(sock) && !existsSync(pidfile));
      pid = null;
    } finally {
      if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });

  test('a listening socket handed over on fd 0 (inetd style)', async () => {
    const sock = join(dir, 'inetd.sock');
    // systemd-socket-activate --inetd: the listening socket on fd 0, no LISTEN_FDS.
    const p = startProcess('systemd-socket-activate', ['--inetd', '-l', sock, '-E', 'TOLLGATE_DB',
      '-E', 'TOLLGATE_JWT_SECRET', BIN, 'serve'], { env: env() });
    try {
      await waitFor(() => existsSync(sock), 'the socket');
      const r = await waitFor(() => { const g = fcgiGet(sock, '/v1/health'); return g.status === 200 && g; }, 'fd 0');
      assert.equal(JSON.parse(r.body).status, 'ok');
      assert.doesNotMatch(readFileSync(`/proc/${p.child.pid}/environ`, 'utf8'), /LISTEN_FDS/);
      const nf = fcgiGet(sock, '/v1/nope');
      assert.equal(nf.status, 404);
    } finally {
      const r = await p.stop();
      assert.equal(r.code, 0, p.log());
    }
  });

  test('a socket from systemd (LISTEN_FDS, as tollgate.socket hands it)', async () => {
    const sock = join(dir, 'activate.sock');
    const p = startProcess('systemd-socket-activate', ['-l', sock, '-E', 'TOLLGATE_DB',
      '-E', 'TOLLGATE_JWT_SECRET', BIN, 'serve'], { env: env() });
    try {
      await waitFor(() => existsSync(sock), 'the socket');
      const r = await waitFor(() => { const g = fcgiGet(sock, '/v1/health'); return g.status === 200 && g; }, 'LISTEN_FDS');
      assert.equal(JSON.parse(r.body).status, 'ok');
      assert.match(readFileSync(`/proc/${p.child.pid}/environ`, 'utf8'), /LISTEN_FDS=1/);
    } finally {
      const r = await p.stop();
      assert.equal(r.code, 0, p.log());
    }
  });
});

describe('deploy/systemd units', () => {
  let dir;
  before(() => {
    dir = tempDir('tollgate-units-');
    // The unit as installed, pointing at this build, and the man page its
    // Documentation= names, where man(1) finds it.
    writeFileSync(join(dir, 'tollgate.service'),
      render('deploy/systemd/tollgate.service', [['/usr/local/bin/tollgate', BIN]]));
    cpSync(join(TOP, 'deploy/systemd/tollgate.socket'), join(dir, 'tollgate.socket'));
    mkdirSync(join(dir, 'man', 'man8'), { recursive: true });
    symlinkSync(join(TOP, 'man/tollgate.8'), join(dir, 'man', 'man8', 'tollgate.8'));
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('systemd-analyze verify passes on the socket and the service', () => {
    const r = spawnSync('systemd-analyze', ['verify', 'tollgate.socket', 'tollgate.service'],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, MANPATH: join(dir, 'man') } });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.equal(r.stderr.trim(), '', r.stderr);
  });

  test('the service is hardened: systemd-analyze security rates it SAFE', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', join(dir, 'tollgate.service')],
      { encoding: 'utf8' });
    const m = /Overall exposure level for tollgate\.service: ([\d.]+) (\w+)/.exec(r.stdout);
    assert.ok(m, `${r.stdout}${r.stderr}`);
    assert.ok(Number(m[1]) <= 1.0, `exposure ${m[1]} ${m[2]}`);
    const unit = readFileSync(join(dir, 'tollgate.service'), 'utf8');
    for (const line of ['DynamicUser=yes', 'ProtectSystem=strict', 'StateDirectory=tollgate',
      'NoNewPrivileges=yes', 'RestrictAddressFamilies=AF_UNIX', 'SystemCallFilter=@system-service']) {
      assert.ok(unit.includes(`\n${line}\n`), line);
    }
  });
});
