// ui.js: the small DOM toolkit the pages share. Elements are built with
// h(), never from HTML strings (the CSP requires Trusted Types, so an
// innerHTML assignment would throw), and every text goes in as a text node.

// h('p', {class: 'x', onclick: fn}, 'text', child, [more]) -> element.
// Attributes whose value is false, null or undefined are left out.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string' && k !== 'list') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateUtc = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const number = new Intl.NumberFormat();

// when(iso) -> "Nov 23, 2026, 11:17 AM" in the person's time zone, or "—".
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}

// day(iso) -> "Dec 1, 2026": meters reset at 00:00 UTC, so the UTC date.
export function day(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateUtc.format(d);
}

export const num = (n) => (n === null || n === undefined ? '—' : number.format(n));

// A <time> element for an RFC 3339 string.
export function time(iso, text = when(iso)) {
  return iso ? h('time', { datetime: iso }, text) : h('span', { class: 'muted' }, '—');
}

// An inline error for a form: role=alert is read out as soon as it appears.
// The API's error sentences are written to be shown to people.
export function errorText(err) {
  const p = h('p', { class: 'alert alert-error', role: 'alert' }, err.message);
  if (err.requestId) p.append(h('span', { class: 'request-id' }, ` Reference: ${err.requestId}`));
  return p;
}

// A message for people: kind ok, info or error. Errors are role=alert (read
// out at once), the others role=status.
export function message(kind, ...text) {
  return h('p', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...text);
}

// Removes every message in <main>: each new action starts with none, so an
// old "Imported 20 records." never sits above a new error.
export function clearMessages() {
  document.querySelectorAll('#main .alert, #main .banner').forEach((m) => m.remove());
}

// action(fn) -> an event handler that clears the page's messages, then
// runs fn(event). Every button and form of the app acts through it.
export function action(fn) {
  return (e) => {
    clearMessages();
    return fn(e);
  };
}

// A message for the next page shown (an action that re-renders or moves
// on, like a publish or a sign-up): the shell puts it in that page's
// [data-notes] slot, and drops it when that page has none.
let pending = null;
export function flash(kind, text) { pending = { kind, text }; }
export function takeFlash() {
  const f = pending;
  pending = null;
  return f;
}

// Shows err in slot unless the API client already routed the person away.
export function showError(slot, err) {
  if (err && err.handled) return;
  if (!(err && err.status !== undefined)) console.error(err);
  slot.replaceChildren(errorText(err && err.message ? err : { message: 'Something went wrong.' }));
}

// Disables a form while fn runs, so a double click sends one request.
export async function busy(form, fn) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')];
  const was = controls.map((c) => c.disabled);
  controls.forEach((c) => { c.disabled = true; });
  form.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    controls.forEach((c, i) => { c.disabled = was[i]; });
    form.removeAttribute('aria-busy');
  }
}

// A labelled field: label text, then the control, then an optional hint
// tied to it with aria-describedby.
let fieldIds = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldIds}`;
  control.id = id;
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    const hid = `${id}-hint`;
    control.setAttribute('aria-describedby', hid);
    parts.push(h('p', { class: 'hint', id: hid }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

// confirmDialog({title, text, confirm, danger}) -> Promise<boolean>, asked in
// a modal <dialog> (focus stays inside, Escape cancels).
export function confirmDialog({ title, text, confirm = 'Continue', cancel = 'Cancel', danger = false }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'btn btn-danger' : 'btn btn-primary' }, confirm);
    const no = h('button', { type: 'submit', value: 'cancel', class: 'btn' }, cancel);
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title', 'aria-describedby': 'dlg-text' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        h('p', { id: 'dlg-text' }, text),
        h('div', { class: 'actions' }, no, ok)));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(dlg.returnValue === 'ok');
    });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  });
}

// A data table: columns [{label, cell: (row) => node|string}], or an empty
// state sentence when there are no rows.
export function dataTable(caption, columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, c.cell(r))))))));
}

// pagedTable({caption, columns, page, more, empty, onRows}) -> element: the
// rows of page ({data, nextCursor}) and, while there is a nextCursor, a
// "Load more" button that fetches more(cursor) and appends its rows.
// onRows(rows) hears every page's rows, the first included.
export function pagedTable({ caption, columns, page, more, empty, onRows }) {
  const first = (page && page.data) || [];
  let cursor = page ? page.nextCursor : null;
  if (onRows) onRows(first);
  if (!first.length && !cursor) return h('p', { class: 'empty' }, empty);
  const row = (r) => h('tr', {}, columns.map((c) => h('td', {}, c.cell(r))));
  const tbody = h('tbody', {}, first.map(row));
  const errors = h('div');
  const count = h('p', { class: 'list-count muted', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'btn' }, 'Load more');
  const foot = h('div', { class: 'list-foot' }, count, button);
  let shown = first.length;
  function update() {
    count.textContent = cursor ? `Showing ${num(shown)}; there are more.` : `Showing all ${num(shown)}.`;
    button.hidden = !cursor;
  }
  button.addEventListener('click', action(async () => {
    button.disabled = true;
    try {
      const next = await more(cursor);
      const rows = (next && next.data) || [];
      tbody.append(...rows.map(row));
      shown += rows.length;
      cursor = next ? next.nextCursor : null;
      if (onRows) onRows(rows);
      update();
    } catch (err) {
      showError(errors, err);
    } finally {
      button.disabled = false;
    }
  }));
  update();
  return h('div', { class: 'paged' },
    h('div', { class: 'table-wrap' },
      h('table', {},
        h('caption', { class: 'visually-hidden' }, caption),
        h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
        tbody)),
    errors,
    // "Showing all 3." says nothing on a short list: the count shows only
    // once there has been more than one page.
    cursor ? foot : null);
}

// The breadcrumb trail: [[href, text], ..., [null, current]].
export function crumbs(...links) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
    h('ol', { role: 'list' }, links.map(([href, text]) => h('li', {}, href ? h('a', { href }, text) : h('span', { 'aria-current': 'page' }, text)))));
}

// The Published / Draft badge of a table or spinner.
export function publishedBadge(published) {
  return published ? h('span', { class: 'badge badge-ok' }, 'Published') : h('span', { class: 'badge' }, 'Draft');
}

// A one-field create form: label, input, button; onCreate(value, form)
// does the work, and its error shows under the form.
export function createForm({ label, button, hint, onCreate, extra = [] }) {
  const input = h('input', { type: 'text', name: 'name', required: true, maxlength: 100 });
  const errors = h('div');
  const form = h('form', { class: 'inline-form' },
    field(label, input, hint), ...extra,
    h('button', { type: 'submit', class: 'btn btn-primary' }, button),
    errors);
  form.addEventListener('submit', action(async (e) => {
    e.preventDefault();
    await busy(form, async () => {
      try {
        await onCreate(input.value.trim(), form);
      } catch (err) {
        showError(errors, err);
      }
    });
  }));
  return form;
}

// Copies text; answers whether it worked.
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.select();
    return document.execCommand('copy');
  }
}
