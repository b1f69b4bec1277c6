// Formatting numbers, money and dates the same way on every page.

export function num(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

export function usd(n) {
  if (n === null || n === undefined) return "—";
  const v = Number(n);
  const digits = Math.abs(v) < 1 && v !== 0 ? 4 : 2;
  return `$${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: digits })}`;
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC";
}
