// The call log (/admin/v1/calls): one row per request the gateway saw, newest first,
// with the API's filters and cursor paging, export links (NDJSON, CSV) for the same
// filters, and a call's page (#/calls/ID) with its record, its upstream attempts and
// its explain trail (/admin/v1/calls/{id}/explain): why it got its answer.

import { get, query, seg } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, append, time, usd, show } from '../lib/dom.js';

const FILTERS = ['from', 'to', 'consumer', 'team', 'model', 'provider', 'status', 'error_code'];

const statusPill = (s) => ui.pill(String(s), s >= 500 ? 'bad' : s >= 400 ? 'warn' : 'ok');
const ms = (v) => (v === null || v === undefined ? '—' : `${v} ms`);
const tokens = (t) => (t ? `${t.input} in / ${t.output} out` : '—');

/** The explain trail: one row per step, its outcome, and what it decided on. */
export function explainView(explain) {
  const detail = (s) => {
    const rest = Object.entries(s).filter(([k]) => k !== 'step' && k !== 'outcome');
    return rest.length
      ? h('dl', { class: 'inline' }, rest.map(([k, v]) => [h('dt', {}, k), h('dd', {}, show(v))]))
      : '—';
  };
  const outcome = (o) => ui.pill(show(o), ['pass', 'hit', 'ok', 'charged', 'success'].includes(o) ? 'ok' : ['refused', 'failed'].includes(o) ? 'bad' : '');
  return h('div', { class: 'explain' },
    h('p', {}, 'Answered ', statusPill(explain.status), explain.error_code ? [' ', h('code', {}, explain.error_code)] : null),
    ui.table([
      { label: '#', get: (s) => String(explain.steps.indexOf(s) + 1) },
      { label: 'Step', get: (s) => h('strong', {}, s.step) },
      { label: 'Outcome', get: (s) => outcome(s.outcome) },
      { label: 'Details', get: detail },
    ], explain.steps, { empty: 'No steps recorded.' }));
}

function recordView(r) {
  const row = (label, value) => [h('dt', {}, label), h('dd', {}, value instanceof Node ? value : show(value))];
  return h('dl', { class: 'record' },
    row('Request id', h('code', {}, r.request_id)),
    row('At', time(r.at)),
    row('Status', statusPill(r.status)),
    row('Error code', r.error_code),
    row('Door', r.door),
    row('Consumer', r.consumer ? h('a', { href: `#/dashboards?consumer=${encodeURIComponent(r.consumer)}` }, r.consumer) : null),
    row('Team', r.team),
    row('Key id', r.key_id),
    row('Model', r.model),
    row('Provider / target', r.provider ? `${r.provider} / ${r.target_model}` : null),
    row('Latency', ms(r.latency_ms)),
    row('Upstream latency', ms(r.upstream_latency_ms)),
    row('Time to first token', ms(r.ttft_ms)),
    row('Tokens', r.tokens ? `${r.tokens.input} input, ${r.tokens.output} output, ${r.tokens.cache_read} cache read, ${r.tokens.cache_write} cache write, ${r.tokens.reasoning} reasoning` : null),
    row('Cost', usd(r.cost_usd)),
    row('Cache', r.cache),
    row('Stream', r.stream),
    row('Client', `${show(r.client_ip)} · ${show(r.user_agent)}`));
}

async function detail(view, id) {
  const [record, explain] = await Promise.all([
    get(`/admin/v1/calls/${seg(id)}`),
    get(`/admin/v1/calls/${seg(id)}/explain`),
  ]);
  append(view,
    h('p', {}, h('a', { href: '#/calls' }, '← Call log')),
    ui.header(`Call ${id}`),
    ui.section('Record', recordView(record)),
    ui.section('Attempts', ui.table([
      { label: 'Provider', get: (a) => a.provider },
      { label: 'Target model', get: (a) => a.target_model },
      { label: 'Status', get: (a) => (a.status ? statusPill(a.status) : '—') },
      { label: 'Error', get: (a) => a.error_code },
      { label: 'Latency', get: (a) => ms(a.latency_ms) },
    ], record.attempts || [], { empty: 'No upstream attempt (answered by the gateway itself).' })),
    h('section', { class: 'section', id: 'explain' }, h('h2', {}, 'Explain'), explainView(explain)));
}

export async function render(view, ctx) {
  if (ctx.params[0]) return detail(view, ctx.params[0]);
  const q = Object.fromEntries(FILTERS.map((k) => [k, ctx.query[k]]));
  const page = await get(`/admin/v1/calls${query({ ...q, cursor: ctx.query.cursor, limit: 100 })}`);
  const filters = ui.form([
    { name: 'from', label: 'From (RFC 3339)', placeholder: '2026-11-01T00:00:00Z' },
    { name: 'to', label: 'To (RFC 3339)' },
    { name: 'consumer', label: 'Consumer' },
    { name: 'team', label: 'Team' },
    { name: 'model', label: 'Model' },
    { name: 'provider', label: 'Provider' },
    { name: 'status', label: 'Status', type: 'number' },
    { name: 'error_code', label: 'Error code' },
  ], {
    initial: { ...q, status: q.status === undefined ? undefined : Number(q.status) },
    submitLabel: 'Filter',
    submit: async (b) => {
      // Checked by the API first, so a bad value shows beside its field.
      await get(`/admin/v1/calls${query({ ...b, limit: 1 })}`);
      location.hash = `#/calls${query(b)}`;
    },
  });
  filters.classList.add('filters');
  filters.querySelector('button[type=submit]').classList.add('filter');
  const exportHref = (format) => `/admin/v1/calls/export${query({ ...q, format })}`;
  const next = { ...q, cursor: page.next_cursor };
  append(view,
    ui.header('Call log',
      h('a', { class: 'button export-ndjson', href: exportHref('ndjson'), download: 'calls.ndjson' }, 'Export NDJSON'),
      h('a', { class: 'button export-csv', href: exportHref('csv'), download: 'calls.csv' }, 'Export CSV')),
    filters,
    ui.table([
      { label: 'At', get: (r) => time(r.at) },
      { label: 'Request', get: (r) => h('a', { href: `#/calls/${encodeURIComponent(r.request_id)}`, class: 'call-link' }, r.request_id) },
      { label: 'Consumer', get: (r) => r.consumer },
      { label: 'Model', get: (r) => r.model },
      { label: 'Provider', get: (r) => r.provider },
      { label: 'Status', get: (r) => statusPill(r.status) },
      { label: 'Error', get: (r) => r.error_code },
      { label: 'Latency', get: (r) => ms(r.latency_ms) },
      { label: 'Tokens', get: (r) => tokens(r.tokens) },
      { label: 'Cost', get: (r) => usd(r.cost_usd) },
      { label: 'Cache', get: (r) => r.cache },
    ], page.data, { empty: 'No calls match.', key: (r) => r.request_id }),
    page.next_cursor ? h('p', {}, h('a', { href: `#/calls${query(next)}` }, 'Older →')) : null);
}
