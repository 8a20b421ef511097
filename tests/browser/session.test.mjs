// session.test.mjs: signing in and out in a real browser: a wrong password,
// the single-session takeover across two browser contexts (two devices),
// the device token kept and sent back, sign-out, and the role-aware
// navigation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api } from '../lib/stack.mjs';
import { launch, loginToken, signInUI, signUp } from '../lib/browser.mjs';

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


test('sign in lands on Projects with the admin navigation', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'API keys' }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Projects' }).getAttribute('aria-current'), 'page');
  // The token is in this tab's sessionStorage, nowhere else: localStorage
  // holds at most the device token.
  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem('tollgate.token'), local: { ...localStorage }, cookie: document.cookie,
  }));
  assert.match(stored.session, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  for (const k of Object.keys(stored.local)) assert.equal(k, 'tollgate.deviceToken');
  assert.ok(!JSON.stringify(stored.local).includes(stored.session));
  assert.equal(stored.cookie, '');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a wrong password is an inline error, and nothing is stored', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await page.goto('/#/signin');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.ok((await alert.textContent()).length > 0);
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tollgate.token')), null);
  // Correcting it signs in.
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('409 SESSION_ACTIVE asks, takes over with force; the first device shows its banner', async () => {
  const who = await signUp(stack);
  const first = await browser.device(stack);
  await signInUI(first, who);

  const second = await browser.device(stack);
  await second.goto('/#/signin');
  await second.getByLabel('Email').fill(who.email);
  await second.getByLabel('Password').fill(who.password);
  await second.getByRole('button', { name: 'Sign in' }).click();
  const dialog = second.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await dialog.textContent(),
    /This account is signed in on another device \(Chrome on Linux.*\)\. Sign out there and continue\?/);

  // "Cancel" changes nothing: the first device stays signed in.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await second.getByText('You are still signed in on the other device.').waitFor();
  await first.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
  await first.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();

  // Asked again, and confirmed: the second device signs in with force.
  await second.getByRole('button', { name: 'Sign in' }).click();
  await second.getByRole('dialog').getByRole('button', { name: 'Sign out there and continue' }).click();
  await second.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();

  // The first device's next request is 401 SESSION_REPLACED: the sign-in
  // page with the banner, and its token is gone.
  const calls = [];
  first.on('request', (q) => { if (new URL(q.url()).pathname.startsWith('/v1/')) calls.push(q.url()); });
  await first.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
  await first.getByText('You signed in on another device.').waitFor();
  assert.equal(await first.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
  assert.equal(await first.evaluate(() => sessionStorage.getItem('tollgate.token')), null);
  await first.waitForTimeout(300);
  assert.equal(calls.length, 1, `one request, no retry: ${calls.join(' ')}`);
  assert.deepEqual(first.problems, []);
  assert.deepEqual(second.problems, []);
  await first.context().close();
  await second.context().close();
});

// Adds deviceToken to the answers of route's path when the server sent
// none (so this passes whether or not the server issues device tokens);
// answers the login bodies the page sent.
async function deviceAnswers(page) {
  const bodies = [];
  await page.route(/\/v1\/(auth\/login|signup)$/, async (route) => {
    if (route.request().url().endsWith('/login')) bodies.push(JSON.parse(route.request().postData()));
    const res = await route.fetch();
    const body = await res.json();
    if (res.ok() && !body.deviceToken) body.deviceToken = `dev-${bodies.length}-${Date.now()}`;
    await route.fulfill({ response: res, json: body });
  });
  return bodies;
}

test('the device token of a login answer is kept and sent with the next login', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  const bodies = await deviceAnswers(page);
  await signInUI(page, who);
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0].deviceToken, undefined, 'a new browser has none to send');
  const kept = await page.evaluate(() => localStorage.getItem('tollgate.deviceToken'));
  assert.ok(kept);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tollgate.deviceToken')), null);

  await page.getByRole('button', { name: /Ada Lovelace/ }).click();
  await page.getByRole('link', { name: 'Sign out' }).click();
  await page.getByText('You have signed out.').waitFor();
  await signInUI(page, who);
  assert.equal(bodies.length, 2);
  assert.equal(bodies[1].deviceToken, kept);
  // Replaced by whatever the newest answer carries.
  const now = await page.evaluate(() => localStorage.getItem('tollgate.deviceToken'));
  assert.ok(now);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('sign-up keeps the device token its answer carries for the first login', async () => {
  const page = await browser.device(stack);
  const bodies = await deviceAnswers(page);
  let fromSignup = null;
  page.on('response', async (r) => {
    if (r.url().endsWith('/v1/signup')) fromSignup = (await r.json()).deviceToken;
  });
  await page.goto('/#/signup');
  await page.getByLabel('Organization').fill('Device Co');
  await page.getByLabel('Email').fill(`device.${process.pid}@example.com`);
  await page.getByLabel('Password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
  assert.ok(fromSignup);
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0].deviceToken, fromSignup);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a device token the server refuses as malformed is forgotten, and signing in works', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  const bodies = [];
  await page.route(/\/v1\/auth\/login$/, async (route) => {
    const body = JSON.parse(route.request().postData());
    bodies.push(body);
    if (body.deviceToken === 'stale') {
      return route.fulfill({
        status: 400,
        contentType: 'application/json',
        json: { error: 'deviceToken is not one this API gave out.', errorCode: 'INVALID_BODY', requestId: 'r1', details: { field: 'deviceToken' } },
      });
    }
    return route.continue();
  });
  await page.goto('/#/signin');
  await page.evaluate(() => localStorage.setItem('tollgate.deviceToken', 'stale'));
  await signInUI(page, who);
  assert.deepEqual(bodies.map((b) => b.deviceToken), ['stale', undefined]);
  assert.notEqual(await page.evaluate(() => localStorage.getItem('tollgate.deviceToken')), 'stale');
  await page.context().close();
});

test('sign-out ends the session on the server and says so', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  const token = await page.evaluate(() => sessionStorage.getItem('tollgate.token'));
  await page.getByRole('button', { name: /Ada Lovelace/ }).click();
  await page.getByRole('link', { name: 'Sign out' }).click();
  await page.getByText('You have signed out.').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tollgate.token')), null);
  const r = await api(stack, 'GET', '/v1/auth/session', { token });
  assert.equal(r.status, 401);
  assert.equal(r.body.errorCode, 'SESSION_REVOKED');
  // A new attempt starts without the old banner.
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByText('You have signed out.').count(), 0);
  // Back to a page that needs a session: sign-in, without a loop.
  await page.goto('/#/projects');
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.context().close();
});

test('a viewer sees no admin pages', async () => {
  const admin = await signUp(stack);
  const token = await loginToken(stack, admin);
  const viewer = { email: `viewer.${process.pid}@example.com`, password: 'viewer password 1' };
  const r = await api(stack, 'POST', '/v1/users',
    { token, json: { email: viewer.email, password: viewer.password, role: 'viewer', name: 'Vera Viewer' } });
  assert.equal(r.status, 201, r.text);
  const page = await browser.device(stack);
  await signInUI(page, viewer);
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await nav.getByRole('link', { name: 'API keys' }).count(), 0);
  await page.getByRole('button', { name: /Vera Viewer/ }).click();
  assert.equal(await page.getByRole('link', { name: 'Billing' }).count(), 0);
  await page.getByRole('link', { name: 'Sign out' }).waitFor();
  // No create form for a viewer, and the admin page by address is refused.
  assert.equal(await page.getByRole('button', { name: 'Create project' }).count(), 0);
  await page.goto('/#/keys');
  await page.getByRole('heading', { level: 1, name: 'Only admins can open this page' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
