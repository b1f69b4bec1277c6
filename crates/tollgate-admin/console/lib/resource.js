// A page for a named resource of the admin API (`GET/POST base`, `GET/PUT/DELETE
// base/{name}`): a table, and for writers a "New" button and Edit / Delete per row.
// Most pages are one call to resourcePage with their fields and columns.

import { api, get, seg } from './api.js';
import * as ui from './ui.js';
import { h, append } from './dom.js';

/**
 * opts: {title, base ('/admin/v1/teams'), what ('team'), fields, editFields
 * (default: fields with name disabled), columns, intro, rowActions(row, ctx),
 * headerActions(ctx), toBody(body, existing) to adjust a body before it is sent,
 * link(row) for the name column, listUrl (default base) and rows(answer) when the
 * list answer is not an array of rows, after(answer, ctx) for content below the table}.
 */
export async function resourcePage(view, ctx, opts) {
  const answer = await get(opts.listUrl || opts.base);
  const list = opts.rows ? opts.rows(answer) : Array.isArray(answer) ? answer : answer.data || [];
  const key = opts.key || 'name';
  const toBody = opts.toBody || ((b) => b);
  const create = () =>
    ui.formDialog(`New ${opts.what}`, opts.fields, {
      submitLabel: 'Create',
      submit: (body) => api('POST', opts.base, toBody(body, null)),
      done: (r) => {
        ui.toast(`Created ${opts.what} ${r && r[key] ? r[key] : ''}`);
        if (opts.created) return opts.created(r, ctx);
        return ctx.refresh();
      },
    });
  const edit = async (row) => {
    const current = await get(`${opts.base}/${seg(row[key])}`);
    const fields = (opts.editFields || opts.fields).map((f) => (f.name === key ? { ...f, disabled: true } : f));
    ui.formDialog(`Edit ${opts.what} ${row[key]}`, fields, {
      initial: current,
      strip: opts.strip,
      submit: (body) => api('PUT', `${opts.base}/${seg(row[key])}`, toBody({ ...body, [key]: row[key] }, current)),
      done: () => {
        ui.toast(`Saved ${opts.what} ${row[key]}`);
        return ctx.refresh();
      },
    });
  };
  const remove = async (row) => {
    if (!(await ui.confirm(`Delete ${opts.what} ${row[key]}?`))) return;
    const done = await ui.act(() => api('DELETE', `${opts.base}/${seg(row[key])}`), `Deleted ${opts.what} ${row[key]}`);
    if (done !== undefined) ctx.refresh();
  };
  const columns = [
    { label: 'Name', get: (r) => (opts.link ? h('a', { href: opts.link(r) }, r[key]) : h('strong', {}, r[key])) },
    ...opts.columns,
  ];
  if (ctx.canWrite || opts.rowActions) {
    columns.push({
      label: '',
      class: 'actions',
      get: (r) =>
        h('span', {},
          opts.rowActions ? opts.rowActions(r, ctx) : null,
          ctx.canWrite ? ui.button('Edit', () => edit(r), 'small edit') : null,
          ctx.canWrite ? ui.button('Delete', () => remove(r), 'small danger delete') : null),
    });
  }
  append(view, 
    ui.header(opts.title, opts.headerActions ? opts.headerActions(ctx) : null, ctx.canWrite ? ui.button(`New ${opts.what}`, create, 'primary new') : null),
    opts.intro ? h('p', { class: 'muted' }, opts.intro) : null,
    opts.before ? await opts.before(list, ctx) : null,
    ui.table(columns, list, { empty: `No ${opts.what}s yet.`, key: (r) => r[key] }),
    opts.after ? await opts.after(answer, ctx) : null,
  );
  if (ctx.query.new === '1' && ctx.canWrite) create();
  return list;
}

/** Shared field sets. */
export const rateLimitFields = (prefix = 'rate_limit') => [
  { name: `${prefix}.requests_per_minute`, label: 'Requests / minute', type: 'number' },
  { name: `${prefix}.tokens_per_minute`, label: 'Tokens / minute', type: 'number' },
  { name: `${prefix}.concurrent`, label: 'Concurrent requests', type: 'number' },
];

export const budgetFields = (prefix = 'budget') => [
  { name: `${prefix}.usd`, label: 'Budget (USD)', type: 'number', help: 'Or a token quota below; not both.' },
  { name: `${prefix}.tokens`, label: 'Token quota', type: 'number' },
  { name: `${prefix}.period`, label: 'Budget period', type: 'select', options: ['daily', 'weekly', 'monthly', 'total'] },
];

/** "600 rpm, 50 concurrent" */
export function rateLimitText(r) {
  if (!r) return '—';
  const parts = [];
  if (r.requests_per_minute != null) parts.push(`${r.requests_per_minute} req/min`);
  if (r.tokens_per_minute != null) parts.push(`${r.tokens_per_minute} tok/min`);
  if (r.concurrent != null) parts.push(`${r.concurrent} concurrent`);
  return parts.join(', ') || '—';
}

/** "$25.00 monthly" */
export function budgetText(b) {
  if (!b) return '—';
  const amount = b.usd != null ? `$${Number(b.usd).toFixed(2)}` : `${b.tokens} tokens`;
  return `${amount} ${b.period}`;
}
