/**
 * Evaluation of a conditional sampler on the classifier-tilt benchmark (fixtures.md §4), shared by
 * "ctrl" and its baselines "cfg-triples" and "dps-classifier" so that they are compared on the same
 * footing in one report. For every context c and requested label y, n samples are drawn and scored:
 *  - accuracy and macro-F1 of the requested y vs the class of x under the ground-truth labeler
 *    (not the learned classifier), pooled over (c, y);
 *  - reward = log p(y | x) of the ground-truth labeler, vs the exact E_{p*}[log p(y | x)];
 *  - sliced-Wasserstein / MMD² distance to exact draws of p*(x | c, y) ∝ p(y|x)^γ p(x|c) (grid
 *    quadrature), beside the p*-vs-p* floor, averaged over (c, y);
 *  - the exact references: accuracy of p*, E_p*[log p(y|x)], KL(p* ‖ p(·|c)) = γ E_p*[log p(y|x)] − log Z_cy.
 * Field names follow src/runners/classifier-tilt/evaluate.ts (used by "none" on this task); this
 * variant adds an asynchronous sampler (DPS), γ ≠ task.gamma, the sampler's KL and the exact KL.
 */
import { np, type JArray } from "../../backend/jax.js";
import { keyFromSeed, splitKey, type Key } from "../../backend/keys.js";
import { settleAsync, toHost } from "../../backend/ownership.js";
import { coefficientVector, stepKl, stepMeanFromVector, type StepCoefficients } from "../../diffusion/step.js";
import type { EpsFn, NoiseHook } from "../../diffusion/types.js";
import { concatRows, type HostMatrix } from "../../data/matrix.js";
import { classificationReport } from "../../eval/classification.js";
import { summary } from "../../eval/stats.js";
import { tiltedDistances } from "../../guidance/benchmark.js";
import type { PlotFigure } from "../../report/html.js";
import { scatterPlot } from "../../report/plots.js";
import type { ResultRow } from "../../report/types.js";
import { tiltData } from "../classifier-tilt/pretrained.js";
import type { MethodContext, MethodOutput } from "./context.js";

/** Draws n samples of p(x | c, y) (consumes `key`); `kl` is the sampler's own path-KL estimate, if any. */
export type TiltSampler = (c: number, y: number, n: number, key: Key) => Promise<{ samples: HostMatrix; kl?: number }>;

/** Reference pairs per (c, y) of exact p* draws (two pairs; keys from the run's seed only). */
function targetPairs(ctx: MethodContext, c: number, y: number, gamma: number, n: number): [HostMatrix, HostMatrix][] {
  const t = tiltData(ctx).task.target(c, y, gamma);
  const keys = splitKey(keyFromSeed((ctx.cfg.seed ^ 0x7ab1e5 ^ ((c * 31 + y) * 0x9e3779b1)) >>> 0), 4);
  return [
    [t.sample(keys[0]!, n), t.sample(keys[1]!, n)],
    [t.sample(keys[2]!, n), t.sample(keys[3]!, n)],
  ];
}

/**
 * Wraps a sampler's ε̃ so that, while it samples, it accumulates its path KL to a reference ε_ref
 * (p_pre(x | c)) along its own chains: at each stochastic step of `plan`, KL_t = ‖μ̃_t − μ_ref,t‖²/(2σ_t²)
 * between the two steps' means at the same x_t (src/diffusion/step.ts); deterministic steps (σ = 0, the
 * final one) are left out. With a noise hook P (graphs), both means are taken onto P's space first, where
 * the step's Gaussian lives: KL_t = ‖P(μ̃_t − μ_ref,t)‖²/(2σ_t²), as DDPO's KL (src/finetune/ddpo.ts).
 * `kl(n)` = Σ_t mean_i KL_t^i over the n samples drawn so far (nats per sample). The per-step sums stay
 * on the device until `kl` reads them (once, asynchronously); pass `settle` as the sampler's `onStep` so that
 * each step's reference pass runs in its step (left pending, every step's kernels and the reference network's
 * intermediate buffers stay queued until `kl`, which slowed molecule sampling several-fold).
 */
export function pathKlTracker(
  eps: EpsFn,
  refEps: EpsFn,
  plan: readonly StepCoefficients[],
  noise?: NoiseHook,
): { eps: EpsFn; kl: (n: number) => Promise<number>; settle: () => Promise<void> } {
  const byIndex = new Map(plan.map((c) => [c.t.index, c] as const));
  const onP = (a: JArray) => (noise ? noise(a) : a);
  let total = 0;
  const sums: JArray[] = [];
  const tracked: EpsFn = (x, t) => {
    const c = byIndex.get(t.index);
    const e = eps(x.ref, t);
    if (!c || !(c.sigma > 0)) {
      x.dispose();
      return e;
    }
    const er = refEps(x.ref, t);
    // KL_t = ‖μ̃ − μ_ref‖²/(2σ²) of the two steps' means (src/diffusion/step.ts), summed over the samples.
    const cv = coefficientVector(c);
    const tilted = stepMeanFromVector(x.ref, e.ref, cv.ref);
    const ref = stepMeanFromVector(x, er, cv);
    tilted.x0Hat.dispose();
    ref.x0Hat.dispose();
    sums.push(np.sum(stepKl(onP(tilted.mean), onP(ref.mean), c.sigma)));
    return e;
  };
  const settle = async () => {
    const last = sums.at(-1);
    if (last) await settleAsync(last);
  };
  const kl = async (n: number) => {
    if (sums.length > 0) {
      const v = await toHost(np.stack(sums.splice(0)));
      v.forEach((s) => (total += s));
    }
    return total / n;
  };
  return { eps: tracked, kl, settle };
}

/**
 * Samples per (c, y) pair for every method of a classifier-tilt run (ctrl, cfg-triples, dps-classifier
 * and "none"): sampling.samples split evenly over the C·K pairs (at least 2), so that every row's
 * distance floor is the same.
 */
export function tiltSamplesPerPair(ctx: Pick<MethodContext, "cfg" | "data" | "method" | "index">): number {
  const t = tiltData(ctx).task;
  return Math.max(2, Math.ceil(ctx.cfg.sampling.samples / (t.contexts * t.classes)));
}

/** Samples every (c, y), scores them, and builds the method's row, samples and plot. Consumes `key`. */
export async function tiltEvaluation(
  ctx: MethodContext,
  o: { label: string; gamma: number; sampler: TiltSampler; key: Key; trainSeconds?: number; fields?: Record<string, ResultRow[string]> },
): Promise<MethodOutput> {
  const d = tiltData(ctx);
  const C = d.task.contexts;
  const K = d.task.classes;
  const per = tiltSamplesPerPair(ctx);
  const keys = splitKey(o.key, C * K);
  const truth: number[] = [];
  const predicted: number[] = [];
  const logp: number[] = [];
  const all: HostMatrix[] = [];
  let sw = 0;
  let swFloor = 0;
  let mmd = 0;
  let mmdFloor = 0;
  let refLogp = 0;
  let refAcc = 0;
  let refKl = 0;
  let kl = 0;
  let klCount = 0;
  const byCondition: Record<string, number> = {};
  const t0 = performance.now();
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < K; y++) {
      ctx.hooks.onStage?.(`${o.label}: sampling ${per} points for context ${c}, label ${y}`);
      const { samples, kl: k } = await o.sampler(c, y, per, keys[c * K + y]!);
      const bad = samples.data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`${o.label}: a non-finite sample for context ${c}, label ${y} (the sampler diverged)`);
      all.push(samples);
      const cls = d.task.trueClass(samples);
      let hits = 0;
      cls.forEach((v) => {
        truth.push(y);
        predicted.push(v);
        if (v === y) hits++;
      });
      byCondition[`c${c},y${y}`] = hits / samples.rows;
      for (const v of d.task.logLabelProb(samples, y)) logp.push(v);
      const t = d.task.target(c, y, o.gamma);
      refLogp += t.meanLogLabelProb / (C * K);
      refAcc += t.exactAccuracy / (C * K);
      refKl += (o.gamma * t.meanLogLabelProb - t.logZ) / (C * K);
      const dist = tiltedDistances(samples, targetPairs(ctx, c, y, o.gamma, per), ctx.cfg.seed);
      sw += dist.slicedWasserstein.value / (C * K);
      swFloor += dist.slicedWasserstein.floor / (C * K);
      mmd += dist.mmd2.value / (C * K);
      mmdFloor += dist.mmd2.floor / (C * K);
      if (k !== undefined && Number.isFinite(k)) {
        kl += k;
        klCount++;
      }
    }
  }
  const report = classificationReport(truth, predicted, K);
  const row: ResultRow = {
    method: o.label,
    target: null,
    alpha: 1 / o.gamma,
    samples: truth.length,
    reward: summary(Float32Array.from(logp)),
    rewardName: "log p(y | x) (ground-truth labeler)",
    accuracy: report.accuracy,
    macroF1: report.macroF1,
    reference: { rewardMean: refLogp, accuracy: refAcc, kl: refKl },
    targetSlicedWasserstein: { value: sw, floor: swFloor },
    targetMmd2: { value: mmd, floor: mmdFloor },
    pairAccuracy: byCondition,
    gamma: o.gamma,
    ...(klCount > 0 ? { klToPretrained: kl / klCount } : {}),
    ...(o.fields ?? {}),
    cost: { seconds: (performance.now() - t0) / 1000, trainSeconds: o.trainSeconds ?? 0 },
  };
  const plots: PlotFigure[] = [
    {
      title: `${o.label}: samples per (context, label)`,
      svg: await scatterPlot({
        title: `${o.label} (γ = ${o.gamma})`,
        sets: all.map((m, i) => ({ name: `c=${Math.floor(i / K)}, y=${i % K}`, points: m })),
        maxPoints: 500,
      }),
      caption: `Requested label vs the ground-truth labeler: accuracy ${report.accuracy.toFixed(3)}, macro-F1 ${report.macroF1.toFixed(3)} (exact p*: accuracy ${refAcc.toFixed(3)}).`,
    },
  ];
  return { rows: [row], samples: [{ label: o.label, matrix: concatRows(all) }], plots };
}
