/** `rewardiff evaluate`: distances between samples and data, each beside its data-vs-data floor. */
import { ensureBackend } from "../backend/init.js";
import { distanceWithFloor } from "../eval/floor.js";
import { medianHeuristic, mmd2 } from "../eval/mmd.js";
import { slicedWasserstein } from "../eval/sliced-wasserstein.js";
import { readDataFile, shuffled } from "../runners/task-data.js";
import { takeRows } from "../data/matrix.js";

import { log } from "./log.js";

export async function evaluateCommand(o: { samples: string; data: string; seed: number; columns?: string }): Promise<number> {
  const columns = o.columns ? o.columns.split(",").map((c) => c.trim()) : undefined;
  const s = readDataFile(o.samples, columns);
  const d = readDataFile(o.data, columns);
  if (s.matrix.cols !== d.matrix.cols) throw new Error(`${o.samples} has ${s.matrix.cols} columns but ${o.data} has ${d.matrix.cols}`);
  if (d.matrix.rows < 4) throw new Error(`${o.data}: ${d.matrix.rows} rows are too few to evaluate against (need at least 4)`);
  await ensureBackend();
  // Two disjoint random halves of the data (shuffled: files are often sorted): one to compare with,
  // one for the data-vs-data floor.
  const half = Math.floor(d.matrix.rows / 2);
  const n = Math.min(s.matrix.rows, half);
  const order = shuffled(d.matrix.rows, o.seed);
  const a = takeRows(d.matrix, order.subarray(0, n));
  const b = takeRows(d.matrix, order.subarray(half, half + n));
  const samples = takeRows(s.matrix, shuffled(s.matrix.rows, o.seed + 1).subarray(0, n));
  const sw = distanceWithFloor((x, y) => slicedWasserstein(x, y, { seed: o.seed }), samples, a, b);
  const bw = medianHeuristic(a);
  const mmd = distanceWithFloor((x, y) => mmd2(x, y, { bandwidth: bw, seed: o.seed }), samples, a, b);
  log(`compared ${n} samples with ${n} data rows (floor: data vs ${n} other data rows)`);
  log(`sliced Wasserstein  ${sw.value.toPrecision(4)}   floor ${sw.floor.toPrecision(4)}   ratio ${sw.ratio === null ? "n/a" : sw.ratio.toPrecision(3)}`);
  log(`MMD²                ${mmd.value.toPrecision(4)}   floor ${mmd.floor.toPrecision(4)}`);
  return 0;
}
