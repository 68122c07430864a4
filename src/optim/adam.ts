/**
 * Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019) as gradient transformations, written to
 * run inside `jit` (the step count is a traced array, the learning rate a traced scalar):
 *   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  m̂ = m/(1−β1^k);  v̂ = v/(1−β2^k)
 *   u = m̂ / (√v̂ + ε)                        (scaleByAdam)
 *   u ← u + λ θ                               (addDecayedWeights: AdamW's decoupled decay)
 *   θ ← θ − lr · u                            (scaleByLearningRate, then applyUpdates)
 */
import { np, tree, type JArray } from "../backend/jax.js";
import type { Params } from "../nn/params.js";
import { chain, stateless, type GradientTransformation, type OptState } from "./transform.js";
import { constantRate, scaleByLearningRate, type RateFn } from "./lr-schedule.js";

export interface AdamHyper {
  beta1: number;
  beta2: number;
  eps: number;
}

export const defaultAdamHyper: AdamHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** Adam's state: first and second moments (same tree as the parameters) and the step count k. */
export type AdamState<P extends Params> = { m: P; v: P; count: JArray };

/** Zero moments shaped like `p`, count 0. Borrows `p`. */
export function adamInit<P extends Params>(p: P): AdamState<P> {
  const zeros = () => tree.map((a: JArray) => np.zeros(a.shape), p) as P;
  return { m: zeros(), v: zeros(), count: np.array(0) };
}

/** Adam's direction m̂/(√v̂ + ε) with bias correction; state {m, v, count}. */
export function scaleByAdam(h: Partial<AdamHyper> = {}): GradientTransformation {
  const { beta1: b1, beta2: b2, eps } = { ...defaultAdamHyper, ...h };
  // 1 − β^k as −expm1(k log β) with log β taken on the host: jax-js's wasm `log`/`power` near 1 are
  // not even float32-accurate (log(0.999) is off by 1.2e-5), which would bias the first steps.
  const logB1 = Math.log(b1);
  const logB2 = Math.log(b2);
  return {
    stateKeys: ["m", "v", "count"],
    init: (params) => adamInit(params) as unknown as OptState,
    update(grads, state) {
      const s = state as unknown as AdamState<Params>;
      const count = s.count.add(1);
      const m = tree.map((mi: JArray, gi: JArray) => mi.mul(b1).add(gi.mul(1 - b1)), s.m, tree.ref(grads)) as Params;
      const v = tree.map((vi: JArray, gi: JArray) => vi.mul(b2).add(np.square(gi).mul(1 - b2)), s.v, grads) as Params;
      const bc1 = np.negative(np.expm1(count.ref.mul(logB1)));
      const bc2 = np.negative(np.expm1(count.ref.mul(logB2)));
      const updates = tree.map((mi: JArray, vi: JArray) => mi.div(bc1.ref).div(np.sqrt(vi.div(bc2.ref)).add(eps)), tree.ref(m), tree.ref(v)) as Params;
      bc1.dispose();
      bc2.dispose();
      return { updates, state: { m, v, count } };
    },
  };
}

/** u ← u + λ θ (decoupled weight decay, applied before the learning rate as in AdamW). λ ≤ 0: identity. */
export function addDecayedWeights(weightDecay: number): GradientTransformation {
  if (!(weightDecay > 0)) return stateless((u) => u);
  return stateless((u, p) => u.add(p.ref.mul(weightDecay)));
}

/** Adam with learning rate `lr` (a number or a schedule k ↦ lr_k). */
export function adam(lr: number | RateFn, h: Partial<AdamHyper> = {}): GradientTransformation {
  return chain(scaleByAdam(h), scaleByLearningRate(typeof lr === "number" ? constantRate(lr) : lr));
}

/** AdamW: Adam plus decoupled weight decay λ (θ ← θ − lr (m̂/(√v̂+ε) + λθ)). */
export function adamw(lr: number | RateFn, weightDecay: number, h: Partial<AdamHyper> = {}): GradientTransformation {
  return chain(scaleByAdam(h), addDecayedWeights(weightDecay), scaleByLearningRate(typeof lr === "number" ? constantRate(lr) : lr));
}
