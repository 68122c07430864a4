/**
 * Metrics of a set of generated molecules against data (docs/molecules.md):
 * - validity: fraction of generated entries RDKit parses and sanitises (no valence correction; null = invalid);
 * - uniqueness: distinct canonical SMILES among the valid ones / valid count;
 * - novelty: distinct valid molecules absent from the training set / distinct valid molecules;
 * - fragmented: fraction of valid molecules with more than one fragment;
 * - the GuacaMol KL-divergence score (Brown et al. 2019): the mean of exp(−KL(P_ref‖Q_gen)) over nine
 *   descriptors — BertzCT, logP, MW, TPSA (continuous, KDE) and H-bond acceptors, donors, rotatable bonds,
 *   aliphatic and aromatic rings (discrete, histogram) — and the nearest-neighbour ECFP4 Tanimoto similarity
 *   within each set (continuous); the generated side is the distinct valid molecules (src/chem/kl.ts);
 * - atom-type (element and formal charge) and Kekulé bond-type frequencies, beside the data's, and their
 *   total variation distance.
 * Molecules are compared by canonical SMILES without stereochemistry (the graphs carry none). The floor of
 * each metric is its value for a data sample disjoint from the reference in place of the generated set.
 */
import { bertzCT } from "./bertz.js";
import { descriptors, substructMatches } from "./descriptors.js";
import { kekuleTopology } from "./graph.js";
import { elementSymbol } from "./elements.js";
import { continuousKl, discreteKl } from "./kl.js";
import { molToCanonical, parseMol, withMol, type Mol, type RDKit } from "./rdkit.js";

/** The KL-score descriptors in GuacaMol's order (RDKit names); the first four are continuous. */
export const KL_DESCRIPTORS = [
  "BertzCT", "MolLogP", "MolWt", "TPSA", "NumHAcceptors", "NumHDonors", "NumRotatableBonds", "NumAliphaticRings", "NumAromaticRings",
] as const;
const CONTINUOUS = 4;

/**
 * H-bond acceptors as RDKit ≤ 2022.09 counts them (Lipinski.HAcceptorSmarts, the definition GuacaMol's
 * NumHAcceptors used); MinimalLib 2026.09's `NumHBA` follows a newer, narrower definition (3 for caffeine
 * where this pattern gives 6), so the pattern is matched here instead.
 */
const HBA_SMARTS = "[$([O,S;H1;v2]-[!$(*=[O,N,P,S])]),$([O,S;H0;v2]),$([O,S;-]),$([N;v3;!$(N-*=!@[O,N,P,S])]),$([nH0,o,s;+0])]";

/** The nine KL-score descriptors of a molecule, in KL_DESCRIPTORS order. */
export function klDescriptors(rdkit: RDKit, mol: Mol): number[] {
  const d = descriptors(mol);
  const hba = substructMatches(rdkit, mol, HBA_SMARTS).length;
  return [bertzCT(mol), d.CrippenClogP, d.amw, d.tpsa, hba, d.NumHBD, d.NumRotatableBonds, d.NumAliphaticRings, d.NumAromaticRings];
}

/** ECFP4: RDKit's Morgan fingerprint, radius 2, folded to 2048 bits, as 64 32-bit words. */
export function ecfp4(mol: Mol): Uint32Array {
  const bytes = mol.get_morgan_fp_as_uint8array(JSON.stringify({ radius: 2, nBits: 2048 })) as Uint8Array;
  const words = new Uint32Array(64);
  for (let i = 0; i < 256; i++) words[i >> 2]! |= bytes[i]! << (8 * (i & 3));
  return words;
}

function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Tanimoto similarity |a ∧ b| / |a ∨ b| of two bit fingerprints (0 when both are empty). */
export function tanimoto(a: Uint32Array, b: Uint32Array): number {
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    both += popcount(a[i]! & b[i]!);
    either += popcount(a[i]! | b[i]!);
  }
  return either === 0 ? 0 : both / either;
}

/** For each fingerprint, the largest Tanimoto similarity to any other one in the set. */
export function nearestNeighbourSimilarity(fps: readonly Uint32Array[]): number[] {
  const best = new Array<number>(fps.length).fill(0);
  for (let i = 1; i < fps.length; i++) {
    for (let j = 0; j < i; j++) {
      const s = tanimoto(fps[i]!, fps[j]!);
      if (s > best[i]!) best[i] = s;
      if (s > best[j]!) best[j] = s;
    }
  }
  return best;
}

/** Per-molecule features of a set of valid molecules (distinct canonical SMILES). */
export interface MoleculeFeatures {
  readonly smiles: string[];
  /** KL_DESCRIPTORS per molecule. */
  readonly descriptors: number[][];
  readonly fingerprints: Uint32Array[];
}

/** Descriptors and fingerprints of SMILES (each must parse; throws naming the first that does not). */
export function moleculeFeatures(rdkit: RDKit, smiles: readonly string[]): MoleculeFeatures {
  const descriptorRows: number[][] = [];
  const fingerprints: Uint32Array[] = [];
  for (const s of smiles) {
    const ok = withMol(rdkit, s, (mol) => {
      descriptorRows.push(klDescriptors(rdkit, mol));
      fingerprints.push(ecfp4(mol));
    });
    if (ok === null) throw new Error(`moleculeFeatures: RDKit cannot parse ${JSON.stringify(s)}`);
  }
  return { smiles: [...smiles], descriptors: descriptorRows, fingerprints };
}

/** The KL score and its parts (KL per descriptor and for the internal similarity). */
export interface KlScore {
  /** Mean of exp(−KL) over the ten parts, in [0, 1]; 1 when the distributions match. */
  readonly score: number;
  readonly kl: Record<(typeof KL_DESCRIPTORS)[number] | "InternalSimilarity", number>;
}

/** GuacaMol's KL-divergence score of generated features against reference features. */
export function klScore(reference: MoleculeFeatures, generated: MoleculeFeatures): KlScore {
  if (reference.smiles.length < 2 || generated.smiles.length < 2) throw new Error("klScore: each set needs at least two molecules");
  const kl = {} as Record<string, number>;
  KL_DESCRIPTORS.forEach((name, k) => {
    const p = reference.descriptors.map((d) => d[k]!);
    const q = generated.descriptors.map((d) => d[k]!);
    kl[name] = k < CONTINUOUS ? continuousKl(p, q) : discreteKl(p, q);
  });
  kl.InternalSimilarity = continuousKl(nearestNeighbourSimilarity(reference.fingerprints), nearestNeighbourSimilarity(generated.fingerprints));
  const parts = Object.values(kl);
  return { score: parts.reduce((s, v) => s + Math.exp(-v), 0) / parts.length, kl: kl as KlScore["kl"] };
}

/** Frequencies of atom types (element with formal charge, e.g. "N", "N+", "O-") and Kekulé bond types. */
export interface TypeHistograms {
  readonly atoms: Record<string, number>;
  readonly bonds: Record<string, number>;
}

const BOND_NAMES: Record<number, string> = { 1: "single", 2: "double", 3: "triple" };

function fractions(counts: Map<string, number>): Record<string, number> {
  const total = [...counts.values()].reduce((s, c) => s + c, 0);
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, c]) => [k, total === 0 ? 0 : c / total]));
}

/** Atom- and bond-type frequencies over all atoms and bonds of the molecules (each SMILES must parse). */
export function typeHistograms(rdkit: RDKit, smiles: readonly string[]): TypeHistograms {
  const atoms = new Map<string, number>();
  const bonds = new Map<string, number>();
  for (const s of smiles) {
    const ok = withMol(rdkit, s, (mol) => {
      const t = kekuleTopology(mol);
      t.z.forEach((z, i) => {
        const q = t.charges[i]!;
        const key = elementSymbol(z) + (q === 0 ? "" : q > 0 ? "+".repeat(q) : "-".repeat(-q));
        atoms.set(key, (atoms.get(key) ?? 0) + 1);
      });
      for (const [, , o] of t.bonds) {
        const key = BOND_NAMES[o] ?? `order ${o}`;
        bonds.set(key, (bonds.get(key) ?? 0) + 1);
      }
    });
    if (ok === null) throw new Error(`typeHistograms: RDKit cannot parse ${JSON.stringify(s)}`);
  }
  return { atoms: fractions(atoms), bonds: fractions(bonds) };
}

/** Total variation distance ½ Σ |p_k − q_k| between two frequency tables (missing keys count 0). */
export function totalVariation(p: Record<string, number>, q: Record<string, number>): number {
  const keys = new Set([...Object.keys(p), ...Object.keys(q)]);
  let s = 0;
  for (const k of keys) s += Math.abs((p[k] ?? 0) - (q[k] ?? 0));
  return s / 2;
}

/** Canonical SMILES without stereo of each entry, null when it is null or RDKit rejects it. */
export function canonicalize(rdkit: RDKit, smiles: readonly (string | null)[]): Array<string | null> {
  return smiles.map((s) => {
    if (s === null) return null;
    const mol = parseMol(rdkit, s);
    if (mol === null) return null;
    try {
      return molToCanonical(mol, { stereo: false });
    } finally {
      mol.delete();
    }
  });
}

/** Validity: the fraction of entries that are valid (non-null after `canonicalize`). */
export function validity(canonical: readonly (string | null)[]): number {
  return canonical.length === 0 ? 0 : canonical.filter((s) => s !== null).length / canonical.length;
}

/** Uniqueness: distinct valid molecules / valid molecules (0 when none is valid). */
export function uniqueness(canonical: readonly (string | null)[]): number {
  const valid = canonical.filter((s): s is string => s !== null);
  return valid.length === 0 ? 0 : new Set(valid).size / valid.length;
}

/** Novelty: distinct valid molecules not in `training` (canonical, no stereo) / distinct valid molecules. */
export function novelty(canonical: readonly (string | null)[], training: ReadonlySet<string>): number {
  const distinct = new Set(canonical.filter((s): s is string => s !== null));
  if (distinct.size === 0) return 0;
  let novel = 0;
  for (const s of distinct) if (!training.has(s)) novel++;
  return novel / distinct.size;
}

/** Fraction of valid molecules with more than one fragment ('.' in the SMILES). */
export function fragmented(canonical: readonly (string | null)[]): number {
  const valid = canonical.filter((s): s is string => s !== null);
  return valid.length === 0 ? 0 : valid.filter((s) => s.includes(".")).length / valid.length;
}

/** All metrics of a generated set. */
export interface MoleculeMetrics {
  readonly samples: number;
  readonly validity: number;
  readonly uniqueness: number;
  readonly novelty: number;
  readonly fragmented: number;
  /** Null when fewer than two distinct valid molecules were generated. */
  readonly kl: KlScore | null;
  readonly atomTypes: { readonly generated: Record<string, number>; readonly data: Record<string, number>; readonly totalVariation: number };
  readonly bondTypes: { readonly generated: Record<string, number>; readonly data: Record<string, number>; readonly totalVariation: number };
}

/** The reference data of the metrics: a reference sample (e.g. the test split) and the training set. */
export interface MetricsData {
  /** Reference molecules for the KL score and the type histograms (SMILES; must all parse). */
  readonly reference: readonly string[];
  /** Training molecules for novelty (SMILES; unparsable ones are skipped). */
  readonly training: readonly string[];
  /** Their canonical SMILES, when already known (e.g. QM9's train split, src/chem/qm9-node.ts): used as they are. */
  readonly trainingCanonical?: ReadonlySet<string>;
}

/** Prepared reference data: canonical training set, reference features and histograms (reuse across calls). */
export interface PreparedMetricsData {
  readonly training: ReadonlySet<string>;
  readonly reference: MoleculeFeatures;
  readonly referenceTypes: TypeHistograms;
}

/** Canonicalises the training set and computes the reference features once. */
export function prepareMetricsData(rdkit: RDKit, data: MetricsData): PreparedMetricsData {
  const training = data.trainingCanonical ?? new Set(canonicalize(rdkit, data.training).filter((s): s is string => s !== null));
  return { training, reference: moleculeFeatures(rdkit, data.reference), referenceTypes: typeHistograms(rdkit, data.reference) };
}

/** The metrics of `generated` (SMILES, null for a graph that did not decode) against prepared data. */
export function moleculeMetrics(rdkit: RDKit, generated: readonly (string | null)[], data: PreparedMetricsData): MoleculeMetrics {
  const canonical = canonicalize(rdkit, generated);
  const valid = canonical.filter((s): s is string => s !== null);
  const distinct = [...new Set(valid)];
  const kl = distinct.length >= 2 ? klScore(data.reference, moleculeFeatures(rdkit, distinct)) : null;
  const types = typeHistograms(rdkit, valid);
  return {
    samples: generated.length,
    validity: validity(canonical),
    uniqueness: uniqueness(canonical),
    novelty: novelty(canonical, data.training),
    fragmented: fragmented(canonical),
    kl,
    atomTypes: { generated: types.atoms, data: data.referenceTypes.atoms, totalVariation: totalVariation(types.atoms, data.referenceTypes.atoms) },
    bondTypes: { generated: types.bonds, data: data.referenceTypes.bonds, totalVariation: totalVariation(types.bonds, data.referenceTypes.bonds) },
  };
}
