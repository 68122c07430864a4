/**
 * Scoring guidance against an exact tilted law (issue 4, item 3): mean reward vs E_{p*}[r] (gap and its
 * z-score), distances to exact samples of p* beside their data-vs-data floor, and the cost.
 */
import type { HostMatrix } from "../data/matrix.js";
import { distanceWithFloor } from "../eval/floor.js";
import { medianHeuristic, mmd2 } from "../eval/mmd.js";
import { slicedWasserstein } from "../eval/sliced-wasserstein.js";
import { mean, standardError } from "../eval/stats.js";

/** Distances of samples to p*: each averaged over independent (A, B) pairs of exact p* draws. */
export interface TiltedDistances {
  /** Sliced W₂ to p* samples A; floor = W₂(B, A); ratio = value / floor. */
  slicedWasserstein: { value: number; floor: number; ratio: number | null; pairs: number };
  /** MMD² (Gaussian kernel, median-heuristic bandwidth of the first A). */
  mmd2: { value: number; floor: number; pairs: number };
}

/**
 * `samples` against exact draws of p*: value = metric(samples, A_k), floor = metric(B_k, A_k), both
 * averaged over the pairs (one pair's floor varies by ±30% at n = 4000). Each B_k needs ≥ samples.rows rows.
 */
export function tiltedDistances(samples: HostMatrix, pairs: readonly [HostMatrix, HostMatrix][], seed = 0): TiltedDistances {
  if (pairs.length === 0) throw new Error("tiltedDistances: needs at least one pair of reference sets");
  const bandwidth = medianHeuristic(pairs[0]![0]);
  let swV = 0;
  let swF = 0;
  let mV = 0;
  let mF = 0;
  for (const [a, b] of pairs) {
    const sw = distanceWithFloor((x, y) => slicedWasserstein(x, y, { seed }), samples, a, b);
    const mm = distanceWithFloor((x, y) => mmd2(x, y, { bandwidth, seed }), samples, a, b);
    swV += sw.value / pairs.length;
    swF += sw.floor / pairs.length;
    mV += mm.value / pairs.length;
    mF += mm.floor / pairs.length;
  }
  return {
    slicedWasserstein: { value: swV, floor: swF, ratio: swF > 0 ? swV / swF : null, pairs: pairs.length },
    mmd2: { value: mV, floor: mF, pairs: pairs.length },
  };
}

/** Mean reward of the samples against the exact E_{p*}[r]: the gap and how many standard errors it is. */
export function rewardGap(rewards: ArrayLike<number>, exact: number): { mean: number; exact: number; gap: number; standardError: number; z: number } {
  const m = mean(rewards);
  const se = standardError(rewards);
  return { mean: m, exact, gap: m - exact, standardError: se, z: se > 0 ? (m - exact) / se : 0 };
}
