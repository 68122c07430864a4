/**
 * The common shape of a data set with a known generating law: rewardiff draws training data from it
 * with an explicit key, and evaluation compares generated samples with fresh draws from the same law.
 */
import type { Key } from "../backend/index.js";
import type { HostMatrix } from "../data/matrix.js";

/** A data law p_data in R^dim that can be sampled with an explicit PRNG key. */
export interface DataTask {
  /** A short identifier (e.g. "moons", "gaussian-mixture"). */
  readonly name: string;
  /** Ambient dimension D of a sample x ∈ R^D. */
  readonly dim: number;
  /** n i.i.d. draws x ~ p_data as an n×dim host matrix. Consumes `key`. */
  sample(key: Key, n: number): Promise<HostMatrix>;
}

/** A data task that also knows the ground-truth reward r(x) (the oracle f* of 2307.07055). */
export interface RewardTask extends DataTask {
  /** r(x) per row of `x` (n×dim) → length-n array. */
  reward(x: HostMatrix): Float32Array;
}

/** Throws a one-line error unless `n` is a usable sample count. */
export function assertSampleCount(n: number, where: string): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${where}: the number of samples must be a whole number ≥ 0, got ${n}`);
}

/** Throws a one-line error unless `x` has `dim` columns. */
export function assertDim(x: HostMatrix, dim: number, where: string): void {
  if (x.cols !== dim) throw new Error(`${where}: expected ${dim} columns, got ${x.cols}`);
}
