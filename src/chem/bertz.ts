/**
 * BertzCT, Bertz's topological complexity index (S. H. Bertz, J. Am. Chem. Soc. 103, 3599–3601, 1981),
 * as RDKit's GraphDescriptors.BertzCT defines it (RDKit MinimalLib does not provide it):
 *
 *   C = N_a · H(atom types) + η · (H(connections) + log₂ η),
 *
 * where H is the Shannon entropy in bits of a count table, the atom types are atomic numbers over the N_a
 * heavy atoms, and the connection table counts, per symmetry class pair or triple, η_k "connections":
 * b(b − 1)/2 for each bond of order b > 1 (key: the two atoms' classes), and b_i · b_j for each pair of
 * bonds at a hinge atom (key: the two outer classes and the hinge class); η = Σ η_k. Aromatic bonds have
 * order 1.5. Two atoms share a symmetry class when their rows of the bond-order-weighted (Balaban)
 * distance matrix — edge length 1/b, shortest paths — are equal once sorted and rounded to 4 decimals.
 * Molecules with fewer than two atoms score 0.
 */
import type { Mol } from "./rdkit.js";

interface JsonMol {
  defaults: { atom: { z: number }; bond: { bo: number } };
  molecules: Array<{
    atoms?: Array<{ z?: number }>;
    bonds?: Array<{ bo?: number; atoms: [number, number] }>;
    extensions?: Array<{ aromaticBonds?: number[] }>;
  }>;
}

/** Distance RDKit gives unreachable atom pairs (other fragment). */
const UNREACHABLE: number = 1e8;

function entropyBits(counts: readonly number[]): number {
  const total = counts.reduce((s, c) => s + c, 0);
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log2(c / total);
  return h;
}

/** BertzCT of a sanitised molecule (aromaticity as RDKit perceives it). */
export function bertzCT(mol: Mol): number {
  const json = JSON.parse(mol.get_json()) as JsonMol;
  const m = json.molecules[0] ?? {};
  const z = (m.atoms ?? []).map((a) => a.z ?? json.defaults.atom.z);
  const n = z.length;
  if (n < 2) return 0;
  const aromatic = new Set((m.extensions ?? []).flatMap((e) => e.aromaticBonds ?? []));
  const order = new Map<number, number>();
  const neighbours: number[][] = Array.from({ length: n }, () => []);
  const dist = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 0 : UNREACHABLE)));
  (m.bonds ?? []).forEach((b, k) => {
    const [i, j] = b.atoms;
    const bo = aromatic.has(k) ? 1.5 : (b.bo ?? json.defaults.bond.bo);
    order.set(i * n + j, bo);
    order.set(j * n + i, bo);
    if (!neighbours[i]!.includes(j)) neighbours[i]!.push(j);
    if (!neighbours[j]!.includes(i)) neighbours[j]!.push(i);
    dist[i]![j] = dist[j]![i] = 1 / bo;
  });
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const via = dist[i]![k]! + dist[k]![j]!;
        if (via < dist[i]![j]!) dist[i]![j] = via;
      }
    }
  }
  const classOfKey = new Map<string, number>();
  const cls = dist.map((row) => {
    const key = [...row].sort((a, b) => a - b).map((d) => d.toFixed(4)).join(",");
    if (!classOfKey.has(key)) classOfKey.set(key, classOfKey.size + 1);
    return classOfKey.get(key)!;
  });
  const atomTypes = new Map<number, number>();
  const connections = new Map<string, number>();
  const add = (key: string, v: number) => connections.set(key, (connections.get(key) ?? 0) + v);
  for (let a = 0; a < n; a++) {
    atomTypes.set(z[a]!, (atomTypes.get(z[a]!) ?? 0) + 1);
    const nb = [...neighbours[a]!].sort((x, y) => x - y);
    for (let i = 0; i < nb.length; i++) {
      const bi = order.get(a * n + nb[i]!)!;
      const ci = cls[nb[i]!]!;
      if (bi > 1 && nb[i]! > a) add(`${Math.min(cls[a]!, ci)},${Math.max(cls[a]!, ci)}`, (bi * (bi - 1)) / 2);
      for (let j = i + 1; j < nb.length; j++) {
        const bj = order.get(a * n + nb[j]!)!;
        const cj = cls[nb[j]!]!;
        add(`${Math.min(ci, cj)},${cls[a]},${Math.max(ci, cj)}`, bi * bj);
      }
    }
  }
  const conn = connections.size > 0 ? [...connections.values()] : [1];
  const eta = conn.reduce((s, c) => s + c, 0);
  return n * entropyBits([...atomTypes.values()]) + eta * (entropyBits(conn) + Math.log2(eta));
}
