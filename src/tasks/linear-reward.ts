/**
 * The linear reward r(x) = bᵀx used by the closed-form tasks (fixtures.md §2 with b = θ*, §3 with
 * b = rewardWeights), evaluated on host data in float64 and returned as float32.
 */
import type { HostMatrix } from "../data/matrix.js";

/** Checks that `b` is a finite vector of length `dim`. */
export function assertRewardWeights(b: readonly number[], dim: number, where: string): void {
  if (b.length !== dim) throw new Error(`${where}: reward weights have length ${b.length}, expected ${dim}`);
  b.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new Error(`${where}: reward weight ${i + 1} is not finite (${v})`);
  });
}

/** r(x_i) = bᵀx_i for every row x_i of `x`. */
export function linearReward(b: readonly number[], x: HostMatrix): Float32Array {
  assertRewardWeights(b, x.cols, "linearReward");
  const out = new Float32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = 0;
    for (let j = 0; j < x.cols; j++) s += b[j]! * x.data[i * x.cols + j]!;
    out[i] = s;
  }
  return out;
}
