// app.test.mjs: the web app's shell in a real browser: security headers,
// no inline script, no CSP violation, sign-up with its welcome, a 401 that
// goes to the sign-in page once, without a retry loop, and the layout of
// www/js: one page module per resource, every request URL built in api.js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, TOP } from '../lib/stack.mjs';
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

test('sign-up creates an organization, signs its admin in and says welcome', async () => {
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
  // Projects says welcome, once.
  await page.getByRole('status').getByText(
    'Welcome to Tollgate, Grace Hopper. Your organization “Signup Co” is ready and you are its admin. Start by creating a project.',
  ).waitFor();
  await page.getByRole('button', { name: /Grace Hopper/ }).click();
  await page.locator('.menu').getByText('Signup Co').waitFor();
  await page.getByRole('link', { name: 'Billing' }).waitFor(); // the first user is admin
  await page.getByRole('link', { name: 'Billing' }).click();
  await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
  await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
  assert.equal(await page.getByText(/Welcome to Tollgate/).count(), 0);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('one page module per resource, and no page builds a request URL', async () => {
  for (const f of ['projects', 'tables', 'spinners', 'keys', 'billing', 'auth']) {
    const r = await fetch(`${stack.base}/js/pages/${f}.js`);
    assert.equal(r.status, 200, `pages/${f}.js`);
    await r.arrayBuffer();
  }
  const dir = join(TOP, 'www', 'js', 'pages');
  for (const f of readdirSync(dir)) {
    const src = readFileSync(join(dir, f), 'utf8');
    assert.doesNotMatch(src, /['"`]\/v1\//, `pages/${f} holds a request URL`);
  }
  assert.doesNotMatch(readFileSync(join(TOP, 'www', 'js', 'app.js'), 'utf8'), /['"`]\/v1\//, 'app.js holds a request URL');
  assert.doesNotMatch(readFileSync(join(TOP, 'www', 'js', 'pages', 'projects.js'), 'utf8'), /export async function (table|spinner)\b/);
});

test('api.js encodes every path segment and query value', async () => {
  const page = await browser.device(stack);
  const seen = [];
  await page.route('**/v1/**', (route) => {
    seen.push(new URL(route.request().url()).pathname + new URL(route.request().url()).search);
    return route.fulfill({ status: 200, contentType: 'application/json', body: '{"data":[],"nextCursor":null}' });
  });
  await page.goto('/#/signin');
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  const refused = await page.evaluate(async () => {
    const { api } = await import('/js/api.js');
    await api.tables.records('a/b?c#d', { limit: 5, cursor: 'x y&z' });
    await api.jobs.list('s/1', { cursor: 'c=1' });
    await api.projects.list();
    // A segment the browser would resolve ("..", ".") or drop ("") is
    // refused as not found, never sent.
    const codes = [];
    for (const id of ['..', '.', '']) {
      try { await api.spinners.get(id); } catch (e) { codes.push(e.code); }
    }
    return codes;
  });
  assert.deepEqual(seen, [
    '/v1/tables/a%2Fb%3Fc%23d/records?limit=5&cursor=x%20y%26z',
    '/v1/jobs?spinnerId=s%2F1&limit=50&cursor=c%3D1',
    '/v1/projects?limit=50',
  ]);
  assert.deepEqual(refused, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('problems and plan limits read the same from either shape of the API', async () => {
  const page = await browser.device(stack);
  await page.goto('/#/signin');
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  const out = await page.evaluate(async () => {
    const { problemText } = await import('/js/pages/tables.js');
    const { limitSentence } = await import('/js/pages/billing.js');
    return {
      problems: [
        // CSV import today: 1-based line, field, problem.
        problemText({ line: 3, field: 'age', problem: 'wrong type', expected: 'integer' }),
        // Ingest: 0-based record.
        problemText({ record: 0, field: null, problem: 'not an object' }),
        // A unified shape: index, column, message, value.
        problemText({ index: 4, column: 'vip', message: 'wrong type', expected: 'boolean', value: 'maybe' }),
      ],
      limits: [
        limitSentence({ meter: 'records', used: 522, limit: 10000, resetsAt: '2027-01-01T00:00:00Z', requested: 9600, asked: { action: 'import' } }),
        limitSentence({ meter: 'apiKeys', used: 2, limit: 2, resetsAt: null, asked: { action: 'create', count: 1 } }, { isAdmin: false }),
        limitSentence({ meter: 'jobs', used: 50, limit: 50, resetsAt: '2027-01-01T00:00:00Z', asked: { action: 'trigger', count: 1 } }),
        limitSentence({ meter: 'users', used: 1, limit: 1, resetsAt: null }),
      ],
    };
  });
  assert.deepEqual(out.problems, [
    'Line 3, column “age”: wrong type; expected a whole number (integer).',
    'Record 1: not an object.',
    'Record 5, column “vip”: wrong type; expected true or false (boolean), not “maybe”.',
  ]);
  assert.deepEqual(out.limits, [
    { first: 'Importing 9,600 records would pass your 10,000 a month; 522 are used.', next: 'To go on, upgrade your plan, or wait until the meter resets on Jan 1, 2027.' },
    { first: "Creating an API key would pass your plan's 2 API keys; 2 are in use.", next: 'To go on, free capacity (revoke a key you no longer use) or ask an admin of your organization to upgrade the plan.' },
    { first: 'Starting a job would pass your 50 jobs a month; 50 are used.', next: 'To go on, upgrade your plan, or wait until the meter resets on Jan 1, 2027.' },
    { first: 'Your plan allows 1 user; 1 is in use.', next: 'To go on, free capacity (remove a user who no longer needs access) or upgrade your plan.' },
  ]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
