// app.test.mjs: the web app's shell in a real browser: security headers,
// no inline script, no CSP violation, sign-up, and a 401 that goes to the
// sign-in page once, without a retry loop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../lib/stack.mjs';
import { launch } from '../lib/browser.mjs';

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

test('the app is served with a strict CSP and the other security headers', async () => {
  const r = await fetch(`${stack.base}/`);
  assert.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy');
  for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
    "frame-ancestors 'none'", "base-uri 'none'", "require-trusted-types-for 'script'"]) {
    assert.ok(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  }
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
  const html = await r.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(html, /\sstyle=|\son[a-z]+=/, 'no inline style or handlers');
  const js = await fetch(`${stack.base}/js/api.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
});

test('without a token the app shows sign-in, with no script error or CSP violation', async () => {
  const page = await browser.device(stack);
  const calls = [];
  page.on('request', (q) => { if (new URL(q.url()).pathname.startsWith('/v1/')) calls.push(q.url()); });
  await page.goto('/#/billing');
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  assert.equal(await page.getByLabel('Email').getAttribute('type'), 'email');
  assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
  assert.deepEqual(calls, [], 'no API call without a token');
  // Keyboard: the sign-up link is reachable and opens the form.
  await page.getByRole('link', { name: 'Create an organization' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Create an organization' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a bad token is one 401: the sign-in page with its banner, no retry', async () => {
  const page = await browser.device(stack);
  const calls = [];
  page.on('request', (q) => { if (new URL(q.url()).pathname.startsWith('/v1/')) calls.push(q.url()); });
  await page.goto('/');
  await page.evaluate(() => sessionStorage.setItem('tollgate.token', 'not.a.token'));
  await page.goto('/#/keys');
  await page.getByText('Please sign in again.').waitFor();
  await page.waitForTimeout(500); // a loop would show up here
  assert.equal(calls.length, 1, calls.join('\n'));
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tollgate.token')), null);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('sign-up creates an organization and signs its admin in', async () => {
  const page = await browser.device(stack);
  await page.goto('/#/signup');
  await page.getByLabel('Organization').fill('Signup Co');
  await page.getByLabel('Your name').fill('Grace Hopper');
  await page.getByLabel('Email').fill('grace@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create organization' }).click();
  // The browser itself refuses a password under 10 characters.
  assert.equal(await page.getByLabel('Password').evaluate((e) => e.validity.tooShort), true);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
  await page.getByRole('button', { name: /Grace Hopper/ }).click();
  await page.getByText('Signup Co').waitFor();
  await page.getByRole('link', { name: 'Billing' }).waitFor(); // the first user is admin
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
