// The audit log (/admin/v1/audit): every admin write with who made it and the
// document before and after (secrets redacted by the server).

import { get, query } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, time, append } from '../lib/dom.js';

export async function render(view, ctx) {
  const q = { from: ctx.query.from, to: ctx.query.to, user: ctx.query.user, cursor: ctx.query.cursor, limit: 100 };
  const page = await get(`/admin/v1/audit${query(q)}`);
  const filters = ui.form([
    { name: 'user', label: 'User' },
    { name: 'from', label: 'From (RFC 3339)', placeholder: '2026-11-01T00:00:00Z' },
    { name: 'to', label: 'To (RFC 3339)' },
  ], {
    initial: { user: q.user, from: q.from, to: q.to },
    submitLabel: 'Filter',
    submit: async (b) => {
      // Checked by the API before the page moves, so a bad date shows beside its field.
      await get(`/admin/v1/audit${query({ ...b, limit: 1 })}`);
      location.hash = `#/audit${query(b)}`;
    },
  });
  filters.classList.add('filters');
  const details = (r) => (r.before || r.after
    ? h('details', {}, h('summary', {}, 'before / after'),
      h('div', { class: 'cards' },
        h('div', {}, h('div', { class: 'muted' }, 'before'), h('pre', { class: 'doc' }, r.before == null ? '—' : JSON.stringify(r.before, null, 2))),
        h('div', {}, h('div', { class: 'muted' }, 'after'), h('pre', { class: 'doc' }, r.after == null ? '—' : JSON.stringify(r.after, null, 2)))))
    : '—');
  const next = { ...q, cursor: page.next_cursor, limit: undefined };
  append(view, 
    ui.header('Audit log'),
    filters,
    ui.table([
      { label: 'At', get: (r) => time(r.at) },
      { label: 'User', get: (r) => r.user },
      { label: 'Action', get: (r) => ui.pill(r.action) },
      { label: 'Resource', get: (r) => r.resource },
      { label: 'Name', get: (r) => r.name },
      { label: 'Change', get: details },
    ], page.data, { empty: 'No audit entries match.' }),
    page.next_cursor ? h('p', {}, h('a', { href: `#/audit${query(next)}` }, 'Older →')) : null,
  );
}
