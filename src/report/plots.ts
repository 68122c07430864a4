/**
 * Plot builders for reports. Each builds a small Vega-Lite spec, compiles it to Vega and renders it
 * headlessly to an SVG string (`renderer: "none"` + `view.toSVG()`): no canvas, no DOM, so the same
 * code runs in Node and in a browser. The SVG is self-contained (no external fonts or images).
 *
 * What a plot draws is what was measured: non-finite values are left out and subsampling is stated
 * in the plot's subtitle.
 */
import type { DensityGrid } from "../data/grid.js";
import * as vega from "vega";
import * as vl from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import type { HostMatrix } from "../data/matrix.js";
import type { MeanStd, ResultRow } from "./types.js";
import { mulberry32 } from "../data/host-rng.js";
import { formatSetting } from "./format.js";

/** Default size of the data rectangle in pixels (axes, title and legend add to it). */
export const PLOT_WIDTH = 360;
export const PLOT_HEIGHT = 300;

export const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

/** Shared Vega-Lite config of every report plot (font, axis and legend sizes, title style). */
export const BASE_CONFIG = {
  font: FONT,
  background: "white",
  view: { stroke: "#cfcfcf" },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: "#ececec" },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 220 },
  title: { fontSize: 14, subtitleFontSize: 11, subtitleColor: "#666", anchor: "start" as const, offset: 8 },
};

/**
 * A bottom legend for named categories that is never cut: labels drawn in full (no length limit; the
 * SVG grows to hold them), one column when a label is long, else two.
 */
export function categoryLegend(names: readonly string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const widest = Math.max(0, ...names.map((n) => n.length));
  return { title: null, orient: "bottom", direction: "vertical", columns: widest > 28 ? 1 : 2, labelLimit: 0, symbolOpacity: 1, ...extra };
}

/** Categorical colours (Tableau 10): distinguishable, print-friendly. */
const CATEGORY_SCHEME = "tableau10";

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string headlessly. Vega-Lite warnings are
 * silenced (a library must not print); errors still throw.
 */
export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  const vgSpec = vl.compile(spec, { logger: vega.logger(vega.None) }).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: "none", logLevel: vega.None });
  try {
    return tidySvg(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/**
 * Rounds the long coordinates vega writes (e.g. 33.33333333333333) in geometry attributes, and
 * renames ids (vega numbers clip paths from a process-wide counter) to names derived from the
 * content, so the same plot always gives the same SVG and different plots do not share ids.
 */
function tidySvg(svg: string): string {
  return stableIds(roundCoordinates(svg));
}

function renameIds(svg: string, rename: (id: string) => string | undefined): string {
  const r = (id: string): string => rename(id) ?? id;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_m, a: string, id: string, b: string) => `${a}${r(id)}${b}`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${r(id)})`)
    .replace(/(href=")#([^"]+)(")/g, (_m, a: string, id: string, b: string) => `${a}#${r(id)}${b}`);
}

/** FNV-1a over UTF-16 code units, as 8 hex digits. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

function stableIds(svg: string): string {
  const order = new Map<string, number>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!order.has(m[1]!)) order.set(m[1]!, order.size);
  if (order.size === 0) return svg;
  const numbered = renameIds(svg, (id) => (order.has(id) ? `rd-id${order.get(id)}` : undefined));
  const tag = fnv1a(numbered);
  return renameIds(numbered, (id) => (/^rd-id\d+$/.test(id) ? `rd${tag}-${id.slice(5)}` : undefined));
}

function roundCoordinates(svg: string): string {
  return svg.replace(/ (transform|d|x|y|x1|x2|y1|y2|width|height)="([^"]*)"/g, (_m, attr: string, value: string) => {
    const rounded = value.replace(/(-?\d+\.\d{2})\d+/g, "$1");
    return ` ${attr}="${rounded}"`;
  });
}

/**
 * `k` distinct indices out of `n`, chosen uniformly at random by a fixed-seed generator (the same
 * arguments always give the same indices), in ascending order. All indices when k ≥ n.
 */
export function subsampleIndices(n: number, k: number, seed = 0): Uint32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`subsampleIndices: n must be a whole number, got ${n}`);
  if (!Number.isInteger(k) || k < 0) throw new Error(`subsampleIndices: k must be a whole number, got ${k}`);
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const idx = Uint32Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(seed ^ 0x9e3779b9);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx.subarray(0, k).sort();
}

function checkNames(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (typeof n !== "string") throw new Error(`${what}: every name must be a string`);
    if (seen.has(n)) throw new Error(`${what}: the name "${n}" is used twice`);
    seen.add(n);
  }
}

function checkDomain(d: readonly [number, number] | undefined, what: string): void {
  if (d === undefined) return;
  if (d.length !== 2 || !Number.isFinite(d[0]) || !Number.isFinite(d[1]) || !(d[0] < d[1])) {
    throw new Error(`${what}: a domain is [min, max] with finite min < max, got [${d.join(", ")}]`);
  }
}

function titleBlock(title: string, notes: string[]): { text: string; subtitle?: string } {
  return notes.length > 0 ? { text: title, subtitle: notes.join("; ") } : { text: title };
}

// ---------------------------------------------------------------------------------------------
// Scatter plot
// ---------------------------------------------------------------------------------------------

/** One named point set; the first two columns are drawn as (x, y). */
export interface ScatterSet {
  name: string;
  points: HostMatrix;
}


export type { DensityGrid };

export interface ScatterOptions {
  title: string;
  sets: ScatterSet[];
  /** At most this many points are drawn per set (a deterministic random subsample); default 2000. */
  maxPoints?: number;
  /** Seed of the subsample; default 0. */
  seed?: number;
  xDomain?: [number, number];
  yDomain?: [number, number];
  xLabel?: string;
  yLabel?: string;
  background?: DensityGrid;
  width?: number;
  height?: number;
}

function cellEdges(c: ArrayLike<number>, what: string): Float64Array {
  const n = c.length;
  if (n < 1) throw new Error(`scatterPlot: background.${what} is empty`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(c[i]!)) throw new Error(`scatterPlot: background.${what}[${i}] is not finite`);
    if (i > 0 && !(c[i]! > c[i - 1]!)) throw new Error(`scatterPlot: background.${what} must be strictly increasing`);
  }
  const e = new Float64Array(n + 1);
  if (n === 1) {
    e[0] = c[0]! - 0.5;
    e[1] = c[0]! + 0.5;
    return e;
  }
  for (let i = 1; i < n; i++) e[i] = (c[i - 1]! + c[i]!) / 2;
  e[0] = c[0]! - (e[1]! - c[0]!);
  e[n] = c[n - 1]! + (c[n - 1]! - e[n - 1]!);
  return e;
}

function gridCells(g: DensityGrid): { x0: number; x1: number; y0: number; y1: number; z: number }[] {
  const ex = cellEdges(g.x, "x");
  const ey = cellEdges(g.y, "y");
  if (g.z.length !== g.y.length) {
    throw new Error(`scatterPlot: background.z has ${g.z.length} rows, expected one per y (${g.y.length})`);
  }
  const cells: { x0: number; x1: number; y0: number; y1: number; z: number }[] = [];
  for (let j = 0; j < g.y.length; j++) {
    const row = g.z[j]!;
    if (row.length !== g.x.length) {
      throw new Error(`scatterPlot: background.z[${j}] has ${row.length} values, expected one per x (${g.x.length})`);
    }
    for (let i = 0; i < g.x.length; i++) {
      const z = row[i]!;
      if (!Number.isFinite(z)) continue;
      cells.push({ x0: ex[i]!, x1: ex[i + 1]!, y0: ey[j]!, y1: ey[j + 1]!, z });
    }
  }
  return cells;
}

/** A scatter plot of one or more 2-D point sets, optionally over a density heatmap, as SVG. */
export async function scatterPlot(opts: ScatterOptions): Promise<string> {
  const { title, sets, background } = opts;
  const maxPoints = opts.maxPoints ?? 2000;
  if (!Number.isInteger(maxPoints) || maxPoints < 1) {
    throw new Error(`scatterPlot: maxPoints must be a whole number ≥ 1, got ${maxPoints}`);
  }
  if (sets.length === 0 && background === undefined) throw new Error("scatterPlot: nothing to draw (no sets)");
  checkNames(
    sets.map((s) => s.name),
    "scatterPlot",
  );
  checkDomain(opts.xDomain, "scatterPlot xDomain");
  checkDomain(opts.yDomain, "scatterPlot yDomain");

  const rows: { x: number; y: number; set: string }[] = [];
  const notes: string[] = [];
  let thinned = false;
  let dropped = 0;
  sets.forEach((s, si) => {
    const m = s.points;
    if (m.cols < 2) throw new Error(`scatterPlot: set "${s.name}" has ${m.cols} column(s); two are needed`);
    const idx = subsampleIndices(m.rows, maxPoints, (opts.seed ?? 0) + si);
    if (idx.length < m.rows) thinned = true;
    for (const r of idx) {
      const x = m.data[r * m.cols]!;
      const y = m.data[r * m.cols + 1]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        dropped++;
        continue;
      }
      rows.push({ x, y, set: s.name });
    }
  });
  if (thinned) notes.push(`at most ${maxPoints} random points drawn per set`);
  if (dropped > 0) notes.push(`${dropped} non-finite point(s) not drawn`);

  const large = rows.length > 600;
  const xScale = opts.xDomain ? { domain: opts.xDomain, zero: false, nice: false } : { zero: false };
  const yScale = opts.yDomain ? { domain: opts.yDomain, zero: false, nice: false } : { zero: false };
  const xLabel = opts.xLabel ?? "x₁";
  const yLabel = opts.yLabel ?? "x₂";

  const layers: any[] = [];
  if (background !== undefined) {
    layers.push({
      data: { values: gridCells(background) },
      mark: { type: "rect", aria: false, clip: true },
      encoding: {
        x: { field: "x0", type: "quantitative", scale: xScale, title: xLabel },
        x2: { field: "x1" },
        y: { field: "y0", type: "quantitative", scale: yScale, title: yLabel },
        y2: { field: "y1" },
        color: {
          field: "z",
          type: "quantitative",
          scale: { range: ["#ffffff", "#6e6e6e"], zero: true },
          legend: { title: background.label ?? "density", orient: "bottom", gradientLength: 120, format: ".3~g" },
        },
      },
    });
  }
  if (sets.length > 0) {
    layers.push({
      data: { values: rows },
      mark: {
        type: "point",
        filled: true,
        aria: false,
        clip: true,
        size: large ? 10 : 28,
        opacity: large ? 0.55 : 0.8,
      },
      encoding: {
        x: { field: "x", type: "quantitative", scale: xScale, title: xLabel },
        y: { field: "y", type: "quantitative", scale: yScale, title: yLabel },
        color: {
          field: "set",
          type: "nominal",
          scale: { domain: sets.map((s) => s.name), scheme: CATEGORY_SCHEME },
          legend: categoryLegend(sets.map((s) => s.name)),
        },
      },
    });
  }
  const spec = {
    title: titleBlock(title, notes),
    width: opts.width ?? PLOT_WIDTH,
    height: opts.height ?? PLOT_HEIGHT,
    config: BASE_CONFIG,
    layer: layers,
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
  } as TopLevelSpec;
  return renderVegaLite(spec);
}

// ---------------------------------------------------------------------------------------------
// Line chart
// ---------------------------------------------------------------------------------------------

/** A point of a line; `lower`/`upper` (both or neither) give an uncertainty band around it. */
export interface LinePoint {
  x: number;
  y: number;
  lower?: number;
  upper?: number;
}

export interface LineSeries {
  name: string;
  points: LinePoint[];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Logarithmic y axis; points (and band edges) ≤ 0 cannot be drawn and are left out, with a note. */
  logY?: boolean;
  /** At most this many points per series (evenly spaced, first and last kept); default 1000. */
  maxPoints?: number;
  width?: number;
  height?: number;
}

/** Evenly spaced indices into n items, keeping the first and the last; all when n ≤ k. */
function strideIndices(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  if (k === 1) return [n - 1];
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(Math.round((i * (n - 1)) / (k - 1)));
  return out;
}

/** Lines (one per series, with optional bands), with a legend of the series names, as SVG. */
export async function lineChart(opts: LineChartOptions): Promise<string> {
  const { series } = opts;
  if (series.length === 0) throw new Error("lineChart: no series");
  checkNames(
    series.map((s) => s.name),
    "lineChart",
  );
  const maxPoints = opts.maxPoints ?? 1000;
  if (!Number.isInteger(maxPoints) || maxPoints < 1) {
    throw new Error(`lineChart: maxPoints must be a whole number ≥ 1, got ${maxPoints}`);
  }
  const logY = opts.logY === true;
  const lines: { series: string; x: number; y: number; order: number }[] = [];
  const bands: { series: string; x: number; lower: number; upper: number }[] = [];
  let dropped = 0;
  let thinned = false;
  let longest = 0;
  const ok = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v) && (!logY || v > 0);
  for (const s of series) {
    const idx = strideIndices(s.points.length, maxPoints);
    if (idx.length < s.points.length) thinned = true;
    longest = Math.max(longest, idx.length);
    for (const i of idx) {
      const p = s.points[i]!;
      if (!Number.isFinite(p.x) || !ok(p.y)) {
        dropped++;
        continue;
      }
      lines.push({ series: s.name, x: p.x, y: p.y, order: i });
      if (p.lower !== undefined || p.upper !== undefined) {
        if (Number.isFinite(p.x) && ok(p.lower) && ok(p.upper)) {
          bands.push({ series: s.name, x: p.x, lower: p.lower, upper: p.upper });
        }
      }
    }
  }
  const notes: string[] = [];
  if (thinned) notes.push(`at most ${maxPoints} evenly spaced points drawn per series`);
  if (dropped > 0) notes.push(`${dropped} point(s) ${logY ? "non-finite or ≤ 0 (log scale)" : "non-finite"} not drawn`);

  const names = series.map((s) => s.name);
  const yScale = logY ? { type: "log" } : { zero: false };
  const color = {
    field: "series",
    type: "nominal",
    scale: { domain: names, scheme: CATEGORY_SCHEME },
    legend: categoryLegend(names, { symbolType: "stroke", symbolStrokeWidth: 2.5 }),
  };
  const layers: any[] = [];
  if (bands.length > 0) {
    layers.push({
      data: { values: bands },
      mark: { type: "area", opacity: 0.18, aria: false },
      encoding: {
        x: { field: "x", type: "quantitative", title: opts.xLabel, scale: { zero: false } },
        y: { field: "lower", type: "quantitative", title: opts.yLabel, scale: yScale },
        y2: { field: "upper" },
        color,
      },
    });
  }
  layers.push({
    data: { values: lines },
    mark: {
      type: "line",
      strokeWidth: 1.8,
      aria: false,
      point: longest <= 40 ? { filled: true, size: 30 } : false,
    },
    encoding: {
      x: { field: "x", type: "quantitative", title: opts.xLabel, scale: { zero: false } },
      y: { field: "y", type: "quantitative", title: opts.yLabel, scale: yScale },
      order: { field: "order", type: "quantitative" },
      color,
    },
  });
  const spec = {
    title: titleBlock(opts.title, notes),
    width: opts.width ?? PLOT_WIDTH,
    height: opts.height ?? PLOT_HEIGHT,
    config: BASE_CONFIG,
    layer: layers,
  } as TopLevelSpec;
  return renderVegaLite(spec);
}

// ---------------------------------------------------------------------------------------------
// Metric per method (point ± std, with the exact reference where known)
// ---------------------------------------------------------------------------------------------

/** One row of a metric chart: a labelled value, its spread, and the exact value if known. */
export interface MetricPoint {
  label: string;
  mean: number;
  std?: number;
  reference?: number;
}

export interface MetricChartOptions {
  title: string;
  /** Axis title of the metric. */
  valueLabel: string;
  points: MetricPoint[];
  width?: number;
  height?: number;
}

/**
 * A dot per row (method / target / alpha) with a ± std bar, and a tick at the exact reference value
 * where one is given; labels on the vertical axis so long names stay readable.
 */
export async function metricChart(opts: MetricChartOptions): Promise<string> {
  const { points } = opts;
  if (points.length === 0) throw new Error("metricChart: no points");
  checkNames(
    points.map((p) => p.label),
    "metricChart",
  );
  const measured: { label: string; value: number; kind: string }[] = [];
  const bars: { label: string; lo: number; hi: number }[] = [];
  const refs: { label: string; value: number; kind: string }[] = [];
  let dropped = 0;
  for (const p of points) {
    if (Number.isFinite(p.mean)) {
      measured.push({ label: p.label, value: p.mean, kind: "measured (± std)" });
      if (p.std !== undefined && Number.isFinite(p.std)) {
        bars.push({ label: p.label, lo: p.mean - p.std, hi: p.mean + p.std });
      }
    } else {
      dropped++;
    }
    if (p.reference !== undefined && Number.isFinite(p.reference)) {
      refs.push({ label: p.label, value: p.reference, kind: "exact" });
    }
  }
  const labels = points.map((p) => p.label);
  const y = { field: "label", type: "nominal", sort: labels, title: null, axis: { labelLimit: 200 } };
  const kinds = ["measured (± std)", ...(refs.length > 0 ? ["exact"] : [])];
  const color = {
    field: "kind",
    type: "nominal",
    scale: { domain: kinds, range: ["#4c78a8", "#e45756"].slice(0, kinds.length) },
    legend: { title: null, orient: "bottom", symbolOpacity: 1 },
  };
  const layers: any[] = [];
  if (bars.length > 0) {
    layers.push({
      data: { values: bars },
      mark: { type: "rule", color: "#4c78a8", strokeWidth: 1.5, aria: false },
      encoding: {
        y,
        x: { field: "lo", type: "quantitative", title: opts.valueLabel, scale: { zero: false } },
        x2: { field: "hi" },
      },
    });
  }
  if (refs.length > 0) {
    layers.push({
      data: { values: refs },
      mark: { type: "tick", thickness: 2, aria: false },
      encoding: { y, x: { field: "value", type: "quantitative", title: opts.valueLabel }, color },
    });
  }
  layers.push({
    data: { values: measured },
    mark: { type: "point", filled: true, size: 60, opacity: 1, aria: false },
    encoding: { y, x: { field: "value", type: "quantitative", title: opts.valueLabel }, color },
  });
  const notes = dropped > 0 ? [`${dropped} non-finite value(s) not drawn`] : [];
  const spec = {
    title: titleBlock(opts.title, notes),
    width: opts.width ?? PLOT_WIDTH,
    height: opts.height ?? Math.max(80, Math.min(PLOT_HEIGHT * 2, 26 * points.length)),
    config: BASE_CONFIG,
    layer: layers,
  } as TopLevelSpec;
  return renderVegaLite(spec);
}


/** A short label for a result row: its `label` (else its method), plus "target=…" and "α=…" where they apply. */
export function resultLabel(row: Pick<ResultRow, "method" | "label" | "target" | "alpha">): string {
  const parts = [row.label ?? row.method];
  if (row.target !== null && row.target !== undefined) parts.push(`target=${formatSetting(row.target)}`);
  if (row.alpha !== null && row.alpha !== undefined) parts.push(`α=${formatSetting(row.alpha)}`);
  return parts.join(" ");
}

function isMeanStd(v: unknown): v is Partial<MeanStd> & { mean: number } {
  return v !== null && typeof v === "object" && typeof (v as { mean?: unknown }).mean === "number";
}

/**
 * The rows of `results` that carry `metric` (a number or {mean, std?}), as metric-chart points
 * labelled by {@link resultLabel}. For "reward", `reference.rewardMean` (the exact value, where the
 * task knows it) becomes the reference tick. Rows without the metric are skipped.
 */
export function metricPoints(results: readonly ResultRow[], metric: string): MetricPoint[] {
  const out: MetricPoint[] = [];
  const used = new Map<string, number>();
  for (const row of results) {
    const v = row[metric];
    let p: MetricPoint | undefined;
    if (typeof v === "number") p = { label: "", mean: v };
    else if (isMeanStd(v)) p = { label: "", mean: v.mean, ...(typeof v.std === "number" ? { std: v.std } : {}) };
    if (p === undefined) continue;
    let label = resultLabel(row);
    const n = (used.get(label) ?? 0) + 1;
    used.set(label, n);
    if (n > 1) label = `${label} (#${n})`;
    p.label = label;
    if (metric === "reward" && row.reference && typeof row.reference.rewardMean === "number") {
      p.reference = row.reference.rewardMean;
    }
    out.push(p);
  }
  return out;
}
