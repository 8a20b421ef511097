// tables.test.mjs: data tables in projects: create, list, read, delete,
// publish and who sees what; CSV imports: RFC 4180 cases, type inference,
// INVALID_CSV with its line, and later imports matched to the schema.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import {
  adminSession, userWithRole, createKey, createProject, createTable, importCsv,
  tableWithSchema, readAllRecords, setPlan,
} from '../lib/fixtures.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const count = (table) => Number(sql(stack, `SELECT count(*) FROM records WHERE table_id = '${table}'`)[0][0]);
const withoutId = (b) => ({ ...b, requestId: undefined });

test('tables: create, list, get, delete', async () => {
  const a = await adminSession(stack);
  const p = await createProject(stack, a.token);
  const r = await api(stack, 'POST', `/v1/projects/${p.id}/tables`, { token: a.token, json: { name: 'events' } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(Object.keys(r.body).sort(), ['createdAt', 'id', 'name', 'projectId', 'published', 'schema']);
  assert.equal(r.body.name, 'events');
  assert.equal(r.body.projectId, p.id);
  assert.equal(r.body.schema, null);
  assert.equal(r.body.published, false);
  assert.match(r.body.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  const dup = await api(stack, 'POST', `/v1/projects/${p.id}/tables`, { token: a.token, json: { name: 'events' } });
  assert.ok(isErrorBody(dup, 409, 'CONFLICT'), dup.text);
  for (const [json, field] of [[{}, 'name'], [{ name: '' }, 'name'], [{ name: 'x'.repeat(101) }, 'name'], [{ name: 5 }, 'name']]) {
    const bad = await api(stack, 'POST', `/v1/projects/${p.id}/tables`, { token: a.token, json });
    assert.ok(isErrorBody(bad, 400, 'INVALID_BODY'), bad.text);
    assert.equal(bad.body.details.field, field);
  }
  const noProject = await api(stack, 'POST', '/v1/projects/prj_nope/tables', { token: a.token, json: { name: 't' } });
  assert.ok(isErrorBody(noProject, 404, 'NOT_FOUND'), noProject.text);

  const second = await createTable(stack, a.token, p.id, 'second');
  const third = await createTable(stack, a.token, p.id, 'third');
  const page1 = await api(stack, 'GET', `/v1/projects/${p.id}/tables?limit=2`, { token: a.token });
  assert.equal(page1.status, 200);
  assert.deepEqual(page1.body.data.map((t) => t.id), [r.body.id, second.id]);
  assert.ok(page1.body.nextCursor);
  const page2 = await api(stack, 'GET', `/v1/projects/${p.id}/tables?limit=2&cursor=${page1.body.nextCursor}`, { token: a.token });
  assert.deepEqual(page2.body.data.map((t) => t.id), [third.id]);
  assert.equal(page2.body.nextCursor, null);
  const listMissing = await api(stack, 'GET', '/v1/projects/prj_nope/tables', { token: a.token });
  assert.ok(isErrorBody(listMissing, 404, 'NOT_FOUND'));

  const got = await api(stack, 'GET', `/v1/tables/${r.body.id}`, { token: a.token });
  assert.deepEqual(got.body, r.body);
  assert.equal((await api(stack, 'DELETE', `/v1/tables/${r.body.id}`, { token: a.token })).status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', `/v1/tables/${r.body.id}`, { token: a.token }), 404, 'NOT_FOUND'));
  assert.ok(isErrorBody(await api(stack, 'DELETE', `/v1/tables/${r.body.id}`, { token: a.token }), 404, 'NOT_FOUND'));
  const wrong = await api(stack, 'PUT', `/v1/tables/${second.id}`, { token: a.token, json: {} });
  assert.ok(isErrorBody(wrong, 405, 'METHOD_NOT_ALLOWED'));
  assert.equal(wrong.headers.get('allow'), 'GET, DELETE');
});

test('tables: viewers read, members write, keys never manage tables', async () => {
  const a = await adminSession(stack);
  const p = await createProject(stack, a.token);
  const t = await createTable(stack, a.token, p.id);
  setPlan(stack, a.org.id, 'starter');
  const viewer = await userWithRole(stack, a, 'viewer');
  const member = await userWithRole(stack, a, 'member');
  const key = await createKey(stack, a.token, ['ingest', 'read']);
  const k = { 'X-API-Key': key.key };

  assert.equal((await api(stack, 'GET', `/v1/tables/${t.id}`, { token: viewer.token })).status, 200);
  const vc = await api(stack, 'POST', `/v1/projects/${p.id}/tables`, { token: viewer.token, json: { name: 'v' } });
  assert.ok(isErrorBody(vc, 403, 'PERMISSION_DENIED'), vc.text);
  assert.ok(isErrorBody(await importCsv(stack, viewer.token, t.id, 'a\n1\n'), 403, 'PERMISSION_DENIED'));
  assert.equal((await api(stack, 'POST', `/v1/projects/${p.id}/tables`, { token: member.token, json: { name: 'm' } })).status, 201);
  for (const [m, path, json] of [
    ['POST', `/v1/projects/${p.id}/tables`, { name: 'k' }],
    ['DELETE', `/v1/tables/${t.id}`],
    ['POST', `/v1/tables/${t.id}/publish`],
  ]) {
    const r = await api(stack, m, path, { headers: k, json });
    assert.ok(isErrorBody(r, 403, 'PERMISSION_DENIED'), `${m} ${path}: ${r.text}`);
  }
  const ki = await importCsv(stack, null, t.id, 'a\n1\n', k);
  assert.ok(isErrorBody(ki, 403, 'PERMISSION_DENIED'), ki.text);
  const noRead = await createKey(stack, a.token, ['ingest']);
  const nr = await api(stack, 'GET', `/v1/tables/${t.id}`, { headers: { 'X-API-Key': noRead.key } });
  assert.ok(isErrorBody(nr, 403, 'MISSING_SCOPE'), nr.text);
  assert.equal(nr.body.error, 'Key missing read scope');
});

test('import: RFC 4180 quotes, commas, quotes and newlines in fields, CRLF, BOM; types inferred', async () => {
  const a = await adminSession(stack);
  const p = await createProject(stack, a.token);
  const t = await createTable(stack, a.token, p.id);
  const csv = '\uFEFFid,name,score,active,note,blank\r\n' +
    '1,"Smith, John",3.5,true,"She said ""hi""",\r\n' +
    '2,Ann,4,FALSE,"two\r\nlines",\r\n' +
    '-3,"",-0.25,false,plain,\r\n' +
    '40,Zoë,1e3,True,,\r\n';
  const r = await importCsv(stack, a.token, t.id, csv);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.imported, 4);
  assert.deepEqual(r.body.schema, { columns: [
    { name: 'id', type: 'integer' }, { name: 'name', type: 'text' }, { name: 'score', type: 'number' },
    { name: 'active', type: 'boolean' }, { name: 'note', type: 'text' }, { name: 'blank', type: 'text' },
  ] });
  assert.equal(r.body.usage.meter, 'records');
  assert.equal(r.body.usage.used, 4);
  const got = await api(stack, 'GET', `/v1/tables/${t.id}`, { token: a.token });
  assert.deepEqual(got.body.schema, r.body.schema);
  const rows = await readAllRecords(stack, t.id, { token: a.token });
  assert.deepEqual(rows, [
    { id: 1, name: 'Smith, John', score: 3.5, active: true, note: 'She said "hi"', blank: null },
    { id: 2, name: 'Ann', score: 4, active: false, note: 'two\r\nlines', blank: null },
    { id: -3, name: null, score: -0.25, active: false, note: 'plain', blank: null },
    { id: 40, name: 'Zoë', score: 1000, active: true, note: null, blank: null },
  ]);
  // LF line ends and no BOM: the same columns, any order; rows appended.
  const again = await importCsv(stack, a.token, t.id, 'blank,note,active,score,name,id\n,x,true,2,Bo,5\n');
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.imported, 1);
  assert.equal(again.body.usage.used, 5);
  assert.equal(count(t.id), 5);
  const last = (await readAllRecords(stack, t.id, { token: a.token })).at(-1);
  assert.deepEqual(last, { id: 5, name: 'Bo', score: 2, active: true, note: 'x', blank: null });
});

test('import: bad CSV is 400 INVALID_CSV with details.line, and stores nothing', async () => {
  const a = await adminSession(stack);
  const p = await createProject(stack, a.token);
  const t = await createTable(stack, a.token, p.id);
  const cases = [
    ['a,b\n1,2\n3\n', 3],                      // too few fields
    ['a,b\n1,2\n3,4,5\n', 3],                  // too many
    ['a,b\n1,"open\n2,3\n', 2],                // unterminated quote
    ['a,b\n1,"x"y\n', 2],                      // text after a closing quote
    ['a,a\n1,2\n', 1],                         // duplicate column
    ['a,A\n1,2\n', 1],                         // duplicate ignoring case
    ['a,\n1,2\n', 1],                          // empty column name
    ['a,b$\n1,2\n', 1],                        // bad character in a name
    ['', 1],                                   // empty
    [Buffer.from([0x61, 0x0a, 0xff, 0x0a]), 2], // not UTF-8
  ];
  for (const [csv, line] of cases) {
    const r = await importCsv(stack, a.token, t.id, csv);
    assert.ok(isErrorBody(r, 400, 'INVALID_CSV'), `${JSON.stringify(String(csv))}: ${r.text}`);
    assert.deepEqual(r.body.details, { line }, `${JSON.stringify(String(csv))}: ${r.text}`);
  }
  const got = await api(stack, 'GET', `/v1/tables/${t.id}`, { token: a.token });
  assert.equal(got.body.schema, null);
  assert.equal(count(t.id), 0);
  const ct = await api(stack, 'POST', `/v1/tables/${t.id}/import`, { token: a.token, body: 'a\n1\n', headers: { 'Content-Type': 'text/plain' } });
  assert.ok(isErrorBody(ct, 415, 'UNSUPPORTED_MEDIA_TYPE'), ct.text);
  const missing = await importCsv(stack, a.token, 'tbl_nope', 'a\n1\n');
  assert.ok(isErrorBody(missing, 404, 'NOT_FOUND'));
});

test('import: a later file must match the columns (SCHEMA_MISMATCH), whole file or nothing', async () => {
  const { admin, table } = await tableWithSchema(stack, 'n,name\n1,a\n2,b\n');
  const header = await importCsv(stack, admin.token, table.id, 'n,nom,extra\n3,c,x\n');
  assert.ok(isErrorBody(header, 400, 'SCHEMA_MISMATCH'), header.text);
  assert.deepEqual(header.body.details, {
    problems: [
      { index: null, line: 1, field: 'nom', problem: 'unknown column' },
      { index: null, line: 1, field: 'extra', problem: 'unknown column' },
      { index: null, line: 1, field: 'name', problem: 'missing column' },
    ],
    problemCount: 3,
  });
  // index counts data rows from 0; line counts the file's lines from 1, the
  // header and the line breaks inside quoted fields included.
  const types = await importCsv(stack, admin.token, table.id, 'n,name\n3,c\nfour,d\n5,"e\nf"\n6.5,g\n');
  assert.ok(isErrorBody(types, 400, 'SCHEMA_MISMATCH'), types.text);
  assert.deepEqual(types.body.details, {
    problems: [
      { index: 1, line: 3, field: 'n', problem: 'wrong type', expected: 'integer' },
      { index: 3, line: 6, field: 'n', problem: 'wrong type', expected: 'integer' },
    ],
    problemCount: 2,
  });
  assert.equal(count(table.id), 2);
  const usage = await api(stack, 'GET', '/v1/billing/usage', { token: admin.token });
  assert.equal(usage.body.meters.find((m) => m.meter === 'records').used, 2);
});

test('import and ingest answer SCHEMA_MISMATCH in one shape: index, field, problem, expected, problemCount', async () => {
  const { admin, table } = await tableWithSchema(stack, 'n,name\n1,a\n');
  const viaIngest = await api(stack, 'POST', `/v1/tables/${table.id}/records`, {
    token: admin.token, json: { records: [{ n: 2, name: 'b' }, { n: 'x', name: 'c' }, { n: 4, name: 'd' }] },
  });
  const viaImport = await importCsv(stack, admin.token, table.id, 'n,name\n2,b\nx,c\n4,d\n');
  for (const r of [viaIngest, viaImport]) assert.ok(isErrorBody(r, 400, 'SCHEMA_MISMATCH'), r.text);
  assert.deepEqual(viaIngest.body.details, { problems: [{ index: 1, field: 'n', problem: 'wrong type', expected: 'integer' }], problemCount: 1 });
  assert.deepEqual(viaImport.body.details, { problems: [{ index: 1, line: 3, field: 'n', problem: 'wrong type', expected: 'integer' }], problemCount: 1 });
  // The same keys, but line, which only a file has.
  const { line, ...sameAsIngest } = viaImport.body.details.problems[0];
  assert.equal(line, 3);
  assert.deepEqual(sameAsIngest, viaIngest.body.details.problems[0]);
  assert.deepEqual(Object.keys(viaImport.body.details).sort(), Object.keys(viaIngest.body.details).sort());

  // Past 100 problems both list the first 100 and count them all.
  const rows = Array.from({ length: 150 }, (_, i) => `x${i},r`).join('\n');
  const many = await importCsv(stack, admin.token, table.id, `n,name\n${rows}\n`);
  assert.ok(isErrorBody(many, 400, 'SCHEMA_MISMATCH'), many.text);
  assert.equal(many.body.details.problems.length, 100);
  assert.equal(many.body.details.problemCount, 150);
  assert.deepEqual(many.body.details.problems[99], { index: 99, line: 101, field: 'n', problem: 'wrong type', expected: 'integer' });
  assert.equal(count(table.id), 1);
});

test('import: rows count toward meter records; past the plan, 403 PLAN_LIMIT and nothing stored', async () => {
  const a = await adminSession(stack);
  sql(stack, "INSERT INTO plans (id, name, position, projects, users, api_keys, jobs, records) VALUES ('tiny-import', 'Tiny', 90, 1, 2, 2, 50, 3) ON CONFLICT DO NOTHING");
  sql(stack, `UPDATE organizations SET plan = 'tiny-import' WHERE id = '${a.org.id}'`);
  const p = await createProject(stack, a.token);
  const t = await createTable(stack, a.token, p.id);
  const r = await importCsv(stack, a.token, t.id, 'n\n1\n2\n3\n4\n');
  assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), r.text);
  assert.deepEqual(r.body.details, { meter: 'records', used: 0, limit: 3, resetsAt: r.body.details.resetsAt });
  assert.match(r.body.details.resetsAt, /-01T00:00:00Z$/);
  assert.equal((await api(stack, 'GET', `/v1/tables/${t.id}`, { token: a.token })).body.schema, null);
  assert.equal(count(t.id), 0);
  const ok = await importCsv(stack, a.token, t.id, 'n\n1\n2\n3\n');
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.body.usage, { meter: 'records', used: 3, limit: 3, resetsAt: r.body.details.resetsAt });
});

// The `tollgate serve` process behind the stack (deploy/run.sh notes its pid),
// its peak resident memory in kB (VmHWM) and the CPU it used, in seconds.
const serverPid = () => Number(readFileSync(join(stack.dir, 'run', 'tollgate.pid'), 'utf8').trim());
const peakKb = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m)[1]);
const cpuSeconds = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3, state
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ ticks
};

test('import: a 1M-row file past a Trial plan is refused as it arrives: 403 PLAN_LIMIT, little memory or CPU, nothing stored', async () => {
  const a = await adminSession(stack); // Trial: 10,000 records a month
  const p = await createProject(stack, a.token);
  const t = await createTable(stack, a.token, p.id);
  const csv = Buffer.from(`n\n${'1234567\n'.repeat(1_000_000)}`);
  assert.ok(csv.length > 7_900_000 && csv.length < 8 << 20, `${csv.length} bytes, under TOLLGATE_MAX_BODY`);
  const pid = serverPid();
  // Peak RSS from now on (Linux resets it on "5"; if not, the peak so far is
  // the baseline, which only makes the check looser).
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* not supported */ }
  const peak0 = peakKb(pid);
  const cpu0 = cpuSeconds(pid);
  // Again and again: every refusal stays small.
  for (let i = 0; i < 3; i++) {
    const r = await importCsv(stack, a.token, t.id, csv);
    assert.ok(isErrorBody(r, 403, 'PLAN_LIMIT'), r.text);
    assert.deepEqual(r.body.details, { meter: 'records', used: 0, limit: 10000, resetsAt: r.body.details.resetsAt });
    assert.equal(r.body.error, 'Your plan allows 10,000 records a month; 0 are used, and this request would pass it. '
      + `To go on, upgrade your plan in Billing → Usage, or wait until the meter resets on ${r.body.details.resetsAt.slice(0, 10)} (UTC).`);
  }
  const grownKb = peakKb(pid) - peak0;
  const cpu = cpuSeconds(pid) - cpu0;
  console.log(`# three refused 8 MB imports: peak RSS +${grownKb} kB, ${cpu.toFixed(2)} s of CPU`);
  assert.ok(grownKb < 20 * 1024, `peak RSS grew by ${grownKb} kB`);
  assert.ok(cpu < 1, `the refusals took ${cpu} s of CPU`);
  assert.equal((await api(stack, 'GET', `/v1/tables/${t.id}`, { token: a.token })).body.schema, null);
  assert.equal(count(t.id), 0);
  const usage = await api(stack, 'GET', '/v1/billing/usage', { token: a.token });
  assert.equal(usage.body.meters.find((m) => m.meter === 'records').used, 0);
  // Exactly what is left of the meter is taken, one row more is not.
  const full = `n\n${'7\n'.repeat(10000)}`;
  const over = await importCsv(stack, a.token, t.id, `${full}8\n`);
  assert.ok(isErrorBody(over, 403, 'PLAN_LIMIT'), over.text);
  const ok = await importCsv(stack, a.token, t.id, full);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.imported, 10000);
  assert.equal(count(t.id), 10000);
});

test('import: a large file is read in pieces: quoted line breaks, CRLF and multi-byte text cut anywhere', async () => {
  const a = await adminSession(stack);
  setPlan(stack, a.org.id, 'starter');
  const p = await createProject(stack, a.token);
  const t = await createTable(stack, a.token, p.id);
  const n = 30000;
  const note = (i) => `é ${i}\r\nline "${'x'.repeat(i % 97)}"`;
  const rows = Array.from({ length: n }, (_, i) => `${i},"${note(i).replaceAll('"', '""')}",${i % 2 ? 'TRUE' : 'false'}\r\n`);
  const csv = `\ufeffn,note,ok\r\n${rows.join('')}`;
  assert.ok(Buffer.byteLength(csv) > 1_000_000);
  const r = await importCsv(stack, a.token, t.id, csv);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.imported, n);
  assert.deepEqual(r.body.schema.columns.map((c) => c.type), ['integer', 'text', 'boolean']);
  const stored = await readAllRecords(stack, t.id, { token: a.token });
  assert.equal(stored.length, n);
  stored.forEach((rec, i) => assert.deepEqual(rec, { n: i, note: note(i), ok: i % 2 === 1 }, `row ${i}`));
});

test('publish: an unpublished table does not exist to an API key', async () => {
  const { admin, project, table } = await tableWithSchema(stack, 'n\n1\n', { publish: false });
  const key = await createKey(stack, admin.token, ['ingest', 'read']);
  const k = { headers: { 'X-API-Key': key.key } };
  const missing = await api(stack, 'GET', '/v1/tables/tbl_nope', k);
  for (const [m, path, json] of [
    ['GET', `/v1/tables/${table.id}`],
    ['GET', `/v1/tables/${table.id}/records`],
    ['POST', `/v1/tables/${table.id}/records`, { records: [{ n: 2 }] }],
  ]) {
    const r = await api(stack, m, path, { ...k, json });
    assert.ok(isErrorBody(r, 404, 'NOT_FOUND'), `${m} ${path}: ${r.text}`);
    assert.deepEqual(withoutId(r.body), withoutId(missing.body));
  }
  const list = await api(stack, 'GET', `/v1/projects/${project.id}/tables`, k);
  assert.deepEqual(list.body.data, []);
  // The user sees it, and can ingest before publishing.
  assert.equal((await api(stack, 'GET', `/v1/tables/${table.id}`, { token: admin.token })).body.published, false);
  const pub = await api(stack, 'POST', `/v1/tables/${table.id}/publish`, { token: admin.token });
  assert.equal(pub.status, 200);
  assert.equal(pub.body.published, true);
  assert.equal((await api(stack, 'POST', `/v1/tables/${table.id}/publish`, { token: admin.token })).status, 200);
  assert.equal((await api(stack, 'GET', `/v1/tables/${table.id}`, k)).body.published, true);
  assert.deepEqual((await api(stack, 'GET', `/v1/projects/${project.id}/tables`, k)).body.data.map((t) => t.id), [table.id]);
  assert.ok(isErrorBody(await api(stack, 'POST', '/v1/tables/tbl_nope/publish', { token: admin.token }), 404, 'NOT_FOUND'));
});

test('cross-organization: every table route answers 404, the same as a missing id', async () => {
  const { admin, project, table } = await tableWithSchema(stack, 'n\n1\n');
  const other = await adminSession(stack);
  const otherKey = await createKey(stack, other.token, ['ingest', 'read']);
  const routes = [
    ['GET', '/v1/projects/{p}/tables'],
    ['POST', '/v1/projects/{p}/tables', { name: 'x' }],
    ['GET', '/v1/tables/{t}'],
    ['DELETE', '/v1/tables/{t}'],
    ['POST', '/v1/tables/{t}/publish'],
    ['POST', '/v1/tables/{t}/import', 'n\n2\n'],
    ['POST', '/v1/tables/{t}/records', { records: [{ n: 2 }] }],
    ['GET', '/v1/tables/{t}/records'],
  ];
  for (const [m, pattern, body] of routes) {
    const send = (p, t, auth) => {
      const path = pattern.replace('{p}', p).replace('{t}', t);
      if (typeof body === 'string') return api(stack, m, path, { ...auth, body, headers: { ...auth.headers, 'Content-Type': 'text/csv' } });
      return api(stack, m, path, { ...auth, json: body });
    };
    const theirs = await send(project.id, table.id, { token: other.token });
    const none = await send('prj_nope', 'tbl_nope', { token: other.token });
    assert.ok(isErrorBody(theirs, 404, 'NOT_FOUND'), `${m} ${pattern}: ${theirs.text}`);
    assert.deepEqual(withoutId(theirs.body), withoutId(none.body));
    if (!['DELETE', 'POST'].includes(m) || pattern.endsWith('/records')) {
      const byKey = await send(project.id, table.id, { headers: { 'X-API-Key': otherKey.key } });
      assert.ok(isErrorBody(byKey, 404, 'NOT_FOUND'), `key ${m} ${pattern}: ${byKey.text}`);
    }
  }
  // Nothing of theirs changed.
  assert.equal(count(table.id), 1);
  assert.equal((await api(stack, 'GET', `/v1/tables/${table.id}`, { token: admin.token })).status, 200);
});

test('deleting a table or its project removes its records', async () => {
  const { admin, project, table } = await tableWithSchema(stack, 'n\n1\n2\n3\n');
  const t2 = await createTable(stack, admin.token, project.id, 'second');
  assert.equal((await importCsv(stack, admin.token, t2.id, 'm\n1\n2\n')).status, 200);
  assert.equal(count(table.id), 3);
  assert.equal((await api(stack, 'DELETE', `/v1/tables/${table.id}`, { token: admin.token })).status, 204);
  assert.equal(count(table.id), 0);
  assert.equal(count(t2.id), 2);
  assert.equal((await api(stack, 'DELETE', `/v1/projects/${project.id}`, { token: admin.token })).status, 204);
  assert.equal(count(t2.id), 0);
  assert.equal(sql(stack, `SELECT count(*) FROM data_tables WHERE project_id = '${project.id}'`)[0][0], '0');
});
