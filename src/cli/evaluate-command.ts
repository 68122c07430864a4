/**
 * `rewardiff evaluate`: distances between samples and data, each beside its data-vs-data floor
 * (src/eval/floor.ts). Two CSV files are matched BY COLUMN NAME (a reordered header compares the same
 * columns; different names are refused); a .npy file has no names, so a pair with one is compared by
 * position and must have the same width.
 */
import { ensureBackend } from "../backend/init.js";
import { distanceWithFloor } from "../eval/floor.js";
import { medianHeuristic, mmd2 } from "../eval/mmd.js";
import { slicedWasserstein } from "../eval/sliced-wasserstein.js";
import { readDataFile, shuffled } from "../runners/task-data.js";
import { hostMatrix, takeRows, type HostMatrix } from "../data/matrix.js";

import { moleculeEvaluateCommand, type MoleculeEvaluateOptions } from "./molecule-evaluate-command.js";

import { log } from "./log.js";

const isNpy = (path: string) => path.toLowerCase().endsWith(".npy");

/** `--columns a,b` → names; absent or "" → undefined (every column). */
export function parseColumnList(flag: string, v: string | undefined): string[] | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  const names = v.split(",").map((c) => c.trim());
  const empty = names.findIndex((c) => c === "");
  if (empty >= 0) throw new Error(`${flag} ${JSON.stringify(v)}: name ${empty + 1} of the list is empty`);
  return names;
}

/** `m`'s columns in the order `index` gives (index[j] = the column of `m` that becomes column j). */
function takeColumns(m: HostMatrix, index: readonly number[]): HostMatrix {
  const out = new Float32Array(m.rows * index.length);
  for (let r = 0; r < m.rows; r++) for (let j = 0; j < index.length; j++) out[r * index.length + j] = m.data[r * m.cols + index[j]!]!;
  return hostMatrix(m.rows, index.length, out);
}

const quoted = (names: readonly string[]) => names.map((n) => JSON.stringify(n.length > 40 ? n.slice(0, 40) + "…" : n)).join(", ");

/** The two matrices with matching columns (see the file comment); throws one line naming both files. */
export function matchedColumns(samplesPath: string, dataPath: string, columns?: string[]): { samples: HostMatrix; data: HostMatrix; names?: string[] } {
  if (columns && (isNpy(samplesPath) || isNpy(dataPath))) {
    throw new Error(`--columns: ${isNpy(samplesPath) ? samplesPath : dataPath} is a .npy file, which has no column names (compare .npy files by position, without --columns)`);
  }
  const s = readDataFile(samplesPath, columns);
  const d = readDataFile(dataPath, columns);
  if (isNpy(samplesPath) || isNpy(dataPath)) {
    if (s.matrix.cols !== d.matrix.cols) {
      throw new Error(`${samplesPath} has ${s.matrix.cols} columns but ${dataPath} has ${d.matrix.cols} (a .npy file is compared by position, so the widths must agree)`);
    }
    return { samples: s.matrix, data: d.matrix };
  }
  if (columns) return { samples: s.matrix, data: d.matrix, names: columns };
  const inData = new Set(d.columns);
  const inSamples = new Set(s.columns);
  const onlyS = s.columns.filter((c) => !inData.has(c));
  const onlyD = d.columns.filter((c) => !inSamples.has(c));
  if (onlyS.length > 0 || onlyD.length > 0) {
    const parts = [
      onlyS.length > 0 ? `only ${samplesPath} has ${quoted(onlyS.slice(0, 4))}${onlyS.length > 4 ? ", …" : ""}` : "",
      onlyD.length > 0 ? `only ${dataPath} has ${quoted(onlyD.slice(0, 4))}${onlyD.length > 4 ? ", …" : ""}` : "",
    ].filter((p) => p !== "");
    throw new Error(
      `${samplesPath} (${s.matrix.cols} columns) and ${dataPath} (${d.matrix.cols}) have different column names: ${parts.join("; ")}; ` +
        `rename them or choose common ones with --columns`,
    );
  }
  // Same names: put the data's columns in the samples' order.
  const index = s.columns.map((c) => d.columns.indexOf(c));
  return { samples: s.matrix, data: takeColumns(d.matrix, index), names: s.columns };
}

export interface EvaluateFlags extends Omit<MoleculeEvaluateOptions, "molecules"> {
  samples?: string;
  data?: string;
  molecules?: string;
  seed: number;
  columns?: string;
}

/** `--molecules FILE`: the molecule metrics (./molecule-evaluate-command.ts); else `--samples` against `--data`. */
export async function evaluateCommand(o: EvaluateFlags): Promise<number> {
  if (o.molecules !== undefined) {
    for (const [flag, v] of [["--samples", o.samples], ["--data", o.data], ["--columns", o.columns]] as const) {
      if (v !== undefined) throw new Error(`${flag} does not apply to --molecules (the molecules are compared with --reference, default QM9's test split)`);
    }
    return moleculeEvaluateCommand({ ...o, molecules: o.molecules });
  }
  for (const [flag, v] of [["--reference", o.reference], ["--training", o.training], ["--reference-size", o.referenceSize], ["--out", o.out]] as const) {
    if (v !== undefined) throw new Error(`${flag} applies to --molecules FILE only`);
  }
  if (o.samples === undefined || o.data === undefined) throw new Error("evaluate needs --samples FILE and --data FILE (or --molecules FILE for molecules)");
  return distanceEvaluateCommand({ samples: o.samples, data: o.data, seed: o.seed, ...(o.columns !== undefined ? { columns: o.columns } : {}) });
}

async function distanceEvaluateCommand(o: { samples: string; data: string; seed: number; columns?: string }): Promise<number> {
  const m = matchedColumns(o.samples, o.data, parseColumnList("--columns", o.columns));
  if (m.data.rows < 4) throw new Error(`${o.data}: ${m.data.rows} rows are too few to evaluate against (need at least 4)`);
  await ensureBackend();
  // Two disjoint random halves of the data (shuffled: files are often sorted): one to compare with,
  // one for the data-vs-data floor.
  const half = Math.floor(m.data.rows / 2);
  const n = Math.min(m.samples.rows, half);
  if (n < 2) throw new Error(`${o.samples}: ${m.samples.rows} row is too few to evaluate (need at least 2)`);
  const order = shuffled(m.data.rows, o.seed);
  const a = takeRows(m.data, order.subarray(0, n));
  const b = takeRows(m.data, order.subarray(half, half + n));
  const samples = takeRows(m.samples, shuffled(m.samples.rows, o.seed + 1).subarray(0, n));
  const sw = distanceWithFloor((x, y) => slicedWasserstein(x, y, { seed: o.seed }), samples, a, b);
  let bw: number;
  try {
    bw = medianHeuristic(a);
  } catch {
    throw new Error(`${o.data}: most of the ${n} rows compared are the same point (their median distance is 0), so MMD² has no length scale; evaluate needs data with spread`);
  }
  const mmd = distanceWithFloor((x, y) => mmd2(x, y, { bandwidth: bw, seed: o.seed }), samples, a, b);
  log(`compared ${n} samples with ${n} data rows${m.names ? ` (columns ${quoted(m.names.slice(0, 8))}${m.names.length > 8 ? ", …" : ""})` : " (.npy: by position)"} (floor: data vs ${n} other data rows)`);
  log(`sliced Wasserstein  ${sw.value.toPrecision(4)}   floor ${sw.floor.toPrecision(4)}   ratio ${sw.ratio === null ? "n/a" : sw.ratio.toPrecision(3)}`);
  log(`MMD²                ${mmd.value.toPrecision(4)}   floor ${mmd.floor.toPrecision(4)}`);
  return 0;
}
