/**
 * Reward-weighted regression (RWR; methods.md, the sibling of RGDM). Round k of R:
 *   x_i ~ p_k (n samples of the current model), r_i = r(x_i),
 *   w_i = softmax(r/τ_k)_i,  ESS = (Σw)²/Σw²,
 *   a few optimizer steps on the weighted denoising loss Σ_i w_i ℓ_i / Σ_i w_i (trainSteps with weights).
 * With unlimited capacity one round fits p_{k+1} ∝ p_k · exp(r/τ_k). Two temperature schedules:
 *  - "annealed" (default): τ_k = R·τ, so the R rounds compose to p_0 · exp(r/τ) — the exact tilted law of
 *    method.alpha = τ (in the infinite-capacity limit);
 *  - "constant": τ_k = τ (classic online RWR): after k rounds p_0 · exp(k r/τ), heading for the arg-max.
 */
import { softmaxWeights } from "../data/selection.js";
import { split2, splitKey, type Key } from "../backend/keys.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import type { ModelConfig } from "../diffusion/model.js";
import { tree, type JArray } from "../backend/jax.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { evaluateRewardHost, type Reward } from "../rewards/reward.js";
import { keyToWords } from "../backend/keys.js";
import { denoiserStep, trainSteps, type TrainConfig, type TrainState } from "./trainer.js";
import { mean } from "../eval/stats.js";

/** softmax(r/τ) (max-shifted, in float64): weights summing to 1. */
export function rwrWeights(r: ArrayLike<number>, tau: number): Float64Array {
  if (!(Number.isFinite(tau) && tau > 0)) throw new Error(`rwr: alpha (τ) must be > 0, got ${tau}`);
  if (r.length === 0) throw new Error("rwr: no rewards to weight");
  for (let i = 0; i < r.length; i++) {
    if (!Number.isFinite(r[i]!)) throw new Error(`rwr: reward ${i + 1} of ${r.length} is not finite (${r[i]})`);
  }
  return softmaxWeights(r, tau);
}

/** Effective sample size (Σw)²/Σw² of importance weights (n for equal weights, 1 for a single one). */
export function effectiveSampleSize(w: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < w.length; i++) {
    s += w[i]!;
    s2 += w[i]! * w[i]!;
  }
  if (!(s2 > 0)) throw new Error("effectiveSampleSize: all weights are zero");
  return (s * s) / s2;
}

export interface RwrSettings {
  /** τ (config `alpha`). */
  tau: number;
  rounds: number;
  samplesPerRound: number;
  stepsPerRound: number;
  schedule: "annealed" | "constant";
}

/** What one round measured. */
export interface RwrRound {
  round: number;
  /** τ_k used for the weights. */
  temperature: number;
  /** Mean reward of the round's samples (drawn from the model before the round's update). */
  rewardMean: number;
  /** (Σw)²/Σw² of the round's weights, and as a fraction of n. */
  ess: number;
  essFraction: number;
  /** Cumulative reward evaluations after the round. */
  rewardEvals: number;
  /** Final training loss of the round. */
  loss: number;
}

export interface RwrTrainOptions {
  model: ModelConfig;
  /** Optimizer settings (steps is ignored: rounds·stepsPerRound steps are taken). */
  train: TrainConfig;
  /** The pretrained model (borrowed, copied). */
  init: DenoiserParams;
  reward: Reward;
  settings: RwrSettings;
  /** Draws n samples from the model with weights `params` (borrowed). Consumes `key`. */
  sample: (params: DenoiserParams, n: number, key: Key) => HostMatrix | Promise<HostMatrix>;
  /** Consumed. */
  key: Key;
  onRound?: (r: RwrRound) => void;
  onStep?: (step: number, total: number, loss: number) => void;
  where?: string;
}

export interface RwrResult {
  state: TrainState;
  rounds: RwrRound[];
  losses: { step: number; loss: number }[];
  rewardEvals: number;
  seconds: number;
}

/** RWR fine-tuning (see the module doc). Consumes `key`; the returned state is owned by the caller. */
export async function trainRwr(o: RwrTrainOptions): Promise<RwrResult> {
  const where = o.where ?? "method";
  const s = o.settings;
  if (!(Number.isFinite(s.tau) && s.tau > 0)) throw new Error(`${where}.alpha (τ) must be > 0, got ${s.tau}`);
  for (const k of ["rounds", "samplesPerRound", "stepsPerRound"] as const) {
    if (!(Number.isInteger(s[k]) && s[k] >= 1)) throw new Error(`${where}.${k} must be a whole number ≥ 1, got ${s[k]}`);
  }
  const t0 = performance.now();
  const total = s.rounds * s.stepsPerRound;
  const cfg: TrainConfig = { ...o.train, steps: total };
  const [kSeed, ...kRounds] = splitKey(o.key, s.rounds + 1);
  const copy = (p: DenoiserParams) => tree.map((a: JArray) => a.mul(1), tree.ref(p)) as DenoiserParams;
  const params = copy(o.init);
  const [key, kData] = split2(kSeed!);
  let state = denoiserStep(o.model, cfg, false, true, 0).init(params, key, keyToWords(kData)[0]) as TrainState;
  kData.dispose();
  const rounds: RwrRound[] = [];
  const losses: { step: number; loss: number }[] = [];
  let rewardEvals = 0;
  const tauK = s.schedule === "annealed" ? s.tau * s.rounds : s.tau;
  for (let k = 0; k < s.rounds; k++) {
    const x = await o.sample(state.ema, s.samplesPerRound, kRounds[k]!);
    const r = await evaluateRewardHost(o.reward, x);
    rewardEvals += x.rows;
    const w = rwrWeights(r, tauK);
    const ess = effectiveSampleSize(w);
    // Weights scaled to mean 1 (float32-friendly; the loss divides by Σ w over the batch anyway).
    const w32 = Float32Array.from(w, (v) => v * w.length);
    const next = await trainSteps(o.model, cfg, state, { x: hostMatrix(x.rows, x.cols, x.data), weights: w32 }, {
      untilStep: (k + 1) * s.stepsPerRound,
      onProgress: (p) => o.onStep?.(p.step, total, p.loss),
    });
    losses.push(...next.losses);
    state = next;
    const round: RwrRound = {
      round: k + 1,
      temperature: tauK,
      rewardMean: mean(r),
      ess,
      essFraction: ess / x.rows,
      rewardEvals,
      loss: next.losses.at(-1)?.loss ?? NaN,
    };
    rounds.push(round);
    o.onRound?.(round);
  }
  const { params: p, ema, opt, step, key: kk, dataSeed } = state;
  return { state: { params: p, ema, opt, step, key: kk, dataSeed }, rounds, losses, rewardEvals, seconds: (performance.now() - t0) / 1000 };
}
