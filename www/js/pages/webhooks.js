// webhooks.js: User menu → Webhooks (admins): add one with its events, the
// signing secret shown once, the list (page by page), delete after a
// confirmation, and each webhook's deliveries with their status and a
// retry button.
import { api } from '../api.js';
import {
  action, busy, confirmDialog, copyText, field, h, message, pagedTable, showError, time,
} from '../ui.js';

export const EVENTS = [
  ['meter.threshold', 'Usage alerts', 'A plan meter reaches 80 % and 100 % of its limit'],
  ['key.expiring', 'Expiring API keys', '7 days and 1 day before a key expires'],
  ['session.replaced', 'Replaced sessions', 'Someone signs in elsewhere and ends a session'],
  ['job.finished', 'Finished jobs', 'A spinner job succeeded or failed'],
];

// The new webhook's secret, once, as keys.js shows a new key.
function secretPanel(created, onDone) {
  const input = h('input', {
    type: 'text', readOnly: true, value: created.secret, class: 'secret', id: 'new-webhook-secret',
    spellcheck: 'false', autocomplete: 'off',
  });
  const copied = h('span', { class: 'copied', role: 'status', 'aria-live': 'polite' });
  const panel = h('section', { class: 'secret-panel', 'aria-labelledby': 'webhook-secret-h' },
    h('h2', { id: 'webhook-secret-h' }, 'Webhook added'),
    h('p', { class: 'warning' }, h('strong', {}, 'Copy the signing secret now. '),
      'It is shown only once. Your receiver checks the Tollgate-Signature header of each request with it (docs/webhooks.md shows how).'),
    h('div', { class: 'secret-row' },
      h('label', { for: 'new-webhook-secret', class: 'visually-hidden' }, 'Signing secret'),
      input,
      h('button', {
        type: 'button',
        class: 'btn btn-primary',
        onclick: async () => {
          const ok = await copyText(created.secret, input);
          copied.textContent = ok ? 'Copied to the clipboard.' : 'Select the secret and copy it yourself.';
        },
      }, 'Copy')),
    copied,
    h('p', {}, h('button', { type: 'button', class: 'btn', onclick: onDone }, 'I have saved the secret')));
  input.addEventListener('focus', () => input.select());
  return panel;
}

const STATUS = { pending: 'Retrying', succeeded: 'Delivered', failed: 'Failed' };

// One webhook's deliveries, oldest first (page by page), each with a
// retry button.
async function deliveriesTable(w, slot) {
  const first = await api.webhooks.deliveries(w.id);
  const errors = h('div');
  const retry = async (d) => {
    errors.replaceChildren();
    try {
      await api.webhooks.retry(w.id, d.id);
      await deliveriesTable(w, slot);
    } catch (err) {
      showError(errors, err);
    }
  };
  slot.replaceChildren(errors, pagedTable({
    caption: `Deliveries to ${w.url}`,
    columns: [
      { label: 'Event', cell: (d) => h('code', {}, d.event) },
      { label: 'Created', cell: (d) => time(d.createdAt) },
      {
        label: 'Status',
        cell: (d) => h('span', { class: `badge${d.status === 'succeeded' ? ' badge-ok' : ''}` }, STATUS[d.status] || d.status),
      },
      { label: 'Attempts', cell: (d) => String(d.attempts) },
      {
        label: 'Last answer',
        cell: (d) => [d.lastStatus ? `HTTP ${d.lastStatus}` : '', d.error ? h('span', { class: 'muted' }, ` ${d.error}`) : ''],
      },
      { label: 'Next attempt', cell: (d) => (d.nextAttemptAt ? time(d.nextAttemptAt) : h('span', { class: 'muted' }, '—')) },
      {
        label: 'Actions',
        cell: (d) => h('button', {
          type: 'button', class: 'btn btn-small', 'aria-label': `Retry ${d.event} of ${d.createdAt}`, onclick: action(() => retry(d)),
        }, 'Retry'),
      },
    ],
    page: first,
    more: (cursor) => api.webhooks.deliveries(w.id, { cursor }),
    empty: 'No deliveries yet: one appears for each event this webhook takes.',
  }));
}

export async function webhooks(ctx) {
  const first = await api.webhooks.list();
  if (!ctx.alive()) return;

  const url = h('input', {
    type: 'url', name: 'url', required: true, maxlength: 2000, placeholder: 'https://example.com/tollgate',
  });
  const boxes = EVENTS.map(([value, label, hint]) => {
    const box = h('input', { type: 'checkbox', name: 'events', value, id: `event-${value}`, defaultChecked: value === 'meter.threshold' });
    return h('div', { class: 'check' }, box,
      h('label', { for: `event-${value}` }, h('strong', {}, label), h('span', { class: 'muted' }, ` — ${hint}`)));
  });
  const errors = h('div');
  const secretSlot = h('div');
  const form = h('form', { class: 'card form form-inline-wide', 'aria-labelledby': 'webhook-create-h' },
    h('h2', { id: 'webhook-create-h' }, 'Add a webhook'),
    field('Receiver URL', url, 'An https:// address of yours; Tollgate sends each event there as a signed POST.'),
    h('fieldset', {}, h('legend', {}, 'Events'), boxes),
    errors,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add webhook'));

  form.addEventListener('submit', action(async (e) => {
    e.preventDefault();
    const events = [...form.querySelectorAll('input[name=events]:checked')].map((b) => b.value);
    if (!events.length) {
      errors.replaceChildren(message('error', 'Choose at least one event.'));
      return;
    }
    await busy(form, async () => {
      errors.replaceChildren();
      try {
        const created = await api.webhooks.create({ url: url.value.trim(), events });
        if (!ctx.alive()) return;
        form.reset();
        await refreshList();
        secretSlot.replaceChildren(secretPanel(created, () => {
          secretSlot.replaceChildren();
          url.focus();
        }));
        secretSlot.querySelector('input').focus();
      } catch (err) {
        showError(errors, err);
      }
    });
  }));

  const listSlot = h('div');
  const listErrors = h('div');
  const deliveriesSlot = h('div');
  function renderList(page) {
    listSlot.replaceChildren(pagedTable({
      caption: 'Webhooks',
      columns: [
        { label: 'URL', cell: (w) => h('code', {}, w.url) },
        { label: 'Events', cell: (w) => (w.events || []).map((x) => h('span', { class: 'tag' }, x)) },
        { label: 'Added', cell: (w) => time(w.createdAt) },
        {
          label: 'Actions',
          cell: (w) => [
            h('button', {
              type: 'button', class: 'btn btn-small', 'aria-label': `Deliveries to ${w.url}`,
              onclick: action(() => deliveriesTable(w, deliveriesSlot).catch((err) => showError(listErrors, err))),
            }, 'Deliveries'),
            ' ',
            h('button', {
              type: 'button', class: 'btn btn-small btn-danger-outline', 'aria-label': `Delete ${w.url}`, onclick: action(() => remove(w)),
            }, 'Delete'),
          ],
        },
      ],
      page,
      more: (cursor) => api.webhooks.list({ cursor }),
      empty: 'No webhooks yet. Add one to hear about usage before a limit stops a request.',
    }));
  }
  async function refreshList() {
    renderList(await api.webhooks.list());
  }
  async function remove(w) {
    const yes = await confirmDialog({
      title: 'Delete this webhook?',
      text: `${w.url} gets no more events, and its deliveries that are still retrying are dropped.`,
      confirm: 'Delete webhook',
      danger: true,
    });
    if (!yes) return;
    listErrors.replaceChildren();
    try {
      await api.webhooks.remove(w.id);
      deliveriesSlot.replaceChildren();
      await refreshList();
      listErrors.replaceChildren(message('info', `${w.url} was deleted.`));
    } catch (err) {
      showError(listErrors, err);
    }
  }
  renderList(first);

  ctx.mount('Webhooks', [
    h('h1', {}, 'Webhooks'),
    h('p', { class: 'lede' }, 'Tollgate tells your systems when a meter nears its limit, a key is about to expire, a session is replaced or a job ends, by a signed request to a URL of yours.'),
    secretSlot,
    form,
    h('section', { class: 'section', 'aria-labelledby': 'webhooks-h' },
      h('h2', { id: 'webhooks-h' }, 'Your webhooks'), listErrors, listSlot, deliveriesSlot),
  ]);
}
