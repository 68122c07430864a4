/**
 * RDKit MinimalLib's descriptor set (`Mol.get_descriptors()`) as a typed record, and substructure counts
 * with compiled SMARTS queries cached per RDKit module.
 */
import type { Mol, RDKit } from "./rdkit.js";

/** The MinimalLib descriptors used here (names as RDKit returns them). */
export interface RDKitDescriptors {
  /** Average molecular weight, implicit hydrogens included (RDKit `_CalcMolWt`). */
  readonly amw: number;
  readonly exactmw: number;
  /** Wildman–Crippen logP (RDKit `Crippen.MolLogP`). */
  readonly CrippenClogP: number;
  /** Topological polar surface area, N and O only (RDKit `MolSurf.TPSA`). */
  readonly tpsa: number;
  readonly NumHBD: number;
  readonly NumHBA: number;
  /** Rotatable bonds, RDKit's default (strict) definition. */
  readonly NumRotatableBonds: number;
  readonly NumRings: number;
  readonly NumAromaticRings: number;
  readonly NumAliphaticRings: number;
  readonly NumHeavyAtoms: number;
  readonly [name: string]: number;
}

/** All MinimalLib descriptors of a molecule. */
export function descriptors(mol: Mol): RDKitDescriptors {
  return JSON.parse(mol.get_descriptors()) as RDKitDescriptors;
}

const queries = new WeakMap<RDKit, Map<string, Mol>>();

/** The compiled query molecule of a SMARTS pattern (compiled once per RDKit module and kept). */
export function smartsQuery(rdkit: RDKit, smarts: string): Mol {
  let cache = queries.get(rdkit);
  if (cache === undefined) queries.set(rdkit, (cache = new Map()));
  let q = cache.get(smarts);
  if (q === undefined) {
    const parsed = rdkit.get_qmol(smarts);
    if (parsed === null || !parsed.is_valid()) throw new Error(`invalid SMARTS ${JSON.stringify(smarts)}`);
    cache.set(smarts, (q = parsed));
  }
  return q;
}

/** The unique matches of a SMARTS pattern, each the list of matched atom indices. */
export function substructMatches(rdkit: RDKit, mol: Mol, smarts: string): number[][] {
  const parsed = JSON.parse(mol.get_substruct_matches(smartsQuery(rdkit, smarts))) as Array<{ atoms: number[] }> | Record<string, never>;
  return Array.isArray(parsed) ? parsed.map((m) => m.atoms) : [];
}

/** Whether the molecule contains the SMARTS pattern. */
export function hasSubstruct(rdkit: RDKit, mol: Mol, smarts: string): boolean {
  return mol.get_substruct_match(smartsQuery(rdkit, smarts)) !== "{}";
}
