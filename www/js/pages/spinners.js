// spinners.js: one spinner: publishing after a confirmation, triggering a
// job, and its jobs page by page.
import { api } from '../api.js';
import {
  action, confirmDialog, crumbs, flash, h, message, num, pagedTable, publishedBadge, showError, time,
} from '../ui.js';

const enc = encodeURIComponent;

const JOB_STATUS = { queued: '', running: 'badge-warn', succeeded: 'badge-ok', failed: 'badge-danger' };

export async function spinner(ctx) {
  const id = ctx.params.id;
  const [s, jobs] = await Promise.all([api.spinners.get(id), api.jobs.list(id)]);
  if (!ctx.alive()) return;
  let projectName = 'Project';
  if (s.projectId) {
    projectName = await api.projects.get(s.projectId).then((p) => p.name).catch((err) => {
      if (err.handled) throw err;
      return 'Project';
    });
  }
  const notes = h('div', { 'data-notes': '', role: 'status', 'aria-live': 'polite' });
  const actions = h('div', { class: 'actions' });
  if (ctx.canWrite && !s.published) {
    actions.append(h('button', {
      type: 'button',
      class: 'btn btn-primary',
      onclick: action(async (e) => {
        const btn = e.currentTarget;
        const yes = await confirmDialog({
          title: `Publish “${s.name}”?`,
          text: `It can then be triggered, here and by API keys with the trigger scope${s.schedule ? `, and it runs every ${num(s.schedule)} minutes` : ''}. Publishing cannot be undone: there is no unpublish.`,
          confirm: 'Publish spinner',
        });
        if (!yes) return;
        btn.disabled = true;
        try {
          await api.spinners.publish(id);
          flash('ok', `“${s.name}” is published. Trigger it to run a job.`);
          await spinner(ctx);
        } catch (err) {
          btn.disabled = false;
          showError(notes, err);
        }
      }),
    }, 'Publish'));
  }
  if (ctx.canWrite && s.published) {
    actions.append(h('button', {
      type: 'button',
      class: 'btn btn-primary',
      onclick: action(async (e) => {
        const btn = e.currentTarget;
        btn.disabled = true;
        try {
          const res = await api.spinners.trigger(id);
          await refreshJobs();
          notes.replaceChildren(message('ok', `Job ${res.job ? res.job.id : ''} queued.`));
        } catch (err) {
          showError(notes, err);
        } finally {
          btn.disabled = false;
        }
      }),
    }, 'Trigger now'));
  }
  actions.append(h('button', { type: 'button', class: 'btn', onclick: action(() => refreshJobs()) }, 'Refresh jobs'));

  const jobSlot = h('div');
  function renderJobs(first) {
    jobSlot.replaceChildren(pagedTable({
      caption: 'Jobs',
      columns: [
        { label: 'Job', cell: (j) => h('code', {}, j.id) },
        { label: 'Status', cell: (j) => h('span', { class: `badge ${JOB_STATUS[j.status] || ''}` }, j.status) },
        { label: 'Created', cell: (j) => time(j.createdAt) },
        { label: 'Finished', cell: (j) => time(j.finishedAt) },
        { label: 'Processed', cell: (j) => (j.result && j.result.processed !== undefined ? num(j.result.processed) : '—') },
      ],
      page: first,
      more: (cursor) => api.jobs.list(id, { cursor }),
      empty: s.published ? 'No jobs yet. Trigger the spinner to run one.' : 'No jobs yet. Publish the spinner, then trigger it.',
    }));
  }
  async function refreshJobs() {
    try {
      renderJobs(await api.jobs.list(id));
    } catch (err) { showError(notes, err); }
  }
  renderJobs(jobs);

  ctx.mount(s.name, [
    crumbs(['#/projects', 'Projects'], ...(s.projectId ? [[`#/projects/${enc(s.projectId)}`, projectName]] : []), [null, s.name]),
    h('div', { class: 'page-head' }, h('h1', {}, s.name, ' ', publishedBadge(s.published)), actions),
    h('p', { class: 'muted' }, s.schedule ? `Runs every ${num(s.schedule)} minutes, and when triggered.` : 'Runs when triggered.'),
    notes,
    h('section', { class: 'section', 'aria-labelledby': 'jobs-h' }, h('h2', { id: 'jobs-h' }, 'Jobs'), jobSlot),
  ]);
}
