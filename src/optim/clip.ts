/** Gradient clipping by global norm: g ← g · min(1, c / ‖g‖₂), ‖g‖ over every leaf of the tree. */
import { np, tree, type JArray } from "../backend/jax.js";
import type { Params } from "../nn/params.js";
import type { GradientTransformation } from "./transform.js";

/** ‖g‖₂ over all leaves. Borrows `g`. */
export function globalNorm(g: Params): JArray {
  const leaves = tree.leaves(g) as JArray[];
  let total: JArray = np.array(0);
  for (const leaf of leaves) total = total.add(np.sum(np.square(leaf.ref)));
  return np.sqrt(total);
}

/** Returns the clipped gradients and the pre-clip norm. Consumes `g`. `maxNorm ≤ 0` disables clipping. */
export function clipGradients<P extends Params>(g: P, maxNorm: number): { grads: P; norm: JArray } {
  const norm = globalNorm(g);
  if (!(maxNorm > 0)) return { grads: g, norm };
  const factor = np.minimum(1, np.divide(maxNorm, norm.ref.add(1e-12)));
  const grads = tree.map((gi: JArray) => gi.mul(factor.ref), g) as P;
  factor.dispose();
  return { grads, norm };
}

/** The clipping as a stateless transform (c ≤ 0: identity). */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation {
  return {
    stateKeys: [],
    init: () => ({}),
    update(updates, state) {
      if (!(maxNorm > 0)) return { updates, state };
      const { grads, norm } = clipGradients(updates, maxNorm);
      norm.dispose();
      return { updates: grads, state };
    },
  };
}
