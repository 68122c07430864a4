/**
 * SiLU (swish), silu(x) = x · σ(x), σ(x) = 1 / (1 + e^{−max(x, −80)}).
 * jax-js's `nn.silu` computes σ as 1 / (1 + e^{−x}); its gradient is NaN once e^{−x} overflows float32
 * (x ≲ −88), which the first Adam steps on data far from the unit scale reach: training then "diverges"
 * at step 2. Clamping the exponent at −80 changes σ only where it is below e^{−80} ≈ 1.8e−35 (the value
 * and gradient stay exact to float32 precision, test/nn-activations.test.ts) and costs one max per
 * element (a tanh form is ~15% slower per training step).
 */
import { np, type JArray } from "../backend/jax.js";

/** Element-wise SiLU. Consumes `x`. */
export function silu(x: JArray): JArray {
  return x.ref.mul(np.reciprocal(np.exp(np.negative(np.maximum(x, -80))).add(1)));
}
