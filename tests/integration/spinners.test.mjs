// spinners.test.mjs: spinners (create, list, get, patch, delete, publish),
// triggers by users and keys, jobs and their results, scheduled spinners,
// and jobs that survive the death of the process running them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startStack, api, isErrorBody, sql } from '../lib/stack.mjs';
import {
  adminSession, userWithRole, createKey, tableWithSchema, ingest, insertManyRecords,
  createSpinner, publishSpinner, trigger, waitJob,
  rawRequest, utf8Json,
} from '../lib/fixtures.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Now in Unix seconds, for rows written straight into the database.
const epoch = () => Math.floor(Date.now() / 1000);
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

// An organization with a project and a published table whose schema (and
// first records) come from csv: {admin, project, table (its id)}.
async function workspace(s = stack, csv = 'email,name,age\n') {
  const { admin, project, table } = await tableWithSchema(s, csv);
  return { admin, project, table: table.id };
}

// The pid of the `tollgate serve` of a stack.
function servePid(s) {
  const pids = execFileSync('pgrep', ['-f', `${s.dir}/run/tollgate.sock`], { encoding: 'utf8' })
    .trim().split('\n').map(Number);
  assert.equal(pids.length, 1);
  return pids[0];
}

test('create, list, get, patch and delete a spinner', async () => {
  const { admin, project, table } = await workspace();
  const c = await api(stack, 'POST', `/v1/projects/${project.id}/spinners`,
    { token: admin.token, json: { name: 'Nightly digest', tableId: table } });
  assert.equal(c.status, 201, c.text);
  assert.deepEqual(Object.keys(c.body).sort(),
    ['createdAt', 'id', 'name', 'nextRunAt', 'projectId', 'published', 'schedule', 'tableId']);
  assert.match(c.body.id, /^spn_/);
  assert.equal(c.body.projectId, project.id);
  assert.equal(c.body.tableId, table);
  assert.equal(c.body.schedule, null);
  assert.equal(c.body.published, false);
  assert.equal(c.body.nextRunAt, null);
  assert.match(c.body.createdAt, RFC3339);

  const list = await api(stack, 'GET', `/v1/projects/${project.id}/spinners`, { token: admin.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body, { data: [c.body], nextCursor: null });
  const got = await api(stack, 'GET', `/v1/spinners/${c.body.id}`, { token: admin.token });
  assert.deepEqual(got.body, c.body);

  const p = await api(stack, 'PATCH', `/v1/spinners/${c.body.id}`,
    { token: admin.token, json: { name: 'Hourly digest', schedule: 60 } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.name, 'Hourly digest');
  assert.equal(p.body.schedule, 60);
  assert.equal(p.body.nextRunAt, null, 'an unpublished spinner has no next run');
  const cleared = await api(stack, 'PATCH', `/v1/spinners/${c.body.id}`, { token: admin.token, json: { schedule: null } });
  assert.equal(cleared.body.schedule, null);
  assert.equal(cleared.body.name, 'Hourly digest');

  const del = await api(stack, 'DELETE', `/v1/spinners/${c.body.id}`, { token: admin.token });
  assert.equal(del.status, 204);
  assert.ok(isErrorBody(await api(stack, 'GET', `/v1/spinners/${c.body.id}`, { token: admin.token }), 404, 'NOT_FOUND'));
  assert.ok(isErrorBody(await api(stack, 'DELETE', `/v1/spinners/${c.body.id}`, { token: admin.token }), 404, 'NOT_FOUND'));
});

test('bad spinner bodies: 400 with details.field, 409 for a duplicate name, 404 for an unknown project', async () => {
  const { admin, project, table } = await workspace();
  const other = await workspace();
  const cases = [
    [{ tableId: table }, 'name'],
    [{ name: 'x' }, 'tableId'],
    [{ name: 'x', tableId: 'tbl_nope' }, 'tableId'],
    [{ name: 'x', tableId: other.table }, 'tableId'],
    [{ name: 'x', tableId: table, schedule: 0 }, 'schedule'],
    [{ name: 'x', tableId: table, schedule: 1.5 }, 'schedule'],
    [{ name: 'x', tableId: table, schedule: '5' }, 'schedule'],
    [{ name: 'x', tableId: table, schedule: 525601 }, 'schedule'],
  ];
  for (const [json, field] of cases) {
    const r = await api(stack, 'POST', `/v1/projects/${project.id}/spinners`, { token: admin.token, json });
    assert.ok(isErrorBody(r, 400, 'INVALID_BODY'), `${JSON.stringify(json)}: ${r.text}`);
    assert.equal(r.body.details.field, field);
  }
  await createSpinner(stack, admin.token, project.id, table, { name: 'same' });
  const dup = await api(stack, 'POST', `/v1/projects/${project.id}/spinners`, { token: admin.token, json: { name: 'same', tableId: table } });
  assert.ok(isErrorBody(dup, 409, 'CONFLICT'), dup.text);
  const unknown = await api(stack, 'POST', '/v1/projects/prj_nope/spinners', { token: admin.token, json: { name: 'x', tableId: table } });
  assert.ok(isErrorBody(unknown, 404, 'NOT_FOUND'));
  const foreign = await api(stack, 'POST', `/v1/projects/${other.project.id}/spinners`,
    { token: admin.token, json: { name: 'x', tableId: other.table } });
  assert.ok(isErrorBody(foreign, 404, 'NOT_FOUND'));
  assert.equal(sql(stack, `SELECT count(*) FROM spinners WHERE org_id = '${admin.org.id}'`)[0][0], '1');
});

test('publish and trigger: who may, and 404 for unpublished, unknown and foreign spinners', async () => {
  const { admin, project, table } = await workspace();
  await api(stack, 'PUT', '/v1/billing/plan', { token: admin.token, json: { plan: 'starter' } });
  const member = await userWithRole(stack, admin, 'member');
  const viewer = await userWithRole(stack, admin, 'viewer');
  const triggerKey = await createKey(stack, admin.token, ['trigger']);
  const readKey = await createKey(stack, admin.token, ['read', 'ingest']);
  const sp = await createSpinner(stack, member.token, project.id, table);
  const path = `/v1/spinners/${sp.id}/trigger`;

  // Unpublished: 404 to everyone, hidden from keys.
  assert.ok(isErrorBody(await api(stack, 'POST', path, { token: member.token }), 404, 'NOT_FOUND'));
  assert.ok(isErrorBody(await api(stack, 'POST', path, { token: triggerKey.key }), 404, 'NOT_FOUND'));
  assert.ok(isErrorBody(await api(stack, 'GET', `/v1/spinners/${sp.id}`, { token: readKey.key }), 404, 'NOT_FOUND'));
  const hidden = await api(stack, 'GET', `/v1/projects/${project.id}/spinners`, { token: readKey.key });
  assert.deepEqual(hidden.body.data, []);
  assert.ok(isErrorBody(await api(stack, 'POST', `/v1/spinners/${sp.id}/publish`, { token: viewer.token }), 403, 'PERMISSION_DENIED'));
  assert.ok(isErrorBody(await api(stack, 'POST', `/v1/spinners/${sp.id}/publish`, { token: triggerKey.key }), 403, 'PERMISSION_DENIED'));

  const pub = await publishSpinner(stack, member.token, sp.id);
  assert.equal(pub.published, true);
  assert.equal((await api(stack, 'GET', `/v1/spinners/${sp.id}`, { token: readKey.key })).status, 200);
  const shown = await api(stack, 'GET', `/v1/projects/${project.id}/spinners`, { token: readKey.key });
  assert.deepEqual(shown.body.data.map((s) => s.id), [sp.id]);

  for (const who of [member, admin, { token: triggerKey.key }]) {
    const r = await api(stack, 'POST', path, { token: who.token });
    assert.equal(r.status, 201, r.text);
    assert.match(r.body.job.id, /^job_/);
    assert.equal(r.body.job.spinnerId, sp.id);
    assert.equal(r.body.job.status, 'queued');
    assert.match(r.body.job.createdAt, RFC3339);
  }
  // X-API-Key works too, and a JSON body is allowed (and ignored).
  const viaHeader = await api(stack, 'POST', path, { headers: { 'X-API-Key': triggerKey.key }, json: {} });
  assert.equal(viaHeader.status, 201, viaHeader.text);

  const scope = await api(stack, 'POST', path, { token: readKey.key });
  assert.ok(isErrorBody(scope, 403, 'MISSING_SCOPE'), scope.text);
  assert.equal(scope.body.error, 'Key missing trigger scope');
  assert.ok(isErrorBody(await api(stack, 'POST', path, { token: viewer.token }), 403, 'PERMISSION_DENIED'));
  assert.ok(isErrorBody(await api(stack, 'POST', path), 401, 'TOKEN_MISSING'));
  assert.ok(isErrorBody(await api(stack, 'POST', '/v1/spinners/spn_unknown/trigger', { token: member.token }), 404, 'NOT_FOUND'));
  const readsJobs = await api(stack, 'GET', `/v1/jobs?spinnerId=${sp.id}`, { token: readKey.key });
  assert.equal(readsJobs.status, 200);
  assert.equal(readsJobs.body.data.length, 4);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/jobs', { token: triggerKey.key }), 403, 'MISSING_SCOPE'));

  // Another organization sees none of it.
  const other = await adminSession(stack);
  const job = readsJobs.body.data[0].id;
  for (const [m, p] of [['POST', path], ['GET', `/v1/spinners/${sp.id}`], ['PATCH', `/v1/spinners/${sp.id}`],
    ['DELETE', `/v1/spinners/${sp.id}`], ['POST', `/v1/spinners/${sp.id}/publish`], ['GET', `/v1/jobs/${job}`],
    ['GET', `/v1/jobs?spinnerId=${sp.id}`], ['GET', `/v1/projects/${project.id}/spinners`]]) {
    const r = await api(stack, m, p, { token: other.token, json: m === 'PATCH' ? { name: 'mine' } : undefined });
    assert.ok(isErrorBody(r, 404, 'NOT_FOUND'), `${m} ${p}: ${r.text}`);
  }
  assert.deepEqual((await api(stack, 'GET', '/v1/jobs', { token: other.token })).body, { data: [], nextCursor: null });
  assert.equal(sql(stack, `SELECT count(*) FROM jobs WHERE spinner_id = '${sp.id}'`)[0][0], '4');
});

test('a job counts the records added since the previous successful job', async () => {
  const { admin, project, table } = await workspace(stack, 'email,name,age\na@x.test,Ann,31\nb@x.test,,\nc@x.test,Cid,\n');
  const sp = await createSpinner(stack, admin.token, project.id, table);
  await publishSpinner(stack, admin.token, sp.id);

  const first = await waitJob(stack, admin.token, (await trigger(stack, admin.token, sp.id)).id);
  assert.deepEqual(Object.keys(first).sort(),
    ['createdAt', 'failureReason', 'finishedAt', 'id', 'result', 'spinnerId', 'startedAt', 'status', 'trigger']);
  assert.equal(first.status, 'succeeded', JSON.stringify(first));
  assert.equal(first.trigger, 'api');
  assert.equal(first.failureReason, null);
  assert.match(first.finishedAt, RFC3339);
  assert.deepEqual(first.result, { processed: 3, nonNull: { email: 3, name: 2, age: 1 } });

  const added = await ingest(stack, admin.token, table, [{ email: null, name: 'Dee', age: 40 }, { email: 'e@x.test', name: 'Eve', age: 22 }]);
  assert.equal(added.accepted, 2);
  const second = await waitJob(stack, admin.token, (await trigger(stack, admin.token, sp.id)).id);
  assert.deepEqual(second.result, { processed: 2, nonNull: { email: 1, name: 2, age: 2 } });

  const third = await waitJob(stack, admin.token, (await trigger(stack, admin.token, sp.id)).id);
  assert.deepEqual(third.result, { processed: 0, nonNull: { email: 0, name: 0, age: 0 } });

  // A second spinner on the same table starts from the beginning.
  const sp2 = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  const fresh = await waitJob(stack, admin.token, (await trigger(stack, admin.token, sp2.id)).id);
  assert.deepEqual(fresh.result, { processed: 5, nonNull: { email: 4, name: 4, age: 3 } });

  // The jobs of a spinner, oldest first, paginated.
  const page1 = await api(stack, 'GET', `/v1/jobs?spinnerId=${sp.id}&limit=2`, { token: admin.token });
  assert.equal(page1.status, 200);
  assert.deepEqual(page1.body.data.map((j) => j.id), [first.id, second.id]);
  assert.ok(page1.body.nextCursor);
  const page2 = await api(stack, 'GET', `/v1/jobs?spinnerId=${sp.id}&limit=2&cursor=${page1.body.nextCursor}`, { token: admin.token });
  assert.deepEqual(page2.body.data.map((j) => j.id), [third.id]);
  assert.equal(page2.body.nextCursor, null);
  assert.deepEqual(page2.body.data[0], third);
  const all = await api(stack, 'GET', '/v1/jobs', { token: admin.token });
  assert.equal(all.body.data.length, 4);
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/jobs?spinnerId=spn_nope', { token: admin.token }), 404, 'NOT_FOUND'));
  assert.ok(isErrorBody(await api(stack, 'GET', '/v1/jobs/job_nope', { token: admin.token }), 404, 'NOT_FOUND'));
});

test('a job whose records cannot be read fails with a reason', async () => {
  const { admin, project, table } = await workspace(stack, 'email\na@x.test\n');
  // A record damaged in the store (the API never writes one like it).
  sql(stack, `INSERT INTO records (table_id, data, created_at) VALUES ('${table}', 'not json', 0)`);
  const sp = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  const job = await waitJob(stack, admin.token, (await trigger(stack, admin.token, sp.id)).id);
  assert.equal(job.status, 'failed');
  assert.equal(job.result, null);
  assert.match(job.failureReason, /could not be read/);
  assert.doesNotMatch(job.failureReason, /sqlite|json_each|SELECT/i);
});

test('a job left running by a dead runner is claimed again once its lease ran out', async () => {
  const { admin, project, table } = await workspace();
  await ingest(stack, admin.token, table, [{ email: 'a@x.test', name: 'A', age: '1' }, { email: 'b@x.test' }]);
  const sp = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  // As a process that died mid-job leaves it: running, its lease over.
  sql(stack, `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at, started_at)
    VALUES ('job_orphan1', '${admin.org.id}', '${sp.id}', 'api', 'running', 1, 'run_dead', ${epoch()} - 1,
    ${epoch()} - 30, ${epoch()} - 30)`);
  const job = await waitJob(stack, admin.token, 'job_orphan1');
  assert.equal(job.status, 'succeeded');
  assert.deepEqual(job.result, { processed: 2, nonNull: { email: 2, name: 1, age: 1 } });
  assert.equal(sql(stack, "SELECT attempts FROM jobs WHERE id = 'job_orphan1'")[0][0], '2');
  // One whose lease is still live belongs to its runner: left alone.
  sql(stack, `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at)
    VALUES ('job_leased1', '${admin.org.id}', '${sp.id}', 'api', 'running', 1, 'run_other', ${epoch()} + 600,
    ${epoch()})`);
  const queued = await trigger(stack, admin.token, sp.id);
  await sleep(600);
  assert.equal((await api(stack, 'GET', '/v1/jobs/job_leased1', { token: admin.token })).body.status, 'running');
  // The spinner's later job waits for it: a spinner's jobs run in order.
  assert.equal((await api(stack, 'GET', `/v1/jobs/${queued.id}`, { token: admin.token })).body.status, 'queued');
  sql(stack, "UPDATE jobs SET status = 'failed', lease_until = NULL WHERE id = 'job_leased1'");
  assert.equal((await waitJob(stack, admin.token, queued.id)).status, 'succeeded');
  // A job that keeps dying is failed after 3 attempts.
  sql(stack, `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at)
    VALUES ('job_poison1', '${admin.org.id}', '${sp.id}', 'api', 'running', 3, 'run_dead', 0, ${epoch()})`);
  const poison = await waitJob(stack, admin.token, 'job_poison1');
  assert.equal(poison.status, 'failed');
  assert.match(poison.failureReason, /interrupted 3 times/);
});

test('jobs queued behind a running one are claimed in one batch and run in order', async () => {
  const { admin, project, table } = await workspace();
  const sp = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  // Hold the spinner with a job another runner has: the triggers queue up.
  sql(stack, `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at)
    VALUES ('job_holder1', '${admin.org.id}', '${sp.id}', 'api', 'running', 1, 'run_other', ${epoch()} + 600,
    ${epoch()})`);
  const ids = [];
  for (let i = 0; i < 3; i++) {
    await ingest(stack, admin.token, table, [{ email: `b${i}@x.test`, name: `B${i}` }]);
    ids.push((await trigger(stack, admin.token, sp.id)).id);
  }
  await sleep(400);
  for (const id of ids) assert.equal((await api(stack, 'GET', `/v1/jobs/${id}`, { token: admin.token })).body.status, 'queued');
  sql(stack, "UPDATE jobs SET status = 'failed', lease_until = NULL WHERE id = 'job_holder1'");
  const done = [];
  for (const id of ids) done.push(await waitJob(stack, admin.token, id));
  // All three start together: the first takes every record there is, the
  // others (triggered before it started) find none new.
  assert.deepEqual(done.map((j) => j.status), ['succeeded', 'succeeded', 'succeeded']);
  assert.deepEqual(done.map((j) => j.result.processed), [3, 0, 0]);
  assert.deepEqual(done[0].result.nonNull, { email: 3, name: 3, age: 0 });
  // One batch: every claim is logged before the first of them finishes.
  const log = stack.log();
  const lastClaim = Math.max(...ids.map((id) => log.indexOf(`runner: ${id} of ${sp.id} claimed`)));
  const firstDone = Math.min(...ids.map((id) => log.indexOf(`runner: ${id} succeeded`)));
  assert.ok(log.includes(`runner: ${ids[0]} of ${sp.id} claimed (attempt 1)`), log.slice(-2000));
  for (const id of ids.slice(1)) assert.ok(log.includes(`runner: ${id} of ${sp.id} claimed behind the one before it`), log.slice(-2000));
  // Only the first counted an attempt; each has the time it really started.
  assert.deepEqual(sql(stack, `SELECT attempts FROM jobs WHERE id IN ('${ids.join("','")}') ORDER BY seq`).map((r) => r[0]), ['1', '0', '0']);
  for (const j of done) assert.ok(j.startedAt && j.startedAt <= j.finishedAt, JSON.stringify(j));
  assert.ok(lastClaim < firstDone, 'claimed one at a time, not as a batch');
  // The next trigger starts where the batch stopped.
  await ingest(stack, admin.token, table, [{ email: 'c@x.test' }]);
  const next = await waitJob(stack, admin.token, (await trigger(stack, admin.token, sp.id)).id);
  assert.deepEqual(next.result, { processed: 1, nonNull: { email: 1, name: 0, age: 0 } });
});

test('one batch takes the queued jobs of several spinners; only its first job counts an attempt', async () => {
  const { admin, project, table } = await workspace();
  await ingest(stack, admin.token, table, [{ email: 'a@x.test' }]);
  const spA = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  const spB = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  for (const [h, sp] of [['job_holdA', spA], ['job_holdB', spB]])
    sql(stack, `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at)
      VALUES ('${h}', '${admin.org.id}', '${sp.id}', 'api', 'running', 1, 'run_other', ${epoch()} + 600, ${epoch()})`);
  const a = (await trigger(stack, admin.token, spA.id)).id;
  const b = (await trigger(stack, admin.token, spB.id)).id;
  await sleep(300);
  sql(stack, "UPDATE jobs SET status = 'failed', lease_until = NULL WHERE id IN ('job_holdA', 'job_holdB')");
  const [ja, jb] = [await waitJob(stack, admin.token, a), await waitJob(stack, admin.token, b)];
  assert.deepEqual([ja.status, jb.status], ['succeeded', 'succeeded']);
  // Each spinner's job reads the table from the start.
  assert.deepEqual([ja.result.processed, jb.result.processed], [1, 1]);
  assert.deepEqual(sql(stack, `SELECT attempts FROM jobs WHERE id IN ('${a}', '${b}') ORDER BY seq`).map((r) => r[0]), ['1', '0']);
  assert.match(stack.log(), new RegExp(`runner: ${b} of ${spB.id} claimed into the batch`));
  assert.ok(jb.startedAt && jb.startedAt <= jb.finishedAt, JSON.stringify(jb));
});

test('a job outcome the store refuses goes back to the queue; the rest of its batch is written', async () => {
  const { admin, project, table } = await workspace();
  await ingest(stack, admin.token, table, [{ email: 'a@x.test' }]);
  const spA = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  const spB = await publishSpinner(stack, admin.token, (await createSpinner(stack, admin.token, project.id, table)).id);
  for (const [h, sp] of [['job_refA', spA], ['job_refB', spB]])
    sql(stack, `INSERT INTO jobs (id, org_id, spinner_id, trigger, status, attempts, runner, lease_until, created_at)
      VALUES ('${h}', '${admin.org.id}', '${sp.id}', 'api', 'running', 1, 'run_other', ${epoch()} + 600, ${epoch()})`);
  const a = (await trigger(stack, admin.token, spA.id)).id;
  const b = (await trigger(stack, admin.token, spB.id)).id;
  // The store refuses to record A's job as succeeded (as a constraint or
  // a full disk would); on PostgreSQL that ends the whole transaction.
  sql(stack, stack.store === 'postgresql'
    ? `CREATE FUNCTION refuse_a() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
       CREATE TRIGGER refuse_a BEFORE UPDATE ON jobs FOR EACH ROW
         WHEN (NEW.spinner_id = '${spA.id}' AND NEW.status = 'succeeded') EXECUTE FUNCTION refuse_a()`
    : `CREATE TRIGGER refuse_a BEFORE UPDATE OF status ON jobs
         WHEN NEW.spinner_id = '${spA.id}' AND NEW.status = 'succeeded' BEGIN SELECT RAISE(ABORT, 'refused'); END`);
  try {
    await sleep(300);
    sql(stack, "UPDATE jobs SET status = 'failed', lease_until = NULL WHERE id IN ('job_refA', 'job_refB')");
    const jb = await waitJob(stack, admin.token, b);
    assert.equal(jb.status, 'succeeded');
    assert.deepEqual(jb.result.processed, 1);
    assert.match(stack.log(), new RegExp(`runner: ${a} back in the queue`));
    assert.notEqual((await api(stack, 'GET', `/v1/jobs/${a}`, { token: admin.token })).body.status, 'succeeded');
  } finally {
    sql(stack, stack.store === 'postgresql' ? 'DROP TRIGGER refuse_a ON jobs; DROP FUNCTION refuse_a()' : 'DROP TRIGGER refuse_a');
  }
  const ja = await waitJob(stack, admin.token, a);
  assert.equal(ja.status, 'succeeded');
  assert.equal(ja.result.processed, 1);
});

test('a job interrupted by kill -9 is resumed after a restart', async () => {
  const s1 = await startStack({}, { keep: true });
  let s2;
  try {
    const { admin, project, table } = await workspace(s1);
    const N = 300000;
    insertManyRecords(s1, table, N);
    const sp = await publishSpinner(s1, admin.token, (await createSpinner(s1, admin.token, project.id, table)).id);
    const job = await trigger(s1, admin.token, sp.id);
    let status;
    for (let i = 0; i < 400; i++) {
      status = sql(s1, `SELECT status FROM jobs WHERE id = '${job.id}'`)[0][0];
      if (status !== 'queued') break;
      await sleep(5);
    }
    assert.equal(status, 'running', 'the job should be running when the process is killed');
    process.kill(servePid(s1), 'SIGKILL');
    await s1.stop();
    assert.equal(sql(s1, `SELECT status FROM jobs WHERE id = '${job.id}'`)[0][0], 'running');
    // The next process finds the lease (15 s) run out: the clock is moved on
    // rather than waited for.
    s2 = await startStack({ TOLLGATE_DB: s1.db, TOLLGATE_CLOCK_OFFSET: '20' });
    const token = (await api(s2, 'POST', '/v1/auth/login', { json: { email: admin.email, password: admin.password, force: true } })).body.token;
    const done = await waitJob(s2, token, job.id, 120000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.deepEqual(done.result, { processed: N, nonNull: { email: N, name: 0, age: 0, n: N, odd: N / 2 } });
    assert.equal(sql(s1, `SELECT attempts FROM jobs WHERE id = '${job.id}'`)[0][0], '2');
    assert.match(s2.log(), new RegExp(`runner: ${job.id} of ${sp.id} claimed \\(attempt 2\\)`));
  } finally {
    await s2?.stop();
    execFileSync('rm', ['-rf', s1.dir]);
  }
});

test('SIGTERM puts a running job back in the queue', async () => {
  const s = await startStack({}, { keep: true });
  try {
    const { admin, project, table } = await workspace(s);
    insertManyRecords(s, table, 300000);
    const sp = await publishSpinner(s, admin.token, (await createSpinner(s, admin.token, project.id, table)).id);
    const job = await trigger(s, admin.token, sp.id);
    for (let i = 0; i < 400; i++) {
      if (sql(s, `SELECT status FROM jobs WHERE id = '${job.id}'`)[0][0] !== 'queued') break;
      await sleep(5);
    }
    assert.equal(sql(s, `SELECT status FROM jobs WHERE id = '${job.id}'`)[0][0], 'running');
    await s.stop();
    const [status, attempts, runner] = sql(s, `SELECT status, attempts, coalesce(runner, '-') FROM jobs WHERE id = '${job.id}'`)[0];
    assert.deepEqual([status, attempts, runner], ['queued', '0', '-']);
    assert.match(s.log(), new RegExp(`runner: ${job.id} back in the queue`));
    assert.match(s.log(), /runner: stopped[^]*serve: stopped/);
  } finally {
    execFileSync('rm', ['-rf', s.dir]);
  }
});

test('a scheduled spinner is triggered by the runner when due, through the jobs meter', async () => {
  const s1 = await startStack({}, { keep: true });
  let s2, s3;
  try {
    const { admin, project, table } = await workspace(s1, 'email,name,age\na@x.test,A,1\n');
    const sp = await createSpinner(s1, admin.token, project.id, table, { schedule: 1 });
    const pub = await publishSpinner(s1, admin.token, sp.id);
    const t0 = Date.parse(pub.nextRunAt) - 60000;
    assert.ok(Math.abs(t0 - Date.now()) < 5000, pub.nextRunAt);
    await sleep(500);
    assert.equal(sql(s1, `SELECT count(*) FROM jobs WHERE spinner_id = '${sp.id}'`)[0][0], '0', 'not due yet');
    await s1.stop();

    // A minute later (the clock moved on): one run, and the next one a minute on.
    s2 = await startStack({ TOLLGATE_DB: s1.db, TOLLGATE_CLOCK_OFFSET: '61' });
    const token = (await api(s2, 'POST', '/v1/auth/login', { json: { email: admin.email, password: admin.password, force: true } })).body.token;
    let jobs;
    for (let i = 0; i < 100; i++) {
      jobs = (await api(s2, 'GET', `/v1/jobs?spinnerId=${sp.id}`, { token })).body.data;
      if (jobs.length > 0 && jobs[0].status === 'succeeded') break;
      await sleep(50);
    }
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].trigger, 'schedule');
    assert.equal(jobs[0].status, 'succeeded');
    assert.deepEqual(jobs[0].result, { processed: 1, nonNull: { email: 1, name: 1, age: 1 } });
    const after1 = (await api(s2, 'GET', `/v1/spinners/${sp.id}`, { token })).body;
    assert.equal(Date.parse(after1.nextRunAt), Date.parse(pub.nextRunAt) + 60000);
    const usage = (await api(s2, 'GET', '/v1/billing/usage', { token })).body;
    assert.equal(usage.meters.find((m) => m.meter === 'jobs').used, 1);
    await s2.stop();

    // With the jobs meter full, a due run is skipped (no job), and logged.
    const period = new Date().toISOString().slice(0, 7);
    sql(s1, `UPDATE usage SET used = 50 WHERE org_id = '${admin.org.id}' AND meter = 'jobs' AND period = '${period}'`);
    s3 = await startStack({ TOLLGATE_DB: s1.db, TOLLGATE_CLOCK_OFFSET: '125' });
    for (let i = 0; i < 100 && !/scheduled run of/.test(s3.log()); i++) await sleep(50);
    assert.match(s3.log(), new RegExp(`scheduled run of ${sp.id} skipped: meter jobs is full`));
    assert.equal(sql(s1, `SELECT count(*) FROM jobs WHERE spinner_id = '${sp.id}'`)[0][0], '1');
    assert.equal(sql(s1, `SELECT used FROM usage WHERE org_id = '${admin.org.id}' AND meter = 'jobs'`)[0][0], '50');
  } finally {
    await s2?.stop();
    await s3?.stop();
    execFileSync('rm', ['-rf', s1.dir]);
  }
});

test('a name of 64 "é" survives PATCH {"schedule":5} whole, as valid UTF-8', async () => {
  const { admin, project, table } = await workspace();
  const name = 'é'.repeat(64); // 128 bytes: found in review, cut at 127 by a buffer
  const c = await createSpinner(stack, admin.token, project.id, table, { name });
  const p = await rawRequest(stack, 'PATCH', `/v1/spinners/${c.id}`, { token: admin.token, json: { schedule: 5 } });
  assert.equal(p.status, 200, p.buf.toString());
  assert.equal(utf8Json(p).name, name);
  assert.equal(utf8Json(p).schedule, 5);
  const got = await rawRequest(stack, 'GET', `/v1/spinners/${c.id}`, { token: admin.token });
  assert.equal(utf8Json(got).name, name);
  const list = await rawRequest(stack, 'GET', `/v1/projects/${project.id}/spinners`, { token: admin.token });
  assert.deepEqual(utf8Json(list).data.map((sp) => sp.name), [name]);
  // The longest name there is: 100 characters of 4 bytes.
  const longest = '😀'.repeat(100);
  const q = await rawRequest(stack, 'PATCH', `/v1/spinners/${c.id}`, { token: admin.token, json: { name: longest, schedule: 10 } });
  assert.equal(utf8Json(q).name, longest);
  const r = await rawRequest(stack, 'PATCH', `/v1/spinners/${c.id}`, { token: admin.token, json: { schedule: 15 } });
  assert.equal(utf8Json(r).name, longest);
});
