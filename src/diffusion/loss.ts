/**
 * The denoising loss (Ho et al. 2020), with optional per-sample weights (reward-weighted regression):
 *   t ~ U{1..T}, ε = P(z), z ~ N(0, I), x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε,
 *   L = Σ_i w_i · mean_e (f_θ(x_t, t)_e − target_e)² / max(Σ_i w_i, 1e-12),
 * where the mean runs over every entry e of a sample [...event], P is the domain's noise hook (the
 * identity without one; e.g. the symmetric part of a matrix, docs/fixtures.md §5), so the network never
 * sees noise outside the noise subspace, and target is ε, x_0 or v per the model's prediction type. A
 * batch whose weights are all zero (common in low-ESS reward-weighted rounds) has loss 0 and no gradient
 * rather than 0/0. Pure array code: runs under jit and grad.
 */
import { np, random, type JArray } from "../backend/jax.js";
import { categoricalCrossEntropy } from "../nn/categorical.js";
import { applyDenoiser, applyDenoiserLogits, denoiserCategories, eventShapeOf, type ConditionInput, type DenoiserParams } from "../nn/denoiser.js";
import type { ModelConfig } from "./model.js";
import { networkTime } from "./model.js";
import { noised, targetFor, type Prediction } from "./parameterization.js";
import type { NoiseHook } from "./types.js";

export interface LossInputs {
  /** Clean data x_0 [B, ...event] (a flat [B, D] batch is reshaped to the model's event shape). */
  x0: JArray;
  /** ᾱ for every training index, float32 [T] (a schedule constant, never a parameter). */
  alphaBars: JArray;
  /** Key for t and ε (consumed). */
  key: JArray;
  /** Per-sample weights w_i [B] (optional). */
  weights?: JArray;
  cond?: ConditionInput;
  /** Projects the noise draw into the model's noise space (absent: ε = z). */
  noise?: NoiseHook;
  /** Where t is drawn (absent: t ~ U{0..T−1} for every row); see {@link TimestepBand}. */
  timesteps?: TimestepBand;
}

/**
 * A share of each batch with t drawn from a band of the chain: the first ⌈share · B⌉ rows draw
 * t ~ U{⌊from·T⌋..⌈to·T⌉−1}, the others t ~ U{0..T−1}. The per-t minimiser (the posterior mean x̂_0(x_t, t))
 * is unchanged; only the share of the gradient each t gets moves (fine-tuning where a condition matters most).
 */
export interface TimestepBand {
  /** The band [from, to) as fractions of T (0 ≤ from < to ≤ 1). */
  from: number;
  to: number;
  /** The share of each batch drawn from the band, in [0, 1]. */
  share: number;
}

/** The index range [lo, hi) of a band on T timesteps (at least one index). */
export function bandIndices(band: TimestepBand, T: number): [number, number] {
  const lo = Math.min(T - 1, Math.floor(band.from * T));
  return [lo, Math.max(lo + 1, Math.min(T, Math.ceil(band.to * T)))];
}

/** One forward-noising draw: training indices t [B] (int32), ε [B, ...event], ᾱ_t [B, 1, …] and x_t. */
export interface ForwardDraw {
  t: JArray;
  eps: JArray;
  ab: JArray;
  xt: JArray;
}

/**
 * t ~ U{0..T−1} (or a {@link TimestepBand} for a share of the rows), ε = noise(z), z ~ N(0, I) of x_0's
 * shape, x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε. Consumes `x0`, `alphaBars` and `key`.
 */
export function forwardDraw(x0: JArray, alphaBars: JArray, key: JArray, noise?: NoiseHook, band?: TimestepBand): ForwardDraw {
  const B = x0.shape[0]!;
  const T = alphaBars.shape[0]!;
  const inBand = band ? Math.min(B, Math.ceil(band.share * B)) : 0;
  // Without a band the keys are those of earlier versions (the same draws).
  const keys = random.split(key, inBand > 0 ? 3 : 2);
  let t = random.randint(keys.ref.slice(0), { minval: 0, maxval: T, shape: [B] });
  if (band && inBand > 0) {
    const [lo, hi] = bandIndices(band, T);
    const tb = random.randint(keys.ref.slice(2), { minval: lo, maxval: hi, shape: [B] });
    const mask = np.array(Float32Array.from({ length: B }, (_, i) => (i < inBand ? 1 : 0))).astype(np.bool);
    t = np.where(mask, tb, t);
  }
  const z = random.normal(keys.slice(1), x0.shape);
  const eps = noise ? noise(z) : z;
  const ab = np.take(alphaBars, t.ref, 0).reshape([B, ...x0.shape.slice(1).map(() => 1)]);
  const xt = noised(x0, eps.ref, ab.ref);
  return { t, eps, ab, xt };
}

/**
 * The loss of any predictor `predict(x_t, t)` (t: training indices [B], int32) of the given prediction
 * type. Consumes every array in `inp` and what `predict` consumes (it must consume x_t and t).
 */
export function denoisingLossOf(
  predict: (xt: JArray, t: JArray) => JArray,
  prediction: Prediction,
  event: readonly number[],
  inp: Omit<LossInputs, "cond">,
  perSampleLoss?: (out: JArray, x0: JArray) => JArray,
): JArray {
  const B = inp.x0.shape[0]!;
  const x0 = inp.x0.ndim === event.length + 1 ? inp.x0 : inp.x0.reshape([B, ...event]);
  const { t, eps, ab, xt } = forwardDraw(x0.ref, inp.alphaBars, inp.key, inp.noise, inp.timesteps);
  const out = predict(xt, t);
  let perSample: JArray;
  if (perSampleLoss) {
    eps.dispose();
    ab.dispose();
    perSample = perSampleLoss(out.reshape([B, -1]), x0.reshape([B, -1]));
  } else {
    const target = targetFor(prediction, x0, eps, ab);
    const sq = np.square(out.sub(target));
    perSample = np.mean(event.length === 1 ? sq : sq.reshape([B, -1]), -1);
  }
  if (!inp.weights) return np.mean(perSample);
  return np.sum(perSample.mul(inp.weights.ref)).div(np.maximum(np.sum(inp.weights), 1e-12));
}

/** The scalar loss of the model's network. Consumes `params` and every array in `inp`. */
export function denoisingLoss(model: ModelConfig, params: DenoiserParams, inp: LossInputs): JArray {
  const T = inp.alphaBars.shape[0]!;
  const event = eventShapeOf(model.network);
  const loss = model.loss ?? { kind: "mse" };
  if (loss.kind === "cross-entropy") {
    const blocks = denoiserCategories(model.network);
    if (!blocks || model.prediction !== "x0") {
      throw new Error('loss: cross-entropy needs x̂_0 prediction ("x0") and a network with a categorical output');
    }
    const logits = (xt: JArray, t: JArray) => applyDenoiserLogits(model.network, params, xt, networkTime(t, T), inp.cond);
    return denoisingLossOf(logits, "x0", event, inp, (out, x0) => categoricalCrossEntropy(out, x0, blocks, loss.blockWeights));
  }
  const predict = (xt: JArray, t: JArray) => applyDenoiser(model.network, params, xt, networkTime(t, T), inp.cond);
  return denoisingLossOf(predict, model.prediction, event, inp);
}
