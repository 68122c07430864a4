/**
 * A sample-based distance is never 0 for finite samples: two independent draws of the data law are
 * themselves some distance apart. distanceWithFloor reports a model's distance next to that noise
 * floor, measured with the same metric, the same reference set and the same sample size, so a
 * reader can tell "indistinguishable from data" (ratio ≈ 1) from "far off" (ratio ≫ 1).
 */
import { sliceRows, type HostMatrix } from "../data/matrix.js";

/** A distance between two samples (rows are points), e.g. sliced W₂ or MMD² with a fixed bandwidth. */
export type SampleMetric = (a: HostMatrix, b: HostMatrix) => number;

/** A distance with its noise floor. */
export interface FlooredDistance {
  /** metric(samples, dataA). */
  readonly value: number;
  /** metric(dataB[0..n), dataA) with n = samples.rows: the distance of a perfect model's sample. */
  readonly floor: number;
  /** value / floor, or null when the floor is ≤ 0 (possible for the unbiased MMD²). */
  readonly ratio: number | null;
}

/**
 * Compares `samples` with the reference data `dataA`, and an independent data draw `dataB` (at least
 * as many rows as `samples`; its first samples.rows rows are used) with the same `dataA`.
 * For metrics with data-dependent settings (e.g. a median-heuristic bandwidth), fix them beforehand
 * so that value and floor are measured with the same metric.
 */
export function distanceWithFloor(metric: SampleMetric, samples: HostMatrix, dataA: HostMatrix, dataB: HostMatrix): FlooredDistance {
  if (samples.cols !== dataA.cols || dataB.cols !== dataA.cols) {
    throw new Error(`distanceWithFloor: column counts differ (samples ${samples.cols}, dataA ${dataA.cols}, dataB ${dataB.cols})`);
  }
  if (dataB.rows < samples.rows) {
    throw new Error(`distanceWithFloor: dataB has ${dataB.rows} rows, needs at least as many as the ${samples.rows} samples`);
  }
  const value = metric(samples, dataA);
  const floor = metric(sliceRows(dataB, 0, samples.rows), dataA);
  if (!Number.isFinite(value) || !Number.isFinite(floor)) {
    throw new Error(`distanceWithFloor: the metric returned a non-finite value (value ${value}, floor ${floor})`);
  }
  return { value, floor, ratio: floor > 0 ? value / floor : null };
}
