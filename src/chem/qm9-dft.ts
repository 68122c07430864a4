/**
 * QM9's DFT properties (B3LYP/6-31G(2df,p); data/qm9/README.md) as labels of graph rows, for conditional
 * generation on a DFT property (EDM's protocol: src/eval/edm-protocol.ts; docs/molecules.md "RCGDM on a DFT
 * property"). The labels are the shipped sample data/qm9/qm9-props-sample.csv.gz (14,861 rows; a few mol_id
 * repeat, the first row of each is kept), encoded with QM9_VOCABULARY; molecules the encoder refuses are
 * counted, never dropped silently. Node-only (reads the file).
 */
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { encodeQm9, readQm9Props } from "./qm9-node.js";
import { QM9_DFT_PROPERTIES, type Qm9DftProperty } from "./dft-properties.js";
import type { RDKit } from "./rdkit.js";

/** The labelled molecules of the property sample. */
export interface Qm9DftLabels {
  property: Qm9DftProperty;
  /** Graph rows (QM9_VOCABULARY) of the encoded molecules, their SMILES and labels (in `unit`). */
  matrix: HostMatrix;
  smiles: string[];
  y: Float32Array;
  unit: string;
  /** Rows of the file, rows dropped as a repeated mol_id, and molecules RDKit or the encoder refused. */
  fileRows: number;
  duplicates: number;
  rejected: Array<{ smiles: string; reason: string }>;
}

const cache = new Map<Qm9DftProperty, Qm9DftLabels>();

/** The sample's molecules with `property` as label (first row per mol_id; refused molecules listed; read once per process and property). */
export function qm9DftLabels(rdkit: RDKit, property: Qm9DftProperty): Qm9DftLabels {
  const hit = cache.get(property);
  if (hit) return hit;
  const spec = QM9_DFT_PROPERTIES[property];
  const { header, rows } = readQm9Props();
  const col = (name: string) => {
    const k = header.indexOf(name);
    if (k < 0) throw new Error(`data/qm9/qm9-props-sample.csv.gz: no column "${name}" (header: ${header.join(",")})`);
    return k;
  };
  const [cId, cSmiles, cY] = [col("mol_id"), col("smiles"), col(spec.column)];
  const seen = new Set<string>();
  const smiles: string[] = [];
  const labels = new Map<string, number[]>();
  for (const [r, cells] of rows.entries()) {
    const id = cells[cId]!;
    if (seen.has(id)) continue;
    seen.add(id);
    const v = Number(cells[cY]);
    if (cells[cY] === "" || !Number.isFinite(v)) throw new Error(`data/qm9/qm9-props-sample.csv.gz: line ${r + 2}: ${spec.column} "${cells[cY]}" is not a number`);
    smiles.push(cells[cSmiles]!);
    labels.set(cells[cSmiles]!, [...(labels.get(cells[cSmiles]!) ?? []), v * spec.factor]);
  }
  const g = encodeQm9(rdkit, smiles);
  // encodeQm9 keeps the order of the molecules it encodes; a SMILES repeated under two mol_id takes its labels in order.
  const used = new Map<string, number>();
  const y = Float32Array.from(g.smiles, (s) => {
    const k = used.get(s) ?? 0;
    used.set(s, k + 1);
    return labels.get(s)![k]!;
  });
  const out = { property, matrix: hostMatrix(g.matrix.rows, g.matrix.cols, g.matrix.data), smiles: g.smiles, y, unit: spec.unit, fileRows: rows.length, duplicates: rows.length - seen.size, rejected: g.rejected };
  cache.set(property, out);
  return out;
}
