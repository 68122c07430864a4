/**
 * The low-rank score network of 2307.07055 (methods.md, "Optional structured score network"), for data
 * on (or near) a d-dimensional linear subspace of R^D:
 *
 *   s_θ(x, y, t) = (V ψ(Vᵀx, y, t) − x) / h(t),   V ∈ R^{D×d} with orthonormal columns,
 *
 * with h(t) = 1 − ᾱ_t the forward noise variance (the discrete VP analogue of h(t) = 1 − e^{−t}).
 * In rewardiff's ε / x̂_0 vocabulary this network is an **x̂_0-predictor whose output lies in span V**:
 *
 *   x̂_0(x_t) = V ψ̃(Vᵀx_t, y, t)  ⇒  ε̂ = (x_t − √ᾱ_t V ψ̃)/√(1−ᾱ_t),  s = −ε̂/√(1−ᾱ_t) = (V ψ − x_t)/h(t)
 *
 * with ψ = √ᾱ_t ψ̃: exactly the paper's form, whose off-subspace part −(I − VVᵀ)x/h(t) is the exact
 * off-subspace score when span V = span A (fixtures.md §2). ψ̃ is the residual MLP of denoisers/mlp.ts run on
 * the d-dimensional coordinates Vᵀx_t (with the usual time and condition embeddings). A model built on
 * this network therefore uses `prediction: "x0"`.
 *
 * V is a parameter trained with the rest; after every optimizer step it is re-orthonormalised (thin QR
 * by Gram–Schmidt on the host in float64, {@link orthonormalizeBasis}), as in the paper. The estimate of
 * the subspace is span V̂; its error is ‖V̂V̂ᵀ − AAᵀ‖_F (tasks/linear-subspace.ts `subspaceAngle`).
 */
import { np, random, type JArray } from "../backend/jax.js";
import type { Key } from "../backend/keys.js";
import { toHost } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { orthonormalColumns } from "../data/orthonormal.js";

/**
 * A random D×d basis with orthonormal columns: the Q of the thin QR of a Gaussian matrix, by classical
 * Gram–Schmidt applied twice, on the device (no host read, so it also runs where synchronous reads do not,
 * e.g. webgpu). Consumes `key`.
 */
export function initSubspaceBasis(key: Key, dataDim: number, rank: number): JArray {
  const g = random.normal(key, [dataDim, rank]);
  const columns = rank === 1 ? [g] : (np.split(g, rank, 1) as JArray[]);
  const q: JArray[] = [];
  for (let v of columns) {
    for (let pass = 0; pass < 2; pass++) {
      for (const u of q) v = np.subtract(v.ref, np.multiply(u.ref, np.sum(np.multiply(u.ref, v), 0, { keepdims: true })));
    }
    q.push(np.divide(v.ref, np.sqrt(np.sum(np.square(v), 0, { keepdims: true }))));
  }
  return q.length === 1 ? q[0]! : np.concatenate(q, 1);
}

/** Coordinates Vᵀx: x [n, D] → [n, d]. Consumes both. */
export function toSubspace(v: JArray, x: JArray): JArray {
  return np.matmul(x, v);
}

/** V h: coordinates h [n, d] → [n, D]. Consumes both. */
export function fromSubspace(v: JArray, h: JArray): JArray {
  return np.matmul(h, np.transpose(v));
}

/** V̂ as a host matrix (D×d). Borrows the parameters. */
export async function subspaceBasis(p: { v?: JArray }): Promise<HostMatrix> {
  if (!p.v) throw new Error("this network has no subspace basis V (it is not a low-rank network)");
  const [D, d] = p.v.shape as [number, number];
  return hostMatrix(D, d, await toHost(p.v.ref));
}

/**
 * Replaces V by the Q of its thin QR decomposition (Gram–Schmidt twice, float64, on the host): the
 * column space is kept and the columns become orthonormal again after an optimizer step. Consumes `p`'s
 * V leaf and returns the parameters with the new one (other leaves untouched). A no-op for networks
 * without V.
 */
export async function orthonormalizeBasis<P extends { v?: JArray }>(p: P): Promise<P> {
  if (!p.v) return p;
  const [D, d] = p.v.shape as [number, number];
  const q = orthonormalColumns(await toHost(p.v), D, d);
  return { ...p, v: np.array(Float32Array.from(q), { shape: [D, d] }) };
}
