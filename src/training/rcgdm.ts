/**
 * Reward-directed conditional diffusion (2307.07055, "RCGDM"; methods.md), as library functions:
 *
 *  1. reward learning f̂ on the labeled set                  → src/rewards (fitReward)
 *  2. pseudo-labels ŷ_j = f̂(x_j) + ν ξ_j on the unlabeled set → src/rewards (pseudoLabel)
 *  3. a conditional denoiser ε_θ(x_t, t, ŷ) trained by denoising score matching on (x_j, ŷ_j), with
 *     condition dropout p_uncond to a learned null condition ∅   → {@link trainConditional}
 *  4. generation at a target a, with classifier-free guidance of strength w:
 *       ε̃(x_t, t) = ε_θ(x_t, t, ∅) + w (ε_θ(x_t, t, a) − ε_θ(x_t, t, ∅))   → {@link cfgEps}, {@link sampleAtTarget}
 *     (w = 1 is plain conditioning, the paper's sampler.)
 *
 * The network is the residual MLP of src/nn/denoiser.ts with a value condition, or the paper's
 * low-rank score network (src/nn/low-rank-score.ts), whose basis V is re-orthonormalised after every
 * optimizer step here.
 */
import { np } from "../backend/jax.js";
import type { Key } from "../backend/keys.js";
import type { HostMatrix } from "../data/matrix.js";
import { modelEps, modelOutput, type ModelConfig } from "../diffusion/model.js";
import type { SamplerConfig } from "../diffusion/sample.js";
import { classifierFree } from "../diffusion/step.js";
import type { EpsFn, ModelFn } from "../diffusion/types.js";
import type { Prediction } from "../diffusion/parameterization.js";
import type { ScheduleConfig } from "../diffusion/schedule.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { orthonormalizeBasis } from "../nn/low-rank-score.js";
import { generateWithEps } from "../diffusion/generate.js";
import { initTrainState, trainSteps, type ProgressInfo, type TrainConfig, type TrainState } from "./trainer.js";

/** The conditional network's settings. */
export interface ConditionalNetworkOptions {
  /** "mlp" (default) or the paper's "low-rank" score network. */
  network: "mlp" | "low-rank";
  /** low-rank: the subspace dimension d of V ∈ R^{D×d}. */
  rank?: number;
  hidden: number;
  layers: number;
  timeEmbedding: number;
  residual: boolean;
  norm: "none" | "layernorm";
  /** Width of the learned embedding of the condition ŷ (and of the null embedding ∅). */
  conditionEmbedding: number;
  /** K Fourier frequencies of the condition (../nn/embeddings.ts valueFeatures); absent: y enters alone. */
  conditionFourier?: number;
  /** ε, x̂_0 or v prediction (the low-rank network always predicts x̂_0, see low-rank-score.ts). */
  prediction: Prediction;
  schedule: ScheduleConfig;
}

export const defaultConditionalNetwork: ConditionalNetworkOptions = {
  network: "mlp",
  hidden: 256,
  layers: 3,
  timeEmbedding: 32,
  residual: true,
  norm: "none",
  conditionEmbedding: 32,
  prediction: "eps",
  schedule: { kind: "linear", steps: 1000, betaStart: 1e-4, betaEnd: 0.02 },
};

/** The model config of a conditional denoiser on R^dataDim with a condition y ∈ R^condDim. */
export function conditionalModel(dataDim: number, condDim: number, o: Partial<ConditionalNetworkOptions> = {}): ModelConfig {
  const opts = { ...defaultConditionalNetwork, ...o };
  if (opts.network === "low-rank" && !(Number.isInteger(opts.rank) && opts.rank! >= 1 && opts.rank! <= dataDim)) {
    throw new Error(`the low-rank network needs a rank d with 1 ≤ d ≤ ${dataDim}, got ${JSON.stringify(opts.rank)}`);
  }
  return {
    network: {
      kind: opts.network,
      ...(opts.network === "low-rank" ? { rank: opts.rank } : {}),
      dataDim,
      hidden: opts.hidden,
      layers: opts.layers,
      timeEmbedding: opts.timeEmbedding % 2 === 0 ? opts.timeEmbedding : opts.timeEmbedding + 1,
      residual: opts.residual,
      norm: opts.norm,
      condition: { kind: "value", dim: condDim, embedding: opts.conditionEmbedding, ...(opts.conditionFourier !== undefined ? { fourier: opts.conditionFourier } : {}) },
    },
    prediction: opts.network === "low-rank" ? "x0" : opts.prediction,
    schedule: { ...opts.schedule },
  };
}

/** The condition dimension of a conditional model (throws for an unconditional one). */
export function conditionDim(model: ModelConfig, where = "model"): number {
  const c = model.network.condition;
  if (!c) throw new Error(`${where} is unconditional (it was trained without pseudo-labels); it cannot sample at a target`);
  if (c.kind !== "value") throw new Error(`${where} takes a class condition, not a reward value`);
  return c.dim;
}

export interface TrainConditionalOptions {
  /** p_uncond: probability of replacing ŷ by the null condition ∅ in a training example. */
  dropout: number;
  /** Low-rank network: re-orthonormalise V every this many steps (default 1, as in the paper). */
  orthonormalizeEvery?: number;
  /** Continue this state instead of starting fresh (it is consumed). */
  resume?: TrainState;
  onProgress?: (p: ProgressInfo) => void;
}

/**
 * Trains ε_θ(x_t, t, ŷ) on rows x with conditions ŷ (a matrix of condDim columns), with condition
 * dropout. For the low-rank network V is re-orthonormalised after every step (and the EMA copy at the
 * end). Consumes `key` (ignored when resuming).
 */
export async function trainConditional(
  model: ModelConfig,
  train: TrainConfig,
  x: HostMatrix,
  y: HostMatrix,
  key: Key,
  o: TrainConditionalOptions,
): Promise<TrainState & { losses: { step: number; loss: number }[] }> {
  try {
    const condDim = conditionDim(model);
    if (y.cols !== condDim) throw new Error(`the conditions have ${y.cols} column(s) but the model is conditioned on ${condDim}`);
    if (y.rows !== x.rows) throw new Error(`the conditions have ${y.rows} rows but the data has ${x.rows}`);
    if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`condition dropout must be in [0, 1), got ${o.dropout}`);
    for (let i = 0; i < y.data.length; i++) {
      if (!Number.isFinite(y.data[i]!)) throw new Error(`condition of row ${Math.floor(i / y.cols) + 1} is not a finite number (${y.data[i]})`);
    }
  } catch (err) {
    key.dispose();
    throw err;
  }
  let state: TrainState;
  if (o.resume) {
    key.dispose();
    state = o.resume;
  } else {
    state = initTrainState(model, key);
  }
  const data = { x, cond: { values: y, dropout: o.dropout } };
  const onProgress = o.onProgress ? (p: ProgressInfo) => o.onProgress!({ ...p, total: train.steps }) : undefined;
  if (model.network.kind !== "low-rank") return trainSteps(model, train, state, data, { onProgress });
  const every = o.orthonormalizeEvery ?? 1;
  const losses: { step: number; loss: number }[] = [];
  let s = { ...state, losses };
  while (s.step < train.steps) {
    const next = await trainSteps(model, train, s, data, { untilStep: Math.min(train.steps, s.step + every), onProgress });
    losses.push(...next.losses);
    s = { ...next, params: await orthonormalizeBasis(next.params), losses };
  }
  s.ema = await orthonormalizeBasis(s.ema);
  return s;
}

function conditionRows(target: readonly number[], n: number, keep: number) {
  const k = target.length;
  const v = new Float32Array(n * k);
  for (let i = 0; i < n; i++) v.set(target, i * k);
  return { kind: "value" as const, value: np.array(v, { shape: [n, k] }), keep: np.array(new Float32Array(n).fill(keep)) };
}

/** Checks a target against the model's condition dimension (and finiteness). */
export function checkTarget(model: ModelConfig, target: readonly number[], where = "target"): void {
  const k = conditionDim(model);
  if (target.length !== k) {
    throw new Error(`${where} has ${target.length} value(s) but the model is conditioned on ${k} (${k === 1 ? "one reward value" : `${k} values`})`);
  }
  target.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new Error(`${where}: value ${i + 1} is not a finite number (${v})`);
  });
}

/**
 * Classifier-free guidance at target a: ε̃ = ε(∅) + w (ε(a) − ε(∅)). w = 1 is plain conditioning (one
 * network call per step), w = 0 the unconditional model. Borrows `params`.
 */
export function cfgEps(model: ModelConfig, params: DenoiserParams, target: readonly number[], scale = 1): EpsFn {
  checkTarget(model, target);
  if (!(Number.isFinite(scale) && scale >= 0)) throw new Error(`guidance scale w must be a finite number ≥ 0, got ${scale}`);
  const cond = modelEps(model, params, (n) => conditionRows(target, n, 1));
  if (scale === 1) return cond;
  const uncond = modelEps(model, params, (n) => conditionRows(target, n, 0));
  if (scale === 0) return uncond;
  return (x, t) => {
    const e0 = uncond(x.ref, t);
    const e1 = cond(x, t);
    return classifierFree(e0, [[e1, scale]]);
  };
}

/**
 * The network's output at target a (in the network's units) with guidance w: at w = 1 the model's own output
 * (x̂_0 straight from a molecule network, as the unconditional sampler), else the ε of {@link cfgEps}. Borrows `params`.
 */
export function conditionalOutput(model: ModelConfig, params: DenoiserParams, target: readonly number[], scale = 1): ModelFn | EpsFn {
  if (scale !== 1) return cfgEps(model, params, target, scale);
  checkTarget(model, target);
  return modelOutput(model, params, (n) => conditionRows(target, n, 1));
}

/** Draws n samples at target a with guidance w, in batches. Borrows `params`; consumes `key`. */
export function sampleAtTarget(
  model: ModelConfig,
  params: DenoiserParams,
  sampler: SamplerConfig,
  n: number,
  target: readonly number[],
  key: Key,
  opts: { scale?: number; batch?: number; onStep?: (done: number, total: number) => void } = {},
): Promise<HostMatrix> {
  let eps: EpsFn;
  try {
    eps = cfgEps(model, params, target, opts.scale ?? 1);
  } catch (err) {
    key.dispose();
    throw err;
  }
  return generateWithEps(eps, model, sampler, n, key, { batch: opts.batch ?? 2048, onStep: opts.onStep });
}
