// billing.js: User menu → Billing: the plan's usage meters (used / limit,
// reset date), what to do at a limit, each plan's limits and request rate
// limits, and the plan change for admins. A PLAN_LIMIT anywhere in the app
// lands here with ?meter= naming the meter.
import { api, items, takePlanLimit } from '../api.js';
import {
  action, busy, day, h, num, showError,
} from '../ui.js';

// The meters in people's words: the noun, one and many, and how to free
// capacity. Only meters that count live objects (projects, users, API
// keys) can be freed; monthly ones (jobs, records) only reset or grow with
// the plan.
export const METERS = {
  projects: { label: 'Projects', short: 'Projects', one: 'project', many: 'projects', a: 'a project', free: 'delete a project you no longer need' },
  users: { label: 'Users', short: 'Users', one: 'user', many: 'users', a: 'a user', free: 'remove a user who no longer needs access' },
  apiKeys: { label: 'API keys', short: 'API keys', one: 'API key', many: 'API keys', a: 'an API key', free: 'revoke a key you no longer use' },
  jobs: { label: 'Jobs this month', short: 'Jobs / month', one: 'job', many: 'jobs', a: 'a job', free: null, monthly: true },
  records: { label: 'Records this month', short: 'Records / month', one: 'record', many: 'records', a: 'a record', free: null, monthly: true },
};
const meterInfo = (m) => METERS[m] || { label: m, short: m, one: m, many: m, a: m, free: null };

// "1 API key", "2 API keys".
export function count(n, meter) {
  const info = meterInfo(meter);
  return `${num(n)} ${n === 1 ? info.one : info.many}`;
}

const cap = (text) => text.charAt(0).toUpperCase() + text.slice(1);

// What the request asked, by the action api.js names.
const VERBS = { create: 'Creating', import: 'Importing', trigger: 'Starting' };

// The sentence for a PLAN_LIMIT: what was asked, against what, and what
// can be done. d is the error's details (meter, used, limit, resetsAt, and
// requested when the API sends it) plus asked ({action, count}) from
// api.js. "Importing 9,600 records would pass your 10,000 a month; 522 are
// used. Upgrade your plan, or wait until it resets on Jan 1, 2027."
export function limitSentence(d, { isAdmin = true } = {}) {
  const info = meterInfo(d.meter);
  const monthly = info.monthly ?? Boolean(d.resetsAt);
  const asked = d.asked || {};
  const requested = Number.isInteger(d.requested) ? d.requested
    : Number.isInteger(asked.count) ? asked.count : null;
  const verb = VERBS[asked.action];
  const usedWord = monthly ? 'used' : 'in use';
  const used = `${num(d.used)} ${d.used === 1 ? 'is' : 'are'} ${usedWord}`;
  let first;
  if (verb) {
    const what = requested === null ? (asked.action === 'import' ? 'this CSV' : 'this')
      : requested === 1 ? info.a : count(requested, d.meter);
    // "your 10,000 a month" once the noun is said ("9,600 records").
    const limit = monthly && requested !== null && requested !== 1 ? num(d.limit) : count(d.limit, d.meter);
    first = `${verb} ${what} would pass ${monthly ? `your ${limit} a month` : `your plan's ${limit}`}; ${used}.`;
  } else {
    first = `Your plan allows ${count(d.limit, d.meter)}${monthly ? ' a month' : ''}; ${used}.`;
  }
  const upgrade = isAdmin ? 'upgrade your plan' : 'ask an admin of your organization to upgrade the plan';
  let next;
  if (!monthly && info.free) next = `To go on, free capacity (${info.free}) or ${upgrade}.`;
  else if (d.resetsAt) next = `To go on, ${upgrade}, or wait until the meter resets on ${day(d.resetsAt)}.`;
  else next = `To go on, ${upgrade}.`;
  return { first, next };
}

// One meter: label, "used / limit", a bar, the reset date and, at the
// limit, what to do about it.
function meterCard(m, { highlight, isAdmin }) {
  const info = meterInfo(m.meter);
  const unlimited = m.limit === null || m.limit === undefined;
  const full = !unlimited && m.used >= m.limit;
  const pct = unlimited ? 0 : m.limit === 0 ? 100 : Math.min(100, Math.round((m.used / m.limit) * 100));
  const near = !full && !unlimited && pct >= 80;
  const id = `meter-${m.meter}`;
  const card = h('li', {
    class: `meter${full ? ' meter-full' : near ? ' meter-near' : ''}${highlight ? ' meter-highlight' : ''}`,
    id,
    'data-meter': m.meter,
    'aria-labelledby': `${id}-label`,
  },
  h('div', { class: 'meter-head' },
    h('h3', { id: `${id}-label` }, info.label),
    full ? h('span', { class: 'badge badge-danger' }, 'Limit reached') : near ? h('span', { class: 'badge badge-warn' }, 'Almost full') : null),
  h('p', { class: 'meter-count' },
    h('strong', {}, num(m.used)), ' / ', unlimited ? 'Unlimited' : num(m.limit), ' ', h('span', { class: 'muted' }, info.many)),
  unlimited ? null : h('div', {
    class: 'bar',
    role: 'progressbar',
    'aria-labelledby': `${id}-label`,
    'aria-valuemin': '0',
    'aria-valuemax': String(m.limit),
    'aria-valuenow': String(Math.min(m.used, m.limit)),
    'aria-valuetext': `${num(m.used)} of ${count(m.limit, m.meter)} used`,
  }, barFill(pct)),
  h('p', { class: 'meter-reset muted' }, m.resetsAt ? `Resets on ${day(m.resetsAt)}` : 'Does not reset monthly'));

  if (full) {
    const steps = [];
    if (info.free) steps.push(`${cap(info.free)}, or `);
    steps.push(isAdmin ? 'upgrade your plan below' : 'ask an admin of your organization to upgrade the plan');
    if (m.resetsAt) steps.push(`. Otherwise it frees up on ${day(m.resetsAt)}`);
    card.append(h('p', { class: 'meter-help' },
      `You can't add more ${info.many} on this plan. `, steps.join(''), '.'));
  }
  return card;
}

// The CSP forbids style attributes; the CSSOM is allowed.
function barFill(pct) {
  const fill = h('span', { class: 'bar-fill' });
  fill.style.setProperty('--pct', `${pct}%`);
  return fill;
}

// The banner when a PLAN_LIMIT brought the person here.
function limitBanner(d, isAdmin) {
  const { first, next } = limitSentence(d, { isAdmin });
  return h('div', { class: 'banner banner-warn', 'data-limit': d.meter || '' },
    h('p', {}, h('strong', {}, first), ` That was not done. ${next}`));
}

function planLimits(p) {
  const l = p.limits || p.meters || p;
  return Object.keys(METERS).map((k) => {
    let v = l[k];
    if (v && typeof v === 'object') v = v.limit;
    return [k, v];
  });
}

// A plan's request budgets (rateLimits: key, user, organization, window in
// seconds) on its card: "API key rate  600 / min".
const RATES = [
  ['key', 'API key rate'],
  ['user', 'User rate'],
  ['organization', 'Organization rate'],
];
const perWindow = (w) => (w === 60 || w === undefined ? 'min' : `${num(w)} s`);

function rateRows(r) {
  if (!r) return [];
  return RATES.filter(([k]) => Number.isInteger(r[k])).map(([k, label]) => [
    h('dt', { 'data-rate': k }, label),
    h('dd', { 'data-rate': k }, `${num(r[k])} / ${perWindow(r.window)}`)]);
}

// "600 requests a minute per API key, 600 per signed-in user, 1,200 for the
// whole organization (all its keys and users together)."
function rateSentence(r) {
  const a = r.window === 60 || r.window === undefined ? 'a minute' : `every ${num(r.window)} seconds`;
  return `${num(r.key)} requests ${a} per API key, ${num(r.user)} per signed-in user, `
    + `${num(r.organization)} for the whole organization (all its keys and users together).`;
}

export async function billing(ctx) {
  const stored = takePlanLimit();
  const meterName = ctx.query.get('meter') || (stored && stored.meter) || null;
  const slot = h('div', { class: 'banner-slot', role: 'status', 'aria-live': 'polite' });
  const heading = h('h1', {}, 'Billing');

  if (!ctx.isAdmin) {
    // Usage is for admins; show the meter that stopped this person.
    const parts = [heading, slot];
    if (stored && stored.meter) {
      parts.push(h('ul', { class: 'meters', role: 'list' },
        meterCard({ meter: stored.meter, used: stored.used, limit: stored.limit, resetsAt: stored.resetsAt },
          { highlight: true, isAdmin: false })));
    } else {
      parts.push(h('p', {}, 'Only admins can see usage and change the plan.'));
    }
    ctx.mount('Billing', parts);
    if (stored) requestAnimationFrame(() => slot.append(limitBanner(stored, false)));
    return;
  }

  const [usage, plans] = await Promise.all([
    api.billing.usage(),
    api.billing.plans().catch((err) => { if (err.handled) throw err; return null; }),
  ]);
  if (!ctx.alive()) return;

  const meters = usage.meters || [];
  const current = usage.plan || {};
  const period = usage.period || {};
  const meterList = h('ul', { class: 'meters', role: 'list' },
    meters.map((m) => meterCard(m, { highlight: m.meter === meterName, isAdmin: true })));

  const planSection = h('section', { class: 'section', 'aria-labelledby': 'plans-h' },
    h('h2', { id: 'plans-h' }, 'Plan'));
  const planErrors = h('div');
  const list = plans ? items(plans.plans ? plans.plans : plans) : [];
  if (list.length) {
    const cards = h('ul', { class: 'plans', role: 'list' }, list.map((p) => {
      const isCurrent = p.id === current.id;
      const form = h('form', { class: 'plan-form' },
        isCurrent ? h('p', { class: 'badge badge-ok' }, 'Your plan')
          : h('button', { type: 'submit', class: 'btn' }, `Switch to ${p.name || p.id}`));
      form.addEventListener('submit', action(async (e) => {
        e.preventDefault();
        await busy(form, async () => {
          try {
            await api.billing.setPlan(p.id);
            billing(ctx);
          } catch (err) {
            showError(planErrors, err);
          }
        });
      }));
      return h('li', { class: `plan${isCurrent ? ' plan-current' : ''}`, 'data-plan': p.id },
        h('h3', {}, p.name || p.id),
        h('dl', {}, planLimits(p).map(([k, v]) => [
          h('dt', {}, meterInfo(k).short),
          h('dd', {}, v === null ? 'Unlimited' : v === undefined ? '—' : num(v))]),
        rateRows(p.rateLimits)),
        form);
    }));
    planSection.append(
      h('p', {}, 'You are on ', h('strong', {}, current.name || current.id || 'your plan'),
        '. Changing the plan takes effect at once.'),
      current.rateLimits ? h('p', { class: 'plan-rates' }, 'Rate limits: ', rateSentence(current.rateLimits)) : null,
      planErrors, cards);
  } else {
    planSection.append(h('p', {}, 'You are on ', h('strong', {}, current.name || current.id || 'your plan'), '.'));
  }

  ctx.mount('Billing', [
    heading,
    slot,
    h('section', { class: 'section', 'aria-labelledby': 'usage-h' },
      h('div', { class: 'section-head' },
        h('h2', { id: 'usage-h' }, 'Usage'),
        period.start ? h('p', { class: 'muted' }, `This period: ${day(period.start)} – ${day(period.end)}`) : null),
      meterList),
    planSection,
  ]);
  if (stored) requestAnimationFrame(() => slot.append(limitBanner(stored, true)));
  const target = meterName && document.getElementById(`meter-${meterName}`);
  if (target) target.scrollIntoView({ block: 'center' });
}
