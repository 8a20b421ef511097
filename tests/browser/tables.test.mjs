// tables.test.mjs: projects, tables and spinners in a real browser: create a
// project and a table, import a CSV with the file picker, see the inferred
// schema and the records, publish; a spinner is triggered and its job listed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../lib/stack.mjs';
import { launch, signInUI, signUp } from '../lib/browser.mjs';

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

  // A CSV with other columns is refused with the API's sentence, in place.
  await page.getByLabel('CSV file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('emial,age\nx,1\n') });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await records.locator('tbody tr').count(), 3);

  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('heading', { level: 1, name: /contacts\s*Published/ }).waitFor();
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
  await page.getByRole('button', { name: 'Trigger now' }).click();
  await page.getByText(/Job .+ queued\./).waitFor();
  const jobs = page.getByRole('table', { name: 'Jobs' });
  assert.equal(await jobs.locator('tbody tr').count(), 1);
  assert.match(await jobs.textContent(), /queued|running|succeeded/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
