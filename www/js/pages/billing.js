// billing.js: User menu → Billing: the plan's usage meters (used / limit,
// reset date), what to do at a limit, and the plan change for admins. A
// PLAN_LIMIT anywhere in the app lands here with ?meter= naming the meter.
import { get, items, put, takePlanLimit } from '../api.js';
import { busy, day, h, num, showError } from '../ui.js';

export const METERS = {
  projects: { label: 'Projects', short: 'Projects', unit: 'projects', free: 'Delete a project you no longer need' },
  users: { label: 'Users', short: 'Users', unit: 'users', free: 'Remove a user who no longer needs access' },
  apiKeys: { label: 'API keys', short: 'API keys', unit: 'API keys', free: 'Revoke a key you no longer use' },
  jobs: { label: 'Jobs this month', short: 'Jobs / month', unit: 'jobs', free: null },
  records: { label: 'Records this month', short: 'Records / month', unit: 'records', free: null },
  webhooks: { label: 'Webhooks', short: 'Webhooks', unit: 'webhooks', free: 'Delete a webhook you no longer use' },
};
const meterInfo = (m) => METERS[m] || { label: m, short: m, unit: m, free: null };

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
    h('strong', {}, num(m.used)), ' / ', unlimited ? 'Unlimited' : num(m.limit), ' ', h('span', { class: 'muted' }, info.unit)),
  unlimited ? null : h('div', {
    class: 'bar',
    role: 'progressbar',
    'aria-labelledby': `${id}-label`,
    'aria-valuemin': '0',
    'aria-valuemax': String(m.limit),
    'aria-valuenow': String(Math.min(m.used, m.limit)),
    'aria-valuetext': `${num(m.used)} of ${num(m.limit)} ${info.unit} used`,
  }, barFill(pct)),
  h('p', { class: 'meter-reset muted' }, m.resetsAt ? `Resets on ${day(m.resetsAt)}` : 'Does not reset monthly'));

  if (full) {
    const steps = [];
    if (info.free) steps.push(`${info.free}, or `);
    steps.push(isAdmin ? 'upgrade your plan below' : 'ask an admin of your organization to upgrade the plan');
    if (m.resetsAt) steps.push(`. Otherwise it frees up on ${day(m.resetsAt)}`);
    card.append(h('p', { class: 'meter-help' },
      `You can't add more ${info.unit} on this plan. `, steps.join(''), '.'));
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
function limitBanner(d) {
  const info = meterInfo(d.meter);
  const count = d.limit !== undefined && d.limit !== null ? ` (${num(d.used)} of ${num(d.limit)} used)` : '';
  return h('div', { class: 'banner banner-warn', 'data-limit': d.meter || '' },
    h('p', {}, h('strong', {}, `Your plan's limit for ${info.label.toLowerCase()} is reached${count}.`),
      ' That action was not done. Free up capacity or upgrade, then try again.'));
}

function planLimits(p) {
  const l = p.limits || p.meters || p;
  return Object.keys(METERS).map((k) => {
    let v = l[k];
    if (v && typeof v === 'object') v = v.limit;
    return [k, v];
  });
}

// Which usage alerts are on: the webhooks taking meter.threshold.
function alertsLine(hooks) {
  if (!hooks) return null;
  const on = items(hooks).filter((w) => (w.events || []).includes('meter.threshold'));
  const link = h('a', { href: '#/webhooks' }, 'Webhooks');
  return h('p', { class: 'alerts', 'data-alerts': on.length ? 'on' : 'off' },
    on.length
      ? ['Usage alerts at 80 % and 100 % of each limit go to ', on.map((w, i) => [i ? ', ' : '', h('code', {}, w.url)]), ' (', link, ').']
      : ['Usage alerts are off: add a webhook for meter.threshold in ', link, ' to hear before a limit is reached.']);
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
    if (stored) requestAnimationFrame(() => slot.append(limitBanner(stored)));
    return;
  }

  const [usage, plans, hooks] = await Promise.all([
    get('/v1/billing/usage'),
    get('/v1/billing/plans').catch((err) => { if (err.handled) throw err; return null; }),
    get('/v1/webhooks?limit=500').catch((err) => { if (err.handled) throw err; return null; }),
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
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        planErrors.replaceChildren();
        await busy(form, async () => {
          try {
            await put('/v1/billing/plan', { plan: p.id });
            billing(ctx);
          } catch (err) {
            showError(planErrors, err);
          }
        });
      });
      return h('li', { class: `plan${isCurrent ? ' plan-current' : ''}`, 'data-plan': p.id },
        h('h3', {}, p.name || p.id),
        h('dl', {}, planLimits(p).map(([k, v]) => [
          h('dt', {}, meterInfo(k).short),
          h('dd', {}, v === null ? 'Unlimited' : v === undefined ? '—' : num(v))])),
        form);
    }));
    planSection.append(
      h('p', {}, 'You are on ', h('strong', {}, current.name || current.id || 'your plan'),
        '. Changing the plan takes effect at once.'),
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
      meterList,
      alertsLine(hooks)),
    planSection,
  ]);
  if (stored) requestAnimationFrame(() => slot.append(limitBanner(stored)));
  const target = meterName && document.getElementById(`meter-${meterName}`);
  if (target) target.scrollIntoView({ block: 'center' });
}
