/**
 * report.html: one self-contained page (inline CSS, inline SVG plots; no scripts, no external fonts,
 * styles or images; links only to the run's own files beside it) summarising a run: header, a
 * summary of the headline numbers per row (./summary-html.ts) with its comparison charts, the full
 * results table folded below, timings, plots, notes and the full config (docs/report.md). All text
 * from the report is HTML-escaped. Works in Node and in a browser (pure string building, no DOM).
 */
import { escapeHtml, formatNumber } from "./format.js";
import { FAR_FROM_FLOOR_RATIO, reportHeadlines } from "./headline.js";
import { otherFilesHtml, summaryTableHtml } from "./summary-html.js";
import type { Report, ReportFile, ResultRow } from "./types.js";

export { escapeHtml, formatNumber } from "./format.js";

/** A rendered plot for the page: an SVG string from ./plots.ts, its title and an optional caption. */
export interface PlotFigure {
  title: string;
  svg: string;
  caption?: string;
}

export interface ReportHtmlOptions {
  title: string;
  report: Report;
  /** Charts shown with the summary (./comparison.ts `comparisonPlots`). */
  summaryPlots?: PlotFigure[];
  plots?: PlotFigure[];
  notes?: string[];
  /** When the run finished; shown in the header. Default: now. */
  generatedAt?: Date | string;
}

interface Cell {
  text: string;
  /** Full-precision value, shown as a tooltip. */
  exact?: string;
  numeric: boolean;
}

const EMPTY: Cell = { text: "", numeric: false };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** {mean} or {mean, std}, nothing else. */
function isMeanStd(v: unknown): v is { mean: number; std?: number } {
  if (!isPlainObject(v) || typeof v.mean !== "number") return false;
  return Object.keys(v).every((k) => k === "mean" || (k === "std" && typeof v.std === "number"));
}

function cellOf(v: unknown): Cell {
  if (v === undefined) return EMPTY;
  if (v === null) return { text: "—", numeric: false };
  if (typeof v === "number") return { text: formatNumber(v), exact: String(v), numeric: true };
  if (typeof v === "string") return { text: v, numeric: false };
  if (typeof v === "boolean") return { text: String(v), numeric: false };
  if (isMeanStd(v)) {
    if (v.std === undefined) return { text: formatNumber(v.mean), exact: String(v.mean), numeric: true };
    return {
      text: `${formatNumber(v.mean)} ± ${formatNumber(v.std)}`,
      exact: `${v.mean} ± ${v.std}`,
      numeric: true,
    };
  }
  return { text: JSON.stringify(v), numeric: false };
}

interface Column {
  header: string;
  get: (row: Record<string, unknown>) => unknown;
}

/**
 * Columns for a table of rows: `fixed` first, then every other key in order of first appearance.
 * A key whose values are objects other than {mean, std} is split into one column per sub-key
 * ("reference.rewardMean"). Keys absent from every row get no column.
 */
function columnsFor(rows: readonly Record<string, unknown>[], fixed: readonly string[]): Column[] {
  const keys: string[] = [];
  const seen = new Set<string>(fixed);
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (!seen.has(k) && r[k] !== undefined) {
        seen.add(k);
        keys.push(k);
      }
    }
  }
  const cols: Column[] = fixed.map((k) => ({ header: k, get: (r) => r[k] }));
  for (const k of keys) {
    const values = rows.map((r) => r[k]).filter((v) => v !== undefined);
    const split = values.some((v) => isPlainObject(v) && !isMeanStd(v)) && values.every((v) => isPlainObject(v));
    if (!split) {
      cols.push({ header: k, get: (r) => r[k] });
      continue;
    }
    const subs: string[] = [];
    for (const v of values as Record<string, unknown>[]) {
      for (const s of Object.keys(v)) if (!subs.includes(s)) subs.push(s);
    }
    for (const s of subs) {
      cols.push({
        header: `${k}.${s}`,
        get: (r) => {
          const o = r[k];
          return isPlainObject(o) ? o[s] : undefined;
        },
      });
    }
  }
  return cols;
}

function tableHtml(rows: readonly Record<string, unknown>[], fixed: readonly string[], caption: string): string {
  const cols = columnsFor(rows, fixed);
  const head = cols.map((c) => `<th scope="col">${escapeHtml(c.header)}</th>`).join("");
  const body = rows
    .map((r) => {
      const tds = cols.map((c, i) => {
        const cell = cellOf(c.get(r));
        const cls = cell.numeric ? ' class="num"' : "";
        const title = cell.exact !== undefined && cell.exact !== cell.text ? ` title="${escapeHtml(cell.exact)}"` : "";
        const tag = i === 0 ? "th" : "td";
        const scope = i === 0 ? ' scope="row"' : "";
        return `<${tag}${scope}${cls}${title}>${escapeHtml(cell.text)}</${tag}>`;
      });
      return `<tr>${tds.join("")}</tr>`;
    })
    .join("\n");
  return (
    `<div class="scroll"><table>\n<caption>${escapeHtml(caption)}</caption>\n` +
    `<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`
  );
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return formatNumber(s);
  const base = `${formatNumber(s)} s`;
  if (s < 60) return base;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - 60 * m);
  return `${base} (${m} min ${rest} s)`;
}

function timingsHtml(timings: Report["timings"]): string {
  const keys = ["totalSeconds", ...Object.keys(timings).filter((k) => k !== "totalSeconds")];
  const rows = keys
    .filter((k) => timings[k] !== undefined)
    .map((k) => `<tr><th scope="row">${escapeHtml(k)}</th><td class="num">${escapeHtml(formatSeconds(timings[k]!))}</td></tr>`)
    .join("\n");
  return `<table class="narrow">\n<thead><tr><th scope="col">phase</th><th scope="col">wall clock</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>`;
}

function trainingHtml(training: unknown): string {
  if (!isPlainObject(training)) return "";
  const logs: [string, unknown][] = [["main model", training]];
  for (const [k, v] of Object.entries(training)) if (k !== "loss" && isPlainObject(v) && "loss" in v) logs.push([k, v]);
  const items: string[] = [];
  for (const [name, log] of logs) {
    const loss = (log as { loss?: unknown }).loss;
    if (!Array.isArray(loss)) continue;
    const pts = loss.filter(
      (p): p is { step: number; loss: number } => isPlainObject(p) && typeof p.step === "number" && typeof p.loss === "number",
    );
    if (pts.length === 0) {
      items.push(`<li>${escapeHtml(name)}: no logged loss</li>`);
      continue;
    }
    const last = pts[pts.length - 1]!;
    items.push(
      `<li>${escapeHtml(name)}: ${pts.length} logged point(s); last loss ${escapeHtml(formatNumber(last.loss))} ` +
        `at step ${escapeHtml(formatNumber(last.step))}</li>`,
    );
  }
  return items.length > 0 ? `<ul>${items.join("\n")}</ul>` : "";
}

/** Active content an inline SVG must not carry (plots come from ./plots.ts, which never emits it). */
const ACTIVE_SVG = /<script|<foreignObject|<iframe|<[^>]*\son[a-z]+\s*=|=\s*["']?\s*javascript:/i;

/**
 * Prefixes every id in an SVG (and its url(#…) / href="#…" references) so several inline SVGs in
 * one page cannot collide: vega numbers clip paths and gradients per renderer, from zero.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]!);
  if (ids.size === 0) return svg;
  const p = (id: string): string => (ids.has(id) ? `${prefix}${id}` : id);
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_m, a: string, id: string, b: string) => `${a}${p(id)}${b}`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${p(id)})`)
    .replace(/(href=")#([^"]+)(")/g, (_m, a: string, id: string, b: string) => `${a}#${p(id)}${b}`);
}

function figureHtml(plot: PlotFigure, i: number, prefix = "p"): string {
  const svg = plot.svg.trim();
  if (!svg.startsWith("<svg") || !svg.endsWith("</svg>")) {
    throw new Error(`renderReportHtml: plot ${i + 1} ("${plot.title}") is not an SVG document`);
  }
  if (ACTIVE_SVG.test(svg)) {
    throw new Error(`renderReportHtml: plot ${i + 1} ("${plot.title}") contains scripts or event handlers`);
  }
  const caption = plot.caption ? `<p>${escapeHtml(plot.caption)}</p>` : "";
  return (
    `<figure>\n<figcaption><strong>${escapeHtml(plot.title)}</strong>${caption}</figcaption>\n` +
    `${scopeSvgIds(svg, `${prefix}${i + 1}-`)}\n</figure>`
  );
}

/** The report pages' style sheet (this page and ./molecules-html.ts). */
export const REPORT_CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f; background: #fafafa; }
main { max-width: 1280px; margin: 0 auto; }
header { border-bottom: 1px solid #ddd; margin-bottom: 20px; padding-bottom: 12px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: #555; margin: 0; }
.meta span + span::before { content: " · "; color: #aaa; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; border: 1px solid #ddd; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #555; padding: 0 0 6px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eee; text-align: left; white-space: nowrap; }
thead th { background: #f2f2f4; border-bottom: 1px solid #ccc; font-weight: 600; }
tbody tr:hover { background: #f7f9fc; }
td.num, th.num { text-align: right; }
tbody th { font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; padding: 12px; background: #fff; border: 1px solid #ddd; border-radius: 6px; max-width: 100%; }
figcaption { margin-bottom: 6px; max-width: 520px; }
figcaption p { margin: 2px 0 0; color: #555; }
figure svg { display: block; max-width: 100%; height: auto; }
details { margin-top: 8px; }
summary { cursor: pointer; font-weight: 600; }
pre { background: #fff; border: 1px solid #ddd; padding: 12px; overflow: auto; font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.empty { color: #777; font-style: italic; }
table.summary { width: 100%; }
table.summary th, table.summary td { white-space: normal; vertical-align: top; padding: 7px 10px; }
table.summary tbody th { min-width: 150px; max-width: 240px; }
table.summary td.num, table.summary td .sub { white-space: nowrap; }
table.summary tbody th .sub { font-weight: 400; }
table.summary tbody th a { white-space: nowrap; }
table.summary td.meaning { min-width: 200px; color: #333; }
table.summary tr.flagged td.meaning { color: #8a1c14; }
thead .sub { font-weight: 400; }
.sub { display: block; color: #666; font-size: 12px; }
.na { color: #999; }
.flag { color: #b3261e; font-weight: 600; }
.warn { color: #9a5b00; }
.ok { color: #1e6b2f; }
.files { color: #555; margin: 6px 0 0; }
a { color: #1a5fb4; }
.summary-plots { margin-top: 16px; }
`;

const FAR_LABEL = `${FAR_FROM_FLOOR_RATIO}×`;

const KNOWN_SECTIONS = new Set(["version", "config", "results", "timings", "training", "distances", "files"]);

function reportFiles(report: Report): ReportFile[] {
  const f = report.files;
  if (!Array.isArray(f)) return [];
  return f.filter(
    (x): x is ReportFile => x !== null && typeof x === "object" && typeof x.path === "string" && typeof x.label === "string" && (x.kind === "samples" || x.kind === "model"),
  );
}

/**
 * The report as one self-contained HTML page: title and time, results table (union of the metrics
 * present; {mean, std} as "mean ± std"; numbers to 4 significant digits; absent metrics blank),
 * distances and training summaries when present, timings, plots with captions, notes, and the
 * full config.
 */
export function renderReportHtml(opts: ReportHtmlOptions): string {
  const { title, report } = opts;
  const plots = opts.plots ?? [];
  const notes = opts.notes ?? [];
  const when = opts.generatedAt ?? new Date();
  const whenText = typeof when === "string" ? when : when.toISOString();

  const results = report.results as readonly ResultRow[];
  const files = reportFiles(report);
  const summaryPlots = opts.summaryPlots ?? [];
  const rawTable =
    results.length > 0
      ? tableHtml(
          results as unknown as Record<string, unknown>[],
          // The row's name first where rows carry one (report.json `label`; `method` is the kind).
          [...(results.some((r) => typeof r.label === "string") ? ["label"] : []), "method", "target", "alpha", "samples"],
          `${results.length} result row(s); {mean, std} shown as mean ± std; blank = not measured for that row.`,
        )
      : "";

  const parts: string[] = [];
  parts.push(`<header>\n<h1>${escapeHtml(title)}</h1>`);
  parts.push(
    `<p class="meta"><span>generated <time datetime="${escapeHtml(whenText)}">${escapeHtml(whenText)}</time></span>` +
      `<span>total ${escapeHtml(formatSeconds(report.timings.totalSeconds))}</span>` +
      `<span>report.json version ${escapeHtml(String(report.version))}</span></p>\n</header>`,
  );
  if (results.length === 0) {
    parts.push(`<section>\n<h2>Summary</h2>\n<p class="empty">No results.</p>\n</section>`);
  } else {
    const summary =
      `<section id="summary">\n<h2>Summary</h2>\n` +
      `<p class="meta">Headline numbers per row (docs/report.md): the reward against its exact value (z = gap in standard errors), ` +
      `the distance to the law the row should match in multiples of its floor (⚠ above ${FAR_LABEL}), the KL to the pretrained model, ` +
      `accuracy for classification tilts, and the cost. — = not measured for that row.</p>\n` +
      `${summaryTableHtml(reportHeadlines(report), files)}\n${otherFilesHtml(files)}` +
      (summaryPlots.length > 0 ? `\n<div class="plots summary-plots">\n${summaryPlots.map((p, i) => figureHtml(p, i, "s")).join("\n")}\n</div>` : "") +
      `\n</section>`;
    parts.push(summary);
    parts.push(
      `<section id="results">\n<h2>All results</h2>\n<details><summary>Full results table (${results.length} row(s), every key of report.json)</summary>\n` +
        `${rawTable}\n</details>\n</section>`,
    );
  }

  if (Array.isArray(report.distances) && report.distances.length > 0) {
    parts.push(
      `<section>\n<h2>Distances</h2>\n${tableHtml(
        report.distances as unknown as Record<string, unknown>[],
        ["method", "target", "alpha", "against"],
        "Distribution distances between generated samples and a reference set.",
      )}\n</section>`,
    );
  }

  if (plots.length > 0) {
    parts.push(`<section>\n<h2>Plots</h2>\n<div class="plots">\n${plots.map((p, i) => figureHtml(p, i)).join("\n")}\n</div>\n</section>`);
  }

  const training = trainingHtml(report.training);
  if (training) parts.push(`<section>\n<h2>Training</h2>\n${training}\n</section>`);

  parts.push(`<section>\n<h2>Timings</h2>\n${timingsHtml(report.timings)}\n</section>`);

  if (notes.length > 0) {
    parts.push(`<section>\n<h2>Notes</h2>\n<ul>\n${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("\n")}\n</ul>\n</section>`);
  }

  const extra = Object.keys(report).filter((k) => !KNOWN_SECTIONS.has(k) && report[k] !== undefined);
  const extraBlocks = extra.map(
    (k) => `<details><summary>${escapeHtml(k)}</summary><pre>${escapeHtml(JSON.stringify(report[k], null, 2))}</pre></details>`,
  );
  parts.push(
    `<section>\n<h2>Configuration</h2>\n<details><summary>Full config (validated, defaults filled in)</summary>` +
      `<pre>${escapeHtml(JSON.stringify(report.config, null, 2))}</pre></details>\n</section>`,
  );
  if (extraBlocks.length > 0) {
    parts.push(`<section>\n<h2>Other report sections</h2>\n${extraBlocks.join("\n")}\n</section>`);
  }

  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    // Defence in depth: the page needs nothing but its own inline styles and inline SVG.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">\n` +
    `<title>${escapeHtml(title)}</title>\n<style>${REPORT_CSS}</style>\n</head>\n<body>\n<main>\n` +
    `${parts.join("\n")}\n</main>\n</body>\n</html>\n`
  );
}
