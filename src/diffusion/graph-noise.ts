/**
 * The noise hook of dense graphs (row layout: src/data/graph-layout.ts): node features get plain
 * standard-normal noise; the edge block gets noise on the subspace of symmetric matrices with a zero
 * diagonal (undirected graphs without self-edges), per edge feature:
 *   P(z)_node = z_node,   P(z)_ij = (z_ij + z_ji)/2 for i ≠ j,   P(z)_ii = 0.
 * P is the orthogonal projection onto that subspace (symmetrisation and zeroing the diagonal are commuting
 * orthogonal projections, src/data/symmetric.ts), so P(P(z)) = P(z) and, for z ~ N(0, I), P(z) is a standard
 * normal on the subspace: in its orthonormal coordinates √2·ε_ij (i < j) each has variance 1, as for the
 * symmetric-matrix task (src/tasks/symmetric-gaussian.ts); no rescaling. E‖P(z)‖² = n·F + E·n(n−1)/2, the
 * subspace's dimension. The clean data has "no bond" on the diagonal, which x_t then keeps as √ᾱ_t·x_0.
 */
import { np, type JArray } from "../backend/jax.js";
import { graphNodeFeatures, graphRowSize, type GraphLayout } from "../data/graph-layout.js";
import type { NoiseHook } from "./types.js";

/** The graph noise hook for rows [N, D] (or [N, ...event] holding D values per sample) of layout `l`. */
export function graphNoise(l: GraphLayout): NoiseHook {
  const n = l.maxNodes;
  const E = l.edgeFeatures;
  const D = graphRowSize(l);
  const nodeValues = n * graphNodeFeatures(l);
  const offDiagonal = new Float32Array(n * n * E);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) offDiagonal.fill(0.5, (i * n + j) * E, (i * n + j + 1) * E);
  return (z: JArray): JArray => {
    const shape = [...z.shape];
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    if (shape.length < 2 || per !== D) {
      z.dispose();
      throw new Error(`graph noise: expected [N, ${D}] (layout of ${n} nodes), got [${shape.join(", ")}]`);
    }
    const N = shape[0]!;
    const [nodes, edges] = np.split(z.reshape([N, D]), [nodeValues], 1);
    const e = edges.reshape([N, n, n, E]);
    // (z + zᵀ)/2 off the diagonal, 0 on it: the 0.5 and the diagonal mask in one constant.
    const sym = e.ref.add(np.swapaxes(e, 1, 2)).mul(np.array(offDiagonal, { shape: [1, n, n, E] }));
    return np.concatenate([nodes, sym.reshape([N, n * n * E])], 1).reshape(shape);
  };
}
