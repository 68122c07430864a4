/**
 * A table of SMILES turned into graph arrays, with the vocabulary read from the data. Rows that cannot be
 * encoded are refused, never dropped: one error line gives the count of each problem and the first row
 * numbers (file lines) where it occurs.
 */
import { atomicNumber, elementSymbol } from "./elements.js";
import { encodeTopology, kekuleTopology, type EncodeFailure, type GraphVocabulary, type KekuleTopology, type MolGraph } from "./graph.js";
import { parseMol, type RDKit } from "./rdkit.js";
import type { SmilesTable } from "./smiles-table.js";

/** Options of `encodeSmilesTable`. */
export interface SmilesDatasetOptions {
  /** Largest number of heavy atoms accepted. Default: the largest in the data. */
  readonly maxAtoms?: number;
  /** Allowed element symbols. Default: every element that occurs in the data (ordered by atomic number). */
  readonly atoms?: readonly string[];
  /** Names the source in error messages. */
  readonly where?: string;
}

/** The encoded dataset: the vocabulary, and per row its SMILES and graph arrays. */
export interface SmilesDataset {
  readonly vocab: GraphVocabulary;
  readonly smiles: string[];
  readonly graphs: MolGraph[];
}

const PROBLEMS: Record<EncodeFailure, string> = {
  unparsable: "unparsable SMILES",
  atom: "atoms outside the vocabulary",
  size: "molecules over maxAtoms",
  charge: "formal charges outside {0, +1, −1}",
  bond: "bond orders outside single/double/triple",
};

/** Encodes every row of `table`; throws one line listing each problem's count and first rows if any row fails. */
export function encodeSmilesTable(rdkit: RDKit, table: SmilesTable, options: SmilesDatasetOptions = {}): SmilesDataset {
  const where = options.where ?? "SMILES table";
  const topologies: Array<KekuleTopology | null> = table.smiles.map((s) => {
    const mol = parseMol(rdkit, s);
    if (mol === null) return null;
    try {
      return kekuleTopology(mol);
    } finally {
      mol.delete();
    }
  });
  for (const symbol of options.atoms ?? []) {
    if (atomicNumber(symbol) === undefined) throw new Error(`${where}: unknown element symbol ${JSON.stringify(symbol)} in atoms`);
  }
  const present = new Set<number>();
  const orders = new Set<number>();
  let largest = 0;
  for (const t of topologies) {
    if (t === null) continue;
    t.z.forEach((z) => present.add(z));
    t.bonds.forEach(([, , o]) => orders.add(o));
    largest = Math.max(largest, t.z.length);
  }
  const atoms = options.atoms ?? [...present].sort((a, b) => a - b).map(elementSymbol);
  const bonds = [1, 2, 3].filter((o) => orders.has(o));
  const vocab: GraphVocabulary = { atoms, bonds: bonds.length > 0 ? bonds : [1], maxAtoms: options.maxAtoms ?? Math.max(largest, 1) };
  const failures = new Map<EncodeFailure, number[]>();
  const graphs: MolGraph[] = [];
  topologies.forEach((t, r) => {
    const result = t === null ? ({ ok: false, reason: "unparsable" } as const) : encodeTopology(t, vocab);
    if (result.ok) graphs.push(result.graph);
    else failures.set(result.reason, [...(failures.get(result.reason) ?? []), table.lines[r]!]);
  });
  if (failures.size > 0) {
    const parts = [...failures].map(([reason, lines]) => {
      const first = lines.slice(0, 5).join(", ");
      return `${lines.length} ${PROBLEMS[reason]} (line${lines.length === 1 ? "" : "s"} ${first}${lines.length > 5 ? ", …" : ""})`;
    });
    const limits = `vocabulary [${vocab.atoms.join(", ")}], maxAtoms ${vocab.maxAtoms}`;
    throw new Error(`${where}: ${table.smiles.length - graphs.length} of ${table.smiles.length} rows refused: ${parts.join("; ")}; ${limits}`);
  }
  return { vocab, smiles: table.smiles, graphs };
}
