// Time-series charts with the vendored uPlot: series of {t (RFC 3339), value} points
// (the analytics API's shape) become one aligned x axis with a line per series.
// The container gets `data-points` (how many points were drawn) so that a reader or
// a test can tell an empty chart from a drawn one without looking at pixels.

import uPlot from "../vendor/uplot/uPlot.esm.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

/** Aligns series on the union of their timestamps (seconds), nulls where absent. */
export function align(series) {
  const times = new Set();
  for (const s of series) for (const p of s.points) times.add(Math.floor(new Date(p.t).getTime() / 1000));
  const xs = [...times].filter(Number.isFinite).sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const col = new Array(xs.length).fill(null);
    for (const p of s.points) {
      const i = index.get(Math.floor(new Date(p.t).getTime() / 1000));
      if (i !== undefined) col[i] = p.value === null || p.value === undefined ? null : Number(p.value);
    }
    return col;
  });
  return [xs, ...ys];
}

/**
 * Draws `series` ([{key, points}]) into `el`, replacing what was there. `format`
 * formats y values (axis and legend). Answers the uPlot instance, or null when there
 * is nothing to draw (the container then says so). `from` and `to` (Dates) pin the
 * x axis to the range asked for, so that a few points are not stretched over it.
 */
export function timeChart(el, series, { label = "", format = (v) => String(v), height = 260, from = null, to = null } = {}) {
  el.replaceChildren();
  const data = align(series);
  const points = data.slice(1).reduce((n, col) => n + col.filter((v) => v !== null).length, 0);
  el.dataset.points = String(points);
  if (points === 0) {
    const p = document.createElement("p");
    p.className = "muted empty-chart";
    p.textContent = "No data in this range yet.";
    el.appendChild(p);
    return null;
  }
  const opts = {
    width: Math.max(320, el.clientWidth || 720),
    height,
    scales: {
      x: {
        time: true,
        range: from && to ? () => [from.getTime() / 1000, to.getTime() / 1000] : undefined,
      },
      y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
    },
    axes: [{}, { label, size: 70, values: (_u, vals) => vals.map((v) => (v === null ? "" : format(v))) }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.key,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        points: { show: data[0].length < 60 },
        spanGaps: false,
        value: (_u, v) => (v === null || v === undefined ? "—" : format(v)),
      })),
    ],
  };
  const chart = new uPlot(opts, data, el);
  if (typeof ResizeObserver === "function") {
    const ro = new ResizeObserver(() => {
      if (!el.isConnected) return ro.disconnect();
      const w = Math.max(320, el.clientWidth);
      if (w !== chart.width) chart.setSize({ width: w, height });
    });
    ro.observe(el);
  }
  return chart;
}
