// keys.js: API keys (admins): create with scopes, the secret shown once,
// the list (page by page) with prefix, scopes and last use, revoke after a
// confirmation.
import { api } from '../api.js';
import {
  action, busy, confirmDialog, copyText, field, h, message, pagedTable, showError, time,
} from '../ui.js';

const SCOPES = [
  ['ingest', 'Ingest', 'Send records to published tables'],
  ['trigger', 'Trigger', 'Start spinner jobs'],
  ['read', 'Read', 'Read tables, records, spinners, jobs and usage'],
];

// The new key, once: a read-only field, a copy button and the warning.
// Dismissing it drops the secret from the page; it is kept nowhere else.
function secretPanel(created, onDone) {
  const input = h('input', {
    type: 'text', readOnly: true, value: created.key, class: 'secret', id: 'new-key-secret',
    spellcheck: 'false', autocomplete: 'off',
  });
  const copied = h('span', { class: 'copied', role: 'status', 'aria-live': 'polite' });
  const panel = h('section', { class: 'secret-panel', 'aria-labelledby': 'secret-h' },
    h('h2', { id: 'secret-h' }, `Key “${created.name}” created`),
    h('p', { class: 'warning' }, h('strong', {}, 'Copy this key now. '),
      'It is shown only once: Tollgate keeps only a hash of it and cannot show it again. Store it in your secret manager; anyone with it can act with its scopes.'),
    h('div', { class: 'secret-row' },
      h('label', { for: 'new-key-secret', class: 'visually-hidden' }, 'New API key'),
      input,
      h('button', {
        type: 'button',
        class: 'btn btn-primary',
        onclick: async () => {
          const ok = await copyText(created.key, input);
          copied.textContent = ok ? 'Copied to the clipboard.' : 'Select the key and copy it yourself.';
        },
      }, 'Copy')),
    copied,
    h('p', {}, h('button', { type: 'button', class: 'btn', onclick: onDone }, 'I have saved the key')));
  input.addEventListener('focus', () => input.select());
  return panel;
}

export async function apiKeys(ctx) {
  const first = await api.apiKeys.list();
  if (!ctx.alive()) return;

  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 100, placeholder: 'CRM sync' });
  const boxes = SCOPES.map(([value, label, hint]) => {
    const box = h('input', { type: 'checkbox', name: 'scopes', value, id: `scope-${value}`, defaultChecked: value === 'ingest' });
    return h('div', { class: 'check' }, box,
      h('label', { for: `scope-${value}` }, h('strong', {}, label), h('span', { class: 'muted' }, ` — ${hint}`)));
  });
  const errors = h('div');
  const secretSlot = h('div');
  const form = h('form', { class: 'card form form-inline-wide', 'aria-labelledby': 'create-h' },
    h('h2', { id: 'create-h' }, 'Create a key'),
    field('Name', name, 'Say what will use it, so you know what breaks if you revoke it.'),
    h('fieldset', {}, h('legend', {}, 'Scopes'), boxes),
    errors,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create key'));

  form.addEventListener('submit', action(async (e) => {
    e.preventDefault();
    const scopes = [...form.querySelectorAll('input[name=scopes]:checked')].map((b) => b.value);
    if (!scopes.length) {
      errors.replaceChildren(message('error', 'Choose at least one scope.'));
      return;
    }
    await busy(form, async () => {
      try {
        const created = await api.apiKeys.create({ name: name.value.trim(), scopes });
        if (!ctx.alive()) return;
        form.reset();
        await refreshList();
        secretSlot.replaceChildren(secretPanel(created, () => {
          secretSlot.replaceChildren();
          name.focus();
        }));
        secretSlot.querySelector('input').focus();
      } catch (err) {
        showError(errors, err);
      }
    });
  }));

  const listSlot = h('div');
  const listErrors = h('div');
  function renderList(page) {
    listSlot.replaceChildren(pagedTable({
      caption: 'API keys',
      columns: [
        { label: 'Name', cell: (k) => k.name },
        { label: 'Key', cell: (k) => h('code', {}, `${k.prefix}_…`) },
        { label: 'Scopes', cell: (k) => (k.scopes || []).map((s) => h('span', { class: 'tag' }, s)) },
        { label: 'Created', cell: (k) => time(k.createdAt) },
        { label: 'Last used', cell: (k) => (k.lastUsedAt ? time(k.lastUsedAt) : h('span', { class: 'muted' }, 'Never')) },
        {
          label: 'Status',
          cell: (k) => (k.revokedAt ? h('span', { class: 'badge' }, 'Revoked')
            : k.expiresAt && new Date(k.expiresAt) < new Date() ? h('span', { class: 'badge' }, 'Expired')
              : h('span', { class: 'badge badge-ok' }, 'Active')),
        },
        {
          label: 'Actions',
          cell: (k) => (k.revokedAt ? '' : h('button', {
            type: 'button',
            class: 'btn btn-small btn-danger-outline',
            'aria-label': `Revoke ${k.name}`,
            onclick: action(() => revoke(k)),
          }, 'Revoke')),
        },
      ],
      page,
      more: (cursor) => api.apiKeys.list({ cursor }),
      empty: 'No keys yet. Create one for each integration, so you can revoke one without breaking the others.',
    }));
  }
  async function refreshList() {
    renderList(await api.apiKeys.list());
  }
  async function revoke(k) {
    const yes = await confirmDialog({
      title: 'Revoke this key?',
      text: `“${k.name}” (${k.prefix}) stops working at once: every request made with it gets 401. This cannot be undone.`,
      confirm: 'Revoke key',
      danger: true,
    });
    if (!yes) return;
    try {
      await api.apiKeys.revoke(k.id);
      await refreshList();
      listErrors.replaceChildren(message('info', `“${k.name}” was revoked.`));
    } catch (err) {
      showError(listErrors, err);
    }
  }
  renderList(first);

  ctx.mount('API keys', [
    h('h1', {}, 'API keys'),
    h('p', { class: 'lede' }, 'Keys let your own systems send records and trigger spinners. Use a key, not your sign-in, for automation: signing in elsewhere never breaks a key.'),
    secretSlot,
    form,
    h('section', { class: 'section', 'aria-labelledby': 'keys-h' },
      h('h2', { id: 'keys-h' }, 'Your keys'), listErrors, listSlot),
  ]);
}
