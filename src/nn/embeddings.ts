/**
 * Embeddings of the denoiser's side inputs: the diffusion time t and a condition y.
 *  - time: sinusoidal features of t (Vaswani et al.; as in DDPM), fixed, no parameters;
 *  - value condition (scalar or vector y, e.g. a target reward a): a learned affine map, with a learned
 *    null embedding ∅ used where the condition is dropped (classifier-free guidance);
 *  - class condition: a learned table with one extra row, the null class.
 */
import { np, random, type JArray } from "../backend/jax.js";
import type { Key } from "../backend/keys.js";

/** The smallest time-embedding width a network gets by default (32 sinusoidal features, as DDPM's). */
export const DEFAULT_TIME_EMBEDDING = 32;

/**
 * The default time-embedding width of a first layer whose other inputs are `other` wide: the smallest
 * even width ≥ `min` making other + width a multiple of 4, so the first layer's matmuls stay on jax-js's
 * SIMD path (a matmul whose width or inner dimension is not a multiple of 4 runs scalar; docs/architecture.md,
 * "Shapes on the SIMD path"). No even width does that for an odd `other`: `min` then.
 */
export function simdTimeEmbedding(other: number, min = DEFAULT_TIME_EMBEDDING): number {
  if (other % 2 !== 0) return min;
  return min + ((4 - ((other + min) % 4)) % 4);
}

/**
 * Sinusoidal features of t [n] → [n, dim]: [sin(t ω_k), cos(t ω_k)], ω_k = 10000^(−k/(dim/2 − 1)).
 * `t` is on the DDPM scale (0..1000). Consumes `t`.
 */
export function sinusoidalEmbedding(t: JArray, dim: number): JArray {
  if (dim % 2 !== 0 || dim < 2) throw new Error(`time embedding size must be even and ≥ 2, got ${dim}`);
  const half = dim / 2;
  const freqs = new Float32Array(half);
  for (let k = 0; k < half; k++) freqs[k] = Math.exp((-Math.log(10000) * k) / Math.max(half - 1, 1));
  const args = t.reshape([-1, 1]).mul(np.array(freqs).reshape([1, half]));
  return np.concatenate([np.sin(args.ref), np.cos(args)], -1);
}

/**
 * The frequency range of Fourier value features, in cycles per unit of y (a standardised condition: per
 * standard deviation): the lowest period (16) spans any target a model is asked for, the highest (1/4) resolves
 * a quarter of a standard deviation.
 */
export const FOURIER_VALUE_FREQUENCIES = { min: 1 / 16, max: 4 } as const;

/** The K frequencies f_k, geometric from FOURIER_VALUE_FREQUENCIES.min to .max (one frequency: the lowest). */
export function fourierFrequencies(k: number): Float32Array {
  const { min, max } = FOURIER_VALUE_FREQUENCIES;
  return Float32Array.from({ length: k }, (_, i) => min * (max / min) ** (k === 1 ? 0 : i / (k - 1)));
}

/** The width of {@link valueFeatures} for a condition of `dim` values: dim, or dim (1 + 2K) with K frequencies. */
export function valueFeatureWidth(dim: number, fourier?: number): number {
  return fourier === undefined ? dim : dim * (1 + 2 * fourier);
}

/**
 * What the value embedding reads of y [n, k]: y itself, or with K frequencies (the spec's `fourier`)
 * [y, sin 2πf_k y, cos 2πf_k y] per value (random-Fourier-style features on a fixed geometric grid, as the
 * time embedding's sinusoids: the embedding can then tell nearby values apart, where an affine map of y moves
 * the network's conditioning along one direction only). Consumes `y`.
 */
export function valueFeatures(y: JArray, fourier?: number): JArray {
  if (fourier === undefined) return y;
  const [n, k] = y.shape as [number, number];
  const f = np.array(fourierFrequencies(fourier).map((v) => 2 * Math.PI * v)).reshape([1, 1, fourier]);
  const args = y.ref.reshape([n, k, 1]).mul(f);
  return np.concatenate([y, np.sin(args.ref).reshape([n, k * fourier]), np.cos(args).reshape([n, k * fourier])], -1);
}

/** A value condition y ∈ R^k → R^dim, with a learned null embedding (y passed through {@link valueFeatures} first). */
export type ValueEmbeddingParams = { w: JArray; b: JArray; null: JArray };

/** `scale = 0` starts the embedding (and null) at zero: the condition then has no effect (CTRL). */
export function initValueEmbedding(key: Key, condDim: number, dim: number, scale = 1): ValueEmbeddingParams {
  const w = scale === 0 ? (key.dispose(), np.zeros([condDim, dim])) : random.normal(key, [condDim, dim]).mul(scale / Math.sqrt(condDim));
  return { w, b: np.zeros([dim]), null: np.zeros([dim]) };
}

/**
 * e = keep · (y W + b) + (1 − keep) · ∅, where keep [n] is 1 to use y and 0 for the null condition.
 * Consumes all arguments.
 */
export function valueEmbedding(p: ValueEmbeddingParams, y: JArray, keep: JArray): JArray {
  const e = np.matmul(y, p.w).add(p.b);
  const k = keep.reshape([-1, 1]);
  return e.mul(k.ref).add(p.null.reshape([1, -1]).mul(np.subtract(1, k)));
}

/** A class condition y ∈ {0..C−1} with a null class C: table [C + 1, dim]. */
export type ClassEmbeddingParams = { table: JArray };

export function initClassEmbedding(key: Key, classes: number, dim: number, scale = 1): ClassEmbeddingParams {
  const table = scale === 0 ? (key.dispose(), np.zeros([classes + 1, dim])) : random.normal(key, [classes + 1, dim]).mul(scale);
  return { table };
}

/**
 * Looks up labels given as one-hot rows [n, C + 1] (the last column is the null class): a matmul,
 * which jax-js differentiates without scatter. Consumes all arguments.
 */
export function classEmbedding(p: ClassEmbeddingParams, oneHot: JArray): JArray {
  return np.matmul(oneHot, p.table);
}
