import { describe, expect, it } from "vitest";
import { hostMatrix } from "../src/data/matrix.js";
import { lineChart, metricChart, metricPoints, resultLabel, scatterPlot, subsampleIndices } from "../src/report/plots.js";
import type { ResultRow } from "../src/report/types.js";
import { costChart, rewardDistanceChart } from "../src/report/comparison.js";
import { headlineMetrics } from "../src/report/headline.js";

/** Number of drawn symbols in the data layers (vega groups each mark's items under class "mark-<type> role-mark"). */
function dataMarks(svg: string, type: "symbol" | "rect" | "area" | "line"): number {
  let n = 0;
  for (const m of svg.matchAll(new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, "gs"))) {
    n += (m[1]!.match(/<path/g) ?? []).length;
  }
  return n;
}

function legendLabels(svg: string): string[] {
  const out: string[] = [];
  for (const m of svg.matchAll(/<g class="mark-text role-legend-label"[^>]*>(.*?)<\/g>/gs)) {
    for (const t of m[1]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)) out.push(t[1]!);
  }
  return out;
}

function grid(n: number, offset: number) {
  const d = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    d[3 * i] = i + offset;
    d[3 * i + 1] = Math.sin(i) + offset;
    d[3 * i + 2] = 99; // third column is ignored
  }
  return hostMatrix(n, 3, d);
}

function wellFormed(svg: string): void {
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect((svg.match(/<svg/g) ?? []).length).toBe(1);
  expect(svg).not.toMatch(/NaN|undefined/);
}

describe("scatterPlot", () => {
  it("draws one point mark per point of every set, with a legend of set names", async () => {
    const svg = await scatterPlot({
      title: "two sets",
      sets: [
        { name: "data", points: grid(10, 0) },
        { name: "samples", points: grid(10, 3) },
      ],
    });
    wellFormed(svg);
    expect(dataMarks(svg, "symbol")).toBe(20);
    expect(legendLabels(svg)).toEqual(["data", "samples"]);
    expect(svg).toContain("two sets");
  });

  it("subsamples deterministically and says so", async () => {
    const opts = {
      title: "thinned",
      sets: [
        { name: "a", points: grid(50, 0) },
        { name: "b", points: grid(50, 1) },
      ],
      maxPoints: 7,
    };
    const a = await scatterPlot(opts);
    const b = await scatterPlot(opts);
    expect(dataMarks(a, "symbol")).toBe(14);
    expect(a).toBe(b);
    expect(a).toContain("at most 7 random points drawn per set");
  });

  it("leaves non-finite points out and counts them in the subtitle", async () => {
    const m = grid(10, 0);
    m.data[3] = NaN;
    m.data[7] = Infinity;
    const svg = await scatterPlot({ title: "nan", sets: [{ name: "a", points: m }] });
    expect(dataMarks(svg, "symbol")).toBe(8);
    expect(svg).toContain("2 non-finite point(s) not drawn");
  });

  it("draws a density heatmap under the points and respects fixed domains", async () => {
    const xs = [-1, 0, 1, 2];
    const ys = [-1, 0, 1];
    const z = ys.map((y) => xs.map((x) => Math.exp(-(x * x + y * y))));
    z[0]![0] = NaN; // a blank cell
    const svg = await scatterPlot({
      title: "bg",
      sets: [{ name: "pts", points: grid(5, 0) }],
      background: { x: xs, y: ys, z, label: "p(x)" },
      xDomain: [-2, 3],
      yDomain: [-2, 2],
    });
    wellFormed(svg);
    expect(dataMarks(svg, "rect")).toBe(11);
    expect(dataMarks(svg, "symbol")).toBe(5);
    expect(svg).toContain("p(x)");
    // the heatmap comes before (under) the points
    expect(svg.indexOf("mark-rect role-mark")).toBeLessThan(svg.indexOf("mark-symbol role-mark"));
  });

  it("escapes set names and rejects bad input with a clear message", async () => {
    const svg = await scatterPlot({ title: "<b>t</b>", sets: [{ name: "<script>x</script>", points: grid(3, 0) }] });
    expect(svg).not.toContain("<script");
    expect(svg).not.toContain("<b>");
    await expect(scatterPlot({ title: "t", sets: [{ name: "a", points: hostMatrix(2, 1) }] })).rejects.toThrow(/two are needed/);
    await expect(
      scatterPlot({ title: "t", sets: [{ name: "a", points: grid(2, 0) }, { name: "a", points: grid(2, 0) }] }),
    ).rejects.toThrow(/used twice/);
    await expect(scatterPlot({ title: "t", sets: [{ name: "a", points: grid(2, 0) }], xDomain: [1, 0] })).rejects.toThrow(
      /domain/,
    );
    await expect(
      scatterPlot({ title: "t", sets: [], background: { x: [0, 1], y: [0], z: [[1]] } }),
    ).rejects.toThrow(/z\[0\] has 1 values/);
  });
});

describe("subsampleIndices", () => {
  it("gives k distinct sorted indices, the same each time", () => {
    const a = subsampleIndices(1000, 50, 3);
    expect(a.length).toBe(50);
    expect(new Set(a).size).toBe(50);
    expect([...a]).toEqual([...a].sort((x, y) => x - y));
    expect([...subsampleIndices(1000, 50, 3)]).toEqual([...a]);
    expect([...subsampleIndices(1000, 50, 4)]).not.toEqual([...a]);
    expect([...subsampleIndices(5, 10)]).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("lineChart", () => {
  it("shows the series names in the legend and draws bands", async () => {
    const pts = Array.from({ length: 8 }, (_, i) => ({ x: i, y: i * i, lower: i * i - 1, upper: i * i + 1 }));
    const svg = await lineChart({
      title: "reward vs target",
      xLabel: "target",
      yLabel: "reward",
      series: [
        { name: "rcgdm", points: pts },
        { name: "cfg & friends", points: pts.map((p) => ({ x: p.x, y: p.y / 2 })) },
      ],
    });
    wellFormed(svg);
    expect(legendLabels(svg)).toEqual(["rcgdm", "cfg &amp; friends"]);
    expect(dataMarks(svg, "line")).toBe(2);
    expect(dataMarks(svg, "area")).toBe(1);
    expect(svg).toContain("target");
    expect(svg).toContain("reward");
  });

  it("on a log axis leaves out values ≤ 0 and says so", async () => {
    const svg = await lineChart({
      title: "loss",
      xLabel: "step",
      yLabel: "loss",
      logY: true,
      series: [{ name: "train", points: [0, 1, 2, 3].map((i) => ({ x: i, y: i === 2 ? 0 : 1 / (i + 1) })) }],
    });
    wellFormed(svg);
    expect(svg).toContain("1 point(s) non-finite or ≤ 0 (log scale) not drawn");
  });
});

describe("metricChart", () => {
  const rows: ResultRow[] = [
    { method: "rcgdm", target: 1, alpha: null, samples: 100, reward: { mean: 0.9, std: 0.1 }, reference: { rewardMean: 1 } },
    { method: "rcgdm", target: 1, alpha: null, samples: 100, reward: { mean: 1.1, std: 0.2 } },
    { method: "dps", target: null, alpha: 0.5, samples: 100, accuracy: 0.7 },
  ];
  it("builds points from result rows, skipping rows without the metric", () => {
    expect(resultLabel(rows[2]!)).toBe("dps α=0.5");
    const pts = metricPoints(rows, "reward");
    expect(pts).toEqual([
      { label: "rcgdm target=1", mean: 0.9, std: 0.1, reference: 1 },
      { label: "rcgdm target=1 (#2)", mean: 1.1, std: 0.2 },
    ]);
    expect(metricPoints(rows, "accuracy")).toEqual([{ label: "dps α=0.5", mean: 0.7 }]);
    expect(metricPoints(rows, "macroF1")).toEqual([]);
  });
  it("renders a dot per row, error bars and reference ticks", async () => {
    const svg = await metricChart({ title: "reward", valueLabel: "reward", points: metricPoints(rows, "reward") });
    wellFormed(svg);
    expect(dataMarks(svg, "symbol")).toBe(2);
    expect(svg).toContain("rcgdm target=1 (#2)");
    expect(svg).toContain("exact");
  });
});

/**
 * Every legend's box in absolute SVG coordinates: the padding group's translate plus the legend's own
 * translate, and the size of its background path (vega writes "M0,0h{w}v{h}h-{w}Z").
 */
function legendBoxes(svg: string): { x: number; y: number; w: number; h: number; width: number; height: number }[] {
  const root = svg.match(/^<svg[^>]*\swidth="([\d.]+)"\s+height="([\d.]+)"\s+viewBox="0 0 ([\d.]+) ([\d.]+)"/);
  if (!root) throw new Error("no width/height/viewBox on the root <svg>");
  expect(root[1]).toBe(root[3]);
  expect(root[2]).toBe(root[4]);
  const pad = svg.match(/<g fill="none" stroke-miterlimit="4" transform="translate\(([-\d.]+),([-\d.]+)\)">/);
  if (!pad) throw new Error("no padding group");
  const out = [];
  for (const m of svg.matchAll(
    /<g class="mark-group role-legend"[^>]*><g transform="translate\(([-\d.]+),([-\d.]+)\)"><path class="background"[^>]*d="M0,0h([\d.]+)v([\d.]+)h/g,
  )) {
    out.push({ x: +pad[1]! + +m[1]!, y: +pad[2]! + +m[2]!, w: +m[3]!, h: +m[4]!, width: +root[1]!, height: +root[2]! });
  }
  return out;
}

function expectLegendInside(svg: string, labels: string[]): void {
  const boxes = legendBoxes(svg);
  expect(boxes.length).toBeGreaterThan(0);
  for (const b of boxes) {
    expect(b.w).toBeGreaterThan(0);
    expect(b.x).toBeGreaterThanOrEqual(0);
    expect(b.y).toBeGreaterThanOrEqual(0);
    expect(b.x + b.w).toBeLessThanOrEqual(b.width);
    expect(b.y + b.h).toBeLessThanOrEqual(b.height);
  }
  // Labels drawn in full (vega ends a truncated label with "…").
  const drawn = legendLabels(svg);
  for (const l of labels) expect(drawn).toContain(l.replace(/&/g, "&amp;").replace(/</g, "&lt;"));
  expect(drawn.some((t) => t.endsWith("…"))).toBe(false);
}

describe("comparison charts", () => {
  const names = Array.from({ length: 12 }, (_, i) => `method number ${i} with a rather long descriptive label`);
  const rows: ResultRow[] = names.map((label, i) => ({
    method: "dps",
    label,
    target: null,
    alpha: null,
    samples: 100,
    reward: { mean: i / 4, std: 1 },
    reference: { rewardMean: 2 },
    swToTilted: { value: 0.1 * (1 + i), floor: 0.1, ratio: 1 + i },
    cost: { rewardEvals: 10 * i, seconds: 1 + i, trainSeconds: i % 2 },
  }));
  const heads = rows.map((r) => headlineMetrics(r));

  it("reward vs distance: one point per row, the whole legend inside the viewBox, no label cut", async () => {
    const fig = (await rewardDistanceChart(heads))!;
    wellFormed(fig.svg);
    expect(dataMarks(fig.svg, "symbol")).toBe(12);
    expectLegendInside(fig.svg, names);
  });

  it("cost: a bar per row and part, legend inside the viewBox", async () => {
    const fig = (await costChart(heads))!;
    wellFormed(fig.svg);
    expect(dataMarks(fig.svg, "rect")).toBe(12 + 6); // sampling for every row, training for the 6 odd ones
    expectLegendInside(fig.svg, ["sampling", "training"]);
  });

  it("draws nothing to compare with fewer than two rows", async () => {
    expect(await rewardDistanceChart(heads.slice(0, 1))).toBeUndefined();
    expect(await costChart(heads.slice(0, 1))).toBeUndefined();
  });

  it("the existing charts keep their legends inside the viewBox too", async () => {
    const sets = names.slice(0, 6).map((n, i) => ({ name: n, points: grid(20, i) }));
    expectLegendInside(await scatterPlot({ title: "s", sets }), names.slice(0, 6));
    const series = names.slice(0, 4).map((n, i) => ({ name: n, points: [{ x: 0, y: i }, { x: 1, y: i + 1 }] }));
    expectLegendInside(await lineChart({ title: "l", xLabel: "x", yLabel: "y", series }), names.slice(0, 4));
  });
});
