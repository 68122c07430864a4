/**
 * Gaussian data x_0 ~ N(m, S) and its exact denoiser (fixtures.md §1). Under the forward process
 * x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε the marginal is p_t = N(√ᾱ m, ᾱS + (1−ᾱ)I), so
 *   ε*(x_t, t) = √(1−ᾱ) (ᾱS + (1−ᾱ)I)^{−1} (x_t − √ᾱ m).
 * The precision is formed on the host in float64 (once per ᾱ) and applied with jax ops on a batch.
 */
import { np, type JArray, type Key } from "../backend/index.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import type { EpsFn, StepTime } from "../diffusion/types.js";
import { assertSymmetric, inverseSpd, psdFactor } from "./host-linalg.js";
import { hostNormal } from "./host-random.js";
import { assertSampleCount } from "./task.js";

/** Checks a mean m ∈ R^D and a symmetric covariance S ∈ R^{D×D}; returns D. */
export function assertGaussian(mean: readonly number[], cov: readonly (readonly number[])[], where: string): number {
  assertSymmetric(cov, `${where}: covariance`);
  const d = cov.length;
  if (mean.length !== d) throw new Error(`${where}: mean has length ${mean.length} but the covariance is ${d}×${d}`);
  mean.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new Error(`${where}: mean component ${i + 1} is not finite (${v})`);
  });
  return d;
}

/** Checks that ᾱ_t is in [0, 1]. */
export function assertAlphaBar(alphaBar: number, where: string): void {
  if (!(alphaBar >= 0 && alphaBar <= 1)) throw new Error(`${where}: ᾱ_t must be in [0, 1], got ${alphaBar}`);
}

/** The diffused marginal p_t = N(√ᾱ m, ᾱS + (1−ᾱ)I) of N(m, S). */
export function diffusedGaussian(
  mean: readonly number[],
  cov: readonly (readonly number[])[],
  alphaBar: number,
): { mean: number[]; cov: number[][] } {
  assertGaussian(mean, cov, "diffusedGaussian");
  assertAlphaBar(alphaBar, "diffusedGaussian");
  const sa = Math.sqrt(alphaBar);
  return {
    mean: mean.map((v) => sa * v),
    cov: cov.map((row, i) => row.map((v, j) => alphaBar * v + (i === j ? 1 - alphaBar : 0))),
  };
}

/**
 * The exact ε-prediction of N(m, S) data: x_t [n, D] (consumed) → ε*(x_t, t) [n, D].
 * Throws if ᾱS + (1−ᾱ)I is singular (only possible at ᾱ = 1 with a singular S).
 */
export function exactGaussianEps(mean: readonly number[], cov: readonly (readonly number[])[]): EpsFn {
  const d = assertGaussian(mean, cov, "exactGaussianEps");
  const m = [...mean];
  const s = cov.map((r) => [...r]);
  /** Per ᾱ: M = √(1−ᾱ)(ᾱS + (1−ᾱ)I)^{−1} (symmetric, D×D) and the shift √ᾱ m, in float32. */
  const cache = new Map<number, { precision: Float32Array; shift: Float32Array }>();
  const coefficients = (alphaBar: number) => {
    let c = cache.get(alphaBar);
    if (!c) {
      assertAlphaBar(alphaBar, "exactGaussianEps");
      const p = diffusedGaussian(m, s, alphaBar);
      const inv = inverseSpd(p.cov, `ᾱS + (1−ᾱ)I at ᾱ = ${alphaBar}`);
      const k = Math.sqrt(1 - alphaBar);
      c = { precision: Float32Array.from(inv.flat(), (v) => k * v), shift: Float32Array.from(p.mean) };
      cache.set(alphaBar, c);
    }
    return c;
  };
  return (x: JArray, t: StepTime): JArray => {
    if (x.ndim !== 2 || x.shape[1] !== d) {
      const shape = x.shape.join(", ");
      x.dispose();
      throw new Error(`exactGaussianEps: expected x_t of shape [n, ${d}], got [${shape}]`);
    }
    const { precision, shift } = coefficients(t.alphaBar);
    const centred = x.sub(np.array(shift, { shape: [1, d] }));
    return np.matmul(centred, np.array(precision, { shape: [d, d] }));
  };
}

/**
 * n draws x = m + F z, z ~ N(0, I), where F Fᵀ = S (an eigen factor, so a singular, positive
 * semi-definite S is allowed). Consumes `key`.
 */
export async function sampleGaussian(
  key: Key,
  mean: readonly number[],
  cov: readonly (readonly number[])[],
  n: number,
): Promise<HostMatrix> {
  const d = assertGaussian(mean, cov, "sampleGaussian");
  assertSampleCount(n, "sampleGaussian");
  const f = psdFactor(cov, "sampleGaussian: covariance");
  const z = await hostNormal(key, n, d);
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      let v = mean[i]!;
      const fi = f[i]!;
      for (let k = 0; k < d; k++) v += fi[k]! * z[r * d + k]!;
      out[r * d + i] = v;
    }
  }
  return hostMatrix(n, d, out);
}
