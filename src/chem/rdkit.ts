/**
 * RDKit MinimalLib (the `@rdkit/rdkit` WebAssembly build) loaded once per process, and the few molecule
 * operations the chemistry layer needs: parse + sanitise, canonical SMILES (with or without stereo),
 * Kekulé form. Every `Mol` is a wasm handle: `withMol` deletes it when the callback returns.
 */
import rdkitPackage, { type MainModule, type Mol } from "@rdkit/rdkit";

export type RDKit = MainModule;
export type { Mol };

/** The package is CommonJS (`module.exports = factory`); its typings declare an ES default export. */
const initRDKitModule = ((rdkitPackage as unknown as { default?: unknown }).default ?? rdkitPackage) as () => Promise<MainModule>;

let loading: Promise<RDKit> | undefined;

/** The RDKit module, initialised on the first call (≈0.3 s) and shared afterwards. */
export function loadRDKit(): Promise<RDKit> {
  const pending =
    loading ??
    initRDKitModule().then((rdkit) => {
      rdkit.disable_logging();
      return rdkit;
    });
  loading = pending;
  return pending;
}

/**
 * Parses and sanitises `input` (SMILES or a V2000 molblock); null when RDKit rejects it (syntax error or a
 * valence RDKit cannot sanitise). The caller owns the returned handle.
 */
export function parseMol(rdkit: RDKit, input: string): Mol | null {
  if (input.trim() === "") return null;
  const mol = rdkit.get_mol(input);
  if (mol === null) return null;
  if (!mol.is_valid()) {
    mol.delete();
    return null;
  }
  return mol;
}

/** Runs `f` on the parsed molecule and deletes the handle afterwards; null when `input` does not parse. */
export function withMol<T>(rdkit: RDKit, input: string, f: (mol: Mol) => T): T | null {
  const mol = parseMol(rdkit, input);
  if (mol === null) return null;
  try {
    return f(mol);
  } finally {
    mol.delete();
  }
}

/** Options of `canonicalSmiles`. */
export interface CanonicalOptions {
  /** Keep stereochemistry (chirality, E/Z) in the SMILES. Default true. */
  readonly stereo?: boolean;
}

/** RDKit's canonical SMILES of a molecule handle. */
export function molToCanonical(mol: Mol, options: CanonicalOptions = {}): string {
  return options.stereo === false ? mol.get_smiles(JSON.stringify({ doIsomericSmiles: false })) : mol.get_smiles();
}

/** RDKit's canonical SMILES of `input`, or null when it does not parse and sanitise. */
export function canonicalSmiles(rdkit: RDKit, input: string, options: CanonicalOptions = {}): string | null {
  return withMol(rdkit, input, (mol) => molToCanonical(mol, options));
}

/** The Kekulé SMILES of `input` (aromatic bonds written as alternating single/double), or null. */
export function kekuleSmiles(rdkit: RDKit, input: string): string | null {
  return withMol(rdkit, input, (mol) => mol.get_kekule_form());
}
