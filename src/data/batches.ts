/**
 * Minibatches drawn on the host: batch k of a run is a function of (dataSeed, k) alone, so a run that is
 * stopped and resumed at step k draws exactly the batches an uninterrupted run would.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** Batch k's row indices: uniform with replacement, from (dataSeed, k) only. */
export function batchIndices(dataSeed: number, step: number, rows: number, batch: number): Int32Array {
  const rng = xoroshiro128plus((dataSeed ^ Math.imul(step + 1, 0x9e3779b1)) | 0);
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) out[i] = uniformInt(rng, 0, rows - 1);
  return out;
}
