// api_keys.test.mjs: API keys in a real browser: created with scopes, the
// secret shown once with a copy button, listed by prefix, revoked after a
// confirmation; the third key on Trial routes to Billing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api } from '../lib/stack.mjs';
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


async function createKey(page, name, scopes) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  for (const s of ['Ingest', 'Trigger', 'Read']) {
    const box = page.getByRole('checkbox', { name: new RegExp(`^${s}`) });
    if (scopes.includes(s.toLowerCase())) await box.check(); else await box.uncheck();
  }
  await page.getByRole('button', { name: 'Create key' }).click();
}

test('a new key is shown once, with a copy button and a warning', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.base });
  await signInUI(page, who);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
  await createKey(page, 'CRM sync', ['ingest', 'read']);

  const secret = page.getByLabel('New API key');
  await secret.waitFor();
  const key = await secret.inputValue();
  assert.match(key, /^tg_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{38,}$/);
  await page.getByText('Copy this key now.').waitFor();
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByText('Copied to the clipboard.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);

  // The key works against the API with its scopes.
  const usage = await api(stack, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': key } });
  assert.equal(usage.status, 200, usage.text);

  // Listed by prefix with its scopes; the secret is nowhere once dismissed.
  const row = page.getByRole('row', { name: /CRM sync/ });
  assert.match(await row.textContent(), new RegExp(`${key.slice(0, 11)}_…`));
  assert.match(await row.textContent(), /ingest.*read/);
  assert.match(await row.textContent(), /Never/);
  await page.getByRole('button', { name: 'I have saved the key' }).click();
  assert.equal((await page.content()).includes(key.slice(12)), false);
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
  assert.equal((await page.content()).includes(key.slice(12)), false);
  assert.equal(await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }))
    .then((s) => s.includes(key.slice(12))), false);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('revoking asks first; then the key is refused', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.goto('/#/keys');
  await createKey(page, 'Nightly export', ['read']);
  const key = await page.getByLabel('New API key').inputValue();
  await page.getByRole('button', { name: 'I have saved the key' }).click();

  await page.getByRole('button', { name: 'Revoke Nightly export' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText(/stops working at once/).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.match(await page.getByRole('row', { name: /Nightly export/ }).textContent(), /Active/);

  await page.getByRole('button', { name: 'Revoke Nightly export' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
  await page.getByText('“Nightly export” was revoked.').waitFor();
  assert.match(await page.getByRole('row', { name: /Nightly export/ }).textContent(), /Revoked/);
  const r = await api(stack, 'GET', '/v1/billing/usage', { headers: { 'X-API-Key': key } });
  assert.equal(r.status, 401);
  assert.equal(r.body.errorCode, 'INVALID_API_KEY');

  // The next action starts without the last one's message.
  await createKey(page, 'No scopes', []);
  await page.getByText('Choose at least one scope.').waitFor();
  assert.equal(await page.getByText('“Nightly export” was revoked.').count(), 0);
  assert.equal(await page.locator('#main .alert').count(), 1);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a third key on Trial is PLAN_LIMIT: Billing with the API keys meter', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.goto('/#/keys');
  for (const name of ['one', 'two']) {
    await createKey(page, name, ['ingest']);
    await page.getByRole('button', { name: 'I have saved the key' }).click();
  }
  await createKey(page, 'three', ['ingest']);
  await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();
  assert.match(page.url(), /meter=apiKeys$/);
  // People's words ("2 API keys", not "2 apiKeys"), and a live-object
  // meter offers capacity to free.
  const banner = page.locator('[data-limit="apiKeys"]');
  await banner.waitFor();
  assert.equal((await banner.innerText()).replace(/\s+/g, ' ').trim(),
    "Creating an API key would pass your plan's 2 API keys; 2 are in use. That was not done. "
    + 'To go on, free capacity (revoke a key you no longer use) or upgrade your plan.');
  assert.match(await page.locator('[data-meter="apiKeys"]').textContent(), /2\s*\/\s*2\s*API keys/);
  await page.context().close();
});
