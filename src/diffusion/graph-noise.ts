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
 * So the data does not lie in the noise space: a network's output (x̂_0 above all) is projected with
 *   P_out(y)_node = y_node,   P_out(y)_ij = (y_ij + y_ji)/2   (the diagonal kept),
 * the hook's `output` (./types.ts). Projecting x̂_0 with P instead zeroed the diagonal of every sampled chain,
 * which the network had only ever seen at √ᾱ_t·"no bond": on the shipped QM9 model that doubled the valid
 * samples in fragments (docs/molecules.md "Sampler defaults").
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
  /** (y + yᵀ)/2 on the edge block, times `mask` [n·n·E] when given (else times 0.5). Consumes `y`. */
  const project = (y: JArray, mask: Float32Array | undefined, what: string): JArray => {
    const shape = [...y.shape];
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    if (shape.length < 2 || per !== D) {
      y.dispose();
      throw new Error(`graph ${what}: expected [N, ${D}] (layout of ${n} nodes), got [${shape.join(", ")}]`);
    }
    const N = shape[0]!;
    const [nodes, edges] = np.split(y.reshape([N, D]), [nodeValues], 1);
    const e = edges.reshape([N, n, n, E]);
    const sum = e.ref.add(np.swapaxes(e, 1, 2));
    const sym = mask ? sum.mul(np.array(mask, { shape: [1, n, n, E] })) : sum.mul(0.5);
    return np.concatenate([nodes, sym.reshape([N, n * n * E])], 1).reshape(shape);
  };
  // (z + zᵀ)/2 off the diagonal, 0 on it: the 0.5 and the diagonal mask in one constant.
  const hook = (z: JArray): JArray => project(z, offDiagonal, "noise");
  return Object.assign(hook, { output: (y: JArray): JArray => project(y, undefined, "output") });
}
