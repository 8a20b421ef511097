// projects.js: the projects list and a project's page, which lists its
// data tables and spinners and creates them (pages/tables.js and
// pages/spinners.js show one of each).
import { api, go } from '../api.js';
import {
  action, confirmDialog, createForm, crumbs, field, h, num, pagedTable, publishedBadge, showError, time,
} from '../ui.js';

const enc = encodeURIComponent;

export async function projects(ctx) {
  const first = await api.projects.list();
  if (!ctx.alive()) return;
  const parts = [
    h('h1', {}, 'Projects'),
    h('div', { 'data-notes': '', role: 'status', 'aria-live': 'polite' }),
    h('p', { class: 'lede' }, 'A project holds data tables, which you fill by importing a CSV or through the API, and spinners, which process new records.'),
  ];
  if (ctx.canWrite) {
    parts.push(h('section', { class: 'card', 'aria-labelledby': 'new-project-h' },
      h('h2', { id: 'new-project-h' }, 'New project'),
      createForm({
        label: 'Project name',
        button: 'Create project',
        onCreate: async (name) => {
          const p = await api.projects.create({ name });
          go(`#/projects/${enc(p.id)}`);
        },
      })));
  }
  parts.push(h('section', { class: 'section', 'aria-labelledby': 'projects-h' },
    h('h2', { id: 'projects-h' }, 'Your projects'),
    pagedTable({
      caption: 'Projects',
      columns: [
        { label: 'Name', cell: (p) => h('a', { href: `#/projects/${enc(p.id)}` }, p.name) },
        { label: 'Created', cell: (p) => time(p.createdAt) },
      ],
      page: first,
      more: (cursor) => api.projects.list({ cursor }),
      empty: ctx.canWrite ? 'No projects yet. Create the first one above.' : 'No projects yet.',
    })));
  ctx.mount('Projects', parts);
}

export async function project(ctx) {
  const id = ctx.params.id;
  // The project must load; its tables and spinners show what they can.
  const orNull = (err) => { if (err.handled) throw err; return null; };
  const [p, tables, spinners] = await Promise.all([
    api.projects.get(id),
    api.tables.list(id).catch(orNull),
    api.spinners.list(id).catch(orNull),
  ]);
  if (!ctx.alive()) return;
  const errSlot = h('div');
  const parts = [
    crumbs(['#/projects', 'Projects'], [null, p.name]),
    h('div', { class: 'page-head' }, h('h1', {}, p.name),
      ctx.canWrite ? h('button', {
        type: 'button',
        class: 'btn btn-danger-outline',
        onclick: action(async () => {
          const yes = await confirmDialog({
            title: 'Delete this project?',
            text: `“${p.name}”, its tables, records and spinners are deleted. This cannot be undone.`,
            confirm: 'Delete project',
            danger: true,
          });
          if (!yes) return;
          try {
            await api.projects.remove(id);
            go('#/projects');
          } catch (err) {
            showError(errSlot, err);
          }
        }),
      }, 'Delete project') : null),
    errSlot,
  ];

  // The tables loaded so far, page by page: they name the spinners' tables
  // and fill the new spinner's table choice.
  const names = {};
  const select = h('select', { name: 'tableId', required: true });
  const addTables = (rows) => rows.forEach((t) => {
    names[t.id] = t.name;
    select.append(h('option', { value: t.id }, t.name));
  });

  const tablesSection = h('section', { class: 'section', 'aria-labelledby': 'tables-h' },
    h('h2', { id: 'tables-h' }, 'Data tables'),
    tables === null ? h('p', { class: 'muted' }, 'Data tables could not be loaded.') : pagedTable({
      caption: 'Data tables',
      columns: [
        { label: 'Name', cell: (t) => h('a', { href: `#/tables/${enc(t.id)}` }, t.name) },
        { label: 'Columns', cell: (t) => (t.schema && t.schema.columns ? num(t.schema.columns.length) : h('span', { class: 'muted' }, 'No schema yet')) },
        { label: 'Status', cell: (t) => publishedBadge(t.published) },
      ],
      page: tables,
      more: (cursor) => api.tables.list(id, { cursor }),
      empty: 'No tables yet.',
      onRows: addTables,
    }));
  if (ctx.canWrite) {
    tablesSection.append(createForm({
      label: 'New table name',
      button: 'Create table',
      hint: 'Import a CSV next: its header row becomes the table\'s columns.',
      onCreate: async (name) => {
        const t = await api.tables.create(id, { name });
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
    spinnersSection.append(pagedTable({
      caption: 'Spinners',
      columns: [
        { label: 'Name', cell: (s) => h('a', { href: `#/spinners/${enc(s.id)}` }, s.name) },
        { label: 'Table', cell: (s) => names[s.tableId] || s.tableId },
        { label: 'Schedule', cell: (s) => (s.schedule ? `Every ${num(s.schedule)} min` : 'On trigger') },
        { label: 'Status', cell: (s) => publishedBadge(s.published) },
      ],
      page: spinners,
      more: (cursor) => api.spinners.list(id, { cursor }),
      empty: 'No spinners yet. A spinner processes a table\'s new records each time it is triggered.',
    }));
    if (ctx.canWrite && select.options.length) {
      const schedule = h('input', { type: 'number', name: 'schedule', min: 1, inputmode: 'numeric' });
      spinnersSection.append(createForm({
        label: 'New spinner name',
        button: 'Create spinner',
        extra: [field('Table', select), field('Schedule (minutes)', schedule, 'Optional: run automatically this often.')],
        onCreate: async (name) => {
          const body = { name, tableId: select.value };
          if (schedule.value) body.schedule = Number(schedule.value);
          const s = await api.spinners.create(id, body);
          go(`#/spinners/${enc(s.id)}`);
        },
      }));
    }
  }
  parts.push(spinnersSection);
  ctx.mount(p.name, parts);
}
