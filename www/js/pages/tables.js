// tables.js: one data table: CSV import (with the rows and columns a
// refused file got wrong), the inferred schema, its records page by page,
// "Download CSV" of all of them, and publishing after a confirmation.
import { api } from '../api.js';
import {
  action, busy, confirmDialog, crumbs, dataTable, errorText, field, flash, h, message, num,
  pagedTable, publishedBadge, showError,
} from '../ui.js';

const enc = encodeURIComponent;

// A record as the API lists it: its fields, perhaps under `data`.
const fieldsOf = (r) => (r && typeof r.data === 'object' && r.data !== null && !Array.isArray(r.data) ? r.data : r);

function cellText(v) {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, 'null');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

const TYPE_WORDS = { integer: 'a whole number (integer)', number: 'a number', boolean: 'true or false (boolean)', text: 'text' };

// One problem of a SCHEMA_MISMATCH as a sentence: "Line 3, column “age”:
// wrong type; expected a whole number (integer)." Reads a CSV import's
// 1-based `line` and an ingest batch's 0-based `record` (or `index`), the
// column as `field` (or `column`), and what is wrong as `problem` (or
// `message`), the type from `expected` and the value when one is sent, so
// either shape the API gives reads the same.
export function problemText(p) {
  const where = [];
  const index = Number.isInteger(p.record) ? p.record : Number.isInteger(p.index) ? p.index : null;
  if (Number.isInteger(p.line)) where.push(`Line ${num(p.line)}`);
  else if (index !== null) where.push(`Record ${num(index + 1)}`);
  const column = p.field ?? p.column;
  if (typeof column === 'string' && column) where.push(`column “${column}”`);
  let what = p.problem || p.message || 'does not match the table';
  if (p.expected) what += `; expected ${TYPE_WORDS[p.expected] || p.expected}`;
  if (typeof p.value === 'string' || typeof p.value === 'number') what += `, not “${p.value}”`;
  return `${where.length ? `${where.join(', ')}: ` : ''}${what}.`;
}

// The error of a refused import: for SCHEMA_MISMATCH, what the file got
// wrong, line by line (the first problems the API sent, and how many more).
function importError(err) {
  if (err.code === 'INVALID_CSV') {
    const line = err.details && err.details.line;
    return errorText(line ? { ...err, message: `${err.message} (line ${num(line)})` } : err);
  }
  if (err.code !== 'SCHEMA_MISMATCH') return errorText(err);
  const d = err.details || {};
  const problems = Array.isArray(d.problems) ? d.problems : [];
  const total = Number.isInteger(d.problemCount) ? d.problemCount : problems.length;
  const rest = total - problems.length;
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('p', {}, h('strong', {}, 'The CSV does not match the table\'s columns, so nothing was imported.'),
      ` Fix ${total === 1 ? 'this' : `these ${num(total)} problems`} and import it again:`),
    h('ul', { class: 'problems' },
      problems.map((p) => h('li', {}, problemText(p))),
      rest > 0 ? h('li', { class: 'muted' }, `… and ${num(rest)} more.`) : null),
    err.requestId ? h('span', { class: 'request-id' }, `Reference: ${err.requestId}`) : null);
}

// Saves text as a file named name: a Blob behind an object URL, clicked
// through a download link (the records come with the session's bearer
// token, which a plain link could not send).
function saveFile(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// A file name from the table's name: letters, digits, '-', '_' and '.' kept.
const fileName = (name) => `${String(name).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '') || 'records'}.csv`;

export async function table(ctx) {
  const id = ctx.params.id;
  const t = await api.tables.get(id);
  if (!ctx.alive()) return;
  const columns = (t.schema && t.schema.columns) || [];
  const records = columns.length ? await api.tables.records(id) : null;
  if (!ctx.alive()) return;
  let projectName = 'Project';
  if (t.projectId) {
    projectName = await api.projects.get(t.projectId).then((p) => p.name).catch((err) => {
      if (err.handled) throw err;
      return 'Project';
    });
  }

  const notes = h('div', { 'data-notes': '', role: 'status', 'aria-live': 'polite' });
  const parts = [];
  parts.push(crumbs(['#/projects', 'Projects'], ...(t.projectId ? [[`#/projects/${enc(t.projectId)}`, projectName]] : []), [null, t.name]));

  const publish = ctx.canWrite && !t.published && columns.length ? h('button', {
    type: 'button',
    class: 'btn btn-primary',
    onclick: action(async (e) => {
      const btn = e.currentTarget;
      const yes = await confirmDialog({
        title: `Publish “${t.name}”?`,
        text: 'API keys with the ingest scope can then see this table and send records to it, and its columns stay as they are. Publishing cannot be undone: there is no unpublish.',
        confirm: 'Publish table',
      });
      if (!yes) return;
      btn.disabled = true;
      try {
        await api.tables.publish(id);
        flash('ok', `“${t.name}” is published. API keys with the ingest scope can now send records to it.`);
        await table(ctx);
      } catch (err) {
        btn.disabled = false;
        showError(notes, err);
      }
    }),
  }, 'Publish') : null;
  parts.push(h('div', { class: 'page-head' }, h('h1', {}, t.name, ' ', publishedBadge(t.published)), publish), notes);
  if (!t.published && columns.length) {
    parts.push(h('p', { class: 'muted' }, 'Publish the table to let API keys with the ingest scope send records to it.'));
  }
  if (t.published) {
    parts.push(h('p', { class: 'muted endpoint' }, 'Send records with ', h('code', {}, `POST ${api.tables.ingestPath(t.id)}`), ' and a key with the ingest scope.'));
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
    form.addEventListener('submit', action(async (e) => {
      e.preventDefault();
      const f = file.files[0];
      if (!f) {
        errors.replaceChildren(message('error', 'Choose a CSV file first.'));
        return;
      }
      await busy(form, async () => {
        try {
          const res = await api.tables.import(id, await f.text());
          const n = res && Number.isInteger(res.imported) ? res.imported : null;
          flash('ok', n === null ? 'Imported.' : `Imported ${num(n)} record${n === 1 ? '' : 's'}.`);
          await table(ctx);
        } catch (err) {
          if (err.handled) return;
          errors.replaceChildren(importError(err));
        }
      });
    }));
    parts.push(form);
  }

  parts.push(h('section', { class: 'section', 'aria-labelledby': 'schema-h' },
    h('h2', { id: 'schema-h' }, 'Schema'),
    dataTable('Schema', [
      { label: 'Column', cell: (c) => h('code', {}, c.name) },
      { label: 'Type', cell: (c) => h('span', { class: `tag tag-${c.type}` }, c.type) },
    ], columns, 'No schema yet: import a CSV to define the columns.')));

  const exportNote = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const download = columns.length ? h('button', {
    type: 'button',
    class: 'btn',
    onclick: action(async (e) => {
      const btn = e.currentTarget;
      btn.disabled = true;
      exportNote.textContent = 'Preparing the CSV…';
      try {
        const text = await api.tables.exportCsv(id, (n) => { exportNote.textContent = `Preparing the CSV: ${num(n)} records…`; });
        saveFile(fileName(t.name), text, 'text/csv;charset=utf-8');
        exportNote.textContent = 'Downloaded.';
      } catch (err) {
        exportNote.textContent = '';
        if (!err.handled) showError(notes, err);
      } finally {
        btn.disabled = false;
      }
    }),
  }, 'Download CSV') : null;

  parts.push(h('section', { class: 'section', 'aria-labelledby': 'records-h' },
    h('div', { class: 'section-head' }, h('h2', { id: 'records-h' }, 'Records'), download, ' ', exportNote),
    records && records.data && records.data.length ? h('p', { class: 'muted' }, 'In the order they arrived.') : null,
    pagedTable({
      caption: 'Records',
      columns: columns.map((c) => ({ label: c.name, cell: (r) => cellText(fieldsOf(r)[c.name]) })),
      page: records,
      more: (cursor) => api.tables.records(id, { cursor }),
      empty: 'No records yet.',
    })));

  ctx.mount(t.name, parts);
}
