/**
 * Molecule training data (docs/molecules.md): QM9's fixed train split or a user's SMILES CSV, encoded as
 * dense graph rows (src/chem/graph.ts), with the vocabulary that decodes them, the row layout the graph
 * denoiser and the graph noise use, and one column name per row value. Node-only (reads files).
 */
import { resolve } from "node:path";
import { FORMAL_CHARGES, graphShape, graphToRow, type GraphVocabulary } from "../chem/graph.js";
import { encodeSmilesTable } from "../chem/dataset.js";
import { encodeQm9, qm9Splits, readSmilesCsvFile } from "../chem/qm9-node.js";
import { loadRDKit } from "../chem/rdkit.js";
import type { GraphLayout } from "../data/graph-layout.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { permutation } from "../data/permutation.js";

export interface MoleculeTrainData {
  /** Where the data came from, e.g. "qm9:train" or "smiles:/path/file.csv". */
  name: string;
  /** One graph row per molecule (layout {@link moleculeLayout}). */
  train: HostMatrix;
  /** The SMILES of each row. */
  smiles: string[];
  vocabulary: { atoms: string[]; bonds: number[]; maxAtoms: number };
  layout: GraphLayout;
  columns: string[];
  /** Molecules of the source left out, with why (QM9: the ones RDKit rejects; a user's file refuses any instead). */
  rejected: number;
}

/** The row layout of a vocabulary: maxAtoms nodes, blocks [atoms + "no atom", charges], bonds + "no bond". */
export function moleculeLayout(v: GraphVocabulary): GraphLayout {
  const s = graphShape(v);
  return { maxNodes: v.maxAtoms, nodeBlocks: [s.nodeFeatures, s.chargeFeatures], edgeFeatures: s.edgeFeatures };
}

/** Column names of a graph row: `atom3=C`, `charge3=+1`, `bond2-5=2` (0 = no atom / no bond). */
export function moleculeColumns(v: GraphVocabulary): string[] {
  const n = v.maxAtoms;
  const cols: string[] = [];
  for (let i = 0; i < n; i++) for (const a of [...v.atoms, "none"]) cols.push(`atom${i}=${a}`);
  for (let i = 0; i < n; i++) for (const c of FORMAL_CHARGES) cols.push(`charge${i}=${c > 0 ? `+${c}` : c}`);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (const b of [0, ...v.bonds]) cols.push(`bond${i}-${j}=${b}`);
  return cols;
}

/**
 * QM9's train split (docs/molecules.md: fixed, seeded), encoded; ≈ a minute for its 106,597 molecules.
 * `sample`: a seeded draw of that many of its molecules instead (in split order; ≈ 0.6 ms per molecule), for a
 * method that needs only a few thousand rows (molecule runs' RGDM).
 */
export async function qm9TrainData(sample?: { rows: number; seed: number }): Promise<MoleculeTrainData> {
  const rdkit = await loadRDKit();
  const { train } = qm9Splits();
  const picked = sample && sample.rows < train.length ? Array.from(permutation(train.length, sample.seed).subarray(0, sample.rows)).sort((a, b) => a - b).map((i) => train[i]!) : train;
  const g = encodeQm9(rdkit, picked);
  const vocabulary = { atoms: ["C", "N", "O", "F"], bonds: [1, 2, 3], maxAtoms: 9 };
  const name = picked === train ? "qm9:train" : `qm9:train (seeded sample of ${picked.length})`;
  return { name, train: g.matrix, smiles: g.smiles, vocabulary, layout: moleculeLayout(vocabulary), columns: moleculeColumns(vocabulary), rejected: g.rejected.length };
}

/** A user's SMILES CSV (a `smiles` column): the vocabulary read from the data; any bad row refuses the file. */
export async function smilesTrainData(path: string, maxAtoms?: number): Promise<MoleculeTrainData> {
  const rdkit = await loadRDKit();
  const table = readSmilesCsvFile(path);
  const ds = encodeSmilesTable(rdkit, table, { where: path, ...(maxAtoms !== undefined ? { maxAtoms } : {}) });
  const vocabulary = { atoms: [...ds.vocab.atoms], bonds: [...ds.vocab.bonds], maxAtoms: ds.vocab.maxAtoms };
  const rows = ds.graphs.map(graphToRow);
  const width = rows[0]!.length;
  const data = new Float32Array(rows.length * width);
  rows.forEach((r, i) => data.set(r, i * width));
  return {
    name: `smiles:${resolve(path)}`,
    train: hostMatrix(rows.length, width, data),
    smiles: ds.smiles,
    vocabulary,
    layout: moleculeLayout(vocabulary),
    columns: moleculeColumns(vocabulary),
    rejected: 0,
  };
}
