/**
 * Chemistry oracles as black-box, batched host rewards: RDKit properties (Wildman–Crippen logP, TPSA,
 * average molecular weight, ring counts) and QED (src/chem/qed.ts) of a list of SMILES, or of graph rows
 * decoded without valence correction (src/chem/graph.ts).
 *
 * An invalid molecule (unparsable SMILES, a graph RDKit cannot sanitise, an empty graph) gets a defined
 * reward, `invalidReward`, by default the low end of the property's range in `PROPERTY_RANGES`, so that
 * derivative-free methods can rank it below every valid molecule.
 */
import { hostReward, type HostReward } from "../rewards/reward.js";
import { descriptors } from "./descriptors.js";
import { decodeGraph, graphFromRow, graphRowLength, type GraphVocabulary } from "./graph.js";
import { qed } from "./qed.js";
import { withMol, type Mol, type RDKit } from "./rdkit.js";

/** The molecular properties an oracle can compute. */
export type MoleculeProperty = "qed" | "logp" | "tpsa" | "mw" | "rings" | "aromaticRings" | "aliphaticRings";

/** The range each property is reported on; the low end is the default reward of an invalid molecule. */
export const PROPERTY_RANGES: Record<MoleculeProperty, readonly [number, number]> = {
  qed: [0, 1],
  logp: [-10, 10],
  tpsa: [0, 300],
  mw: [0, 1000],
  rings: [0, 20],
  aromaticRings: [0, 20],
  aliphaticRings: [0, 20],
};

/** A property of a sanitised molecule. */
export function moleculeProperty(rdkit: RDKit, mol: Mol, property: MoleculeProperty): number {
  if (property === "qed") return qed(rdkit, mol);
  const d = descriptors(mol);
  switch (property) {
    case "logp":
      return d.CrippenClogP;
    case "tpsa":
      return d.tpsa;
    case "mw":
      return d.amw;
    case "rings":
      return d.NumRings;
    case "aromaticRings":
      return d.NumAromaticRings;
    case "aliphaticRings":
      return d.NumAliphaticRings;
  }
}

/** Options of the oracles. */
export interface OracleOptions {
  /** Reward of an invalid molecule. Default: the low end of PROPERTY_RANGES[property]. */
  readonly invalidReward?: number;
  /**
   * Reward of a valid molecule of more than one fragment (a '.' in its SMILES). Default: none — its property,
   * computed on all fragments together as RDKit does.
   */
  readonly fragmentedReward?: number;
}

/** The property of each SMILES (null or unparsable → invalidReward). */
export function propertyOfSmiles(
  rdkit: RDKit,
  smiles: readonly (string | null)[],
  property: MoleculeProperty,
  options: OracleOptions = {},
): Float64Array {
  const invalid = options.invalidReward ?? PROPERTY_RANGES[property][0];
  const fragmented = options.fragmentedReward;
  return Float64Array.from(smiles, (s) => {
    if (s === null) return invalid;
    const v = withMol(rdkit, s, (mol) => moleculeProperty(rdkit, mol, property));
    if (v === null) return invalid;
    return fragmented !== undefined && s.includes(".") ? fragmented : v;
  });
}

/**
 * A black-box host reward on graph rows (one flattened graph per row, `graphToRow` layout): decode each row
 * by argmax without valence correction, then compute the property; invalid graphs get `invalidReward`.
 */
export function graphPropertyReward(rdkit: RDKit, vocab: GraphVocabulary, property: MoleculeProperty, options: OracleOptions = {}): HostReward {
  const width = graphRowLength(vocab);
  return hostReward(property, (x) => {
    if (x.cols !== width) throw new Error(`reward "${property}": rows must hold ${width} values (a graph with maxAtoms ${vocab.maxAtoms}), got ${x.cols}`);
    const smiles = Array.from({ length: x.rows }, (_, i) => decodeGraph(rdkit, graphFromRow(x.data.subarray(i * width, (i + 1) * width), vocab), vocab).smiles);
    return propertyOfSmiles(rdkit, smiles, property, options);
  });
}
