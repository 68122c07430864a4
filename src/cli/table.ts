/** A short plain-text results table for the terminal, from report.json rows. */
import type { Report } from "../report/types.js";

const fmt = (v: unknown): string => {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if ("mean" in o && "std" in o) return `${fmt(o.mean)} ± ${fmt(o.std)}`;
    if ("value" in o && "floor" in o) return `${fmt(o.value)} (floor ${fmt(o.floor)})`;
    if ("rewardMean" in o) return fmt(o.rewardMean);
  }
  return v === null || v === undefined ? "—" : String(v);
};

export function resultsTable(report: Report): string {
  const cols = ["label", "method", "target", "alpha", "samples", "slicedWasserstein", "mmd2", "reward", "reference"].filter((c) =>
    report.results.some((r) => r[c] !== undefined),
  );
  const rows = [cols, ...report.results.map((r) => cols.map((c) => fmt(r[c])))];
  const widths = cols.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows.map((r) => r.map((c, j) => c.padEnd(widths[j]!)).join("  ")).join("\n");
}
