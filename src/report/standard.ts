/**
 * The plots every report can draw from report.json alone: training loss curves and one
 * metric-per-row chart for each summary metric present. Task-specific plots (samples over a
 * density, reward vs target) need the samples themselves and are built by the caller.
 */
import type { PlotFigure } from "./html.js";
import { lineChart, metricChart, metricPoints, type LineSeries } from "./plots.js";
import type { Report } from "./types.js";

/** Metrics charted by {@link standardPlots}, with axis titles and captions. */
const METRICS: { key: string; label: string; caption: string }[] = [
  {
    key: "reward",
    label: "ground-truth reward",
    caption: "Mean ± std of the ground-truth reward of the generated samples; red ticks: exact value where the task knows it.",
  },
  { key: "proxyReward", label: "learned reward", caption: "Mean ± std of the learned (proxy) reward on the same samples." },
  { key: "offSupport", label: "‖(I − AAᵀ)x‖", caption: "Mean distance of the samples from the data subspace." },
  { key: "accuracy", label: "accuracy", caption: "Requested label vs the ground-truth labeler." },
  { key: "macroF1", label: "macro-F1", caption: "Requested label vs the ground-truth labeler, macro-averaged F1." },
];

function isLossLog(v: unknown): v is { loss: { step: number; loss: number }[] } {
  return v !== null && typeof v === "object" && Array.isArray((v as { loss?: unknown }).loss);
}

/** Loss curves (log scale) and metric charts for what `report` contains; nothing for what it lacks. */
export async function standardPlots(report: Report): Promise<PlotFigure[]> {
  const out: PlotFigure[] = [];
  const series: LineSeries[] = [];
  const t = report.training;
  if (isLossLog(t)) {
    series.push({ name: "model", points: t.loss.map((p) => ({ x: p.step, y: p.loss })) });
    for (const [k, v] of Object.entries(t)) {
      if (k !== "loss" && isLossLog(v)) series.push({ name: k, points: v.loss.map((p) => ({ x: p.step, y: p.loss })) });
    }
  }
  const nonEmpty = series.filter((s) => s.points.length > 0);
  if (nonEmpty.length > 0) {
    const positive = nonEmpty.every((s) => s.points.every((p) => p.y > 0));
    out.push({
      title: "Training loss",
      caption: positive ? "Logged training loss (log scale)." : "Logged training loss.",
      svg: await lineChart({ title: "Training loss", xLabel: "step", yLabel: "loss", series: nonEmpty, logY: positive }),
    });
  }
  for (const m of METRICS) {
    const points = metricPoints(report.results, m.key);
    if (points.length === 0) continue;
    out.push({
      title: m.label,
      caption: m.caption,
      svg: await metricChart({ title: m.label, valueLabel: m.label, points }),
    });
  }
  return out;
}
