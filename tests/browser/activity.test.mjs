// activity.test.mjs: the Sign-in activity page, opened from the user menu,
// lists the account's sign-ins (this one, and one that signed out) and its
// devices; revoking a device after the confirmation dialog removes it from
// the page and from the API; revoking this browser's own signs it out.
// Saves the page's screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api } from '../lib/stack.mjs';
import { launch, screenshotPath, signInUI, signUp } from '../lib/browser.mjs';

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

test('the page lists sessions and devices; revoking a device removes it', async () => {
  const who = await signUp(stack);
  // An earlier sign-in from another device, signed out since.
  const old = await api(stack, 'POST', '/v1/auth/login', { json: { email: who.email, password: who.password, device: 'Old phone' } });
  assert.equal(old.status, 200, old.text);
  assert.equal((await api(stack, 'POST', '/v1/auth/logout', { token: old.body.token })).status, 204);

  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.getByRole('button', { name: /account menu/ }).click();
  await page.getByRole('link', { name: 'Sign-in activity' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign-in activity' }).waitFor();
  assert.equal(await page.title(), 'Sign-in activity · Tollgate');

  const sessions = page.getByRole('table', { name: 'Sign-ins' });
  const rows = sessions.locator('tbody tr');
  assert.equal(await rows.count(), 2);
  assert.match(await rows.nth(0).textContent(), /This session/);
  assert.match(await rows.nth(0).textContent(), /127\.0\.0\.1/);
  assert.match(await rows.nth(1).textContent(), /Old phone.*Signed out/);

  const devices = page.getByRole('table', { name: 'Devices' });
  const deviceRows = devices.locator('tbody tr');
  const before = await deviceRows.count();
  assert.equal(before, 3, 'the sign-up, the old phone and this browser');
  assert.equal(await devices.getByText('This device').count(), 1);
  await page.screenshot({ path: screenshotPath('activity.png'), fullPage: true });

  // Cancel keeps it; confirming revokes it.
  await page.getByRole('button', { name: 'Revoke Old phone' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await deviceRows.count(), before);
  await page.getByRole('button', { name: 'Revoke Old phone' }).click();
  const dialog = page.getByRole('dialog');
  assert.match(await dialog.textContent(), /Revoke this device\?/);
  await dialog.getByRole('button', { name: 'Revoke device' }).click();
  await page.getByText('“Old phone” was revoked.').waitFor();
  assert.equal(await deviceRows.count(), before - 1);
  assert.equal(await devices.getByText('Old phone').count(), 0);
  // The sign-in history keeps the session, and the API has no such device.
  assert.match(await rows.nth(1).textContent(), /Old phone/);
  const token = await page.evaluate(() => sessionStorage.getItem('tollgate.token'));
  const list = await api(stack, 'GET', '/v1/auth/devices', { token });
  assert.equal(list.status, 200, list.text);
  assert.ok(!list.body.data.some((d) => d.name === 'Old phone'), list.text);

  // Revoking this browser's own device signs it out, and forgets its token.
  await page.getByRole('button', { name: /^Revoke Chrome/ }).click();
  assert.match(await page.getByRole('dialog').textContent(), /revoking it signs you out here/);
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke device' }).click();
  await page.getByText('You were signed out.').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('tollgate.deviceToken')), null);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
