// tables.test.mjs: projects, tables and spinners in a real browser: create a
// project and a table, import a CSV with the file picker, see the inferred
// schema and the records, a refused CSV's problems line by line, publish
// after a confirmation; a spinner is triggered and its job listed; lists
// longer than a page load more; a 390 px screen scrolls nothing sideways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api } from '../lib/stack.mjs';
import { launch, loginToken, screenshotPath, signInUI, signUp } from '../lib/browser.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const CSV = 'email,age,score,vip\r\nada@example.com,36,4.5,true\r\n"grace, rear admiral",85,3,false\r\nlinus@example.com,,2.25,true\r\n';

async function newTable(page) {
  await page.getByLabel('Project name').fill('CRM sync');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { level: 1, name: 'CRM sync' }).waitFor();
  await page.getByLabel('New table name').fill('contacts');
  await page.getByRole('button', { name: 'Create table' }).click();
  await page.getByRole('heading', { level: 1, name: /contacts/ }).waitFor();
}

test('CSV import through the file picker shows the inferred schema and records', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await newTable(page);
  await page.getByText('No schema yet: import a CSV to define the columns.').waitFor();

  await page.getByLabel('CSV file').setInputFiles({ name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Imported 3 records.').waitFor();

  const schema = page.getByRole('table', { name: 'Schema' });
  const types = await schema.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.innerText.replace(/\s+/g, ' ').trim()));
  assert.deepEqual(types, ['email text', 'age integer', 'score number', 'vip boolean']);
  const records = page.getByRole('table', { name: 'Records' });
  assert.equal(await records.locator('tbody tr').count(), 3);
  assert.match(await records.textContent(), /grace, rear admiral/);

  // A CSV with other columns is refused, in place, with what is wrong.
  await page.getByLabel('CSV file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('emial,age\nx,1\n') });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await records.locator('tbody tr').count(), 3);

  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Publish table' }).click();
  await page.getByRole('heading', { level: 1, name: /contacts\s*Published/ }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a CSV that does not match shows each problem, and no stale success above it', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await newTable(page);
  await page.getByLabel('CSV file').setInputFiles({ name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Imported 3 records.').waitFor();

  // Right header, wrong types on lines 3 and 4 (line 1 is the header).
  const typos = 'email,age,score,vip\nok@example.com,40,1.5,false\nbad@example.com,forty,1,true\nworse@example.com,41,high,maybe\n';
  await page.getByLabel('CSV file').setInputFiles({ name: 'typos.csv', mimeType: 'text/csv', buffer: Buffer.from(typos) });
  await page.getByRole('button', { name: 'Import' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const text = (await alert.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /does not match the table's columns, so nothing was imported/);
  assert.doesNotMatch(text, /details\.problems/);
  const problems = await alert.locator('li').allInnerTexts();
  assert.deepEqual(problems, [
    'Line 3, column “age”: wrong type; expected a whole number (integer).',
    'Line 4, column “score”: wrong type; expected a number.',
    'Line 4, column “vip”: wrong type; expected true or false (boolean).',
  ]);
  // The earlier success is gone: one message, the current one.
  assert.equal(await page.getByText('Imported 3 records.').count(), 0);
  assert.equal(await page.locator('#main .alert').count(), 1);

  // A header that does not match names the columns, on line 1.
  await page.getByLabel('CSV file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('emial,age,score,vip\nx,1,1,true\n') });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Line 1, column “emial”: unknown column.').waitFor();
  assert.equal(await page.getByText('Line 3, column “age”').count(), 0);
  assert.equal(await page.getByRole('table', { name: 'Records' }).locator('tbody tr').count(), 3);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('publishing asks first, then says it is done', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await newTable(page);
  await page.getByLabel('CSV file').setInputFiles({ name: 'c.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Imported 3 records.').waitFor();

  // Cancel: nothing is published.
  await page.getByRole('button', { name: 'Publish' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /Publish “contacts”\?.*cannot be undone/);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  const id = page.url().split('/').pop();
  const token = await page.evaluate(() => sessionStorage.getItem('tollgate.token'));
  assert.equal((await api(stack, 'GET', `/v1/tables/${id}`, { token })).body.published, false);

  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Publish table' }).click();
  await page.getByText('“contacts” is published. API keys with the ingest scope can now send records to it.').waitFor();
  await page.getByRole('heading', { level: 1, name: /contacts\s*Published/ }).waitFor();
  assert.equal((await api(stack, 'GET', `/v1/tables/${id}`, { token })).body.published, true);
  assert.equal(await page.getByText('Imported 3 records.').count(), 0);

  // The spinner's publish asks the same way.
  await page.getByRole('link', { name: 'CRM sync' }).click();
  await page.getByLabel('New spinner name').fill('Nightly');
  await page.getByRole('button', { name: 'Create spinner' }).click();
  await page.getByRole('heading', { level: 1, name: /Nightly/ }).waitFor();
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Publish spinner' }).click();
  await page.getByText('“Nightly” is published. Trigger it to run a job.').waitFor();
  await page.getByRole('button', { name: 'Trigger now' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

// Creates a project with n tables through the API; answers {who, project}.
async function projectWithTables(n) {
  const who = await signUp(stack);
  const token = await loginToken(stack, who);
  const p = await api(stack, 'POST', '/v1/projects', { token, json: { name: 'Many tables' } });
  assert.equal(p.status, 201, p.text);
  for (let i = 1; i <= n; i++) {
    const r = await api(stack, 'POST', `/v1/projects/${p.body.id}/tables`, { token, json: { name: `t${String(i).padStart(2, '0')}` } });
    assert.equal(r.status, 201, r.text);
  }
  await api(stack, 'POST', '/v1/auth/logout', { token });
  return { who, project: p.body };
}

test('a list longer than a page loads more with nextCursor', async () => {
  const { who, project } = await projectWithTables(60);
  const page = await browser.device(stack);
  const asked = [];
  page.on('request', (q) => {
    const u = new URL(q.url());
    if (u.pathname.endsWith('/tables')) asked.push(u.search);
  });
  await signInUI(page, who);
  await page.goto(`/#/projects/${project.id}`);
  const list = page.getByRole('table', { name: 'Data tables' });
  await list.waitFor();
  assert.equal(await list.locator('tbody tr').count(), 50);
  await page.getByText('Showing 50; there are more.').waitFor();
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.getByText('Showing all 60.').waitFor();
  assert.equal(await list.locator('tbody tr').count(), 60);
  const names = await list.locator('tbody tr td:first-child').allInnerTexts();
  assert.equal(new Set(names).size, 60, 'no table twice');
  assert.equal(await page.getByRole('button', { name: 'Load more' }).isVisible(), false);
  assert.equal(asked.length, 2);
  assert.match(asked[0], /^\?limit=50$/);
  assert.match(asked[1], /^\?limit=50&cursor=[\w-]+$/);
  // The new spinner can use every table loaded, the last included.
  assert.equal(await page.getByLabel('Table', { exact: true }).locator('option').count(), 60);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

const rowsCsv = (n) => `name,n\n${Array.from({ length: n }, (_, i) => `row${i + 1},${i + 1}`).join('\n')}\n`;

test('records load page by page', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await newTable(page);
  await page.getByLabel('CSV file').setInputFiles({ name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from(rowsCsv(120)) });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Imported 120 records.').waitFor();
  const records = page.getByRole('table', { name: 'Records' });
  assert.equal(await records.locator('tbody tr').count(), 50);
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.getByText('Showing 100; there are more.').waitFor();
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.getByText('Showing all 120.').waitFor();
  const last = await records.locator('tbody tr').last().innerText();
  assert.match(last, /row120\s+120/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('on a 390 px screen nothing is wider than the screen', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await page.setViewportSize({ width: 390, height: 844 });
  await signInUI(page, who);
  const fits = async (where) => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    // The elements past the right edge, outside a scrolling table frame.
    const culprits = w <= 390 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > 390 && !e.closest('.table-wrap table'))
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}`).slice(0, 8));
    assert.ok(w <= 390, `${where}: the page is ${w} px wide (${culprits.join(', ')})`);
  };
  await fits('projects');
  await page.getByLabel('Project name').fill('A project with a rather long name that goes on');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { level: 1, name: /A project with/ }).waitFor();
  await page.getByLabel('New table name').fill('contacts_with_a_long_unbroken_name_for_the_table');
  await page.getByRole('button', { name: 'Create table' }).click();
  await page.getByRole('heading', { level: 1, name: /contacts_with/ }).waitFor();
  const wide = 'id,email,full_name,company,street,city,country,notes\n'
    + '1,averyveryverylongemailaddress@averyverylongdomainname.example.com,Ada Augusta King Countess of Lovelace,Analytical Engines Limited,12 St James Square,London,United Kingdom,"first programmer, wrote notes on the engine"\n';
  await page.getByLabel('CSV file').setInputFiles({ name: 'wide.csv', mimeType: 'text/csv', buffer: Buffer.from(wide) });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Imported 1 record.').waitFor();
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Publish table' }).click();
  await page.getByText(/is published\./).waitFor();
  await page.locator('code', { hasText: /^POST \/v1\/tables\// }).waitFor();
  await fits('a published table with its endpoint and records');
  await page.screenshot({ path: screenshotPath('table-390.png'), fullPage: true });
  // The records table scrolls inside its frame; its last column is reachable.
  const frame = page.getByRole('table', { name: 'Records' }).locator('xpath=..');
  assert.ok(await frame.evaluate((e) => e.scrollWidth > e.clientWidth && getComputedStyle(e).overflowX === 'auto'));
  const code = page.locator('code', { hasText: /^POST \/v1\/tables\// });
  const box = await code.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the endpoint is at ${box.x}..${box.x + box.width}`);
  await page.getByRole('link', { name: /A project with/ }).click();
  await page.getByRole('heading', { level: 1, name: /A project with/ }).waitFor();
  await fits('project');
  await page.goto('/#/keys');
  await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
  await fits('API keys');
  await page.goto('/#/billing');
  await page.locator('[data-meter="records"]').waitFor();
  await fits('billing');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a spinner is published, triggered, and its job listed', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await newTable(page);
  await page.getByLabel('CSV file').setInputFiles({ name: 'c.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Imported 3 records.').waitFor();
  await page.getByRole('link', { name: 'CRM sync' }).click();
  await page.getByLabel('New spinner name').fill('Nightly');
  await page.getByLabel('Table', { exact: true }).selectOption({ label: 'contacts' });
  await page.getByRole('button', { name: 'Create spinner' }).click();
  await page.getByRole('heading', { level: 1, name: /Nightly/ }).waitFor();
  await page.getByText('No jobs yet. Publish the spinner, then trigger it.').waitFor();
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Publish spinner' }).click();
  await page.getByRole('button', { name: 'Trigger now' }).click();
  await page.getByText(/Job .+ queued\./).waitFor();
  const jobs = page.getByRole('table', { name: 'Jobs' });
  assert.equal(await jobs.locator('tbody tr').count(), 1);
  assert.match(await jobs.textContent(), /queued|running|succeeded/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('Download CSV saves every record, over several pages, under one header row', async () => {
  const who = await signUp(stack);
  const token = await loginToken(stack, who);
  const p = await api(stack, 'POST', '/v1/projects', { token, json: { name: 'Exports' } });
  const t = await api(stack, 'POST', `/v1/projects/${p.body.id}/tables`, { token, json: { name: 'contacts & co' } });
  const imp = await api(stack, 'POST', `/v1/tables/${t.body.id}/import`, { token, headers: { 'Content-Type': 'text/csv' }, body: CSV });
  assert.equal(imp.status, 200, imp.text);
  // 600 more: the export takes two pages of 500.
  const records = Array.from({ length: 600 }, (_, i) => ({ email: `r${i}@example.com`, age: i, score: i / 4, vip: i % 3 === 0 }));
  for (const part of [records.slice(0, 300), records.slice(300)]) {
    const ing = await api(stack, 'POST', `/v1/tables/${t.body.id}/records`, { token, json: { records: part } });
    assert.equal(ing.status, 200, ing.text);
  }
  await api(stack, 'POST', '/v1/auth/logout', { token });

  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.goto(`/#/tables/${t.body.id}`);
  await page.getByRole('table', { name: 'Records' }).waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download CSV' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'contacts_co.csv');
  const chunks = [];
  for await (const c of await download.createReadStream()) chunks.push(c);
  const lines = Buffer.concat(chunks).toString('utf8').split('\r\n');
  assert.equal(lines[0], 'email,age,score,vip');
  assert.deepEqual(lines.slice(1, 4), ['ada@example.com,36,4.5,true', '"grace, rear admiral",85,3,false', 'linus@example.com,,2.25,true']);
  assert.equal(lines[4], 'r0@example.com,0,0,true');
  assert.equal(lines[603], 'r599@example.com,599,149.75,false');
  assert.equal(lines.length, 1 + 603 + 1);
  assert.equal(lines.filter((l) => l.startsWith('email,')).length, 1);
  await page.getByText('Downloaded.').waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
