// expiry.test.mjs: an idle session expires (TOLLGATE_SESSION_IDLE=3): the
// next page shows the sign-in banner, once. Saves the banner's screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../lib/stack.mjs';
import { launch, screenshotPath, signInUI, signUp } from '../lib/browser.mjs';

let stack;
let browser;
before(async () => {
  stack = await startStack({ TOLLGATE_SESSION_IDLE: '3' });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('an expired session shows "Your session has expired" on sign-in', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.waitForTimeout(5000); // idle 3 s; the clock keeps whole seconds
  const calls = [];
  page.on('request', (q) => { if (new URL(q.url()).pathname.startsWith('/v1/')) calls.push(q.url()); });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
  const banner = page.getByText('Your session has expired. Please sign in again.');
  await banner.waitFor();
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
  await page.waitForTimeout(300);
  assert.equal(calls.length, 1, 'one request, no retry');
  await page.screenshot({ path: screenshotPath('signin-banner.png') });
  // Signing in again goes back to the page the person was on.
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
