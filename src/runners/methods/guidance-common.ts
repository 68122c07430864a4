/**
 * What the guidance runners (cfg, classifier-guidance, dps, target-guidance, svdd, best-of-n,
 * exact-guidance) share: the reward they steer by, the exact tilted reference p* where the task knows
 * it, the base ε, batched guided sampling, and the result row + plot (docs/guidance.md).
 *
 * Row fields beyond report.json's named ones: `reward` is the reward being optimised (the task's, or
 * the indicator), `rewardName`, `reference.rewardMean` = E_{p*}[r] at `alpha`, `rewardGap`
 * {gap, z} (reported, never hidden), `swToTilted` / `mmd2ToTilted` (distance to exact p* samples
 * beside the p*-vs-p* floor), `cost` {rewardEvals, gradEvals, valueEvals, modelEvals, seconds,
 * trainSeconds}, and `klToPretrained` (nats per sample): the guided chains' path KL to the unguided base
 * chain over the stochastic steps, Σ_t E‖μ̃_t − μ_base,t‖²/(2σ_t²) (src/guidance/types.ts PathKl), with
 * `klGuidedDeterministicStep` true when guidance also moved the final σ = 0 step (then the path KL proper
 * is infinite) — omitted when a step selected among candidates (SVDD; undefined), and for samples not
 * drawn by `sampleGuided` (best-of-N's selection).
 */
import { keyFromSeed, splitKey, type Key } from "../../backend/keys.js";
import { toHost } from "../../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../../data/matrix.js";
import { modelEps } from "../../diffusion/model.js";
import { noiseHookOf } from "../../diffusion/noise-space.js";
import { defaultSampleBatch } from "../../diffusion/generate.js";
import { samplerPlan } from "../../diffusion/sample.js";
import { makeSchedule } from "../../diffusion/schedule.js";
import type { StepCoefficients } from "../../diffusion/step.js";
import type { EpsFn } from "../../diffusion/types.js";
import { summary } from "../../eval/stats.js";
import { rewardGap, tiltedDistances } from "../../guidance/benchmark.js";
import { densityGrid, indicatorTiltReference, linearTiltReference, type TiltReference } from "../../guidance/exact.js";
import { trainNoisyPredictor, type NoisyPredictor } from "../../guidance/noisy-predictor.js";
import { guidedSample } from "../../guidance/sampler.js";
import { addPathKl, guidedDeterministicStep, newCost, newPathKl, pathKlPerSample, type GuidanceCost, type GuidanceTerm, type PathKl } from "../../guidance/types.js";
import type { PlotFigure } from "../../report/html.js";
import { scatterPlot } from "../../report/plots.js";
import type { ResultRow } from "../../report/types.js";
import { evaluateRewardHost, hostReward, linearRewardFn, type Reward } from "../../rewards/reward.js";
import { gaussianMixtureTask, type GaussianMixture } from "../../tasks/gaussian-mixture.js";
import type { MethodContext, MethodOutput } from "./context.js";
import { DEFAULT_ALPHA, DEFAULT_REWARD, DEFAULT_THRESHOLD } from "./schema-parts.js";

/** Number of independent (A, B) pairs of exact p* samples the distances are averaged over. */
export const TILT_PAIRS = 4;
/**
 * Largest batch a guided chain runs at once (SVDD multiplies it by M): generate's default batch of the network
 * (4,096 rows; 1,024 QM9 molecules for a graph transformer, whose edge stream fills jax-js's 4 GiB wasm heap:
 * a best-of-8 row drawing 2,048 candidates in one chain left a molecule run without room for its DPOK row).
 */
export function guidedBatch(ctx: MethodContext): number {
  return defaultSampleBatch(ctx.model.network);
}

/**
 * Method config fields the guidance kinds may carry: their schemas fill the defaults in
 * (./schema-parts.ts); a kind without the field takes the same default constants here.
 */
export type GuidanceMethodConfig = {
  kind: string;
  alpha?: number;
  reward?: "task" | "indicator";
  threshold?: number;
};

export interface GuidanceSetup {
  /** Row / samples label. */
  label: string;
  alpha: number;
  /** The reward guidance steers by (and the row reports). */
  reward: Reward;
  /** The mixture and weights b, on a gaussian-mixture task. */
  mixture?: { gm: GaussianMixture; b: number[] };
  /** The exact tilted law, where the task knows it. */
  reference?: TiltReference;
  plan: StepCoefficients[];
  samplerName: string;
  n: number;
  dim: number;
}

/** Reward, reference, plan and sizes for a guidance runner. */
export function guidanceSetup(ctx: MethodContext): GuidanceSetup {
  const m = ctx.method as GuidanceMethodConfig;
  const alpha = m.alpha ?? DEFAULT_ALPHA;
  const kind = m.reward ?? DEFAULT_REWARD;
  const task = ctx.cfg.task;
  let reward: Reward;
  let mixture: GuidanceSetup["mixture"];
  let reference: TiltReference | undefined;
  if (task.kind === "gaussian-mixture") {
    const t = gaussianMixtureTask({ components: task.components, rewardWeights: task.rewardWeights });
    const b = [...t.rewardWeights];
    mixture = { gm: t.mixture, b };
    if (kind === "task") {
      reward = linearRewardFn(b, "linear");
      reference = linearTiltReference(t.mixture, b, alpha);
    } else {
      const c = m.threshold ?? DEFAULT_THRESHOLD;
      reward = indicatorOf(`indicator[r > ${c}]`, (x) => t.reward(x), c);
      reference = indicatorTiltReference(t.mixture, b, c, alpha);
    }
  } else {
    const truth = ctx.data.reward;
    if (!truth) throw new Error(`method "${m.kind}" needs a reward, but task "${ctx.data.name}" has none`);
    reward = kind === "task" ? hostReward("task reward", truth) : indicatorOf(`indicator[r > ${m.threshold ?? DEFAULT_THRESHOLD}]`, truth, m.threshold ?? DEFAULT_THRESHOLD);
  }
  const schedule = makeSchedule(ctx.model.schedule);
  const plan = samplerPlan(schedule, ctx.sampler);
  const samplerName = ctx.sampler.sampler === "ddim" ? `the ddim sampler with eta = ${ctx.sampler.eta}` : "the ddpm sampler";
  return {
    label: ctx.label,
    alpha,
    reward,
    ...(mixture ? { mixture } : {}),
    ...(reference ? { reference } : {}),
    plan,
    samplerName,
    n: ctx.cfg.sampling.samples,
    dim: ctx.data.dim,
  };
}

function indicatorOf(name: string, r: (x: HostMatrix) => Float32Array, threshold: number): Reward {
  return hostReward(name, (x) => r(x).map((v) => (v > threshold ? 1 : 0)));
}

/** The base model's ε (the unconditional model shared by the run: trained, or pretrained in a molecule run). */
export async function baseEps(ctx: MethodContext): Promise<EpsFn> {
  return modelEps(ctx.model, ctx.baseWeights ? await ctx.baseWeights() : (await ctx.base()).state.ema);
}

/**
 * Guided chains in batches of at most `batch` rows, with their path KL to the unguided chain of `eps`
 * (`pathKl`, unless `pathKl: false`; pass it on to {@link guidanceOutput}). Consumes `key`.
 */
export async function sampleGuided(
  ctx: MethodContext,
  setup: GuidanceSetup,
  eps: EpsFn,
  terms: GuidanceTerm[],
  key: Key,
  opts: { n?: number; batch?: number; cost?: GuidanceCost; stage?: string; pathKl?: boolean } = {},
): Promise<{ samples: HostMatrix; cost: GuidanceCost; pathKl?: PathKl }> {
  const n = opts.n ?? setup.n;
  const batch = opts.batch ?? guidedBatch(ctx);
  const cost = opts.cost ?? newCost();
  const batches = Math.max(1, Math.ceil(n / batch));
  const keys = batches === 1 ? [key] : splitKey(key, batches);
  const out = new Float32Array(n * setup.dim);
  const track = opts.pathKl ?? true;
  const kl = newPathKl();
  // Every normal draw in the model's noise space (symmetric edges of a graph model: src/diffusion/noise-space.ts).
  const noise = noiseHookOf(ctx.model.noise);
  ctx.hooks.onStage?.(opts.stage ?? `${setup.label}: sampling ${n} points (${setup.plan.length} guided steps)`);
  for (let i = 0; i < batches; i++) {
    const rows = Math.min(batch, n - i * batch);
    const { x, pathKl } = await guidedSample({
      eps,
      plan: setup.plan,
      terms,
      n: rows,
      dim: setup.dim,
      key: keys[i]!,
      cost,
      samplerName: setup.samplerName,
      ...(noise ? { noise } : {}),
      pathKl: track,
      onStep: (d, total) => ctx.hooks.onSample?.(i * total + d, batches * total, setup.label),
    });
    out.set(await toHost(x), i * batch * setup.dim);
    if (pathKl) addPathKl(kl, pathKl);
  }
  const samples = hostMatrix(n, setup.dim, out);
  const bad = samples.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new Error(
      `${setup.label}: the guided chain diverged (a non-finite value in sample ${Math.floor(bad / setup.dim) + 1} of ${n}); ` +
        `check the base model's training, or lower the guidance scale`,
    );
  }
  if (!track) return { samples, cost };
  return { samples, cost, pathKl: kl };
}

/**
 * A noisy regressor / classifier on the task's training rows, labelled by the guidance reward
 * (classification: y = 1[r > threshold]). Trained once per run and setting, and shared by the methods
 * that ask for the same one (kept in the run's state; the runner that trains it reports its training
 * time). Owned by the run: do not dispose. Consumes `key`.
 */
export async function trainPredictorFor(
  ctx: MethodContext,
  setup: GuidanceSetup,
  head: "regression" | "classification",
  key: Key,
  threshold = 0,
): Promise<{ predictor: NoisyPredictor; trainSeconds: number }> {
  const m = ctx.method as GuidanceMethodConfig & { hidden: number; layers: number; trainSteps: number };
  const settings = { head, threshold: head === "classification" ? threshold : null, reward: setup.reward.name, hidden: m.hidden, layers: m.layers, steps: m.trainSteps };
  const train = async (): Promise<NoisyPredictor> => {
    const x = ctx.data.train;
    const r = await evaluateRewardHost(setup.reward, x);
    const y = head === "regression" ? r : r.map((v) => (v > threshold ? 1 : 0));
    ctx.hooks.onStage?.(`${setup.label}: training a noisy ${head} predictor on ${x.rows} rows`);
    return trainNoisyPredictor({
      head,
      x,
      y,
      classes: 2,
      schedule: ctx.model.schedule,
      key,
      hidden: settings.hidden,
      layers: settings.layers,
      steps: settings.steps,
      onProgress: (step, total, loss) => ctx.hooks.onTrain?.({ step, total, loss, lr: 0 }, `${setup.label} predictor`),
    });
  };
  const { value, fresh } = ctx.state.memo(`noisy-predictor:${JSON.stringify(settings)}`, train);
  if (!fresh) {
    key.dispose();
    return { predictor: await value, trainSeconds: 0 };
  }
  const predictor = await value;
  return { predictor, trainSeconds: predictor.trainSeconds };
}

/**
 * The requested reward values of a conditioning-style guidance method (cfg, target-guidance): the
 * method's `target`, else `sampling.targets`, else the exact E_{p*}[r] at the method's α.
 */
export function guidanceTargets(ctx: MethodContext, setup: GuidanceSetup, target?: number): number[] {
  if (target !== undefined) return [target];
  if (ctx.cfg.sampling.targets) return [...ctx.cfg.sampling.targets];
  if (setup.reference) return [setup.reference.rewardMean];
  throw new Error(`method "${ctx.method.kind}" needs a target: set method.target or sampling.targets (the task has no exact tilted reward to default to)`);
}

/** Several outputs as one (rows, samples and plots concatenated). */
export function mergeOutputs(outs: MethodOutput[]): MethodOutput {
  return {
    rows: outs.flatMap((o) => o.rows),
    samples: outs.flatMap((o) => o.samples),
    plots: outs.flatMap((o) => o.plots),
  };
}

/** Exact p* reference pairs, drawn once per run and α / reward / n (kept in the run's state). */
function referencePairs(ctx: MethodContext, ref: TiltReference, n: number): Promise<[HostMatrix, HostMatrix][]> {
  return ctx.state.memo(`tilt-reference:${ref.reward}|${ref.alpha}|${ref.rewardMean}|${n}`, async () => {
    // A key that depends only on the run's seed: every method is compared with the same p* draws.
    const keys = splitKey(keyForReference(ctx.cfg.seed), 2 * TILT_PAIRS);
    const pairs: [HostMatrix, HostMatrix][] = [];
    for (let k = 0; k < TILT_PAIRS; k++) pairs.push([await ref.sample(keys[2 * k]!, n), await ref.sample(keys[2 * k + 1]!, n)]);
    return pairs;
  }).value;
}

/** A key for the p* reference draws: a stream of its own, derived from the run's seed only. */
function keyForReference(seed: number): Key {
  return keyFromSeed((seed ^ 0x7a11ed) >>> 0);
}

/** Row + scatter plot of a guidance runner. */
export async function guidanceOutput(
  ctx: MethodContext,
  setup: GuidanceSetup,
  samples: HostMatrix,
  cost: GuidanceCost,
  extra: { target?: number | null; trainSeconds?: number; fields?: Record<string, ResultRow[string]>; note?: string; pathKl?: PathKl } = {},
): Promise<MethodOutput> {
  const r = await evaluateRewardHost(setup.reward, samples);
  // Draw the run's fresh-data sets for this size now: runExperiment's "samples vs data" plot asks for
  // them after the methods ran, when its evaluation keys are already released.
  await ctx.evalSets(samples.rows);
  const row: ResultRow = {
    method: ctx.method.kind,
    label: setup.label,
    target: extra.target ?? null,
    alpha: setup.alpha,
    samples: samples.rows,
    reward: summary(r),
    rewardName: setup.reward.name,
  };
  const plots: PlotFigure[] = [];
  if (setup.reference) {
    const gap = rewardGap(r, setup.reference.rewardMean);
    row.reference = { rewardMean: setup.reference.rewardMean };
    row.rewardGap = { gap: gap.gap, standardError: gap.standardError, z: gap.z };
    const d = tiltedDistances(samples, await referencePairs(ctx, setup.reference, samples.rows), ctx.cfg.seed);
    row.swToTilted = { value: d.slicedWasserstein.value, floor: d.slicedWasserstein.floor, ratio: d.slicedWasserstein.ratio, pairs: d.slicedWasserstein.pairs };
    row.mmd2ToTilted = { value: d.mmd2.value, floor: d.mmd2.floor, pairs: d.mmd2.pairs };
  }
  // Before `fields`, so that a runner's own klToPretrained (fine-tuning rows) wins.
  const pathKl = extra.pathKl;
  const kl = pathKl ? pathKlPerSample(pathKl) : NaN;
  if (Number.isFinite(kl)) {
    row.klToPretrained = kl;
    // The final σ = 0 step is outside the sum (as for fine-tuning rows); say when guidance moved it.
    row.klGuidedDeterministicStep = guidedDeterministicStep(pathKl!);
  }
  Object.assign(row, extra.fields ?? {});
  row.cost = {
    rewardEvals: cost.rewardEvals,
    gradEvals: cost.gradEvals,
    valueEvals: cost.valueEvals,
    modelEvals: cost.modelEvals,
    seconds: cost.seconds,
    trainSeconds: extra.trainSeconds ?? 0,
  };
  if (setup.reference && setup.dim === 2 && setup.mixture) {
    const [xd, yd] = plotDomain(setup.mixture.gm, setup.mixture.b, setup.alpha);
    plots.push({
      title: `${setup.label}: samples over the exact p*`,
      svg: await scatterPlot({
        title: `${setup.label} (α = ${setup.alpha})`,
        sets: [{ name: setup.label, points: samples }],
        background: densityGrid(setup.reference.logDensity, xd, yd, 40, "p* density"),
        xDomain: xd,
        yDomain: yd,
        maxPoints: 1000,
      }),
      caption:
        `Grey: the exact p* ∝ p·exp(r/α) with r = ${setup.reward.name}. Mean reward ${fmt(row.reward!.mean)} vs exact E_p*[r] = ${fmt(setup.reference.rewardMean)}` +
        (extra.note ? `; ${extra.note}` : "") +
        ".",
    });
  }
  return { rows: [row], samples: [{ label: setup.label, matrix: samples }], plots };
}

function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}

/** A square-ish window holding p and p* (means ± 3.5 std of every component, before and after the tilt). */
function plotDomain(gm: GaussianMixture, b: number[], alpha: number): [[number, number], [number, number]] {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  gm.means.forEach((m, k) => {
    const s = gm.stds[k]!;
    for (const shift of [0, (s * s) / alpha]) {
      const cx = m[0]! + shift * b[0]!;
      const cy = m[1]! + shift * b[1]!;
      x0 = Math.min(x0, cx - 3.5 * s);
      x1 = Math.max(x1, cx + 3.5 * s);
      y0 = Math.min(y0, cy - 3.5 * s);
      y1 = Math.max(y1, cy + 3.5 * s);
    }
  });
  return [
    [x0, x1],
    [y0, y1],
  ];
}
