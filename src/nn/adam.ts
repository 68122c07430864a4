/**
 * Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019) as pure functions on parameter trees,
 * written to run inside `jit`: the learning rate and the step count are traced scalars, so a learning-
 * rate schedule never triggers recompilation.
 *   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  m̂ = m/(1−β1^k);  v̂ = v/(1−β2^k)
 *   θ ← θ − lr (m̂ / (√v̂ + ε) + λ θ)      (λ = weight decay, decoupled; 0 gives Adam)
 */
import { np, tree, type JArray } from "../backend/jax.js";
import type { Params } from "./params.js";

export interface AdamConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** λ: decoupled weight decay (AdamW); 0 = plain Adam. */
  weightDecay: number;
}

export const defaultAdam: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** Optimizer state: first and second moments (same tree as the parameters) and the step count k. */
export type AdamState<P extends Params> = { m: P; v: P; count: JArray };

/** Zero moments shaped like `p`. Borrows `p`. */
export function adamInit<P extends Params>(p: P): AdamState<P> {
  const zeros = () => tree.map((a: JArray) => np.zeros(a.shape), p) as P;
  return { m: zeros(), v: zeros(), count: np.array(0) };
}

/**
 * One update. Consumes `params`, `grads`, `state` and `lr` (a scalar array); returns the new
 * parameters and state.
 */
export function adamUpdate<P extends Params>(
  cfg: AdamConfig,
  params: P,
  grads: P,
  state: AdamState<P>,
  lr: JArray,
): { params: P; state: AdamState<P> } {
  const { beta1: b1, beta2: b2, eps, weightDecay } = cfg;
  const count = state.count.add(1);
  const m = tree.map((mi: JArray, gi: JArray) => mi.mul(b1).add(gi.mul(1 - b1)), state.m, tree.ref(grads)) as P;
  const v = tree.map((vi: JArray, gi: JArray) => vi.mul(b2).add(np.square(gi).mul(1 - b2)), state.v, grads) as P;
  // 1 − β^k as −expm1(k log β) with log β taken on the host: jax-js's wasm `log`/`power` near 1 are
  // not even float32-accurate (log(0.999) is off by 1.2e-5), which would bias the first steps.
  const bc1 = np.negative(np.expm1(count.ref.mul(Math.log(b1))));
  const bc2 = np.negative(np.expm1(count.ref.mul(Math.log(b2))));
  const newParams = tree.map(
    (pi: JArray, mi: JArray, vi: JArray) => {
      const step = mi.div(bc1.ref).div(np.sqrt(vi.div(bc2.ref)).add(eps));
      const update = weightDecay > 0 ? step.add(pi.ref.mul(weightDecay)) : step;
      return pi.sub(update.mul(lr.ref));
    },
    params,
    tree.ref(m),
    tree.ref(v),
  ) as P;
  bc1.dispose();
  bc2.dispose();
  lr.dispose();
  return { params: newParams, state: { m, v, count } };
}
