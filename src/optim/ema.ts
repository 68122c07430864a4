/**
 * Exponential moving average of the weights: θ̄ ← δ θ̄ + (1 − δ) θ. Only trainable parameters enter it:
 * schedule constants (β_t, ᾱ_t) live outside the parameter tree and never do. It is the part of the
 * train state that follows the parameters after each update (./train-step.ts), not a gradient transform.
 */
import { np, tree, type JArray } from "../backend/jax.js";
import type { Params } from "../nn/params.js";

/** Consumes `ema`, `params` and `decay` (a scalar array, so a warm-up of δ never recompiles). */
export function emaUpdate<P extends Params>(ema: P, params: P, decay: JArray): P {
  const out = tree.map((e: JArray, p: JArray) => e.mul(decay.ref).add(p.mul(np.subtract(1, decay.ref))), ema, params) as P;
  decay.dispose();
  return out;
}

/** δ_k = min(δ, (1 + k)/(10 + k)): the usual warm-up so early averages are not dominated by init. */
export function emaDecay(decay: number, step: number): number {
  return Math.min(decay, (1 + step) / (10 + step));
}

/** A fresh copy of `p` (a distinct buffer per leaf) to start the average from. Borrows `p`. */
export function emaInit<P extends Params>(p: P): P {
  return tree.map((a: JArray) => a.mul(1), tree.ref(p)) as P;
}
