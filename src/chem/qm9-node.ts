/**
 * QM9 (Ramakrishnan et al., Scientific Data 1, 140022, 2014; CC BY 4.0) as shipped in data/qm9/ (data card:
 * data/qm9/README.md), read with zlib in Node, and its fixed train/validation/test split. Node-only.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { encodeSmiles, graphRowLength, graphToRow, QM9_VOCABULARY } from "./graph.js";
import { canonicalize } from "./metrics.js";
import type { RDKit } from "./rdkit.js";
import { parseSmilesCsv, type SmilesTable } from "./smiles-table.js";
import { splitIndices, type SplitOptions, type Splits } from "./splits.js";

/** The folder holding the shipped QM9 files (data/qm9 at the package root, from src/chem or dist/chem). */
export function qm9Dir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "data", "qm9");
}

/** Reads a gzip-compressed text file. */
export function readGzipText(path: string): string {
  return gunzipSync(readFileSync(path)).toString("utf8");
}

let cached: string[] | undefined;

/** The 133,247 QM9 SMILES strings in file order (read once per process). */
export function readQm9Smiles(): string[] {
  cached ??= parseSmilesCsv(readGzipText(join(qm9Dir(), "qm9-smiles.csv.gz")), "data/qm9/qm9-smiles.csv.gz").smiles;
  return cached;
}

/** The QM9 property sample (14,862 rows, 14,715 distinct mol_id): header and rows of text cells, as in the file. */
export function readQm9Props(): { header: string[]; rows: string[][] } {
  const lines = readGzipText(join(qm9Dir(), "qm9-props-sample.csv.gz")).split("\n").filter((l) => l.length > 0);
  return { header: lines[0]!.split(","), rows: lines.slice(1).map((l) => l.split(",")) };
}

/** QM9 split into train/validation/test SMILES by `splitIndices` (default: 80/10/10, seed 12). */
export function qm9Splits(options: SplitOptions = {}): { train: string[]; validation: string[]; test: string[]; indices: Splits } {
  const all = readQm9Smiles();
  const indices = splitIndices(all.length, options);
  const pick = (ix: number[]) => ix.map((i) => all[i]!);
  return { train: pick(indices.train), validation: pick(indices.validation), test: pick(indices.test), indices };
}

/** The file of QM9's train split as canonical SMILES (see {@link qm9TrainCanonical}). */
export const QM9_TRAIN_CANONICAL_FILE = "qm9-train-canonical.txt.gz";

/** The header line of {@link QM9_TRAIN_CANONICAL_FILE}: the RDKit version and the split it was written for. */
export function qm9TrainCanonicalHeader(rdkit: RDKit, train: readonly string[]): string {
  const split = createHash("sha256").update(train.join("\n"), "utf8").digest("hex");
  return `# canonical SMILES without stereo of QM9's train split; rdkit ${rdkit.version()}; train sha256 ${split}`;
}

const canonicalTrain = new Map<string, ReadonlySet<string>>();

/**
 * QM9's train split as RDKit canonical SMILES without stereo (novelty's reference set; RDKit's rejects left out).
 * Canonicalising its 106,597 molecules takes ≈ 17 s, so the repository ships them (data/qm9/
 * qm9-train-canonical.txt.gz, written by scripts/chem/canonical-train.ts); the file is used only when its header
 * names this RDKit version and this split (else, or with `fromFile: false`, they are computed). Once per process.
 */
export function qm9TrainCanonical(rdkit: RDKit, options: { fromFile?: boolean } = {}): ReadonlySet<string> {
  const train = qm9Splits().train;
  const header = qm9TrainCanonicalHeader(rdkit, train);
  const key = `${header} ${options.fromFile !== false}`;
  let set = canonicalTrain.get(key);
  if (set) return set;
  const path = join(qm9Dir(), QM9_TRAIN_CANONICAL_FILE);
  if (options.fromFile !== false && existsSync(path)) {
    const lines = readGzipText(path).split("\n");
    if (lines[0] === header) set = new Set(lines.slice(1).filter((l) => l.length > 0));
  }
  set ??= new Set(canonicalize(rdkit, train).filter((s): s is string => s !== null));
  canonicalTrain.set(key, set);
  return set;
}

/** Reads a user's SMILES CSV file (a `smiles` column; other columns ignored). */
export function readSmilesCsvFile(path: string): SmilesTable {
  return parseSmilesCsv(readFileSync(path, "utf8"), path);
}

/** QM9 molecules encoded as graph rows, and the ones that could not be encoded (never dropped silently). */
export interface Qm9Graphs {
  /** One flattened graph per kept molecule (`graphToRow` layout, QM9_VOCABULARY: 396 columns). */
  readonly matrix: HostMatrix;
  /** The SMILES of each row of `matrix`. */
  readonly smiles: string[];
  /** Molecules left out, with the reason (the 510 RDKit rejects of the full file: data/qm9/README.md). */
  readonly rejected: Array<{ smiles: string; reason: string }>;
}

/** Encodes QM9 SMILES (e.g. a split from `qm9Splits`) with QM9_VOCABULARY; unencodable ones are listed in `rejected`. */
export function encodeQm9(rdkit: RDKit, smiles: readonly string[]): Qm9Graphs {
  const width = graphRowLength(QM9_VOCABULARY);
  const rows: Float32Array[] = [];
  const kept: string[] = [];
  const rejected: Array<{ smiles: string; reason: string }> = [];
  for (const s of smiles) {
    const e = encodeSmiles(rdkit, s, QM9_VOCABULARY);
    if (e.ok) {
      rows.push(graphToRow(e.graph));
      kept.push(s);
    } else rejected.push({ smiles: s, reason: e.detail });
  }
  const data = new Float32Array(rows.length * width);
  rows.forEach((r, i) => data.set(r, i * width));
  return { matrix: hostMatrix(rows.length, width, data), smiles: kept, rejected };
}
