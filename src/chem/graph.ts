/**
 * Molecules as dense heavy-atom graphs (the tensors a graph diffusion model denoises), and back.
 *
 * A molecule with at most `maxAtoms` heavy atoms, kekulised (aromatic bonds written as alternating single
 * and double bonds), becomes three host arrays, all one-hot and row-major:
 * - `nodes` [maxAtoms, atoms.length + 1]: the element of each atom; the last column is "no atom" (padding);
 * - `charges` [maxAtoms, 3]: the formal charge of each atom, columns 0, +1, −1 (padding has charge 0);
 * - `edges` [maxAtoms, maxAtoms, bonds.length + 1]: column 0 is "no bond", then one column per bond order
 *   in `bonds`; symmetric, with "no bond" on the diagonal and on padding rows.
 * Hydrogens are implicit: RDKit recomputes them from each atom's bonds and charge when decoding, so the
 * charge channel is what lets `[NH+]`, `[O-]` or nitro groups round-trip. Radical electrons and stereo
 * marks are not represented. Decoding applies no valence correction: a graph RDKit cannot sanitise is
 * reported invalid. docs/molecules.md gives the measured round-trip rate on QM9.
 */
import { atomicNumber, elementSymbol } from "./elements.js";
import { molToCanonical, parseMol, type Mol, type RDKit } from "./rdkit.js";

/** The atom and bond vocabulary of an encoding and the number of atom slots. */
export interface GraphVocabulary {
  /** Element symbols, one node column each (e.g. ["C", "N", "O", "F"]). */
  readonly atoms: readonly string[];
  /** Bond orders after kekulisation, one edge column each after "no bond" (e.g. [1, 2, 3]). */
  readonly bonds: readonly number[];
  /** Atom slots per graph; molecules with more heavy atoms cannot be encoded. */
  readonly maxAtoms: number;
}

/** QM9: C, N, O, F; single, double, triple bonds; at most 9 heavy atoms. */
export const QM9_VOCABULARY: GraphVocabulary = { atoms: ["C", "N", "O", "F"], bonds: [1, 2, 3], maxAtoms: 9 };

/** The formal charges of the charge channel, in column order. */
export const FORMAL_CHARGES: readonly number[] = [0, 1, -1];

/** A molecule as dense one-hot host arrays (shapes in the module comment). */
export interface MolGraph {
  readonly nodes: Float32Array;
  readonly charges: Float32Array;
  readonly edges: Float32Array;
}

/** The feature widths of a vocabulary: node columns (atoms + "no atom"), charge columns, edge columns. */
export function graphShape(vocab: GraphVocabulary): { nodeFeatures: number; chargeFeatures: number; edgeFeatures: number } {
  return { nodeFeatures: vocab.atoms.length + 1, chargeFeatures: FORMAL_CHARGES.length, edgeFeatures: vocab.bonds.length + 1 };
}

/** Why a molecule cannot be encoded. */
export type EncodeFailure = "unparsable" | "atom" | "size" | "charge" | "bond";

/** The outcome of `encodeSmiles`: the graph, or the reason with a one-line detail. */
export type EncodeResult =
  | { readonly ok: true; readonly graph: MolGraph; readonly atoms: number }
  | { readonly ok: false; readonly reason: EncodeFailure; readonly detail: string };

/** Atoms and bonds of a kekulised molecule, read from RDKit's JSON. */
export interface KekuleTopology {
  /** Atomic numbers. */
  readonly z: number[];
  readonly charges: number[];
  readonly radicals: number[];
  /** [i, j, order] with order 1, 2, 3 (or another RDKit bond order code). */
  readonly bonds: Array<[number, number, number]>;
}

interface RDKitJsonAtom { z?: number; chg?: number; nRad?: number }
interface RDKitJsonBond { bo?: number; atoms: [number, number] }
interface RDKitJson {
  defaults: { atom: Required<RDKitJsonAtom>; bond: { bo: number } };
  molecules: Array<{ atoms?: RDKitJsonAtom[]; bonds?: RDKitJsonBond[] }>;
}

/** The Kekulé topology of a molecule handle (the handle itself is converted to its Kekulé form). */
export function kekuleTopology(mol: Mol): KekuleTopology {
  mol.convert_to_kekule_form();
  const json = JSON.parse(mol.get_json()) as RDKitJson;
  const da = json.defaults.atom;
  const m = json.molecules[0] ?? {};
  const atoms = m.atoms ?? [];
  return {
    z: atoms.map((a) => a.z ?? da.z),
    charges: atoms.map((a) => a.chg ?? da.chg),
    radicals: atoms.map((a) => a.nRad ?? da.nRad),
    bonds: (m.bonds ?? []).map((b) => [b.atoms[0], b.atoms[1], b.bo ?? json.defaults.bond.bo]),
  };
}

/** Encodes a SMILES string (parsed and sanitised by RDKit, then kekulised) into one-hot graph arrays. */
export function encodeSmiles(rdkit: RDKit, smiles: string, vocab: GraphVocabulary): EncodeResult {
  const mol = parseMol(rdkit, smiles);
  if (mol === null) return { ok: false, reason: "unparsable", detail: `RDKit cannot parse ${JSON.stringify(smiles)}` };
  try {
    return encodeTopology(kekuleTopology(mol), vocab);
  } finally {
    mol.delete();
  }
}

/** Encodes a Kekulé topology; fails on an element, charge or bond order outside the vocabulary, or too many atoms. */
export function encodeTopology(topo: KekuleTopology, vocab: GraphVocabulary): EncodeResult {
  const n = vocab.maxAtoms;
  const { nodeFeatures, chargeFeatures, edgeFeatures } = graphShape(vocab);
  const count = topo.z.length;
  if (count > n) return { ok: false, reason: "size", detail: `${count} heavy atoms, more than maxAtoms = ${n}` };
  const atomColumn = new Map(vocab.atoms.map((s, i) => [atomicNumber(s), i] as const));
  const nodes = new Float32Array(n * nodeFeatures);
  const charges = new Float32Array(n * chargeFeatures);
  const edges = new Float32Array(n * n * edgeFeatures);
  for (let i = 0; i < n; i++) {
    if (i >= count) {
      nodes[i * nodeFeatures + nodeFeatures - 1] = 1;
      charges[i * chargeFeatures] = 1;
      continue;
    }
    const col = atomColumn.get(topo.z[i]!);
    if (col === undefined) return { ok: false, reason: "atom", detail: `element ${elementSymbol(topo.z[i]!)} is not in the vocabulary [${vocab.atoms.join(", ")}]` };
    const q = FORMAL_CHARGES.indexOf(topo.charges[i]!);
    if (q < 0) return { ok: false, reason: "charge", detail: `formal charge ${topo.charges[i]} is not one of 0, +1, −1` };
    nodes[i * nodeFeatures + col] = 1;
    charges[i * chargeFeatures + q] = 1;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) edges[(i * n + j) * edgeFeatures] = 1;
  for (const [i, j, order] of topo.bonds) {
    const col = vocab.bonds.indexOf(order);
    if (col < 0) return { ok: false, reason: "bond", detail: `bond order ${order} is not in the vocabulary [${vocab.bonds.join(", ")}]` };
    for (const [a, b] of [[i, j], [j, i]] as const) {
      edges[(a * n + b) * edgeFeatures] = 0;
      edges[(a * n + b) * edgeFeatures + 1 + col] = 1;
    }
  }
  return { ok: true, graph: { nodes, charges, edges }, atoms: count };
}

/** The decoded molecule: its canonical SMILES when RDKit sanitises it, else null (invalid). */
export interface DecodeResult {
  readonly valid: boolean;
  /** Canonical SMILES (with '.' between fragments), or null when invalid. */
  readonly smiles: string | null;
  /** Number of atoms in the graph (non-padding nodes). */
  readonly atoms: number;
}

function argmax(a: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let k = 1; k < width; k++) if (a[offset + k]! > a[offset + best]!) best = k;
  return best;
}

/**
 * The V2000 molblock of graph arrays, decoded by argmax: per node (element or "no atom"), per node charge,
 * and per atom pair i < j from the upper triangle of `edges` (bonds to "no atom" nodes are dropped). No
 * hydrogen counts are written: RDKit derives them from each atom's bonds and charge. Null when no atom is left.
 */
export function graphToMolblock(graph: MolGraph, vocab: GraphVocabulary): string | null {
  const n = vocab.maxAtoms;
  const { nodeFeatures, chargeFeatures, edgeFeatures } = graphShape(vocab);
  const index = new Array<number>(n).fill(-1);
  const atomLines: string[] = [];
  const chargeEntries: string[] = [];
  for (let i = 0; i < n; i++) {
    const col = argmax(graph.nodes, i * nodeFeatures, nodeFeatures);
    if (col === nodeFeatures - 1) continue;
    index[i] = atomLines.length;
    atomLines.push(`    0.0000    0.0000    0.0000 ${vocab.atoms[col]!.padEnd(3)} 0  0  0  0  0  0  0  0  0  0  0  0`);
    const q = FORMAL_CHARGES[argmax(graph.charges, i * chargeFeatures, chargeFeatures)]!;
    if (q !== 0) chargeEntries.push(`${String(index[i]! + 1).padStart(4)}${String(q).padStart(4)}`);
  }
  if (atomLines.length === 0) return null;
  const bondLines: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (index[i]! < 0 || index[j]! < 0) continue;
      const col = argmax(graph.edges, (i * n + j) * edgeFeatures, edgeFeatures);
      if (col === 0) continue;
      bondLines.push(`${String(index[i]! + 1).padStart(3)}${String(index[j]! + 1).padStart(3)}${String(vocab.bonds[col - 1]).padStart(3)}  0`);
    }
  }
  const lines = ["", "  rewardiff", "", `${String(atomLines.length).padStart(3)}${String(bondLines.length).padStart(3)}  0  0  0  0  0  0  0  0999 V2000`, ...atomLines, ...bondLines];
  for (let k = 0; k < chargeEntries.length; k += 8) {
    const chunk = chargeEntries.slice(k, k + 8);
    lines.push(`M  CHG${String(chunk.length).padStart(3)}${chunk.join("")}`);
  }
  lines.push("M  END");
  return lines.join("\n") + "\n";
}

/** Decodes graph arrays (one-hot or soft scores; argmax decides) into a canonical SMILES, without valence correction. */
export function decodeGraph(rdkit: RDKit, graph: MolGraph, vocab: GraphVocabulary, options: { stereo?: boolean } = {}): DecodeResult {
  const block = graphToMolblock(graph, vocab);
  if (block === null) return { valid: false, smiles: null, atoms: 0 };
  const atoms = Number(block.split("\n")[3]!.slice(0, 3));
  const mol = parseMol(rdkit, block);
  if (mol === null) return { valid: false, smiles: null, atoms };
  try {
    return { valid: true, smiles: molToCanonical(mol, options), atoms };
  } finally {
    mol.delete();
  }
}

/** Values in one flat row of a graph: nodes, then charges, then edges (each row-major, as in `MolGraph`). */
export function graphRowLength(vocab: GraphVocabulary): number {
  const n = vocab.maxAtoms;
  const { nodeFeatures, chargeFeatures, edgeFeatures } = graphShape(vocab);
  return n * nodeFeatures + n * chargeFeatures + n * n * edgeFeatures;
}

/** A graph as one flat row (nodes ‖ charges ‖ edges), the layout of a graph in a host matrix. */
export function graphToRow(graph: MolGraph): Float32Array {
  const row = new Float32Array(graph.nodes.length + graph.charges.length + graph.edges.length);
  row.set(graph.nodes, 0);
  row.set(graph.charges, graph.nodes.length);
  row.set(graph.edges, graph.nodes.length + graph.charges.length);
  return row;
}

/** The graph held in a flat row (views into `row`, no copy); inverse of `graphToRow`. */
export function graphFromRow(row: Float32Array, vocab: GraphVocabulary): MolGraph {
  const n = vocab.maxAtoms;
  const { nodeFeatures, chargeFeatures } = graphShape(vocab);
  if (row.length !== graphRowLength(vocab)) throw new Error(`a graph row for maxAtoms ${n} has ${graphRowLength(vocab)} values, got ${row.length}`);
  const a = n * nodeFeatures;
  const b = a + n * chargeFeatures;
  return { nodes: row.subarray(0, a), charges: row.subarray(a, b), edges: row.subarray(b) };
}
