// Dashboards over the analytics API (/admin/v1/analytics/...), which reads the
// rollups and never the raw calls, so a dashboard costs the same at 10M records:
// requests and errors, tokens, cost, latency p50/p95/p99 and TTFT p50 over time, and
// the top consumers, models and services. A range picks the bucket width; a
// consumer, model or service (from a top table, or the query: #/dashboards?consumer=x)
// narrows every chart to it.

import { get, query } from '../lib/api.js';
import * as ui from '../lib/ui.js';
import { h, append, replace, usd } from '../lib/dom.js';
import { timeChart } from '../lib/chart.js';

const RANGES = {
  '1h': { label: 'Last hour', hours: 1, interval: 'minute' },
  '24h': { label: 'Last 24 hours', hours: 24, interval: 'hour' },
  '7d': { label: 'Last 7 days', hours: 24 * 7, interval: 'hour' },
  '30d': { label: 'Last 30 days', hours: 24 * 30, interval: 'day' },
};
const DRILL = ['consumer', 'model', 'service'];
const num = (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US', { maximumFractionDigits: 1 }));

/** Charts: each a title and its lines (metric, label); values formatted by `format`. */
const CHARTS = [
  { id: 'requests', title: 'Requests and errors', lines: [['requests', 'requests'], ['errors', 'errors']], format: num },
  { id: 'tokens', title: 'Tokens', lines: [['tokens_input', 'input'], ['tokens_output', 'output']], format: num },
  { id: 'cost', title: 'Cost (USD)', lines: [['cost_usd', 'cost']], format: (v) => usd(v) },
  { id: 'latency', title: 'Latency (ms)', lines: [['latency_p50_ms', 'p50'], ['latency_p95_ms', 'p95'], ['latency_p99_ms', 'p99']], format: num },
  { id: 'ttft', title: 'Time to first token, p50 (ms)', lines: [['ttft_p50_ms', 'TTFT p50']], format: num },
  { id: 'overhead', title: 'Gateway overhead, mean (ms)', lines: [['overhead_ms', 'overhead']], format: num },
];

/**
 * One metric's series: everything (`by` omitted), or one value of a dimension (the
 * API answers a series per value; the one asked for is kept).
 */
async function series(metric, range, focus) {
  const q = { metric, interval: range.interval, from: range.from.toISOString(), to: range.to.toISOString(), by: focus ? focus.by : undefined };
  const ts = await get(`/admin/v1/analytics/timeseries${query(q)}`);
  if (!focus) return ts.series[0] || { key: 'all', points: [] };
  return ts.series.find((s) => s.key === focus.key) || { key: focus.key, points: [] };
}

function topTable(by, rows, ctx, rangeKey) {
  const link = (key) => h('a', { href: `#/dashboards${query({ range: rangeKey, [by]: key })}`, class: 'drill' }, key);
  return ui.table([
    { label: by[0].toUpperCase() + by.slice(1), get: (r) => link(r.key) },
    { label: 'Requests', get: (r) => num(r.requests) },
    { label: 'Error rate', get: (r) => `${(r.error_rate * 100).toFixed(1)}%` },
    { label: 'Tokens in / out', get: (r) => `${num(r.tokens_input)} / ${num(r.tokens_output)}` },
    { label: 'Cost', get: (r) => usd(r.cost_usd) },
    { label: 'p50 / p95 / p99 ms', get: (r) => `${num(r.latency_p50_ms)} / ${num(r.latency_p95_ms)} / ${num(r.latency_p99_ms)}` },
    { label: 'Overhead ms', get: (r) => num(r.overhead_ms) },
  ], rows, { empty: 'No traffic in this range.', key: (r) => r.key });
}

export async function render(view, ctx) {
  ui.stylesheet('vendor/uplot/uPlot.min.css');
  const rangeKey = RANGES[ctx.query.range] ? ctx.query.range : '24h';
  const to = new Date();
  const range = { ...RANGES[rangeKey], to, from: new Date(to.getTime() - RANGES[rangeKey].hours * 3600 * 1000) };
  const by = DRILL.find((d) => ctx.query[d]);
  const focus = by ? { by, key: ctx.query[by] } : null;

  const picker = h('select', { id: 'range', onchange: (e) => { location.hash = `#/dashboards${query({ ...(focus ? { [focus.by]: focus.key } : {}), range: e.target.value })}`; } },
    Object.entries(RANGES).map(([k, r]) => h('option', { value: k }, r.label)));
  picker.value = rangeKey;
  const boxes = CHARTS.map((c) => ({ ...c, box: h('div', { class: 'chart', id: `chart-${c.id}` }) }));
  const tops = h('div', { class: 'tops' });
  append(view,
    ui.header(focus ? `Dashboards: ${focus.by} ${focus.key}` : 'Dashboards', picker),
    focus ? h('p', {}, h('a', { href: `#/dashboards${query({ range: rangeKey })}` }, '← Everything'), ' · ',
      h('a', { href: `#/calls${query({ [focus.by === 'service' ? 'model' : focus.by]: focus.key })}` }, 'Calls')) : null,
    h('div', { class: 'chart-grid' }, boxes.map((c) => h('section', { class: 'section chart-card' }, h('h2', {}, c.title), c.box))),
    tops);

  const metrics = [...new Set(CHARTS.flatMap((c) => c.lines.map(([m]) => m)))];
  const [values, ...topRows] = await Promise.all([
    Promise.all(metrics.map((m) => series(m, range, focus))).then((list) => Object.fromEntries(metrics.map((m, i) => [m, list[i]]))),
    ...(focus ? [] : DRILL.map((d) => get(`/admin/v1/analytics/top${query({ by: d, from: range.from.toISOString(), to: range.to.toISOString(), limit: 10 })}`))),
  ]);
  for (const c of boxes) {
    timeChart(c.box, c.lines.map(([m, label]) => ({ key: label, points: values[m].points })),
      { format: c.format, from: range.from, to: range.to, height: 220 });
  }
  if (!focus) {
    replace(tops, DRILL.map((d, i) => h('section', { class: 'section', id: `top-${d}` },
      h('h2', {}, `Top ${d === 'service' ? 'services' : `${d}s`}`), topTable(d, topRows[i].rows, ctx, rangeKey))));
  }
}
