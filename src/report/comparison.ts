/**
 * The comparison charts at the top of report.html (docs/report.md § "The summary"): mean reward
 * against the distance to the law a row should match (in multiples of its data-vs-data floor, so a
 * row that hits the mean reward with a collapsed distribution stands out on the right), and the
 * wall-clock cost per row. Both are drawn from the rows' headline numbers (./headline.ts) alone.
 */
import type { TopLevelSpec } from "vega-lite";
import type { PlotFigure } from "./html.js";
import { FAR_FROM_FLOOR_RATIO, NEAR_FLOOR_RATIO, reportHeadlines, type HeadlineMetrics } from "./headline.js";
import { BASE_CONFIG, categoryLegend, PLOT_HEIGHT, PLOT_WIDTH, renderVegaLite } from "./plots.js";
import type { Report } from "./types.js";

function schemeFor(n: number): string {
  return n <= 10 ? "tableau10" : "tableau20";
}

/**
 * Mean reward (y) against distance / floor (x, log scale) for the rows that measured both; the
 * distance is to the target law where rows measured it, else to the data. Undefined when fewer than
 * two rows qualify.
 */
export async function rewardDistanceChart(heads: readonly HeadlineMetrics[]): Promise<PlotFigure | undefined> {
  const both = heads.filter((h) => h.reward && h.distance);
  const toTarget = both.filter((h) => h.distance!.against === "target");
  const used = toTarget.length > 0 ? toTarget : both;
  if (used.length < 2) return undefined;
  const against = used[0]!.distance!.against === "target" ? "the target law" : "the data";
  const points = used.map((h) => ({ name: h.name, ratio: h.distance!.ratio.value, reward: h.reward!.mean.value }));
  const exacts = [...new Set(used.map((h) => h.reward!.exact?.value).filter((v): v is number => v !== undefined))];
  const names = points.map((p) => p.name);
  const xMax = Math.max(FAR_FROM_FLOOR_RATIO * 1.5, ...points.map((p) => p.ratio * 1.3));
  const xMin = Math.min(0.7, ...points.map((p) => p.ratio / 1.3));
  const x = { field: "ratio", type: "quantitative", title: `sliced-W₂ to ${against} ÷ floor (log)`, scale: { type: "log", domain: [xMin, xMax], nice: false } };
  const layers: unknown[] = [
    {
      data: { values: [{ ratio: xMin, ratio2: NEAR_FLOOR_RATIO }] },
      mark: { type: "rect", color: "#eaf5ea", aria: false },
      encoding: { x, x2: { field: "ratio2" } },
    },
    {
      data: { values: [{ ratio: FAR_FROM_FLOOR_RATIO, ratio2: xMax }] },
      mark: { type: "rect", color: "#fdecea", aria: false },
      encoding: { x, x2: { field: "ratio2" } },
    },
    {
      data: { values: [{ ratio: 1 }] },
      mark: { type: "rule", strokeDash: [4, 3], color: "#888", aria: false },
      encoding: { x },
    },
  ];
  if (exacts.length > 0 && exacts.length <= 3) {
    layers.push({
      data: { values: exacts.map((v) => ({ exact: v })) },
      mark: { type: "rule", strokeDash: [6, 3], color: "#e45756", aria: false },
      encoding: { y: { field: "exact", type: "quantitative" } },
    });
  }
  layers.push({
    data: { values: points },
    mark: { type: "point", filled: true, size: 90, opacity: 1, stroke: "#333", strokeWidth: 0.6, aria: false },
    encoding: {
      x,
      y: { field: "reward", type: "quantitative", title: "mean reward", scale: { zero: false } },
      color: { field: "name", type: "nominal", scale: { domain: names, scheme: schemeFor(names.length) }, legend: categoryLegend(names) },
      shape: { field: "name", type: "nominal", scale: { domain: names }, legend: categoryLegend(names) },
    },
  });
  const spec = {
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    config: BASE_CONFIG,
    layer: layers,
  } as TopLevelSpec;
  const exactText = exacts.length > 0 && exacts.length <= 3 ? " Red dashed line: the exact mean reward." : "";
  return {
    title: "Reward vs distance",
    caption:
      `Up is more reward; left is closer to ${against} (dashed grey: the floor, the distance between two independent draws; green: within ${NEAR_FLOOR_RATIO}× of it). ` +
      `Red zone: more than ${FAR_FROM_FLOOR_RATIO}× the floor, the samples do not follow that law even when the mean reward looks right.${exactText}` +
      notDrawn(heads.length - both.length, both.length - used.length),
    svg: await renderVegaLite(spec),
  };
}

function notDrawn(missing: number, toData: number): string {
  const why = [
    ...(missing > 0 ? [`${missing} row(s) without both a reward and a distance`] : []),
    ...(toData > 0 ? [`${toData} row(s) measured against the data rather than the target (e.g. the base model)`] : []),
  ];
  return why.length > 0 ? ` Not drawn: ${why.join("; ")}.` : "";
}

/**
 * Wall-clock seconds per row (sampling and training stacked; a method's whole time where its rows
 * carry no cost, once per method). Undefined with fewer than two bars.
 */
export async function costChart(heads: readonly HeadlineMetrics[]): Promise<PlotFigure | undefined> {
  const bars: { name: string; part: string; seconds: number }[] = [];
  const seenMethod = new Set<string>();
  const names: string[] = [];
  for (const h of heads) {
    const c = h.cost;
    if (!c) continue;
    if (c.seconds || c.trainSeconds) {
      names.push(h.name);
      if (c.seconds) bars.push({ name: h.name, part: "sampling", seconds: c.seconds.value });
      if (c.trainSeconds) bars.push({ name: h.name, part: "training", seconds: c.trainSeconds.value });
    } else if (c.methodSeconds && !seenMethod.has(h.label)) {
      seenMethod.add(h.label);
      names.push(h.label);
      bars.push({ name: h.label, part: "whole method", seconds: c.methodSeconds.value });
    }
  }
  if (names.length < 2) return undefined;
  const parts = ["sampling", "training", "whole method"].filter((p) => bars.some((b) => b.part === p));
  const spec = {
    width: PLOT_WIDTH,
    height: Math.max(80, Math.min(PLOT_HEIGHT * 2, 24 * names.length)),
    config: BASE_CONFIG,
    data: { values: bars },
    mark: { type: "bar", aria: false },
    encoding: {
      y: { field: "name", type: "nominal", sort: names, title: null, axis: { labelLimit: 0 } },
      x: { field: "seconds", type: "quantitative", title: "wall-clock seconds", stack: "zero" },
      color: {
        field: "part",
        type: "nominal",
        scale: { domain: parts, range: ["#4c78a8", "#f58518", "#9d9d9d"].slice(0, parts.length) },
        legend: { title: null, orient: "bottom", direction: "horizontal", labelLimit: 0 },
      },
    },
  } as TopLevelSpec;
  return {
    title: "Cost",
    caption: "Wall-clock seconds of each row's sampling and of the training it needed (grey: a method's whole time, where its rows carry no cost of their own).",
    svg: await renderVegaLite(spec),
  };
}

/** The summary's charts for a report: reward vs distance, and cost (each only where it has ≥ 2 rows to compare). */
export async function comparisonPlots(report: Report): Promise<PlotFigure[]> {
  const heads = reportHeadlines(report);
  const out: PlotFigure[] = [];
  const rd = await rewardDistanceChart(heads);
  if (rd) out.push(rd);
  const cost = await costChart(heads);
  if (cost) out.push(cost);
  return out;
}
