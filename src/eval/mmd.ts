/**
 * Maximum mean discrepancy with a Gaussian kernel k(x, y) = exp(−‖x − y‖² / (2h²)), the unbiased
 * U-statistic (Gretton et al. 2012):
 *   MMD²_u = Σ_{i≠j} k(x_i, x_j)/(m(m−1)) + Σ_{i≠j} k(y_i, y_j)/(n(n−1)) − 2 Σ_{i,j} k(x_i, y_j)/(mn).
 * It is 0 in expectation when both samples come from the same law (so it can be slightly negative).
 * Computed on the host in float64; each side is subsampled deterministically to at most `maxPoints`.
 */
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { subsampleRows } from "./subsample.js";

/** Options of {@link mmd2}. */
export interface MmdOptions {
  /** Kernel bandwidth h; default: the median heuristic on the pooled (subsampled) points. */
  readonly bandwidth?: number;
  /** Most rows used from each side (default 2000). */
  readonly maxPoints?: number;
  /** Seed of the deterministic subsampling (default 0). */
  readonly seed?: number;
}

function sqDist(a: HostMatrix, i: number, b: HostMatrix, j: number): number {
  const d = a.cols;
  let s = 0;
  for (let k = 0; k < d; k++) s += (a.data[i * d + k]! - b.data[j * d + k]!) ** 2;
  return s;
}

function assertPair(x: HostMatrix, y: HostMatrix, where: string): void {
  if (x.cols !== y.cols) throw new Error(`${where}: samples have ${x.cols} and ${y.cols} columns`);
}

/**
 * The median heuristic bandwidth: the median Euclidean distance between distinct points of the pooled
 * sample x ∪ y (subsampled to at most `maxPoints` rows by `seed`).
 */
export function medianHeuristic(x: HostMatrix, y?: HostMatrix, maxPoints = 1000, seed = 0): number {
  let pooled = x;
  if (y) {
    assertPair(x, y, "MMD bandwidth");
    const data = new Float32Array(x.data.length + y.data.length);
    data.set(x.data);
    data.set(y.data, x.data.length);
    pooled = hostMatrix(x.rows + y.rows, x.cols, data);
  }
  const p = subsampleRows(pooled, maxPoints, seed);
  if (p.rows < 2) throw new Error("MMD bandwidth: the median distance needs at least 2 points");
  const dist = new Float64Array((p.rows * (p.rows - 1)) / 2);
  let c = 0;
  for (let i = 0; i < p.rows; i++) for (let j = 0; j < i; j++) dist[c++] = Math.sqrt(sqDist(p, i, p, j));
  dist.sort();
  const mid = dist.length >> 1;
  const median = dist.length % 2 ? dist[mid]! : 0.5 * (dist[mid - 1]! + dist[mid]!);
  if (!(median > 0)) throw new Error("MMD bandwidth: the median distance between the points is 0 (most of them coincide); give the kernel an explicit bandwidth");
  return median;
}

/** Σ k(a_i, b_j) over all pairs, or over i ≠ j when `a` and `b` are the same sample. */
function kernelSum(a: HostMatrix, b: HostMatrix, same: boolean, gamma: number): number {
  let s = 0;
  if (same) {
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < i; j++) s += Math.exp(-gamma * sqDist(a, i, a, j));
    return 2 * s;
  }
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < b.rows; j++) s += Math.exp(-gamma * sqDist(a, i, b, j));
  return s;
}

/** The unbiased MMD² between samples x (m×D) and y (n×D), m, n ≥ 2. */
export function mmd2(x: HostMatrix, y: HostMatrix, options: MmdOptions = {}): number {
  assertPair(x, y, "MMD²");
  const maxPoints = options.maxPoints ?? 2000;
  const seed = options.seed ?? 0;
  const xs = subsampleRows(x, maxPoints, seed);
  const ys = subsampleRows(y, maxPoints, seed + 1);
  if (xs.rows < 2 || ys.rows < 2) throw new Error(`MMD²: each sample needs at least 2 rows, got ${xs.rows} and ${ys.rows}`);
  const h = options.bandwidth ?? medianHeuristic(xs, ys, 1000, seed + 2);
  if (!(Number.isFinite(h) && h > 0)) throw new Error(`MMD²: the kernel bandwidth must be a finite number > 0, got ${h}`);
  const gamma = 1 / (2 * h * h);
  const m = xs.rows;
  const n = ys.rows;
  return (
    kernelSum(xs, xs, true, gamma) / (m * (m - 1)) +
    kernelSum(ys, ys, true, gamma) / (n * (n - 1)) -
    (2 * kernelSum(xs, ys, false, gamma)) / (m * n)
  );
}
