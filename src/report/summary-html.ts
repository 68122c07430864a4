/**
 * The summary table at the top of report.html (docs/report.md § "The summary"): one row per result
 * row, at most {@link SUMMARY_MAX_COLUMNS} columns, each cell a headline number from ./headline.ts
 * with its unit, and a last column saying what the numbers mean. Every number is written as
 * `<data value="…" data-from="results[i].path">`, its exact value and where it comes from in
 * report.json ("derived" for the few computed from the row's own numbers). Absent numbers show "—".
 */
import { escapeHtml, formatNumber, formatSetting } from "./format.js";
import type { HeadlineMetrics, HeadlineValue } from "./headline.js";
import type { ReportFile } from "./types.js";

/** The summary never has more columns than this (it must fit a 1400 px screen without scrolling). */
export const SUMMARY_MAX_COLUMNS = 8;

/** A headline number as HTML: its display text inside a <data> element carrying the exact value and its source. */
function dataHtml(v: HeadlineValue, rowIndex: number, text = formatNumber(v.value)): string {
  const from = v.from === "derived" || v.from.startsWith("timings.") ? v.from : `results[${rowIndex}].${v.from}`;
  return `<data value="${escapeHtml(String(v.value))}" data-from="${escapeHtml(from)}">${escapeHtml(text)}</data>`;
}

const DASH = `<span class="na">—</span>`;
const sub = (html: string): string => `<span class="sub">${html}</span>`;

/** Whole counts with thousands separators (reward evaluations). */
function formatCount(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US") : formatNumber(v);
}

function rewardCell(h: HeadlineMetrics, i: number): string {
  const r = h.reward;
  if (!r) return DASH;
  let main = dataHtml(r.mean, i);
  if (r.std) main += ` ± ${dataHtml(r.std, i)}`;
  const lines: string[] = [];
  if (r.exact) {
    let t = `exact ${dataHtml(r.exact, i)}`;
    if (r.z) {
      const off = Math.abs(r.z.value) > 2;
      t += ` · <span${off ? ' class="warn"' : ""}>z = ${dataHtml(r.z, i, r.z.value.toFixed(1))}</span>`;
    }
    lines.push(t);
  }
  if (h.target) lines.push(`target ${dataHtml(h.target.target, i, formatSetting(h.target.target.value))}: ${h.target.error.value >= 0 ? "+" : ""}${dataHtml(h.target.error, i)} off`);
  return `${main}${lines.map(sub).join("")}`;
}

function distanceCell(h: HeadlineMetrics, i: number): string {
  const d = h.distance;
  if (!d) return DASH;
  const far = d.verdict === "far above floor";
  const ratio = `<span class="${far ? "flag" : d.verdict === "at floor" ? "ok" : "warn"}">${far ? "⚠ " : ""}${dataHtml(d.ratio, i, `${formatNumber(d.ratio.value)}×`)} floor</span>`;
  return `${ratio}${sub(`${dataHtml(d.value, i)} vs ${dataHtml(d.floor, i)} · to ${d.against === "target" ? "p*" : "data"}`)}`;
}

function klCell(h: HeadlineMetrics, i: number): string {
  if (!h.kl) return DASH;
  return `${dataHtml(h.kl.value, i)} nats${h.kl.exact ? sub(`exact KL(p*‖p) ${dataHtml(h.kl.exact, i)}`) : ""}`;
}

function classificationCell(h: HeadlineMetrics, i: number): string {
  const c = h.classification;
  if (!c) return DASH;
  const main = `${c.accuracy ? dataHtml(c.accuracy, i) : DASH} / ${c.macroF1 ? dataHtml(c.macroF1, i) : DASH}`;
  return `${main}${c.exactAccuracy ? sub(`exact p*: ${dataHtml(c.exactAccuracy, i)}`) : ""}`;
}

function costCell(h: HeadlineMetrics, i: number): string {
  const c = h.cost;
  if (!c) return DASH;
  const lines: string[] = [];
  if (c.rewardEvals) lines.push(`${dataHtml(c.rewardEvals, i, formatCount(c.rewardEvals.value))} reward evals`);
  if (c.seconds) lines.push(`${dataHtml(c.seconds, i)} s sampling`);
  if (c.trainSeconds) lines.push(`+ ${dataHtml(c.trainSeconds, i)} s training`);
  if (c.methodSeconds) lines.push(`${dataHtml(c.methodSeconds, i)} s (whole method)`);
  if (lines.length === 0) return DASH;
  return `${lines[0]}${lines.slice(1).map(sub).join("")}`;
}

/** A relative link to a file beside the report (each path segment URI-encoded). */
function fileHref(path: string): string {
  return escapeHtml(path.split("/").map(encodeURIComponent).join("/"));
}

function methodCell(h: HeadlineMetrics, files: readonly ReportFile[]): string {
  const links = files.map((f) => `<a href="${fileHref(f.path)}" title="${escapeHtml(f.path)}">${escapeHtml(f.kind === "samples" ? "samples" : f.label.replace(/\.safetensors$/, ""))}</a>`);
  return `<strong>${escapeHtml(h.name)}</strong>${links.length > 0 ? sub(links.join(" · ")) : ""}`;
}

interface Col {
  header: string;
  unit?: string;
  has: (h: HeadlineMetrics) => boolean;
  cell: (h: HeadlineMetrics, i: number) => string;
  cls?: string;
}

const COLUMNS: Col[] = [
  { header: "reward", unit: "mean ± std", has: (h) => !!h.reward, cell: rewardCell, cls: "num" },
  { header: "distance", unit: "sliced-W₂ ÷ its floor", has: (h) => !!h.distance, cell: distanceCell, cls: "num" },
  { header: "KL to pretrained", unit: "path KL per sample", has: (h) => !!h.kl, cell: klCell, cls: "num" },
  { header: "accuracy / macro-F1", unit: "requested label", has: (h) => !!h.classification, cell: classificationCell, cls: "num" },
  { header: "cost", unit: "evals, wall clock", has: (h) => !!h.cost, cell: costCell, cls: "num" },
];

/**
 * The summary table: method (with links to its files), the headline columns any row has, and what
 * the numbers mean. `files` (report.json `files`) gives each row's links.
 */
export function summaryTableHtml(heads: readonly HeadlineMetrics[], files: readonly ReportFile[] = []): string {
  const cols = COLUMNS.filter((c) => heads.some(c.has));
  const head =
    `<th scope="col">method</th>` +
    cols.map((c) => `<th scope="col" class="${c.cls ?? ""}">${escapeHtml(c.header)}${c.unit ? `<span class="sub">${escapeHtml(c.unit)}</span>` : ""}</th>`).join("") +
    `<th scope="col" class="meaning">what it means</th>`;
  const body = heads
    .map((h, i) => {
      const own = files.filter((f) => f.rows?.includes(i));
      const tds = cols.map((c) => `<td class="${c.cls ?? ""}">${c.has(h) ? c.cell(h, i) : DASH}</td>`).join("");
      const flagged = h.distance?.verdict === "far above floor" || h.diverged;
      return `<tr${flagged ? ' class="flagged"' : ""}><th scope="row">${methodCell(h, own)}</th>${tds}<td class="meaning">${escapeHtml(h.meaning)}</td></tr>`;
    })
    .join("\n");
  return `<table class="summary">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

/** The files no row owns (the base model, ...), as a line of links; empty when there are none. */
export function otherFilesHtml(files: readonly ReportFile[]): string {
  const rest = files.filter((f) => !f.rows || f.rows.length === 0);
  if (rest.length === 0) return "";
  const links = rest.map((f) => `<a href="${fileHref(f.path)}">${escapeHtml(f.label)}</a> (${escapeHtml(f.path)})`);
  return `<p class="files">Also written: ${links.join(" · ")}</p>`;
}
