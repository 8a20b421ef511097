// activity.js: sign-in activity (any signed-in person): the account's
// sessions, newest first and page by page, with where each signed in from
// and how it ended; and the devices that hold a device credential, each
// revocable after a confirmation.
import { api, deviceToken } from '../api.js';
import {
  action, confirmDialog, dataTable, h, message, pagedTable, showError, time,
} from '../ui.js';

// How a session ended, as a badge.
function status(s) {
  if (!s.endReason) return h('span', { class: 'badge badge-ok' }, s.current ? 'This session' : 'Active');
  const text = {
    logout: 'Signed out',
    replaced: `Replaced by ${s.replacedBy || 'another sign-in'}`,
    expired: 'Expired',
    revoked: 'Revoked',
  }[s.endReason] || s.endReason;
  return h('span', { class: 'badge' }, text);
}

export async function activity(ctx) {
  const first = await api.activity.list();
  if (!ctx.alive()) return;

  const sessionsSlot = h('div');
  const devicesSlot = h('div');
  const devicesNotes = h('div');

  function renderSessions(page) {
    sessionsSlot.replaceChildren(pagedTable({
      caption: 'Sign-ins',
      columns: [
        { label: 'Device', cell: (s) => s.device },
        { label: 'Address', cell: (s) => h('code', {}, s.ip) },
        { label: 'Signed in', cell: (s) => time(s.createdAt) },
        { label: 'Last seen', cell: (s) => time(s.lastSeenAt) },
        { label: 'Ended', cell: (s) => time(s.endedAt) },
        { label: 'Status', cell: status },
      ],
      page,
      more: (cursor) => api.activity.list({ cursor }),
      empty: 'No sign-ins yet.',
    }));
  }

  function renderDevices(devices) {
    devicesSlot.replaceChildren(dataTable('Devices', [
      { label: 'Device', cell: (d) => [d.name, d.current ? [' ', h('span', { class: 'badge badge-ok' }, 'This device')] : null] },
      { label: 'First signed in', cell: (d) => time(d.createdAt) },
      { label: 'Last used', cell: (d) => time(d.lastUsedAt) },
      {
        label: 'Actions',
        cell: (d) => h('button', {
          type: 'button',
          class: 'btn btn-small btn-danger-outline',
          'aria-label': `Revoke ${d.name}`,
          onclick: action(() => revoke(d)),
        }, 'Revoke'),
      },
    ], devices, 'No device holds a credential for this account.'));
  }

  async function refresh() {
    const page = await api.activity.list();
    if (!ctx.alive()) return;
    renderSessions(page);
    renderDevices(page.devices || []);
  }

  async function revoke(d) {
    const yes = await confirmDialog({
      title: 'Revoke this device?',
      text: d.current
        ? `“${d.name}” is the device you are using: revoking it signs you out here, and signing in here again counts as a new device.`
        : `“${d.name}” loses its device credential and its session, if it has one: its next sign-in counts as a new device.`,
      confirm: 'Revoke device',
      danger: true,
    });
    if (!yes) return;
    try {
      await api.devices.revoke(d.id);
      if (d.current) deviceToken.forget();
      await refresh();
      devicesNotes.replaceChildren(message('info', `“${d.name}” was revoked.`));
    } catch (err) {
      showError(devicesNotes, err);
    }
  }

  renderSessions(first);
  renderDevices(first.devices || []);

  ctx.mount('Sign-in activity', [
    h('h1', {}, 'Sign-in activity'),
    h('p', { class: 'lede' }, 'Where your account signed in, and how each sign-in ended. Your account has one session at a time: signing in elsewhere ends this one. If you see a sign-in you do not recognize, change your password: that signs out every session and revokes every device.'),
    h('div', { 'data-notes': '' }),
    h('section', { class: 'section', 'aria-labelledby': 'sessions-h' },
      h('h2', { id: 'sessions-h' }, 'Sign-ins'), sessionsSlot),
    h('section', { class: 'section', 'aria-labelledby': 'devices-h' },
      h('h2', { id: 'devices-h' }, 'Devices'),
      h('p', { class: 'muted' }, 'Browsers and apps that signed in and are remembered: a remembered device is not locked out by failed sign-ins elsewhere, and takes its own session back without asking.'),
      devicesNotes, devicesSlot),
  ]);
}
