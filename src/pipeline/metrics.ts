/** Sample-quality metrics shared by every method: distances to fresh data beside their noise floor. */
import type { HostMatrix } from "../data/matrix.js";
import { distanceWithFloor } from "../eval/floor.js";
import { medianHeuristic, mmd2 } from "../eval/mmd.js";
import { slicedWasserstein } from "../eval/sliced-wasserstein.js";
import type { MetricValue } from "../report/types.js";

/**
 * Sliced-Wasserstein distance and MMD² between `samples` and fresh data, each with the data-vs-data
 * floor (the same metric between two independent data draws of the same size) and their ratio.
 */
export function sampleDistances(ctx: { cfg: { seed: number }; evalSets(n: number): [HostMatrix, HostMatrix] }, samples: HostMatrix): Record<string, MetricValue> {
  const [a, b] = ctx.evalSets(samples.rows);
  const sw = distanceWithFloor((x, y) => slicedWasserstein(x, y, { seed: ctx.cfg.seed }), samples, a, b);
  const bandwidth = medianHeuristic(a);
  const mmd = distanceWithFloor((x, y) => mmd2(x, y, { bandwidth, seed: ctx.cfg.seed }), samples, a, b);
  return {
    slicedWasserstein: sw.ratio === null ? { value: sw.value, floor: sw.floor } : { value: sw.value, floor: sw.floor, ratio: sw.ratio },
    mmd2: { value: mmd.value, floor: mmd.floor },
  };
}
