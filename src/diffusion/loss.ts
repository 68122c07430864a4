/**
 * The denoising loss (Ho et al. 2020), with optional per-sample weights (reward-weighted regression):
 *   t ~ U{1..T}, ε ~ N(0, I), x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε,
 *   L = Σ_i w_i · mean_d (f_θ(x_t, t)_d − target_d)² / max(Σ_i w_i, 1e-12),
 * (a batch whose weights are all zero, common in low-ESS reward-weighted rounds, has loss 0 and no
 * gradient rather than 0/0),
 * where target is ε, x_0 or v per the model's prediction type. Pure array code: runs under jit and grad.
 */
import { np, random, type JArray } from "../backend/jax.js";
import { applyDenoiser, type ConditionInput, type DenoiserParams } from "../nn/denoiser.js";
import type { ModelConfig } from "./model.js";
import { networkTime } from "./model.js";
import { noised, targetFor } from "./parameterization.js";

export interface LossInputs {
  /** Clean data x_0 [B, D]. */
  x0: JArray;
  /** ᾱ for every training index, float32 [T] (a schedule constant, never a parameter). */
  alphaBars: JArray;
  /** Key for t and ε (consumed). */
  key: JArray;
  /** Per-sample weights w_i [B] (optional). */
  weights?: JArray;
  cond?: ConditionInput;
}

/** The scalar loss. Consumes `params` and every array in `inp`. */
export function denoisingLoss(model: ModelConfig, params: DenoiserParams, inp: LossInputs): JArray {
  const [B, D] = inp.x0.shape as [number, number];
  const T = inp.alphaBars.shape[0]!;
  const keys = random.split(inp.key, 2);
  const t = random.randint(keys.ref.slice(0), { minval: 0, maxval: T, shape: [B] });
  const eps = random.normal(keys.slice(1), [B, D]);
  const ab = np.take(inp.alphaBars, t.ref, 0).reshape([B, 1]);
  const xt = noised(inp.x0.ref, eps.ref, ab.ref);
  const out = applyDenoiser(model.network, params, xt, networkTime(t, T), inp.cond);
  const target = targetFor(model.prediction, inp.x0, eps, ab);
  const perSample = np.mean(np.square(out.sub(target)), -1);
  if (!inp.weights) return np.mean(perSample);
  return np.sum(perSample.mul(inp.weights.ref)).div(np.maximum(np.sum(inp.weights), 1e-12));
}
