// The console's building blocks: page headers, tables, forms that show the API's
// error beside the field it names (`param`), dialogs, notices and copy buttons.
// Pages compose these; none of them touches the API itself.

import { h, append, replace, show } from './dom.js';
import { ApiError } from './api.js';

/** A page title with actions on the right. */
export function header(title, ...actions) {
  return h('div', { class: 'page-header' }, h('h1', {}, title), h('div', { class: 'actions' }, actions));
}

/** A section heading inside a page. */
export function section(title, ...children) {
  return h('section', { class: 'section' }, h('h2', {}, title), children);
}

/** A button; kind is '', 'primary' or 'danger'. */
export function button(label, onclick, kind = '', attrs = {}) {
  return h('button', { type: 'button', class: kind, onclick, ...attrs }, label);
}

/** A notice: kind 'info' | 'error' | 'ok' | 'warn'. */
export function notice(kind, ...children) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, children);
}

/** An error (ApiError or other) as a notice. */
export function errorNotice(err) {
  const code = err instanceof ApiError && err.code ? ` (${err.code})` : '';
  return notice('error', `${err.message}${code}`);
}

/** "Loading…" placeholder. */
export const loading = () => h('p', { class: 'muted' }, 'Loading…');

/**
 * A table. columns: [{label, get: row => node|string, class}], rows: array.
 * opts.empty: text when there are no rows; opts.key: row => id for data-key.
 */
export function table(columns, rows, opts = {}) {
  if (!rows || rows.length === 0) return h('p', { class: 'muted empty' }, opts.empty || 'Nothing yet.');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class }, c.label)))),
      h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            { dataset: opts.key ? { key: String(opts.key(r)) } : undefined },
            columns.map((c) => {
              const v = c.get(r);
              return h('td', { class: c.class }, v instanceof Node ? v : show(v));
            }),
          ),
        ),
      ),
    ),
  );
}

/** A small status pill: pill('open', 'bad'). */
export const pill = (text, kind = '') => h('span', { class: `pill ${kind}` }, text);

// ---------------------------------------------------------------------------
// Forms

/** Reads a dotted path ("budget.usd") of an object. */
export function getPath(obj, path) {
  return path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

/** Sets (or, for undefined, deletes) a dotted path, making objects on the way. */
export function setPath(obj, path, value) {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null || Array.isArray(o[k])) {
      if (value === undefined) return;
      o[k] = {};
    }
    o = o[k];
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
}

/** Drops objects left empty (an optional `budget` with nothing filled in). */
function prune(obj) {
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      prune(v);
      if (Object.keys(v).length === 0) delete obj[k];
    }
  }
  return obj;
}

/** The field a `param` of the API names: the longest field path it starts with. */
export function fieldFor(fields, param) {
  if (!param) return null;
  const p = String(param).replace(/^\$?\./, '');
  let best = null;
  for (const f of fields) {
    const n = f.name;
    if (p === n || p.startsWith(`${n}.`) || p.startsWith(`${n}[`)) {
      if (!best || n.length > best.name.length) best = f;
    }
  }
  // A param naming an object the form edits field by field (`budget` for a missing
  // `budget.period`): its first field.
  return best || fields.find((f) => f.name.startsWith(`${p}.`)) || null;
}

const toInput = {
  list: (v) => (Array.isArray(v) ? v.join(', ') : v ?? ''),
  json: (v) => (v === undefined || v === null ? '' : JSON.stringify(v, null, 2)),
};

/** Makes the input element of one field. */
function input(f, value) {
  const id = `f-${f.name.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
  const common = { id, name: f.name, required: f.required, disabled: f.disabled, placeholder: f.placeholder };
  const t = f.type || 'text';
  if (t === 'select') {
    const opts = (f.options || []).map((o) => (typeof o === 'object' ? o : { value: o, label: o }));
    const sel = h(
      'select',
      common,
      f.required ? null : h('option', { value: '' }, f.none || '—'),
      opts.map((o) => h('option', { value: o.value }, o.label)),
    );
    sel.value = value ?? f.default ?? '';
    return sel;
  }
  if (t === 'checkbox') return h('input', { ...common, type: 'checkbox', checked: value ?? f.default ?? false });
  if (t === 'bool') {
    const sel = h('select', common, h('option', { value: '' }, f.none || '—'), h('option', { value: 'true' }, 'yes'), h('option', { value: 'false' }, 'no'));
    sel.value = value === undefined || value === null ? '' : String(value);
    return sel;
  }
  if (t === 'json' || t === 'textarea') {
    return h('textarea', { ...common, rows: f.rows || (t === 'json' ? 6 : 4), spellcheck: 'false' }, t === 'json' ? toInput.json(value) : value ?? '');
  }
  const type = t === 'number' ? 'number' : t === 'password' || f.secret ? 'password' : 'text';
  const v = t === 'list' ? toInput.list(value) : value ?? f.default ?? '';
  return h('input', { ...common, type, value: v, step: t === 'number' ? f.step || 'any' : undefined, autocomplete: t === 'password' ? 'new-password' : 'off' });
}

/** The value of one field's input; undefined when left empty. Throws a message on bad JSON. */
function valueOf(f, el) {
  const t = f.type || 'text';
  if (t === 'checkbox') return el.checked;
  const raw = el.value;
  if (raw.trim() === '') return f.emptyAs;
  if (t === 'number') return Number(raw);
  if (t === 'bool') return raw === 'true';
  if (t === 'list') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (t === 'json') {
    try {
      return JSON.parse(raw);
    } catch (e) {
      throw new Error(`Not valid JSON: ${e.message}`);
    }
  }
  return raw;
}

/**
 * A form over the API. fields: [{name: 'budget.usd', label, type, options, help,
 * required, placeholder, emptyAs, secret}], type one of text, password, number,
 * select, bool (unset / yes / no), list (comma-separated), json, textarea, checkbox.
 * opts.initial: the document being edited (fields not in the form are kept, minus
 * opts.strip); opts.submit(body): the API call; opts.done(result): after success.
 * An ApiError's `param` is shown beside the field it names; otherwise above.
 */
export function form(fields, opts) {
  const base = structuredClone(opts.initial || {});
  for (const k of opts.strip || ['source', 'created_at', 'updated_at']) delete base[k];
  const general = h('div', { class: 'form-error', role: 'alert' });
  const rows = fields.map((f) => {
    const el = input(f, opts.initial ? getPath(opts.initial, f.name) : undefined);
    const err = h('div', { class: 'field-error', dataset: { field: f.name } });
    return { f, el, err, row: h('div', { class: `field ${f.type === 'checkbox' ? 'check' : ''}` },
      h('label', { for: el.id }, f.label || f.name), el, f.help ? h('div', { class: 'help' }, f.help) : null, err) };
  });
  const submitBtn = h('button', { type: 'submit', class: 'primary' }, opts.submitLabel || 'Save');
  const clearErrors = () => {
    replace(general);
    rows.forEach((r) => {
      replace(r.err);
      r.row.classList.remove('invalid');
    });
  };
  const fail = (row, message) => {
    if (row) {
      replace(row.err, message);
      row.row.classList.add('invalid');
      row.el.focus();
    } else replace(general, message);
  };
  const el = h(
    'form',
    { class: 'form', novalidate: true },
    general,
    rows.map((r) => r.row),
    h('div', { class: 'form-actions' }, submitBtn, opts.cancel ? button('Cancel', opts.cancel) : null),
  );
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const body = structuredClone(base);
    for (const r of rows) {
      try {
        setPath(body, r.f.name, valueOf(r.f, r.el));
      } catch (e) {
        fail(r, e.message);
        return;
      }
    }
    prune(body);
    submitBtn.disabled = true;
    try {
      const result = await opts.submit(body);
      if (opts.done) await opts.done(result);
    } catch (e) {
      const row = e && e.param ? rows.find((r) => r.f === fieldFor(fields, e.param)) : null;
      fail(row, row ? e.message : `${e.message}${e.param ? ` (${e.param})` : ''}`);
    } finally {
      submitBtn.disabled = false;
    }
  });
  return el;
}

// ---------------------------------------------------------------------------
// Dialogs and notices

/** Opens a modal dialog with content; answers {close, el}. */
export function dialog(title, ...content) {
  const el = h('dialog', { class: 'dialog' }, h('div', { class: 'dialog-head' }, h('h2', {}, title), button('×', () => close(), 'close', { 'aria-label': 'Close' })), h('div', { class: 'dialog-body' }, content));
  const close = () => {
    el.close();
    el.remove();
  };
  el.addEventListener('cancel', () => el.remove());
  document.body.append(el);
  el.showModal();
  return { close, el, body: el.querySelector('.dialog-body') };
}

/** Opens a form in a dialog; the dialog closes when the form succeeds. */
export function formDialog(title, fields, opts) {
  let d;
  const f = form(fields, { ...opts, cancel: () => d.close(), done: async (r) => { d.close(); if (opts.done) await opts.done(r); } });
  d = dialog(title, f);
  return d;
}

/** Asks before doing something destructive; resolves true to go ahead. */
export function confirm(message, yes = 'Delete') {
  return new Promise((resolve) => {
    let d;
    const answer = (v) => { d.close(); resolve(v); };
    d = dialog('Are you sure?', h('p', {}, message), h('div', { class: 'form-actions' }, button(yes, () => answer(true), 'danger confirm-yes'), button('Cancel', () => answer(false))));
    d.el.addEventListener('cancel', () => resolve(false));
  });
}

/** A passing message at the bottom of the window. */
export function toast(message, kind = 'ok') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = h('div', { class: `toast ${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), 4000);
}

/** A button copying text to the clipboard. */
export function copyButton(text, label = 'Copy') {
  const b = button(label, async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy';
    }
    setTimeout(() => (b.textContent = label), 1500);
  }, 'copy');
  return b;
}

/** A secret shown once (a new key): the value, a copy button and a warning. */
export function secretOnce(label, value) {
  return h('div', { class: 'secret-once' },
    h('p', {}, h('strong', {}, label), ' — copy it now: it is shown only once.'),
    h('div', { class: 'secret-row' }, h('code', { class: 'secret' }, value), copyButton(value)));
}

/** A block of code with a copy button. */
export function codeBlock(text) {
  return h('div', { class: 'code-block' }, h('pre', {}, h('code', {}, text)), copyButton(text));
}

/** Adds a stylesheet (by path under /console/) once. */
export function stylesheet(path) {
  const href = `/console/${path}`;
  if (!document.querySelector(`link[href="${href}"]`)) document.head.append(h('link', { rel: 'stylesheet', href }));
}

/** Runs an API action from a button, with a toast on success and an error toast. */
export async function act(fn, ok) {
  try {
    const r = await fn();
    if (ok) toast(ok);
    return r;
  } catch (e) {
    toast(e.message, 'error');
    return undefined;
  }
}

/** Tabs: [{label, render(el)}]; the first is shown. */
export function tabs(list) {
  const body = h('div', { class: 'tab-body' });
  const bar = h('div', { class: 'tabs', role: 'tablist' });
  const select = (i) => {
    [...bar.children].forEach((b, j) => b.classList.toggle('active', i === j));
    replace(body);
    list[i].render(body);
  };
  list.forEach((t, i) => bar.append(h('button', { type: 'button', role: 'tab', onclick: () => select(i) }, t.label)));
  const el = h('div', {}, bar, body);
  select(0);
  return el;
}

export { h, append, replace, show };
