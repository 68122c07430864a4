/**
 * Gaussian data on symmetric n×n matrices with its exact denoiser (docs/fixtures.md §5): a structured
 * event shape [n, n] whose noise lives on a subspace.
 *
 * Law. A sample X ∈ Sym(n) has k = n(n+1)/2 free entries w = (X_ij)_{i≤j} (upper triangle, row-major;
 * for n = 3: X_11, X_12, X_13, X_22, X_23, X_33), w ~ N(m, S). The device sample is the full matrix
 * [n, n] (host rows of n² values).
 *
 * Coordinates. U ∈ R^{n²×k} has the orthonormal columns e_ii and (e_ij + e_ji)/√2 (i < j), so
 * u = Uᵀ vec(X) = Δ w with Δ = diag(1 on the diagonal entries, √2 off it), u ~ N(μ, Σ), μ = Δm, Σ = ΔSΔ.
 *
 * Noise. The hook is the orthogonal projection P(z) = (z + zᵀ)/2 = UUᵀ z (src/data/symmetric.ts). For
 * z ~ N(0, I_{n²}): ε_ii = z_ii ~ N(0, 1), ε_ij = ε_ji = (z_ij + z_ji)/2 ~ N(0, 1/2), i.e.
 * Cov(vec ε) = UUᵀ, and ξ = Uᵀ vec ε = Uᵀ z ~ N(0, I_k): a standard normal ON the subspace (the shared
 * pair ε_ij = ε_ji is one coordinate ξ_ij = √2 ε_ij of variance 1). No rescaling is needed; scaling the
 * off-diagonal to unit variance would give ξ_ij variance 2 and no longer match the law below.
 *
 * Exact ε. In coordinates u_t = √ᾱ u_0 + √(1−ᾱ) ξ, so fixtures.md §1 applies with (μ, Σ) in R^k:
 *   C = ᾱΣ + (1−ᾱ) I_k,   ε*(x_t, t) = E[ε | x_t] = U √(1−ᾱ) C^{−1} (Uᵀ vec(x_t) − √ᾱ μ),
 * linear in x_t, symmetric, and blind to an antisymmetric part of x_t. Its denoising loss (mean over the
 * n² entries) is the Bayes risk E_t[tr(I_k − (1−ᾱ_t) C_t^{−1})] / n².
 */
import { np, type JArray, type Key } from "../backend/index.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { symmetricPart } from "../data/symmetric.js";
import type { EpsFn, NoiseHook, StepTime } from "../diffusion/types.js";
import { assertGaussian, exactGaussianEps, sampleGaussian } from "./gaussian.js";
import type { DataTask } from "./task.js";

/** The free entries (i, j), i ≤ j, of an n×n symmetric matrix, upper triangle row by row. */
export function symmetricFreeEntries(n: number): [number, number][] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`symmetric matrices need a whole size n ≥ 1, got ${n}`);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) out.push([i, j]);
  return out;
}

/** U: the n²×k orthonormal basis of Sym(n) (row-major, float64): columns e_ii and (e_ij + e_ji)/√2. */
export function symmetricBasis(n: number): Float64Array {
  const free = symmetricFreeEntries(n);
  const k = free.length;
  const u = new Float64Array(n * n * k);
  free.forEach(([i, j], c) => {
    const v = i === j ? 1 : Math.SQRT1_2;
    u[(i * n + j) * k + c] = v;
    u[(j * n + i) * k + c] = v;
  });
  return u;
}

/** N(m, S) over the free entries of symmetric n×n matrices, with its noise hook and exact ε. */
export interface SymmetricGaussianTask extends DataTask {
  readonly name: "symmetric-gaussian";
  /** The matrix size n; a sample is [n, n], dim = n². */
  readonly n: number;
  readonly eventShape: [number, number];
  /** The law in the orthonormal coordinates u = Uᵀ vec(X): μ = Δm, Σ = ΔSΔ. */
  readonly coordinates: { mean: number[]; cov: number[][] };
  /** The projection P(z) = (z + zᵀ)/2 the forward noise and every sampler draw pass through. */
  readonly noise: NoiseHook;
  /** ε*(x_t, t) for x_t [N, n, n] (consumed) → [N, n, n]. */
  exactEps(): EpsFn;
}

/**
 * The task for free-entry mean m ∈ R^k and covariance S ∈ R^{k×k} (k = n(n+1)/2, entries ordered as in
 * {@link symmetricFreeEntries}); S may be singular (positive semi-definite).
 */
export function symmetricGaussianTask(mean: readonly number[], cov: readonly (readonly number[])[]): SymmetricGaussianTask {
  const k = assertGaussian(mean, cov, "symmetricGaussianTask");
  const n = Math.round((Math.sqrt(8 * k + 1) - 1) / 2);
  if ((n * (n + 1)) / 2 !== k) throw new Error(`symmetricGaussianTask: ${k} free entries is not n(n+1)/2 for any n`);
  const free = symmetricFreeEntries(n);
  const delta = free.map(([i, j]) => (i === j ? 1 : Math.SQRT2));
  const m = [...mean];
  const s = cov.map((r) => [...r]);
  const coordinates = {
    mean: m.map((v, a) => delta[a]! * v),
    cov: s.map((r, a) => r.map((v, b) => delta[a]! * v * delta[b]!)),
  };
  const basis = Float32Array.from(symmetricBasis(n));
  return {
    name: "symmetric-gaussian",
    n,
    dim: n * n,
    eventShape: [n, n],
    coordinates,
    noise: symmetricPart,
    async sample(key: Key, rows: number): Promise<HostMatrix> {
      const w = await sampleGaussian(key, m, s, rows);
      const out = new Float32Array(rows * n * n);
      for (let r = 0; r < rows; r++) {
        free.forEach(([i, j], a) => {
          const v = w.data[r * k + a]!;
          out[r * n * n + i * n + j] = v;
          out[r * n * n + j * n + i] = v;
        });
      }
      return hostMatrix(rows, n * n, out);
    },
    exactEps(): EpsFn {
      const inCoordinates = exactGaussianEps(coordinates.mean, coordinates.cov);
      return (x: JArray, t: StepTime): JArray => {
        if (x.ndim !== 3 || x.shape[1] !== n || x.shape[2] !== n) {
          const shape = x.shape.join(", ");
          x.dispose();
          throw new Error(`symmetric-gaussian exact ε: expected x_t of shape [N, ${n}, ${n}], got [${shape}]`);
        }
        const N = x.shape[0]!;
        const u = np.matmul(x.reshape([N, n * n]), np.array(basis, { shape: [n * n, k] }));
        const epsU = inCoordinates(u, t);
        return np.matmul(epsU, np.array(basis, { shape: [n * n, k] }).transpose()).reshape([N, n, n]);
      };
    },
  };
}
