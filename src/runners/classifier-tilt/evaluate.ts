/**
 * Evaluation of a sampler of p(x | c, y) on the classifier-tilt task (fixtures.md §4; CTRL, 2406.12120):
 * for every context c and requested label y, draw n samples and compare
 *  - the requested y with the class the ground-truth labeler gives each sample (argmax_y p(y|x)):
 *    accuracy and macro-F1 pooled over all (c, y) pairs (truth = requested y, prediction = labeler class),
 *    and accuracy per pair;
 *  - the ground-truth log-likelihood log p(y | x) of the requested label ("reward"), beside its exact
 *    value E_{p*}[log p(y|x)] under the target ("reference.rewardMean", by quadrature);
 *  - the samples with the exact target p*(x | c, y) ∝ p(y|x)^γ p(x|c): sliced Wasserstein and MMD²
 *    against exact draws, each beside its floor (the same metric between two independent exact draws),
 *    averaged over the pairs;
 *  - optionally the learned classifier's accuracy on the samples (how much of the gain the proxy sees).
 * The exact samplers' own accuracy (E_{p*}[1{class(x) = y}], averaged) is reported as `targetAccuracy`.
 */
import { splitKey, type Key } from "../../backend/keys.js";
import { concatRows, type HostMatrix } from "../../data/matrix.js";
import { classificationReport } from "../../eval/classification.js";
import { distanceWithFloor } from "../../eval/floor.js";
import { medianHeuristic, mmd2 } from "../../eval/mmd.js";
import { slicedWasserstein } from "../../eval/sliced-wasserstein.js";
import { summary } from "../../eval/stats.js";
import type { PlotFigure } from "../../report/html.js";
import { scatterPlot } from "../../report/plots.js";
import type { MetricValue } from "../../report/types.js";
import { classifierPredict, type ClassifierModel } from "../../rewards/classifier.js";
import { TILT_CLASSES, type ClassifierTiltTask } from "../../tasks/classifier-tilt.js";

/** Draws n samples of the model's p(x | c, y). Consumes `key`. */
export type TiltSampler = (c: number, y: number, n: number, key: Key) => HostMatrix | Promise<HostMatrix>;

/** One (c, y) pair's results. */
export interface TiltPairResult {
  context: number;
  label: number;
  samples: number;
  accuracy: number;
  /** E_{p*}[1{class(x) = y}] of the exact target. */
  targetAccuracy: number;
  reward: { mean: number; std: number };
  rewardExact: number;
  slicedWasserstein: { value: number; floor: number };
  mmd2: { value: number; floor: number };
  classifierAccuracy?: number;
}

export interface TiltEvaluation {
  /** Row fields: accuracy, macroF1, reward, reference, targetSlicedWasserstein, targetMmd2, pairAccuracy, … */
  fields: Record<string, MetricValue>;
  perPair: TiltPairResult[];
  /** All samples, pooled (rows ordered by (c, y)). */
  samples: { label: string; matrix: HostMatrix }[];
  plots: PlotFigure[];
}

export interface TiltEvaluationOptions {
  /** Row label (plot titles, sample file names). */
  label: string;
  /** Samples per (c, y) pair. */
  n: number;
  /** Consumed. */
  key: Key;
  /** The learned classifier, to report its accuracy on the samples too. */
  classifier?: ClassifierModel;
  /** Seed of the distance metrics' random projections / subsamples. */
  seed?: number;
  /** Draw one scatter plot per pair over the exact density (default true). */
  plots?: boolean;
  /** Called after each pair (progress). */
  onPair?: (done: number, total: number) => void;
}

/** Evaluates a sampler on every (c, y) pair of the task (γ = the task's). */
export async function evaluateTiltSampler(task: ClassifierTiltTask, sampler: TiltSampler, o: TiltEvaluationOptions): Promise<TiltEvaluation> {
  if (!Number.isInteger(o.n) || o.n < 2) {
    o.key.dispose();
    throw new Error(`classifier-tilt evaluation: needs at least 2 samples per (context, label) pair, got ${o.n}`);
  }
  const pairs: [number, number][] = [];
  for (let c = 0; c < task.contexts; c++) for (let y = 0; y < TILT_CLASSES; y++) pairs.push([c, y]);
  const keys = splitKey(o.key, 3 * pairs.length);
  const seed = o.seed ?? 0;
  const requested: number[] = [];
  const got: number[] = [];
  const perPair: TiltPairResult[] = [];
  const all: HostMatrix[] = [];
  const rewards: number[] = [];
  const plots: PlotFigure[] = [];
  let exactReward = 0;
  for (const [i, [c, y]] of pairs.entries()) {
    const x = await sampler(c, y, o.n, keys[3 * i]!);
    if (x.rows !== o.n || x.cols !== 2) throw new Error(`classifier-tilt evaluation: the sampler returned ${x.rows}×${x.cols} for (c=${c}, y=${y}), expected ${o.n}×2`);
    const target = task.target(c, y);
    const cls = task.trueClass(x);
    let hit = 0;
    for (const v of cls) {
      requested.push(y);
      got.push(v);
      if (v === y) hit++;
    }
    const lp = task.logLabelProb(x, y);
    for (const v of lp) rewards.push(v);
    exactReward += target.meanLogLabelProb / pairs.length;
    const a = target.sample(keys[3 * i + 1]!, o.n);
    const b = target.sample(keys[3 * i + 2]!, o.n);
    const bandwidth = medianHeuristic(a);
    const sw = distanceWithFloor((p, q) => slicedWasserstein(p, q, { seed }), x, a, b);
    const mm = distanceWithFloor((p, q) => mmd2(p, q, { bandwidth, seed }), x, a, b);
    const pr: TiltPairResult = {
      context: c,
      label: y,
      samples: o.n,
      accuracy: hit / o.n,
      targetAccuracy: target.exactAccuracy,
      reward: summary(lp),
      rewardExact: target.meanLogLabelProb,
      slicedWasserstein: { value: sw.value, floor: sw.floor },
      mmd2: { value: mm.value, floor: mm.floor },
    };
    if (o.classifier) {
      const pred = await classifierPredict(o.classifier, x);
      pr.classifierAccuracy = pred.reduce((s, v) => s + (v === y ? 1 : 0), 0) / o.n;
    }
    perPair.push(pr);
    all.push(x);
    if (o.plots !== false) plots.push(await pairPlot(task, c, y, x, o.label));
    o.onPair?.(i + 1, pairs.length);
  }
  const rep = classificationReport(requested, got, TILT_CLASSES);
  const mean = (f: (p: TiltPairResult) => number) => perPair.reduce((s, p) => s + f(p), 0) / perPair.length;
  const swV = mean((p) => p.slicedWasserstein.value);
  const swF = mean((p) => p.slicedWasserstein.floor);
  const fields: Record<string, MetricValue> = {
    accuracy: rep.accuracy,
    macroF1: rep.macroF1,
    targetAccuracy: mean((p) => p.targetAccuracy),
    reward: summary(rewards),
    reference: { rewardMean: exactReward, accuracy: mean((p) => p.targetAccuracy) },
    targetSlicedWasserstein: swF > 0 ? { value: swV, floor: swF, ratio: swV / swF, pairs: perPair.length } : { value: swV, floor: swF, pairs: perPair.length },
    targetMmd2: { value: mean((p) => p.mmd2.value), floor: mean((p) => p.mmd2.floor), pairs: perPair.length },
    pairAccuracy: Object.fromEntries(perPair.map((p) => [`c${p.context},y${p.label}`, p.accuracy])),
  };
  if (o.classifier) fields.classifierAccuracy = mean((p) => p.classifierAccuracy!);
  const pooled = concatRows(all);
  return { fields, perPair, samples: [{ label: o.label, matrix: pooled }], plots };
}

/** Samples of (c, y) over the exact density p*(x | c, y) on a coarse (≤ 48 × 48) version of the grid. */
async function pairPlot(task: ClassifierTiltTask, c: number, y: number, x: HostMatrix, label: string): Promise<PlotFigure> {
  const t = task.target(c, y);
  const G = t.grid.size;
  const f = Math.max(1, Math.ceil(G / 48));
  const g = Math.floor(G / f);
  const xs = Float64Array.from({ length: g }, (_, i) => t.grid.xs[i * f]! + ((f - 1) / 2) * t.grid.hx);
  const ys = Float64Array.from({ length: g }, (_, j) => t.grid.ys[j * f]! + ((f - 1) / 2) * t.grid.hy);
  const z: Float64Array[] = [];
  const area = t.grid.hx * t.grid.hy * f * f;
  for (let j = 0; j < g; j++) {
    const row = new Float64Array(g);
    for (let i = 0; i < g; i++) {
      let m = 0;
      for (let dj = 0; dj < f; dj++) for (let di = 0; di < f; di++) m += t.mass[(j * f + dj) * G + i * f + di]!;
      row[i] = m / area;
    }
    z.push(row);
  }
  const svg = await scatterPlot({
    title: `${label}: c = ${c}, y = ${y}`,
    sets: [{ name: "samples", points: x }],
    background: { x: xs, y: ys, z, label: "p*(x|c,y)" },
    maxPoints: 600,
    xDomain: [xs[0]!, xs[g - 1]!],
    yDomain: [ys[0]!, ys[g - 1]!],
  });
  return {
    title: `${label}: samples for c = ${c}, y = ${y}`,
    svg,
    caption: `Heatmap: the exact target p*(x | c, y) ∝ p(y|x)^γ p(x|c) (γ = ${task.gamma}, quadrature). Dots: generated samples.`,
  };
}

/**
 * The per-(c, y) breakdown as a report section of its own, `classifierTilt<index>` (sections of all
 * methods are merged into report.json, so each method index gets its own key).
 */
export function tiltSection(index: number, label: string, perPair: TiltPairResult[]): Record<string, unknown> {
  return { [`classifierTilt${index}`]: { label, pairs: perPair } };
}
