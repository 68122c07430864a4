/** Sample-quality metrics shared by every method: distances to fresh data beside their noise floor. */
import type { HostMatrix } from "../data/matrix.js";
import { distanceWithFloor } from "../eval/floor.js";
import { medianHeuristic, mmd2 } from "../eval/mmd.js";
import { slicedWasserstein } from "../eval/sliced-wasserstein.js";
import type { MetricValue } from "../report/types.js";

/** How many independent (A, B) pairs of fresh data the distances are averaged over. */
export const EVAL_PAIRS = 4;

/**
 * Sliced-Wasserstein distance and MMD² between `samples` and fresh data, each beside its data-vs-data
 * floor (the same metric between two independent data draws of the same size), averaged over
 * {@link EVAL_PAIRS} independent pairs: one pair's floor varies by ±30% from draw to draw at n = 4000,
 * too much to compare a model against. `ratio` = mean value / mean floor. No fields when the run has no
 * fresh data rows (`evalPairs` gives none: a molecule run, measured by the chemistry metrics instead).
 */
export async function sampleDistances(
  ctx: { cfg: { seed: number }; evalPairs(n: number): Promise<[HostMatrix, HostMatrix][]> },
  samples: HostMatrix,
): Promise<Record<string, MetricValue>> {
  const pairs = await ctx.evalPairs(samples.rows);
  if (pairs.length === 0) return {};
  let swV = 0, swF = 0, mmdV = 0, mmdF = 0;
  const bandwidth = medianHeuristic(pairs[0]![0]);
  for (const [a, b] of pairs) {
    const sw = distanceWithFloor((x, y) => slicedWasserstein(x, y, { seed: ctx.cfg.seed }), samples, a, b);
    const mmd = distanceWithFloor((x, y) => mmd2(x, y, { bandwidth, seed: ctx.cfg.seed }), samples, a, b);
    swV += sw.value / pairs.length;
    swF += sw.floor / pairs.length;
    mmdV += mmd.value / pairs.length;
    mmdF += mmd.floor / pairs.length;
  }
  return {
    slicedWasserstein: swF > 0 ? { value: swV, floor: swF, ratio: swV / swF, pairs: pairs.length } : { value: swV, floor: swF, pairs: pairs.length },
    mmd2: { value: mmdV, floor: mmdF, pairs: pairs.length },
  };
}
