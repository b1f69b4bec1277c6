// The developer's own usage: the usage document (this budget window's requests,
// tokens, cost, budgets, credits, rate limit) and a chart of the consumer's traffic
// over time from the analytics rollups.

import { h, mount, notice, table } from "../dom.js";
import { get } from "../api.js";
import { num, usd, when } from "../format.js";
import { timeChart } from "/console/lib/chart.js";

const METRICS = [
  ["requests", "Requests", num],
  ["errors", "Errors", num],
  ["tokens_input", "Input tokens", num],
  ["tokens_output", "Output tokens", num],
  ["cost_usd", "Cost (USD)", usd],
];
const RANGES = [
  ["24h", "Last 24 hours", 24, "hour"],
  ["1h", "Last hour", 1, "minute"],
  ["7d", "Last 7 days", 24 * 7, "hour"],
  ["30d", "Last 30 days", 24 * 30, "day"],
];

function budgetRow(b) {
  const limit = b.limit_usd !== undefined ? usd(b.limit_usd) : `${num(b.limit_tokens)} tokens`;
  const used = b.used_usd !== undefined ? usd(b.used_usd) : `${num(b.used_tokens)} tokens`;
  const ratio = b.limit_usd ? b.used_usd / b.limit_usd : b.limit_tokens ? b.used_tokens / b.limit_tokens : 0;
  const bar = h("progress", { max: 1, value: Math.min(1, Math.max(0, ratio || 0)) });
  return [b.scope || "", used, limit, bar, b.period || "", when(b.resets_at)];
}

function stat(label, value, id) {
  return h("div", { class: "stat", id }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

export async function usagePage(view, { isCurrent }) {
  const doc = await get("/usage");
  if (!isCurrent()) return;
  const chartBox = h("div", { class: "chart", id: "usage-chart" });
  const chartStatus = h("div");
  const metric = h("select", { id: "usage-metric" }, METRICS.map(([v, l]) => h("option", { value: v }, l)));
  const range = h("select", { id: "usage-range" }, RANGES.map(([v, l]) => h("option", { value: v }, l)));

  async function draw() {
    const [, label, format] = METRICS.find(([v]) => v === metric.value);
    const [, , hours, interval] = RANGES.find(([v]) => v === range.value);
    const to = new Date();
    const from = new Date(to.getTime() - hours * 3600 * 1000);
    const q = new URLSearchParams({ metric: metric.value, interval, from: from.toISOString(), to: to.toISOString() });
    try {
      const ts = await get(`/usage/timeseries?${q}`);
      mount(chartStatus);
      timeChart(chartBox, ts.series.map((s) => ({ ...s, key: label })), { label, format, from, to });
    } catch (e) {
      mount(chartStatus, notice("error", e.message));
    }
  }
  metric.addEventListener("change", draw);
  range.addEventListener("change", draw);

  mount(view,
    h("h1", null, "Usage"),
    h("p", { class: "muted" }, `Consumer ${doc.consumer} · ${doc.period} window since ${when(doc.since)}`, doc.until ? ` until ${when(doc.until)}` : ""),
    h("div", { class: "stats" },
      stat("requests", num(doc.requests), "usage-requests"),
      stat("input tokens", num(doc.tokens.input)),
      stat("output tokens", num(doc.tokens.output)),
      stat("cost", usd(doc.cost_usd), "usage-cost"),
      doc.credits_usd === null || doc.credits_usd === undefined ? null : stat("credits left", usd(doc.credits_usd))),
    h("section", null,
      h("div", { class: "row" }, h("h2", null, "Over time"), metric, range),
      chartStatus, chartBox),
    doc.budgets && doc.budgets.length
      ? h("section", null, h("h2", null, "Budgets"), table(["scope", "used", "limit", "", "period", "resets"], doc.budgets.map(budgetRow)))
      : h("p", { class: "muted" }, "No budget applies to your calls."),
    doc.rate_limit
      ? h("section", null, h("h2", null, "Rate limit"),
        h("ul", null, Object.entries(doc.rate_limit).filter(([, v]) => v !== null).map(([k, v]) => h("li", null, `${k.replace(/_/g, " ")}: ${num(v)}`))))
      : null);
  await draw();
}
