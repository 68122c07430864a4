/**
 * Sliced Wasserstein distance SW₂(P, Q) = (E_θ W₂²(θᵀP, θᵀQ))^{1/2} over uniformly random unit
 * directions θ ∈ S^{D−1}, estimated with a fixed set of directions from a seed. Each 1-D W₂² is exact
 * between the empirical quantile functions, so the two samples may have different sizes.
 * For a pure translation Q = P + Δ: W₂²(θᵀP, θᵀQ) = (θᵀΔ)² and E_θ(θᵀΔ)² = ‖Δ‖²/D.
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { HostMatrix } from "../data/matrix.js";

/** Options of {@link slicedWasserstein}. */
export interface SlicedWassersteinOptions {
  /** Number of random directions (default 128). */
  readonly projections?: number;
  /** Seed of the directions (default 0). */
  readonly seed?: number;
}

/** `count` uniformly random unit vectors in R^dim (normalised Gaussians, Box–Muller), row-major count×dim. */
export function randomDirections(dim: number, count: number, seed: number): Float64Array {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`randomDirections: dim must be a whole number ≥ 1, got ${dim}`);
  if (!Number.isInteger(count) || count < 1) throw new Error(`randomDirections: count must be a whole number ≥ 1, got ${count}`);
  const rng = xoroshiro128plus(seed | 0);
  const out = new Float64Array(count * dim);
  for (let c = 0; c < count; c++) {
    let norm = 0;
    while (!(norm > 1e-12)) {
      norm = 0;
      for (let i = 0; i < dim; i++) {
        const u1 = 1 - uniformFloat64(rng);
        const u2 = uniformFloat64(rng);
        const g = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        out[c * dim + i] = g;
        norm += g * g;
      }
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < dim; i++) out[c * dim + i]! /= norm;
  }
  return out;
}

/**
 * W₂² between two 1-D empirical laws: ∫₀¹ (F⁻¹(u) − G⁻¹(u))² du with the step quantile functions,
 * integrated exactly over the merged breakpoints i/m and j/n. The inputs are not modified.
 */
export function wasserstein2Squared1d(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) throw new Error(`wasserstein2Squared1d: empty sample (${m} and ${n} values)`);
  const sa = Float64Array.from(a).sort();
  const sb = Float64Array.from(b).sort();
  // Positions in units of 1/(mn): sample i of a covers [i n, (i+1) n), sample j of b covers [j m, (j+1) m).
  let i = 0;
  let j = 0;
  let pos = 0;
  let acc = 0;
  while (i < m && j < n) {
    const endA = (i + 1) * n;
    const endB = (j + 1) * m;
    const end = Math.min(endA, endB);
    acc += (end - pos) * (sa[i]! - sb[j]!) ** 2;
    pos = end;
    if (endA === end) i++;
    if (endB === end) j++;
  }
  return acc / (m * n);
}

/** Projections θᵀx_r of every row onto direction c. */
function project(x: HostMatrix, dirs: Float64Array, c: number): Float64Array {
  const d = x.cols;
  const out = new Float64Array(x.rows);
  for (let r = 0; r < x.rows; r++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += dirs[c * d + k]! * x.data[r * d + k]!;
    out[r] = s;
  }
  return out;
}

/** SW₂ between samples x (m×D) and y (n×D): √(mean over directions of the exact 1-D W₂²). */
export function slicedWasserstein(x: HostMatrix, y: HostMatrix, options: SlicedWassersteinOptions = {}): number {
  if (x.cols !== y.cols) throw new Error(`slicedWasserstein: samples have ${x.cols} and ${y.cols} columns`);
  const count = options.projections ?? 128;
  const dirs = randomDirections(x.cols, count, options.seed ?? 0);
  let total = 0;
  for (let c = 0; c < count; c++) total += wasserstein2Squared1d(project(x, dirs, c), project(y, dirs, c));
  return Math.sqrt(total / count);
}
