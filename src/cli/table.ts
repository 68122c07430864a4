/**
 * The results table for the terminal: the same headline numbers per row as report.html's summary
 * (src/report/headline.ts decides them), in plain text; "—" where a row did not measure a number.
 */
import { formatNumber, formatSetting } from "../report/format.js";
import { FAR_FROM_FLOOR_RATIO, reportHeadlines, type HeadlineMetrics, type HeadlineValue } from "../report/headline.js";
import type { Report } from "../report/types.js";

const DASH = "—";
const f = (v: HeadlineValue | undefined): string => (v ? formatNumber(v.value) : DASH);

interface Col {
  header: string;
  has: (h: HeadlineMetrics) => boolean;
  text: (h: HeadlineMetrics) => string;
}

const COLUMNS: Col[] = [
  { header: "method", has: () => true, text: (h) => h.name },
  {
    header: "reward (mean ± std)",
    has: (h) => !!h.reward,
    text: (h) => (h.reward ? `${f(h.reward.mean)}${h.reward.std ? ` ± ${f(h.reward.std)}` : ""}` : DASH),
  },
  {
    header: "exact (z)",
    has: (h) => !!h.reward?.exact,
    text: (h) => (h.reward?.exact ? `${f(h.reward.exact)}${h.reward.z ? ` (${h.reward.z.value.toFixed(1)})` : ""}` : DASH),
  },
  { header: "reward − target", has: (h) => !!h.target, text: (h) => (h.target ? `${f(h.target.error)} (a=${formatSetting(h.target.target.value)})` : DASH) },
  {
    header: "sliced-W₂ ÷ floor",
    has: (h) => !!h.distance,
    text: (h) => {
      const d = h.distance;
      if (!d) return DASH;
      const flag = d.verdict === "far above floor" ? " !" : "";
      return `${f(d.ratio)}× (${f(d.value)} / ${f(d.floor)}, ${d.against === "target" ? "to p*" : "to data"})${flag}`;
    },
  },
  { header: "KL (nats)", has: (h) => !!h.kl, text: (h) => (h.kl ? `${f(h.kl.value)}${h.kl.exact ? ` (exact ${f(h.kl.exact)})` : ""}` : DASH) },
  { header: "accuracy", has: (h) => !!h.classification?.accuracy, text: (h) => f(h.classification?.accuracy) },
  { header: "macro-F1", has: (h) => !!h.classification?.macroF1, text: (h) => f(h.classification?.macroF1) },
  { header: "reward evals", has: (h) => !!h.cost?.rewardEvals, text: (h) => (h.cost?.rewardEvals ? h.cost.rewardEvals.value.toLocaleString("en-US") : DASH) },
  {
    header: "seconds",
    has: (h) => !!h.cost && !!(h.cost.seconds || h.cost.trainSeconds || h.cost.methodSeconds),
    text: (h) => {
      const c = h.cost;
      if (!c) return DASH;
      const parts: string[] = [];
      if (c.seconds) parts.push(`${f(c.seconds)} sampling`);
      if (c.trainSeconds) parts.push(`${f(c.trainSeconds)} training`);
      if (c.methodSeconds) parts.push(`${f(c.methodSeconds)} method`);
      return parts.length > 0 ? parts.join(" + ") : DASH;
    },
  },
];

/** Plain-text table of the report's rows: the headline columns any row has. */
export function resultsTable(report: Report): string {
  const heads = reportHeadlines(report);
  const cols = COLUMNS.filter((c) => heads.some(c.has));
  const rows = [cols.map((c) => c.header), ...heads.map((h) => cols.map((c) => (c.has(h) ? c.text(h) : DASH)))];
  const widths = cols.map((_, j) => Math.max(...rows.map((r) => [...r[j]!].length)));
  const lines = rows.map((r) => r.map((c, j) => c + " ".repeat(widths[j]! - [...c].length)).join("  ").trimEnd());
  if (heads.some((h) => h.distance?.verdict === "far above floor")) {
    lines.push(`! = more than ${FAR_FROM_FLOOR_RATIO}× the floor from the law the row should match (right mean reward is not enough).`);
  }
  return lines.join("\n");
}
