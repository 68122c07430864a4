/** A dense (affine) layer y = x W + b, with LeCun-normal-style initialisation. */
import { np, random, type JArray } from "../backend/jax.js";
import type { Key } from "../backend/keys.js";

/** Parameters of one dense layer: W [in, out], b [out]. */
export type DenseParams = { w: JArray; b: JArray };

/**
 * Initialises W ~ N(0, scale² / in) (scale 1 keeps activations' variance; 0 gives a zero layer, used
 * for inputs that must start switched off, such as CTRL's new condition), b = 0. Consumes `key`.
 */
export function initDense(key: Key, inDim: number, outDim: number, scale = 1): DenseParams {
  const w = scale === 0 ? (key.dispose(), np.zeros([inDim, outDim])) : random.normal(key, [inDim, outDim]).mul(scale / Math.sqrt(inDim));
  return { w, b: np.zeros([outDim]) };
}

/** y = x W + b. Consumes `p` and `x` (pass `tree.ref(p)` to keep the layer). */
export function dense(p: DenseParams, x: JArray): JArray {
  return np.matmul(x, p.w).add(p.b);
}
