/**
 * Evaluating generated molecules (docs/molecules.md "Evaluating"): the metrics of src/chem/metrics.ts of a
 * samples CSV against a reference (QM9's test split unless given), novelty against a training set (QM9's
 * train split unless given), each beside its floor: the same metrics of a data sample of the generated set's
 * size drawn from molecules disjoint from the reference (QM9's validation split; a given reference is split
 * at random into two halves, one the reference, the other the floor's pool). Node-only (reads files).
 */
import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { canonicalize, moleculeMetrics, prepareMetricsData, type MoleculeMetrics } from "../chem/metrics.js";
import { qm9Splits, qm9TrainCanonical, readSmilesCsvFile } from "../chem/qm9-node.js";
import type { RDKit } from "../chem/rdkit.js";
import { parseSmilesCsv } from "../chem/smiles-table.js";
import { shuffled } from "./task-data.js";

/** A samples CSV: the `smiles` column (empty = invalid) and, where present, `graph_smiles` (for depiction). */
export interface MoleculeSamplesFile {
  readonly path: string;
  /** One entry per data row; an empty cell is an invalid sample. */
  readonly smiles: string[];
  /** The file line of each row (header = line 1). */
  readonly lines: number[];
  /** The unsanitised graph of each row (`rewardiff sample` writes it), or null per row when the column is absent. */
  readonly graphSmiles: Array<string | null>;
}

/** Lines listed in a message: the first few, then a count. */
function lineList(lines: readonly number[]): string {
  return `line${lines.length === 1 ? "" : "s"} ${lines.slice(0, 8).join(", ")}${lines.length > 8 ? `, … (${lines.length - 8} more)` : ""}`;
}

/**
 * Reads a samples CSV (a `smiles` column, case-insensitive; other columns ignored but `graph_smiles`).
 * Rows RDKit cannot parse are invalid samples, not errors: validity counts them.
 */
export function readMoleculeSamples(path: string): MoleculeSamplesFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a folder, not a samples CSV" : (err as Error).message}`, { cause: err });
  }
  if (text.slice(0, 1024).includes("\u0000") || /^\s*\{/.test(text)) throw new Error(`${path}: not a CSV of molecules (a model or JSON file? sample a model first with \`rewardiff sample --model M --out mols.csv\`)`);
  const table = parseSmilesCsv(text, path);
  const records = parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, { relax_column_count: true, skip_empty_lines: true }) as string[][];
  const col = records[0]!.findIndex((h) => h.trim().toLowerCase() === "graph_smiles");
  const graphSmiles = records.slice(1).map((r) => (col < 0 ? null : (r[col] ?? "").trim() || null));
  return { path, smiles: table.smiles, lines: table.lines, graphSmiles };
}

/** A named set of canonical, valid molecules (no stereo). */
export interface MoleculeSet {
  readonly name: string;
  readonly smiles: string[];
  /** Their canonical SMILES when known in advance (QM9's train split: src/chem/qm9-node.ts qm9TrainCanonical). */
  readonly canonical?: ReadonlySet<string>;
}

/** A reference or training CSV: every SMILES must be a valid molecule (one line listing the ones that are not). */
export function readMoleculeSet(rdkit: RDKit, path: string, option: string): MoleculeSet {
  const table = readSmilesCsvFile(path);
  const canonical = canonicalize(rdkit, table.smiles);
  const bad = table.lines.filter((_, i) => canonical[i] === null);
  if (bad.length > 0) throw new Error(`${option} ${path}: ${bad.length} of ${table.smiles.length} SMILES are not molecules RDKit can sanitise (${lineList(bad)}); a ${option.slice(2)} set must hold valid molecules`);
  return { name: path, smiles: canonical as string[] };
}

/** `k` of `items` drawn without replacement by the seeded shuffle (all of them, shuffled, when k ≥ length). */
function draw<T>(items: readonly T[], k: number, seed: number): T[] {
  const order = shuffled(items.length, seed);
  return Array.from(order.subarray(0, Math.min(k, items.length)), (i) => items[i]!);
}

/**
 * `k` valid molecules (canonical, no stereo) of `raw` in the seeded shuffle's order, skipping the ones RDKit
 * rejects (all valid ones when k is undefined); only the molecules drawn are canonicalised.
 */
function drawValid(rdkit: RDKit, raw: readonly string[], k: number | undefined, seed: number): string[] {
  const order = shuffled(raw.length, seed);
  const out: string[] = [];
  for (let i = 0; i < order.length && (k === undefined || out.length < k); i++) {
    const c = canonicalize(rdkit, [raw[order[i]!]!])[0];
    if (c !== null && c !== undefined) out.push(c);
  }
  return out;
}

/** The data of an evaluation: the reference, the floor's data sample and the training set. */
export interface MoleculeEvaluationData {
  /** Reference molecules (KL score, type histograms), valid and canonical. */
  readonly reference: MoleculeSet;
  /** The floor's data sample (valid, canonical), disjoint from the reference, the generated set's size. */
  readonly floorSample: MoleculeSet;
  /** Training molecules (novelty; canonicalised by the metrics). */
  readonly training: MoleculeSet;
}

/**
 * The evaluation data for `n` generated molecules: QM9's test split as the reference (a seeded sample of
 * `referenceSize` when set), a seeded sample of n molecules of QM9's validation split as the floor's data, QM9's
 * train split for novelty (RDKit's rejects left out: data/qm9/README.md); a given reference (valid,
 * canonical) is split at random into two halves, the reference and the floor's pool; a given training set
 * replaces QM9's train split.
 */
export function moleculeEvaluationData(rdkit: RDKit, o: { n: number; reference?: MoleculeSet; training?: MoleculeSet; referenceSize?: number; seed: number }): MoleculeEvaluationData {
  if (o.reference === undefined) {
    const s = qm9Splits();
    return {
      reference: { name: "qm9:test", smiles: drawValid(rdkit, s.test, o.referenceSize, o.seed + 1) },
      floorSample: { name: "qm9:validation", smiles: drawValid(rdkit, s.validation, o.n, o.seed + 2) },
      training: o.training ?? { name: "qm9:train", smiles: s.train, canonical: qm9TrainCanonical(rdkit) },
    };
  }
  const ref = o.reference;
  if (ref.smiles.length < 4) throw new Error(`--reference ${ref.name}: ${ref.smiles.length} molecules are too few (need at least 4: half are the reference, half the floor's data sample)`);
  const order = draw(ref.smiles, ref.smiles.length, o.seed);
  const half = Math.floor(order.length / 2);
  const training = o.training ?? { name: "qm9:train", smiles: qm9Splits().train, canonical: qm9TrainCanonical(rdkit) };
  const reference = order.slice(0, half);
  return {
    reference: { name: `${ref.name} (random half)`, smiles: o.referenceSize === undefined ? reference : draw(reference, o.referenceSize, o.seed + 1) },
    floorSample: { name: `${ref.name} (other half)`, smiles: draw(order.slice(half), o.n, o.seed + 2) },
    training,
  };
}

/** The metrics of a generated set and of its floor. */
export interface MoleculeEvaluation {
  readonly generated: MoleculeMetrics;
  /** The same metrics of a data sample (from the floor pool) of the generated set's size. */
  readonly floor: MoleculeMetrics;
  readonly reference: { readonly name: string; readonly molecules: number };
  readonly training: { readonly name: string; readonly molecules: number };
  readonly floorSample: { readonly name: string; readonly molecules: number };
  /** Wall-clock seconds: preparing the data (canonical training set, reference features), each metric pass. */
  readonly seconds: { readonly prepare: number; readonly generated: number; readonly floor: number };
}

/** The metrics of `generated` (SMILES; null or "" = invalid) against `data`, and their floor. */
export function evaluateMolecules(rdkit: RDKit, generated: readonly (string | null)[], data: MoleculeEvaluationData): MoleculeEvaluation {
  if (generated.length === 0) throw new Error("evaluateMolecules: no generated molecules");
  const reference = data.reference.smiles;
  if (reference.length < 2) throw new Error(`the reference ${data.reference.name} holds ${reference.length} molecule(s); the KL score needs at least 2`);
  const floorSample = data.floorSample.smiles;
  const t0 = performance.now();
  const prepared = prepareMetricsData(rdkit, { reference, training: data.training.smiles, ...(data.training.canonical ? { trainingCanonical: data.training.canonical } : {}) });
  const t1 = performance.now();
  const metrics = moleculeMetrics(rdkit, generated.map((s) => (s === null || s === "" ? null : s)), prepared);
  const t2 = performance.now();
  const floor = moleculeMetrics(rdkit, floorSample, prepared);
  const t3 = performance.now();
  return {
    generated: metrics,
    floor,
    reference: { name: data.reference.name, molecules: reference.length },
    training: { name: data.training.name, molecules: prepared.training.size },
    floorSample: { name: data.floorSample.name, molecules: floorSample.length },
    seconds: { prepare: (t1 - t0) / 1000, generated: (t2 - t1) / 1000, floor: (t3 - t2) / 1000 },
  };
}
