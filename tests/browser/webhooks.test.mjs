// webhooks.test.mjs: User menu → Webhooks in a real browser: a webhook
// added with its events, the signing secret shown once, deliveries with
// their status and a retry button, Billing saying which alerts are on, and
// delete after a confirmation. The receiver is a node:http server on
// 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { startStack, api } from '../lib/stack.mjs';
import { launch, signInUI, signUp } from '../lib/browser.mjs';

let stack;
let browser;
let server;
const got = [];
before(async () => {
  stack = await startStack({ TOLLGATE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', TOLLGATE_WEBHOOK_BACKOFF_BASE: '1' });
  browser = await launch();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  server?.closeAllConnections?.();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  await browser?.close();
  await stack?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('an admin adds a webhook, sees the secret once, its deliveries and a retry; Billing says alerts are on', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.getByRole('button', { name: /Ada Lovelace/ }).click();
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
  await page.getByText('No webhooks yet.').waitFor();

  const url = `http://127.0.0.1:${server.address().port}/tollgate`;
  await page.getByLabel('Receiver URL').fill(url);
  await page.getByRole('checkbox', { name: /^Usage alerts/ }).check();
  await page.getByRole('checkbox', { name: /^Finished jobs/ }).check();
  await page.getByRole('button', { name: 'Add webhook' }).click();
  const secretField = page.getByLabel('Signing secret');
  await secretField.waitFor();
  const secret = await secretField.inputValue();
  assert.match(secret, /^whsec_[0-9a-f]{64}$/);
  const row = page.getByRole('row', { name: new RegExp(url.replace(/[.]/g, '\\.')) });
  assert.match(await row.textContent(), /meter\.threshold.*job\.finished/);
  await page.getByRole('button', { name: 'I have saved the secret' }).click();
  assert.equal((await page.content()).includes(secret.slice(6)), false);

  // A project fills Trial's one: 80 % and 100 % of the projects meter.
  // The page's own session (one live session per account).
  const token = await page.evaluate(() => sessionStorage.getItem('tollgate.token'));
  const p = await api(stack, 'POST', '/v1/projects', { token, json: { name: 'First' } });
  assert.equal(p.status, 201, p.text);
  for (let i = 0; i < 100 && got.length < 2; i++) await sleep(100);
  assert.equal(got.length, 2);
  for (const g of got) {
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]+)$/.exec(g.headers['tollgate-signature']);
    assert.equal(createHmac('sha256', secret).update(`${t}.${g.body}`).digest('hex'), v1);
  }

  await page.getByRole('button', { name: `Deliveries to ${url}` }).click();
  const deliveries = page.getByRole('table', { name: `Deliveries to ${url}` });
  await deliveries.waitFor();
  await deliveries.getByText('Delivered').first().waitFor();
  assert.equal(await deliveries.getByRole('row').count(), 3); // a header and two deliveries
  assert.match(await deliveries.textContent(), /meter\.threshold.*HTTP 200/s);
  await deliveries.getByRole('button', { name: /^Retry meter\.threshold/ }).first().click();
  for (let i = 0; i < 100 && got.length < 3; i++) await sleep(100);
  assert.equal(got.length, 3, 'the retry sent the event again');
  assert.ok([got[0], got[1]].some((g) => g.headers['tollgate-event-id'] === got[2].headers['tollgate-event-id']),
    'the same event, not a new one');

  // Billing says where usage alerts go.
  await page.getByRole('button', { name: /Ada Lovelace/ }).click();
  await page.getByRole('link', { name: 'Billing' }).click();
  await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();
  const alerts = page.locator('[data-alerts="on"]');
  await alerts.waitFor();
  assert.match(await alerts.textContent(), new RegExp(`Usage alerts at 80 % and 100 % .*${url.replace(/[.]/g, '\\.')}`));
  assert.equal(await page.locator('[data-meter="webhooks"]').count(), 1);

  // Delete, after a confirmation; Billing then says alerts are off.
  await page.goto('/#/webhooks');
  await page.getByRole('button', { name: `Delete ${url}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click();
  await page.getByText('No webhooks yet.').waitFor();
  assert.equal((await api(stack, 'GET', '/v1/webhooks', { token })).body.data.length, 0);
  await page.goto('/#/billing');
  await page.locator('[data-alerts="off"]').waitFor();
});

test('a URL the server refuses is shown as the field error, and nothing is added', async () => {
  const who = await signUp(stack, 'bob');
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.goto('/#/webhooks');
  await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
  await page.getByLabel('Receiver URL').fill('http://example.com/hook');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await page.getByRole('alert').filter({ hasText: /https:\/\// }).waitFor();
  await page.getByText('No webhooks yet.').waitFor();
});
