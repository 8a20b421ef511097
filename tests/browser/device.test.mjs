// device.test.mjs: the same browser is recognised. Closing the tab ends
// its sessionStorage (the session token) but not its localStorage (the
// device token): signing in again takes its own session over without the
// "another device" dialog, while another browser still gets it.
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

async function signInForm(page, who) {
  await page.goto('/#/signin');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a closed tab signs in again without the "another device" dialog; another browser is asked', async () => {
  const who = await signUp(stack);
  const first = await browser.device(stack);
  const context = first.context();
  await signInUI(first, who);
  const device = await first.evaluate(() => localStorage.getItem('tollgate.deviceToken'));
  assert.ok(device, 'the login answer carries a deviceToken, kept in localStorage');
  await first.close();

  // The same browser, a new tab: no session token, the same device token.
  const again = await context.newPage();
  again.setDefaultTimeout(10000);
  const problems = [];
  again.on('pageerror', (e) => problems.push(e.message));
  let dialogs = 0;
  again.on('response', (r) => { if (r.url().endsWith('/v1/auth/login') && r.status() === 409) dialogs += 1; });
  await again.goto('/');
  assert.equal(await again.evaluate(() => sessionStorage.getItem('tollgate.token')), null);
  await signInForm(again, who);
  await again.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
  assert.equal(await again.getByRole('dialog').count(), 0);
  assert.equal(dialogs, 0, 'no 409 SESSION_ACTIVE for its own session');
  assert.deepEqual(problems, []);

  // Another browser (its own localStorage) is a genuinely other device.
  const other = await browser.device(stack);
  await signInForm(other, who);
  const dialog = other.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /This account is signed in on another device/);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.deepEqual(other.problems, []);
  await other.context().close();
  await context.close();
});
