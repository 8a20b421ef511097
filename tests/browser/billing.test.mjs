// billing.test.mjs: User menu → Billing in a real browser: the meters with
// one at its limit (saved as a screenshot), PLAN_LIMIT from anywhere routing
// to Billing with a sentence of what was asked, in people's words, and the
// plan upgrade; the plan cards with each plan's rate limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, api, sql } from '../lib/stack.mjs';
import { launch, loginToken, screenshotPath, signInUI, signUp } from '../lib/browser.mjs';

let stack;
let browser;
before(async () => {
  // The plans keep their own request budgets (sql/011), as in production.
  stack = await startStack({}, { planRates: true });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});


// An organization on Trial whose one project fills the projects meter.
async function fullTrial() {
  const who = await signUp(stack);
  const token = await loginToken(stack, who);
  const r = await api(stack, 'POST', '/v1/projects', { token, json: { name: 'CRM sync' } });
  assert.equal(r.status, 201, r.text);
  await api(stack, 'POST', '/v1/auth/logout', { token });
  return who;
}

test('usage meters show used / limit and reset date; a full meter says what to do', async () => {
  const who = await fullTrial();
  const page = await browser.device(stack);
  await signInUI(page, who);
  // User menu → Billing, by keyboard.
  await page.getByRole('button', { name: /Ada Lovelace/ }).press('Enter');
  await page.getByRole('link', { name: 'Billing' }).press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();

  const projects = page.locator('[data-meter="projects"]');
  await projects.waitFor();
  assert.match(await projects.textContent(), /1\s*\/\s*1\s*projects/);
  assert.match(await projects.textContent(), /Limit reached/);
  assert.match(await projects.textContent(), /You can't add more projects on this plan\..*upgrade your plan/);
  assert.equal(await projects.getByRole('progressbar').getAttribute('aria-valuetext'), '1 of 1 project used');
  assert.ok((await projects.getAttribute('class')).includes('meter-full'));

  const records = page.locator('[data-meter="records"]');
  assert.match(await records.textContent(), /0\s*\/\s*10,000\s*records/);
  assert.match(await records.textContent(), /Resets on [A-Z][a-z]{2} 1, \d{4}/);
  assert.doesNotMatch(await records.textContent(), /Limit reached/);
  for (const m of ['users', 'apiKeys', 'jobs']) assert.equal(await page.locator(`[data-meter="${m}"]`).count(), 1);

  await page.screenshot({ path: screenshotPath('billing-usage.png'), fullPage: true });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('PLAN_LIMIT on creating a second project routes to Billing with the meter named', async () => {
  const who = await fullTrial();
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.getByLabel('Project name').fill('A second project');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();
  assert.match(page.url(), /#\/billing\?meter=projects$/);
  const banner = page.locator('[data-limit="projects"]');
  await banner.waitFor();
  assert.equal((await banner.innerText()).replace(/\s+/g, ' ').trim(),
    "Creating a project would pass your plan's 1 project; 1 is in use. That was not done. "
    + 'To go on, free capacity (delete a project you no longer need) or upgrade your plan.');
  const meter = page.locator('[data-meter="projects"].meter-highlight');
  assert.equal(await meter.count(), 1);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('PLAN_LIMIT on an import says how much was asked, and offers no capacity to free', async () => {
  const who = await signUp(stack);
  const token = await loginToken(stack, who);
  const p = await api(stack, 'POST', '/v1/projects', { token, json: { name: 'Imports' } });
  const t = await api(stack, 'POST', `/v1/projects/${p.body.id}/tables`, { token, json: { name: 'rows' } });
  const first = await api(stack, 'POST', `/v1/tables/${t.body.id}/import`,
    { token, headers: { 'Content-Type': 'text/csv' }, body: 'name,n\na,1\n' });
  assert.equal(first.status, 200, first.text);
  await api(stack, 'POST', '/v1/auth/logout', { token });
  // 9,990 of the month's 10,000 records used: 20 more do not fit.
  sql(stack, `UPDATE usage SET used = 9990 WHERE meter = 'records'
    AND org_id = (SELECT org_id FROM users WHERE email = '${who.email}')`);

  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.goto(`/#/tables/${t.body.id}`);
  const csv = `name,n\n${Array.from({ length: 20 }, (_, i) => `r${i},${i}`).join('\n')}\n`;
  await page.getByLabel('CSV file').setInputFiles({ name: 'more.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByRole('heading', { level: 1, name: 'Billing' }).waitFor();
  const banner = page.locator('[data-limit="records"]');
  await banner.waitFor();
  const text = (await banner.innerText()).replace(/\s+/g, ' ').trim();
  // With the API's details.requested the count is exact; without it the
  // app says "this CSV".
  assert.match(text, /^Importing (20 records would pass your 10,000 a month|this CSV would pass your 10,000 records a month); 9,990 are used\. That was not done\. To go on, upgrade your plan, or wait until the meter resets on [A-Z][a-z]{2} 1, \d{4}\.$/);
  assert.doesNotMatch(text, /free/i);
  assert.doesNotMatch(await page.locator('[data-meter="records"]').innerText(), /free capacity|Delete|Revoke/i);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('an admin upgrades the plan and the meter has room again', async () => {
  const who = await fullTrial();
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.goto('/#/billing');
  await page.getByRole('button', { name: 'Switch to Starter' }).click();
  await page.locator('[data-plan="starter"]').getByText('Your plan').waitFor();
  const projects = page.locator('[data-meter="projects"]');
  assert.match(await projects.textContent(), /1\s*\/\s*5\s*projects/);
  assert.doesNotMatch(await projects.textContent(), /Limit reached/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the plan cards show each plan\'s rate limits, and the current plan\'s in a sentence', async () => {
  const who = await signUp(stack);
  const page = await browser.device(stack);
  await signInUI(page, who);
  await page.goto('/#/billing');
  const trial = page.locator('[data-plan="trial"]');
  await trial.waitFor();
  const rate = async (plan, k) => (await page.locator(`[data-plan="${plan}"] dd[data-rate="${k}"]`).innerText()).trim();
  assert.equal(await trial.locator('dt[data-rate="key"]').innerText(), 'API key rate');
  assert.equal(await trial.locator('dt[data-rate="organization"]').innerText(), 'Organization rate');
  assert.deepEqual([await rate('trial', 'key'), await rate('trial', 'user'), await rate('trial', 'organization')], ['600 / min', '600 / min', '1,200 / min']);
  assert.deepEqual([await rate('pro', 'key'), await rate('pro', 'organization')], ['3,000 / min', '10,000 / min']);
  assert.equal(await rate('enterprise', 'organization'), '50,000 / min');
  const sentence = page.locator('.plan-rates');
  assert.equal((await sentence.innerText()).trim(),
    'Rate limits: 600 requests a minute per API key, 600 per signed-in user, 1,200 for the whole organization (all its keys and users together).');
  // After an upgrade the sentence is the new plan's.
  await page.getByRole('button', { name: 'Switch to Pro' }).click();
  await page.locator('[data-plan="pro"]').getByText('Your plan').waitFor();
  assert.match(await page.locator('.plan-rates').innerText(), /^Rate limits: 3,000 requests a minute per API key, 3,000 per signed-in user, 10,000 for the whole organization/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
