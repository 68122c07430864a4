/**
 * The symmetric part of square matrices, P(z) = (z + zᵀ)/2 over the last two axes: the orthogonal
 * projection (in the Frobenius inner product) of R^{n×n} onto the symmetric matrices, so P(P(z)) = P(z).
 * Used as the noise hook of symmetric data (docs/fixtures.md §5): for z ~ N(0, I) the projected draw is a
 * standard normal on the subspace, i.e. in the orthonormal coordinates X_ii and √2 X_ij (i < j).
 */
import { np, type JArray } from "../backend/jax.js";

/** (z + zᵀ)/2 over the last two axes of z [..., n, n]. Consumes `z`. */
export function symmetricPart(z: JArray): JArray {
  const nd = z.ndim;
  if (nd < 2 || z.shape[nd - 1] !== z.shape[nd - 2]) {
    const shape = z.shape.join(", ");
    z.dispose();
    throw new Error(`symmetricPart: expected square matrices [..., n, n], got [${shape}]`);
  }
  return z.ref.add(np.swapaxes(z, nd - 1, nd - 2)).mul(0.5);
}
