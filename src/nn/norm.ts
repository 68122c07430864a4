/** Layer normalisation over the last axis (Ba et al. 2016) with learned gain g and bias b. */
import { np, type JArray } from "../backend/jax.js";

/** Parameters: g [dim] (starts at 1), b [dim] (starts at 0). */
export type LayerNormParams = { g: JArray; b: JArray };

export function initLayerNorm(dim: number): LayerNormParams {
  return { g: np.ones([dim]), b: np.zeros([dim]) };
}

/** (x − mean) / √(var + eps) · g + b over the last axis. Consumes `p` and `x`. */
export function layerNorm(p: LayerNormParams, x: JArray, eps = 1e-5): JArray {
  const mu = np.mean(x.ref, -1, { keepdims: true });
  const xc = x.sub(mu);
  const v = np.mean(np.square(xc.ref), -1, { keepdims: true });
  return xc.div(np.sqrt(v.add(eps))).mul(p.g).add(p.b);
}
