/**
 * The reward of a molecule run on a QM9 DFT property (reward kind "dft"; docs/molecules.md "RCGDM on a DFT
 * property"), EDM's conditional-generation protocol (src/eval/edm-protocol.ts):
 *  - the labelled sample (src/chem/qm9-dft.ts) split into halves A and B (`seed`, `heldOut`);
 *  - half A is what rcgdm's f̂ is fitted on (`labels`: its fit part and held-out part), in place of the oracle
 *    labels of a property reward;
 *  - the evaluator φ: ridge (`l2`) on atom-environment counts (src/rewards/graph-features.ts) of half B's fit
 *    part alone, its own feature map fitted on B. φ is the run's reward: every row's property of the valid
 *    samples, and so the rows' `targetError` (EDM's MAE to the target), is φ's;
 *  - the bounds: φ's MAE on the real molecules of half A (never seen by φ) against their true labels, and the
 *    same with the labels shuffled.
 */
import { encodeSmiles, graphRowLength, graphToRow, QM9_VOCABULARY, type GraphVocabulary } from "../chem/graph.js";
import { QM9_DFT_PROPERTIES } from "../chem/dft-properties.js";
import { qm9DftLabels } from "../chem/qm9-dft.js";
import type { RDKit } from "../chem/rdkit.js";
import { hostMatrix, takeRows, type HostMatrix } from "../data/matrix.js";
import { labelHalves, meanAbsoluteError, shuffledMae } from "../eval/edm-protocol.js";
import { mean, std } from "../eval/stats.js";
import { graphFeatureMap } from "../rewards/graph-features.js";
import { fitRidge, predictRidge } from "../rewards/ridge.js";
import type { MoleculeDftRewardConfig } from "./config-schemas.js";

/** Labelled graph rows: a fit part and a held-out part. */
export interface LabelledRows {
  x: HostMatrix;
  y: Float32Array;
  heldOut: { x: HostMatrix; y: Float32Array };
}

/** The DFT reward of a run: φ on SMILES, half A's labels for f̂, and what the report says about both. */
export interface DftReward {
  property: string;
  unit: string;
  invalid: number;
  /** φ of each SMILES (`invalid` for null, empty or a molecule the encoder refuses). */
  ofSmiles(smiles: readonly (string | null)[]): number[];
  /** Half A: rcgdm's f̂ is fitted on `x`, measured on `heldOut`. */
  labels: LabelledRows;
  /** The report's "dft" section: data counts, φ's quality, the bounds. */
  section: Record<string, unknown>;
}

/** Prepares the DFT reward (reads and encodes the sample, fits φ); the model's vocabulary must be QM9's. */
export function prepareDftReward(rdkit: RDKit, cfg: MoleculeDftRewardConfig, vocab: GraphVocabulary, where: string): DftReward {
  const width = graphRowLength(QM9_VOCABULARY);
  if (graphRowLength(vocab) !== width || vocab.maxAtoms !== QM9_VOCABULARY.maxAtoms || vocab.atoms.join() !== QM9_VOCABULARY.atoms.join()) {
    throw new Error(`${where}: reward "dft": needs a QM9 model (atoms ${QM9_VOCABULARY.atoms.join(", ")}, maxAtoms ${QM9_VOCABULARY.maxAtoms}), the model's vocabulary is atoms ${vocab.atoms.join(", ")}, maxAtoms ${vocab.maxAtoms}`);
  }
  const L = qm9DftLabels(rdkit, cfg.property);
  const h = labelHalves(L.y.length, cfg.seed, cfg.heldOut);
  const part = (idx: Int32Array) => ({ x: takeRows(L.matrix, idx), y: Float32Array.from(idx, (i) => L.y[i]!) });
  const [a, aHeld, b, bHeld] = [part(h.a), part(h.aHeld), part(h.b), part(h.bHeld)];
  const features = graphFeatureMap(b.x, vocab);
  const phi = fitRidge(features.featurize(b.x), b.y, { kind: "ridge", l2: cfg.l2 });
  const phiRows = (x: HostMatrix) => predictRidge(phi, features.featurize(x));
  // As a property reward's default (the low end of its range): the lowest label, below every valid molecule's φ in a ranking.
  const invalid = cfg.invalidReward ?? Math.min(...L.y);
  const aAll = { x: takeRows(L.matrix, Int32Array.from([...h.a, ...h.aHeld])), y: Float32Array.from([...a.y, ...aHeld.y]) };
  const onA = phiRows(aAll.x);
  const bHeldPred = phiRows(bHeld.x);
  const spec = QM9_DFT_PROPERTIES[cfg.property];
  const section = {
    property: cfg.property,
    name: spec.name,
    unit: spec.unit,
    data: { fileRows: L.fileRows, repeatedMolId: L.duplicates, molecules: L.smiles.length + L.rejected.length, refused: L.rejected.length, refusedExamples: L.rejected.slice(0, 5), labelled: L.y.length },
    labels: { mean: mean(L.y), std: std(L.y), min: Math.min(...L.y), max: Math.max(...L.y) },
    split: { seed: cfg.seed, heldOut: cfg.heldOut, a: h.a.length, aHeld: h.aHeld.length, b: h.b.length, bHeld: h.bHeld.length },
    evaluator: { kind: "ridge", l2: cfg.l2, features: features.names.length, fittedOn: `half B (${h.b.length} molecules)`, heldOutMae: meanAbsoluteError(bHeldPred, bHeld.y), heldOutN: h.bHeld.length },
    // EDM's bounds, on half A (φ never saw it): true labels, and labels shuffled (seed + 1).
    bounds: { n: aAll.y.length, lower: meanAbsoluteError(onA, aAll.y), upper: shuffledMae(onA, aAll.y, cfg.seed + 1), upperKind: "phi(x) of half A's molecules vs a seeded permutation of their labels (EDM's naive upper bound)" },
  };
  return {
    property: cfg.property,
    unit: spec.unit,
    invalid,
    labels: { x: a.x, y: a.y, heldOut: aHeld },
    section,
    ofSmiles(smiles) {
      const out = new Array<number>(smiles.length).fill(invalid);
      const at: number[] = [];
      const rows: Float32Array[] = [];
      smiles.forEach((s, i) => {
        if (s === null || s === "") return;
        const e = encodeSmiles(rdkit, s, QM9_VOCABULARY);
        if (!e.ok) return;
        at.push(i);
        rows.push(graphToRow(e.graph));
      });
      if (rows.length === 0) return out;
      const data = new Float32Array(rows.length * width);
      rows.forEach((r, k) => data.set(r, k * width));
      const p = phiRows(hostMatrix(rows.length, width, data));
      at.forEach((i, k) => (out[i] = p[k]!));
      return out;
    },
  };
}

/**
 * Over all target rows together: φ's MAE to the targets on the valid samples, and the same with the targets
 * shuffled across the samples (seeded): the sample-side version of the upper bound.
 */
export function dftTargetSummary(rows: { target: number; values: readonly number[] }[], seed: number): { n: number; mae: number; shuffledTargetMae: number } | null {
  const pred: number[] = [];
  const target: number[] = [];
  for (const r of rows) for (const v of r.values) if (Number.isFinite(v)) {
    pred.push(v);
    target.push(r.target);
  }
  if (pred.length === 0) return null;
  return { n: pred.length, mae: meanAbsoluteError(pred, target), shuffledTargetMae: shuffledMae(pred, target, seed) };
}
