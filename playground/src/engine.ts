/**
 * What the playground runs, free of any page or worker API, so that Node runs the very same code (the
 * end-to-end test compares the two): a method on a loaded toy model with a reward, streaming the samples
 * after every step, and the numbers beside the exact reference (./exact.ts). Methods (docs/guidance.md):
 *  - none: the plain DDIM(η = 1) chain;
 *  - dps: ∇ r(x̂₀(x_t))/α added to the score (rewardGuidanceTerm at "x0"), strength s;
 *  - xt-gradient: ∇ r(x_t)/α, the clean reward's gradient taken at the noisy sample (no predictor);
 *  - classifier: a noisy classifier p̂(y = 1 | x_t) of the painted region (or a noisy regressor of a
 *    linear/radial reward), trained here on exact draws labelled by the reward, then its gradient, strength s;
 *  - svdd: M candidates per step, one kept ∝ exp(r(x̂₀)/α) (SVDD-PM);
 *  - best-of-n: N whole samples per output, one kept ∝ exp(r/α) (sampling-importance-resampling);
 *  - draft: a short DRaFT fine-tune (docs/ctrl.md): maximise E[r(x₀)] − α Σ_t KL(p_θ,t ‖ p_pre,t) by
 *    backpropagating r through the whole chain (all weights, 64 chains per step), then sample the result.
 * Gradient methods (dps, xt-gradient, draft) use the smoothed region, selection methods its indicator
 * (./rewards.ts).
 */
import {
  bestOfN,
  disposeFinetuned,
  draftFinetune,
  sampleFinetuned,
  classifierGuidanceTerm,
  guidedSample,
  hostMatrix,
  keyFromSeed,
  modelEps,
  modelSchedule,
  newCost,
  pathKlPerSample,
  regressorGuidanceTerm,
  rewardAtX0Value,
  rewardGuidanceTerm,
  samplerPlan,
  slicedWasserstein,
  splitKey,
  svddTerm,
  toHost,
  toy2dTask,
  trainNoisyPredictor,
  type GuidanceCost,
  type GuidanceTerm,
  type HostMatrix,
  type LoadedModel,
  type NoisyPredictor,
  type ScheduleConfig,
  type StepInfo,
} from "../../src/index.js";
import type { ExactReference, Target } from "./exact.js";
import { checkReward, hostValue, rewardPlugin, type RewardForm, type RewardSpec } from "./rewards.js";

export const METHODS = ["none", "dps", "xt-gradient", "classifier", "svdd", "best-of-n", "draft"] as const;
export type Method = (typeof METHODS)[number];

/** Chains per DRaFT step. */
const DRAFT_BATCH = 64;

export interface RunSettings {
  task: string;
  method: Method;
  reward: RewardSpec;
  /** Temperature α of the tilt p·exp(r/α). */
  alpha: number;
  /** Gradient strength s (dps, xt-gradient, classifier). */
  scale: number;
  /**
   * Guidance acts on the steps i with start ≤ i/S (0: the whole chain; 0.5: the less noisy half, where
   * x̂₀ is informative and DPS's ∂x̂₀/∂x_t ≈ 1/√ᾱ_t is not huge). Not used by best-of-N.
   */
  start: number;
  /** SVDD's M, best-of-N's N. */
  candidates: number;
  /** DRaFT's optimisation steps. */
  finetuneSteps: number;
  /** DDIM(η = 1) steps. */
  steps: number;
  n: number;
  seed: number;
}

export interface Frame {
  step: number;
  total: number;
  /** The first n samples x_s after the step, [n, 2] row-major. */
  x: Float32Array;
}

export interface RunResult {
  samples: HostMatrix;
  /** Mean of the reward (in the method's form) over the samples, and the share of them in the painted region. */
  rewardMean: number;
  regionFraction?: number;
  /** Path KL per sample to the unguided chain (gradient methods; SVDD's selection steps have none). */
  pathKl?: number;
  cost: GuidanceCost;
  /** Seconds to train the classifier/regressor (classifier guidance) or to fine-tune (DRaFT). */
  predictorSeconds?: number;
}

/** The form of the reward a method uses. */
export function rewardForm(method: Method): RewardForm {
  return method === "dps" || method === "xt-gradient" || method === "draft" ? "smooth" : "indicator";
}

/** What a method's samples should follow (./exact.ts). */
export function methodTarget(s: RunSettings): Target {
  if (s.method === "none") return { kind: "base" };
  if (s.method === "classifier" && s.reward.kind === "region") return { kind: "conditional" };
  return { kind: "tilt", alpha: s.alpha, form: rewardForm(s.method) };
}

/** Checks settings before any work (one line naming the setting). */
export function checkSettings(s: RunSettings): void {
  if (!(METHODS as readonly string[]).includes(s.method)) throw new Error(`method must be one of ${METHODS.join(", ")}, got "${s.method}"`);
  checkReward(s.reward);
  const whole = (v: number, min: number, max: number, name: string) => {
    if (!(Number.isInteger(v) && v >= min && v <= max)) throw new Error(`${name} must be a whole number in [${min}, ${max}], got ${v}`);
  };
  whole(s.steps, 2, 1000, "steps");
  whole(s.n, 1, 20_000, "samples");
  whole(s.candidates, 1, 64, "candidates");
  whole(s.finetuneSteps, 1, 2000, "fine-tuning steps");
  if (!(Number.isFinite(s.alpha) && s.alpha > 0)) throw new Error(`α must be a number > 0, got ${s.alpha}`);
  if (!Number.isFinite(s.scale)) throw new Error(`strength must be a finite number, got ${s.scale}`);
  if (!(s.start >= 0 && s.start < 1)) throw new Error(`guide from must be a fraction of the chain in [0, 1), got ${s.start}`);
}

/** Runs a method on `model` (borrowed); `onFrame` sees the samples after every step. */
export async function runMethod(
  model: LoadedModel,
  s: RunSettings,
  onFrame?: (f: Frame) => void,
  onProgress?: (p: { step: number; total: number; objective: number; kl: number }) => void,
): Promise<RunResult> {
  checkSettings(s);
  const cfg = model.meta.model;
  const eps = modelEps(cfg, model.ema);
  const plan = samplerPlan(modelSchedule(cfg), { sampler: "ddim", steps: s.steps, eta: 1 });
  const [kRun, kPredictor] = splitKey(keyFromSeed(s.seed), 2);
  const cost = newCost();
  const frames: Promise<void>[] = [];
  const watch = (rows: number) =>
    onFrame
      ? (done: number, total: number, info: StepInfo) => {
          frames.push(toHost(info.x.ref).then((d) => onFrame({ step: done, total, x: d.slice(0, 2 * rows) })));
        }
      : undefined;
  const form = rewardForm(s.method);
  let predictor: NoisyPredictor | undefined;
  let predictorSeconds: number | undefined;
  let samples: HostMatrix;
  let pathKl: number | undefined;
  try {
    if (s.method === "draft") {
      const t0 = performance.now();
      const r = await draftFinetune(
        {
          model: cfg,
          pretrained: model.ema,
          reward: rewardPlugin(s.reward, "smooth"),
          alpha: s.alpha,
          plan,
          T: modelSchedule(cfg).T,
          dim: 2,
          trainable: "all",
          rank: 4,
          optim: { steps: s.finetuneSteps, batchSize: DRAFT_BATCH, learningRate: 3e-3, gradClip: 1 },
          onStep: (pt, total) => onProgress?.({ step: pt.step, total, objective: pt.objective, kl: pt.kl }),
        },
        kPredictor.ref,
      );
      predictorSeconds = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      try {
        const out = await sampleFinetuned(r.model, s.n, kRun);
        samples = out.samples;
        pathKl = out.kl;
      } finally {
        disposeFinetuned(r.model);
      }
      // Each fine-tuning step runs S chain steps for each of its chains with the policy and the frozen
      // model (the KL term), and backpropagates r(x₀) through them; sampling runs S policy steps per sample.
      cost.modelEvals += 2 * s.finetuneSteps * DRAFT_BATCH * s.steps + s.n * s.steps;
      cost.gradEvals += s.finetuneSteps * DRAFT_BATCH;
      cost.rewardEvals += s.finetuneSteps * DRAFT_BATCH;
      cost.seconds += (performance.now() - t1) / 1000;
      onFrame?.({ step: s.steps, total: s.steps, x: samples.data.slice() });
    } else if (s.method === "best-of-n") {
      const reward = rewardPlugin(s.reward, "indicator");
      const r = await bestOfN({
        reward,
        n: s.n,
        candidates: s.candidates,
        select: "softmax",
        alpha: s.alpha,
        key: kRun,
        cost,
        draw: async (key, count, c) => {
          const out = await guidedSample({ eps, plan, terms: [], n: count, dim: 2, key, cost: c, onStep: watch(s.n) });
          return hostMatrix(count, 2, await toHost(out.x));
        },
      });
      samples = r.samples;
    } else {
      const terms: GuidanceTerm[] = [];
      if (s.method === "dps" || s.method === "xt-gradient") {
        terms.push(rewardGuidanceTerm(rewardPlugin(s.reward, "smooth"), { scale: s.scale, alpha: s.alpha, start: s.start, where: s.method === "dps" ? "x0" : "xt", name: s.method }));
      } else if (s.method === "svdd") {
        terms.push(svddTerm(rewardAtX0Value(rewardPlugin(s.reward, "indicator"), eps), { candidates: s.candidates, alpha: s.alpha, start: s.start }));
      } else if (s.method === "classifier") {
        const t0 = performance.now();
        predictor = await trainPredictor(s, cfg.schedule, kPredictor.ref);
        predictorSeconds = (performance.now() - t0) / 1000;
        terms.push(
          s.reward.kind === "region"
            ? classifierGuidanceTerm(predictor, 1, { scale: s.scale, start: s.start })
            : regressorGuidanceTerm(predictor, { scale: s.scale, alpha: s.alpha, start: s.start }),
        );
      }
      const out = await guidedSample({ eps, plan, terms, n: s.n, dim: 2, key: kRun, cost, pathKl: s.method !== "none" && s.method !== "svdd", onStep: watch(s.n) });
      samples = hostMatrix(s.n, 2, await toHost(out.x));
      if (out.pathKl) pathKl = pathKlPerSample(out.pathKl);
    }
    await Promise.all(frames);
  } finally {
    kPredictor.dispose();
    predictor?.dispose();
  }
  const r = hostValue(s.reward, form);
  const inRegion = s.reward.kind === "region" ? hostValue(s.reward, "indicator") : undefined;
  let sum = 0;
  let inside = 0;
  for (let i = 0; i < s.n; i++) {
    sum += r(samples.data[2 * i]!, samples.data[2 * i + 1]!);
    if (inRegion) inside += inRegion(samples.data[2 * i]!, samples.data[2 * i + 1]!);
  }
  return {
    samples,
    rewardMean: sum / s.n,
    ...(inRegion ? { regionFraction: inside / s.n } : {}),
    ...(pathKl !== undefined ? { pathKl } : {}),
    ...(predictorSeconds !== undefined ? { predictorSeconds } : {}),
    cost,
  };
}

/** Classifier guidance's predictor: trained on 4,000 exact draws labelled by the reward (consumes `key`). */
async function trainPredictor(s: RunSettings, schedule: ScheduleConfig, key: ReturnType<typeof keyFromSeed>): Promise<NoisyPredictor> {
  const [kData, kTrain] = splitKey(key, 2);
  const x = await toy2dTask(s.task).sample(kData, 4000);
  const region = s.reward.kind === "region";
  const f = hostValue(s.reward, region ? "indicator" : "smooth");
  const y = Array.from({ length: x.rows }, (_, i) => f(x.data[2 * i]!, x.data[2 * i + 1]!));
  return trainNoisyPredictor({
    head: region ? "classification" : "regression",
    ...(region ? { classes: 2 } : {}),
    x,
    y,
    schedule,
    key: kTrain,
    steps: 400,
    batchSize: 256,
    logEvery: 100,
  });
}

/** The run's distance to p*: sliced Wasserstein to p*'s draws, beside the same between two sets of p* draws. */
export function distanceToTarget(samples: HostMatrix, ref: ExactReference): { sw: number; floor: number } {
  return { sw: slicedWasserstein(samples, ref.samples), floor: slicedWasserstein(ref.floorSamples, ref.samples) };
}
