// browser.mjs: drives Debian's chromium (/usr/bin/chromium) headless with
// playwright-core for the tests in tests/browser/, against a real stack from
// stack.mjs. Playwright's own browser download is not used.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { TOP, api } from './stack.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Where screenshots go: var/screenshots, or TOLLGATE_SCREENSHOTS (docs/webapp.md's
// images are refreshed with TOLLGATE_SCREENSHOTS=docs/screenshots make check).
export function screenshotPath(name) {
  const dir = resolve(TOP, process.env.TOLLGATE_SCREENSHOTS || join('var', 'screenshots'));
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

// Launches chromium (playwright gives it a fresh temporary profile) with no
// background networking: the machine has no internet, and without these
// flags chromium floods refused connections.
export async function launch() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    // A new, isolated browser context (its own sessionStorage): one "device".
    async device(stack) {
      const ctx = await browser.newContext({
        baseURL: stack.base,
        viewport: { width: 1200, height: 800 },
        deviceScaleFactor: 1,
        locale: 'en-US',
        timezoneId: 'UTC',
      });
      const page = await ctx.newPage();
      page.setDefaultTimeout(10000);
      const problems = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        // A failed API call (4xx) is logged by chromium as a console error;
        // those are expected. Script errors and CSP violations are not.
        if (m.type() === 'error' && !/the server responded with a status of/.test(m.text())) {
          problems.push(`console: ${m.text()}`);
        }
      });
      page.problems = problems;
      return page;
    },
    close: () => browser.close(),
  };
}

let seq = 0;
// A fresh organization through the public API: answers {email, password, org}.
export async function signUp(stack, prefix = 'ada') {
  seq += 1;
  const who = {
    org: `Acme ${prefix} ${seq}`,
    email: `${prefix}${seq}.${process.pid}@example.com`,
    password: 'correct horse battery',
    name: 'Ada Lovelace',
  };
  const r = await api(stack, 'POST', '/v1/signup',
    { json: { organization: who.org, email: who.email, password: who.password, name: who.name } });
  if (r.status !== 201) throw new Error(`signup: ${r.status} ${r.text}`);
  return who;
}

// Signs in through the API (no browser): answers the token.
export async function loginToken(stack, who, extra = {}) {
  const r = await api(stack, 'POST', '/v1/auth/login',
    { json: { email: who.email, password: who.password, device: 'test script', ...extra } });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.text}`);
  return r.body.token;
}

// Signs in through the sign-in page; waits for the projects page.
export async function signInUI(page, who) {
  await page.goto('/#/signin');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
}
