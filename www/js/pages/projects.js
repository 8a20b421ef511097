// projects.js: projects, their data tables (CSV import, inferred schema,
// records, publish) and spinners (publish, trigger, jobs).
import { del, get, go, items, post, request } from '../api.js';
import {
  busy, confirmDialog, dataTable, field, h, num, showError, time,
} from '../ui.js';

const enc = encodeURIComponent;

// A one-field create form: label, input, button; onCreate(value) does the work.
function createForm({ label, button, hint, onCreate, extra = [] }) {
  const input = h('input', { type: 'text', name: 'name', required: true, maxlength: 100 });
  const errors = h('div');
  const form = h('form', { class: 'inline-form' },
    field(label, input, hint), ...extra,
    h('button', { type: 'submit', class: 'btn btn-primary' }, button),
    errors);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    await busy(form, async () => {
      try {
        await onCreate(input.value.trim(), form);
      } catch (err) {
        showError(errors, err);
      }
    });
  });
  return form;
}

function status(published) {
  return published ? h('span', { class: 'badge badge-ok' }, 'Published') : h('span', { class: 'badge' }, 'Draft');
}

function crumbs(...links) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    h('ol', { role: 'list' }, links.map(([href, text]) => h('li', {}, href ? h('a', { href }, text) : h('span', { 'aria-current': 'page' }, text)))));
}

export async function projects(ctx) {
  const list = items(await get('/v1/projects?limit=500'));
  if (!ctx.alive()) return;
  const parts = [
    h('h1', {}, 'Projects'),
    h('p', { class: 'lede' }, 'A project holds data tables, which you fill by importing a CSV or through the API, and spinners, which process new records.'),
  ];
  if (ctx.canWrite) {
    parts.push(h('section', { class: 'card', 'aria-labelledby': 'new-project-h' },
      h('h2', { id: 'new-project-h' }, 'New project'),
      createForm({
        label: 'Project name',
        button: 'Create project',
        onCreate: async (name) => {
          const p = await post('/v1/projects', { name });
          go(`#/projects/${enc(p.id)}`);
        },
      })));
  }
  parts.push(h('section', { class: 'section', 'aria-labelledby': 'projects-h' },
    h('h2', { id: 'projects-h' }, 'Your projects'),
    dataTable('Projects', [
      { label: 'Name', cell: (p) => h('a', { href: `#/projects/${enc(p.id)}` }, p.name) },
      { label: 'Created', cell: (p) => time(p.createdAt) },
    ], list, ctx.canWrite ? 'No projects yet. Create the first one above.' : 'No projects yet.')));
  ctx.mount('Projects', parts);
}

export async function project(ctx) {
  const id = ctx.params.id;
  // The project must load; its tables and spinners show what they can.
  const orNull = (err) => { if (err.handled) throw err; return null; };
  const [p, tables, spinners] = await Promise.all([
    get(`/v1/projects/${enc(id)}`),
    get(`/v1/projects/${enc(id)}/tables?limit=500`).catch(orNull),
    get(`/v1/projects/${enc(id)}/spinners?limit=500`).catch(orNull),
  ]);
  if (!ctx.alive()) return;
  const tableList = items(tables);
  const parts = [
    crumbs(['#/projects', 'Projects'], [null, p.name]),
    h('div', { class: 'page-head' }, h('h1', {}, p.name),
      ctx.canWrite ? h('button', {
        type: 'button',
        class: 'btn btn-danger-outline',
        onclick: async () => {
          const yes = await confirmDialog({
            title: 'Delete this project?',
            text: `“${p.name}”, its tables, records and spinners are deleted. This cannot be undone.`,
            confirm: 'Delete project',
            danger: true,
          });
          if (!yes) return;
          try {
            await del(`/v1/projects/${enc(id)}`);
            go('#/projects');
          } catch (err) {
            showError(errSlot, err);
          }
        },
      }, 'Delete project') : null),
  ];
  const errSlot = h('div');
  parts.push(errSlot);

  const tablesSection = h('section', { class: 'section', 'aria-labelledby': 'tables-h' },
    h('h2', { id: 'tables-h' }, 'Data tables'),
    tables === null ? h('p', { class: 'muted' }, 'Data tables could not be loaded.') : dataTable('Data tables', [
      { label: 'Name', cell: (t) => h('a', { href: `#/tables/${enc(t.id)}` }, t.name) },
      { label: 'Columns', cell: (t) => (t.schema && t.schema.columns ? num(t.schema.columns.length) : h('span', { class: 'muted' }, 'No schema yet')) },
      { label: 'Status', cell: (t) => status(t.published) },
    ], tableList, 'No tables yet.'));
  if (ctx.canWrite) {
    tablesSection.append(createForm({
      label: 'New table name',
      button: 'Create table',
      hint: 'Import a CSV next: its header row becomes the table\'s columns.',
      onCreate: async (name) => {
        const t = await post(`/v1/projects/${enc(id)}/tables`, { name });
        go(`#/tables/${enc(t.id)}`);
      },
    }));
  }
  parts.push(tablesSection);

  const spinnersSection = h('section', { class: 'section', 'aria-labelledby': 'spinners-h' },
    h('h2', { id: 'spinners-h' }, 'Spinners'));
  if (spinners === null) {
    spinnersSection.append(h('p', { class: 'muted' }, 'Spinners could not be loaded.'));
  } else {
    const names = Object.fromEntries(tableList.map((t) => [t.id, t.name]));
    spinnersSection.append(dataTable('Spinners', [
      { label: 'Name', cell: (s) => h('a', { href: `#/spinners/${enc(s.id)}` }, s.name) },
      { label: 'Table', cell: (s) => names[s.tableId] || s.tableId },
      { label: 'Schedule', cell: (s) => (s.schedule ? `Every ${num(s.schedule)} min` : 'On trigger') },
      { label: 'Status', cell: (s) => status(s.published) },
    ], items(spinners), 'No spinners yet. A spinner processes a table\'s new records each time it is triggered.'));
    if (ctx.canWrite && tableList.length) {
      const select = h('select', { name: 'tableId', required: true },
        tableList.map((t) => h('option', { value: t.id }, t.name)));
      const schedule = h('input', { type: 'number', name: 'schedule', min: 1, inputmode: 'numeric' });
      spinnersSection.append(createForm({
        label: 'New spinner name',
        button: 'Create spinner',
        extra: [field('Table', select), field('Schedule (minutes)', schedule, 'Optional: run automatically this often.')],
        onCreate: async (name) => {
          const body = { name, tableId: select.value };
          if (schedule.value) body.schedule = Number(schedule.value);
          const s = await post(`/v1/projects/${enc(id)}/spinners`, body);
          go(`#/spinners/${enc(s.id)}`);
        },
      }));
    }
  }
  parts.push(spinnersSection);
  ctx.mount(p.name, parts);
}

// A record as the API lists it: its fields, perhaps under `data`.
const fieldsOf = (r) => (r && typeof r.data === 'object' && r.data !== null && !Array.isArray(r.data) ? r.data : r);

function cellText(v) {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, 'null');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export async function table(ctx) {
  const id = ctx.params.id;
  const t = await get(`/v1/tables/${enc(id)}`);
  if (!ctx.alive()) return;
  const columns = (t.schema && t.schema.columns) || [];
  let records = [];
  if (columns.length) records = items(await get(`/v1/tables/${enc(id)}/records?limit=20`));
  if (!ctx.alive()) return;
  let projectName = 'Project';
  if (t.projectId) {
    projectName = await get(`/v1/projects/${enc(t.projectId)}`).then((p) => p.name).catch((err) => {
      if (err.handled) throw err;
      return 'Project';
    });
  }

  const notes = h('div', { role: 'status', 'aria-live': 'polite' });
  const parts = [];
  parts.push(crumbs(['#/projects', 'Projects'], ...(t.projectId ? [[`#/projects/${enc(t.projectId)}`, projectName]] : []), [null, t.name]));

  const publish = ctx.canWrite && !t.published && columns.length ? h('button', {
    type: 'button',
    class: 'btn btn-primary',
    onclick: async (e) => {
      e.currentTarget.disabled = true;
      try {
        await post(`/v1/tables/${enc(id)}/publish`);
        table(ctx);
      } catch (err) {
        e.target.disabled = false;
        showError(notes, err);
      }
    },
  }, 'Publish') : null;
  parts.push(h('div', { class: 'page-head' }, h('h1', {}, t.name, ' ', status(t.published)), publish), notes);
  if (!t.published && columns.length) {
    parts.push(h('p', { class: 'muted' }, 'Publish the table to let API keys with the ingest scope send records to it.'));
  }
  if (t.published) {
    parts.push(h('p', { class: 'muted' }, 'Send records with ', h('code', {}, `POST /v1/tables/${t.id}/records`), ' and a key with the ingest scope.'));
  }

  if (ctx.canWrite) {
    const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv', required: true });
    const errors = h('div');
    const form = h('form', { class: 'card form', 'aria-labelledby': 'import-h' },
      h('h2', { id: 'import-h' }, 'Import a CSV'),
      field('CSV file', file, columns.length
        ? 'It must have the same header row as the table. Its rows are added as records.'
        : 'The header row defines the columns; each column\'s type is inferred from its values.'),
      errors,
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Import'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      errors.replaceChildren();
      const f = file.files[0];
      if (!f) {
        errors.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert' }, 'Choose a CSV file first.'));
        return;
      }
      await busy(form, async () => {
        try {
          const res = await request('POST', `/v1/tables/${enc(id)}/import`, { body: await f.text(), type: 'text/csv' });
          sessionStorage.setItem('tollgate.imported', String(res && res.imported !== undefined ? res.imported : ''));
          await table(ctx);
        } catch (err) {
          showError(errors, err);
          const line = err.details && err.details.line;
          if (line) errors.firstChild?.append(` (line ${line})`);
        }
      });
    });
    parts.push(form);
  }

  parts.push(h('section', { class: 'section', 'aria-labelledby': 'schema-h' },
    h('h2', { id: 'schema-h' }, 'Schema'),
    dataTable('Schema', [
      { label: 'Column', cell: (c) => h('code', {}, c.name) },
      { label: 'Type', cell: (c) => h('span', { class: `tag tag-${c.type}` }, c.type) },
    ], columns, 'No schema yet: import a CSV to define the columns.')));

  parts.push(h('section', { class: 'section', 'aria-labelledby': 'records-h' },
    h('h2', { id: 'records-h' }, 'Records'),
    columns.length ? h('p', { class: 'muted' }, records.length ? `The first ${num(records.length)} records, in the order they arrived.` : '') : null,
    dataTable('Records', columns.map((c) => ({ label: c.name, cell: (r) => cellText(fieldsOf(r)[c.name]) })),
      records, 'No records yet.')));

  ctx.mount(t.name, parts);
  const imported = sessionStorage.getItem('tollgate.imported');
  if (imported !== null) {
    sessionStorage.removeItem('tollgate.imported');
    notes.append(h('p', { class: 'alert alert-ok' }, imported ? `Imported ${num(Number(imported))} records.` : 'Imported.'));
  }
}

const JOB_STATUS = { queued: '', running: 'badge-warn', succeeded: 'badge-ok', failed: 'badge-danger' };

export async function spinner(ctx) {
  const id = ctx.params.id;
  const [s, jobs] = await Promise.all([
    get(`/v1/spinners/${enc(id)}`),
    get(`/v1/jobs?spinnerId=${enc(id)}&limit=50`),
  ]);
  if (!ctx.alive()) return;
  const notes = h('div', { role: 'status', 'aria-live': 'polite' });
  const actions = h('div', { class: 'actions' });
  if (ctx.canWrite && !s.published) {
    actions.append(h('button', {
      type: 'button',
      class: 'btn btn-primary',
      onclick: async () => {
        try {
          await post(`/v1/spinners/${enc(id)}/publish`);
          spinner(ctx);
        } catch (err) { showError(notes, err); }
      },
    }, 'Publish'));
  }
  if (ctx.canWrite && s.published) {
    actions.append(h('button', {
      type: 'button',
      class: 'btn btn-primary',
      onclick: async (e) => {
        const btn = e.currentTarget;
        btn.disabled = true;
        try {
          const res = await post(`/v1/spinners/${enc(id)}/trigger`);
          await refreshJobs();
          notes.replaceChildren(h('p', { class: 'alert alert-ok' }, `Job ${res.job ? res.job.id : ''} queued.`));
        } catch (err) {
          showError(notes, err);
        } finally {
          btn.disabled = false;
        }
      },
    }, 'Trigger now'));
  }
  actions.append(h('button', { type: 'button', class: 'btn', onclick: () => refreshJobs() }, 'Refresh jobs'));

  const jobSlot = h('div');
  function renderJobs(list) {
    jobSlot.replaceChildren(dataTable('Jobs', [
      { label: 'Job', cell: (j) => h('code', {}, j.id) },
      { label: 'Status', cell: (j) => h('span', { class: `badge ${JOB_STATUS[j.status] || ''}` }, j.status) },
      { label: 'Created', cell: (j) => time(j.createdAt) },
      { label: 'Finished', cell: (j) => time(j.finishedAt) },
      { label: 'Processed', cell: (j) => (j.result && j.result.processed !== undefined ? num(j.result.processed) : '—') },
    ], list, s.published ? 'No jobs yet. Trigger the spinner to run one.' : 'No jobs yet. Publish the spinner, then trigger it.'));
  }
  async function refreshJobs() {
    try {
      renderJobs(items(await get(`/v1/jobs?spinnerId=${enc(id)}&limit=50`)));
    } catch (err) { showError(notes, err); }
  }
  renderJobs(items(jobs));

  ctx.mount(s.name, [
    crumbs(['#/projects', 'Projects'], ...(s.projectId ? [[`#/projects/${enc(s.projectId)}`, 'Project']] : []), [null, s.name]),
    h('div', { class: 'page-head' }, h('h1', {}, s.name, ' ', status(s.published)), actions),
    h('p', { class: 'muted' }, s.schedule ? `Runs every ${num(s.schedule)} minutes, and when triggered.` : 'Runs when triggered.'),
    notes,
    h('section', { class: 'section', 'aria-labelledby': 'jobs-h' }, h('h2', { id: 'jobs-h' }, 'Jobs'), jobSlot),
  ]);
}
