/**
 * Atom-environment count features of molecule graph rows (docs/molecules.md "RCGDM"), the inputs of a reward
 * model f̂ on molecules (2307.07055, step 1). Chosen because the additive descriptors are sums over atom
 * environments: Wildman–Crippen logP is Σ_atoms c(type), its 72 atom types set by the element, the hydrogens,
 * the neighbours' elements and bond orders and aromaticity (Wildman & Crippen, JCICS 39, 868, 1999); TPSA and
 * MW are sums of the same kind. So a linear model on counts of environments is the natural f̂: where the
 * environments refine the descriptor's types it can represent it exactly.
 *
 * Each row is read as `decodeGraph` reads it (src/chem/graph.ts: argmax per node, charge and atom pair, bonds
 * to "no atom" dropped), on the host, without RDKit, so the same features serve data rows and generated ones
 * (valid or not). Per atom: element and formal charge, implicit hydrogens h = max(0, v(element, charge) −
 * Σ bond orders), heavy degree, its single/double/triple bonds, heteroatom (non-carbon) neighbours, ring
 * membership and whether one of its double bonds is in a ring (a Kekulé-form proxy for aromaticity). Per bond:
 * the element pair, the order and ring membership. The features are the counts of
 *  - fine atom keys  `C0:h2:d2:b2.0.0:x1:r10` (those seen in the fitting rows; an unseen key adds nothing here),
 *  - coarse atom keys `C0:h2` (element, charge, hydrogens; also from the fitting rows),
 *  - bond keys `C-O:1:r0`,
 *  - and the totals of heavy atoms and hydrogens.
 */
import { FORMAL_CHARGES, graphShape, graphRowLength, type GraphVocabulary } from "../chem/graph.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";

/** Default valences by element (neutral); charges shift them as in {@link valence}. */
const VALENCE: Readonly<Record<string, number>> = { B: 3, C: 4, N: 3, O: 2, F: 1, Si: 4, P: 3, S: 2, Cl: 1, Br: 1, I: 1 };

/** Valence of an element with a formal charge: C ±1 → 3; N, O, P, S: +1 adds one bond, −1 removes one; B the opposite. */
export function valence(element: string, charge: number): number {
  const v = VALENCE[element] ?? 4;
  if (charge === 0) return v;
  if (element === "C" || element === "Si") return v - Math.abs(charge);
  if (element === "B") return v - charge;
  return Math.max(0, v + charge);
}

/** One row's atoms and bonds as keys (fine, coarse, bond). */
export interface GraphEnvironments {
  atoms: { fine: string; coarse: string; hydrogens: number }[];
  bonds: string[];
}

function argmax(a: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let k = 1; k < width; k++) if (a[offset + k]! > a[offset + best]!) best = k;
  return best;
}

/** The atom and bond environments of one graph row (decoded by argmax, as decodeGraph). */
export function graphEnvironments(row: ArrayLike<number>, vocab: GraphVocabulary): GraphEnvironments {
  const n = vocab.maxAtoms;
  const { nodeFeatures: F, chargeFeatures: Q, edgeFeatures: E } = graphShape(vocab);
  const chargeAt = n * F;
  const edgeAt = chargeAt + n * Q;
  const element: (string | null)[] = [];
  const charge: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = argmax(row, i * F, F);
    element.push(a === F - 1 ? null : vocab.atoms[a]!);
    charge.push(FORMAL_CHARGES[argmax(row, chargeAt + i * Q, Q)]!);
  }
  // Bond orders of the upper triangle between present atoms (0 = none).
  const order = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    if (element[i] === null) continue;
    for (let j = i + 1; j < n; j++) {
      if (element[j] === null) continue;
      const b = argmax(row, edgeAt + (i * n + j) * E, E);
      if (b > 0) order[i * n + j] = order[j * n + i] = vocab.bonds[b - 1]!;
    }
  }
  // A bond is in a ring when its ends stay connected without it.
  const connectedWithout = (u: number, v: number): boolean => {
    const seen = new Uint8Array(n);
    const stack = [u];
    seen[u] = 1;
    while (stack.length > 0) {
      const a = stack.pop()!;
      if (a === v) return true;
      for (let b = 0; b < n; b++) {
        if (seen[b] || order[a * n + b] === 0 || (a === u && b === v)) continue;
        seen[b] = 1;
        stack.push(b);
      }
    }
    return false;
  };
  const ring = new Uint8Array(n * n);
  const bonds: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const o = order[i * n + j]!;
      if (o === 0) continue;
      const r = connectedWithout(i, j) ? 1 : 0;
      ring[i * n + j] = ring[j * n + i] = r;
      const pair = [element[i]!, element[j]!].sort().join("-");
      bonds.push(`${pair}:${o}:r${r}`);
    }
  }
  const atoms: GraphEnvironments["atoms"] = [];
  for (let i = 0; i < n; i++) {
    const el = element[i];
    if (el === null) continue;
    const counts = [0, 0, 0];
    let sum = 0;
    let hetero = 0;
    let inRing = 0;
    let ringDouble = 0;
    for (let j = 0; j < n; j++) {
      const o = order[i * n + j]!;
      if (o === 0) continue;
      sum += o;
      counts[Math.min(o, 3) - 1]! += 1;
      if (element[j] !== "C") hetero++;
      if (ring[i * n + j]) {
        inRing = 1;
        if (o === 2) ringDouble = 1;
      }
    }
    const q = charge[i]!;
    const h = Math.max(0, valence(el, q) - sum);
    const coarse = `${el}${q > 0 ? "+" : q < 0 ? "-" : "0"}:h${h}`;
    atoms.push({ fine: `${coarse}:d${counts[0]! + counts[1]! + counts[2]!}:b${counts.join(".")}:x${hetero}:r${inRing}${ringDouble}`, coarse, hydrogens: h });
  }
  return { atoms, bonds };
}

/** A fitted feature map: column names and the featuriser of graph rows. */
export interface GraphFeatureMap {
  /** Column names: `atom:<fine key>`, `group:<coarse key>`, `bond:<key>`, `heavyAtoms`, `hydrogens`. */
  names: string[];
  /** Count features of graph rows [n, graphRowLength] → [n, names.length]. */
  featurize(rows: HostMatrix): HostMatrix;
}

/**
 * The feature map whose keys are the environments present in `rows` (the fitting rows, e.g. the labeled
 * molecules), sorted by name so the columns do not depend on the rows' order.
 */
export function graphFeatureMap(rows: HostMatrix, vocab: GraphVocabulary): GraphFeatureMap {
  const width = graphRowLength(vocab);
  if (rows.cols !== width) throw new Error(`graph features: rows must hold ${width} values (a graph with maxAtoms ${vocab.maxAtoms}), got ${rows.cols}`);
  const fine = new Set<string>();
  const coarse = new Set<string>();
  const bond = new Set<string>();
  for (let r = 0; r < rows.rows; r++) {
    const env = graphEnvironments(rows.data.subarray(r * width, (r + 1) * width), vocab);
    for (const a of env.atoms) {
      fine.add(a.fine);
      coarse.add(a.coarse);
    }
    for (const b of env.bonds) bond.add(b);
  }
  const names = [...[...fine].sort().map((k) => `atom:${k}`), ...[...coarse].sort().map((k) => `group:${k}`), ...[...bond].sort().map((k) => `bond:${k}`), "heavyAtoms", "hydrogens"];
  const column = new Map(names.map((k, i) => [k, i]));
  const D = names.length;
  return {
    names,
    featurize(x: HostMatrix): HostMatrix {
      if (x.cols !== width) throw new Error(`graph features: rows must hold ${width} values (a graph with maxAtoms ${vocab.maxAtoms}), got ${x.cols}`);
      const out = new Float32Array(x.rows * D);
      const add = (r: number, key: string, v = 1) => {
        const c = column.get(key);
        if (c !== undefined) out[r * D + c]! += v;
      };
      for (let r = 0; r < x.rows; r++) {
        const env = graphEnvironments(x.data.subarray(r * width, (r + 1) * width), vocab);
        for (const a of env.atoms) {
          add(r, `atom:${a.fine}`);
          add(r, `group:${a.coarse}`);
          add(r, "hydrogens", a.hydrogens);
        }
        for (const b of env.bonds) add(r, `bond:${b}`);
        add(r, "heavyAtoms", env.atoms.length);
      }
      return hostMatrix(x.rows, D, out);
    },
  };
}
