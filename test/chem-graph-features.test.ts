/**
 * Invariant graph features (src/chem/graph-features.ts):
 *  - on one-hot rows of real molecules, the features are the counts RDKit's own graph gives (atoms per element,
 *    bonds per order, valence above each threshold, isolated atoms, unreachable atom pairs of a fragmented
 *    molecule, closed walks of length 3 = 6 × triangles);
 *  - on continuous rows, they equal a float64 loop implementation of the module's formulas;
 *  - they do not change under a node permutation, and their gradient exists (finite);
 *  - the straight-through snap is the host snap (snapGraphRows) in the forward pass, the identity backward;
 *  - the soft snap equals a float64 loop of its formula, tends to the host snap as τ → 0, and its gradient
 *    agrees with central differences.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, grad, np } from "../src/backend/index.js";
import { toHost, upload } from "../src/backend/ownership.js";
import { encodeSmiles, graphRowLength, graphShape, graphToRow, QM9_VOCABULARY } from "../src/chem/graph.js";
import { graphFeatureWidth, graphFeatures, graphFeaturesHost, softSnap, straightThroughSnap } from "../src/chem/graph-features.js";
import { snapGraphRows } from "../src/runners/molecule-snap.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { hostMatrix } from "../src/data/matrix.js";
import { permutedGraphRows } from "../src/runners/molecule-ctrl.js";

const V = QM9_VOCABULARY;
const n = V.maxAtoms;
const { nodeFeatures: F, chargeFeatures: C, edgeFeatures: E } = graphShape(V);
const A = V.atoms.length;
const B = V.bonds.length;
const G = 1 + C + B + 5 + 4 * C + 1;
let rdkit: RDKit;

beforeAll(async () => {
  await ensureBackend();
  rdkit = await loadRDKit();
});

/** The module's formulas as float64 loops over one row. */
function reference(row: ArrayLike<number>): number[] {
  const node = (i: number, k: number) => row[i * F + k]!;
  const charge = (i: number, k: number) => row[n * F + i * C + k]!;
  const rawEdge = (i: number, j: number, k: number) => row[n * (F + C) + (i * n + j) * E + k]!;
  const out: number[] = new Array(A * G + 4).fill(0);
  const w = Array.from({ length: n }, (_, i) => Array.from({ length: A }, (_, a) => node(i, a)).reduce((s, v) => s + v, 0));
  const edge = (i: number, j: number, k: number) => (i === j ? 0 : w[i]! * w[j]! * rawEdge(i, j, k));
  const adj = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => Array.from({ length: B }, (_, k) => edge(i, j, k + 1)).reduce((s, v) => s + v, 0)));
  for (let i = 0; i < n; i++) {
    const b = Array.from({ length: B }, (_, k) => Array.from({ length: n }, (_, j) => edge(i, j, k + 1)).reduce((s, v) => s + v, 0));
    const v = b.reduce((s, x, k) => s + x * V.bonds[k]!, 0);
    const d = b.reduce((s, x) => s + x, 0);
    const q = Array.from({ length: C }, (_, k) => charge(i, k));
    const g = [1, ...q, ...b, ...[0, 1, 2, 3, 4].map((k) => Math.max(v - k, 0)), ...[1, 2, 3, 4].flatMap((k) => q.map((c) => c * Math.max(v - k, 0)))];
    // q ⊗ relu(v − k) is laid out k-major (one block of C per threshold), as the concatenation builds it.
    g.push(Math.max(1 - d, 0));
    for (let a = 0; a < A; a++) for (let k = 0; k < G; k++) out[a * G + k]! += node(i, a) * g[k]!;
  }
  let r: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let s = 0; s < n - 1; s++) r = r.map((ri) => ri.map((rij, j) => Math.min(1, rij + ri.reduce((acc, rik, k) => acc + rik * adj[k]![j]!, 0))));
  let reach = 0;
  let total = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    reach += w[i]! * w[j]! * r[i]![j]!;
    total += w[i]! * w[j]!;
  }
  const mm = (x: number[][], y: number[][]) => x.map((xi) => y[0]!.map((_, j) => xi.reduce((s, v, k) => s + v * y[k]![j]!, 0)));
  const a3 = mm(mm(adj, adj), adj);
  const a4 = mm(a3, adj);
  out[A * G] = total - reach;
  out[A * G + 1] = reach;
  out[A * G + 2] = a3.reduce((s, ri, i) => s + ri[i]!, 0);
  out[A * G + 3] = a4.reduce((s, ri, i) => s + ri[i]!, 0);
  return out;
}

/**
 * N continuous graph rows from a seeded LCG: node and charge values uniform in [0, 1), edges symmetric and
 * uniform in [0, edgeScale) (the diagonal one-hot "no bond" with noBondOnDiagonal, else drawn like the rest).
 */
function randomSymmetricRows(N: number, seed: number, o: { edgeScale: number; noBondOnDiagonal: boolean }): Float32Array {
  const D = graphRowLength(V);
  const x = new Float32Array(N * D);
  let s = seed;
  const u = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let r = 0; r < N; r++) {
    for (let j = 0; j < n * (F + C); j++) x[r * D + j] = u();
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) for (let k = 0; k < E; k++) {
      const v = i === j && o.noBondOnDiagonal ? (k === 0 ? 1 : 0) : u() * o.edgeScale;
      x[r * D + n * (F + C) + (i * n + j) * E + k] = v;
      x[r * D + n * (F + C) + (j * n + i) * E + k] = v;
    }
  }
  return x;
}

function rowOf(smiles: string): Float32Array {
  const r = encodeSmiles(rdkit, smiles, V);
  if (!r.ok) throw new Error(`${smiles}: ${r.detail}`);
  return graphToRow(r.graph);
}

describe("graph features", () => {
  it("count atoms, bonds, valences, isolated atoms, fragments and triangles of real molecules", async () => {
    expect(graphFeatureWidth(V)).toBe(A * G + 4);
    expect(graphFeatureWidth(V) % 4).toBe(0);
    const cases = [
      // smiles, atoms per element (C, N, O, F), unreachable ordered pairs, triangles
      ["C1CC1", [3, 0, 0, 0], 0, 1],
      ["CC(=O)N", [2, 1, 1, 0], 0, 0],
      ["CCO.N", [2, 1, 1, 0], 6, 0],
      ["C.C.C", [3, 0, 0, 0], 6, 0],
      ["FC(F)(F)C#N", [2, 1, 0, 3], 0, 0],
    ] as const;
    const D = graphRowLength(V);
    const rows = new Float32Array(cases.length * D);
    cases.forEach(([s], i) => rows.set(rowOf(s), i * D));
    const f = await graphFeaturesHost(V, hostMatrix(cases.length, D, rows));
    const M = graphFeatureWidth(V);
    cases.forEach(([smiles, atoms, unreachable, triangles], i) => {
      const got = Array.from(f.data.subarray(i * M, (i + 1) * M));
      for (let a = 0; a < A; a++) expect(got[a * G], `${smiles}: atoms of ${V.atoms[a]}`).toBe(atoms[a]);
      expect(got[A * G], `${smiles}: unreachable pairs`).toBe(unreachable);
      expect(got[A * G + 2], `${smiles}: tr(A³)`).toBe(6 * triangles);
      // Valences from RDKit: each carbon's valence 4 − its hydrogens, so Σ_C relu(v − 0) = 4·#C − #H on carbons.
      const mol = rdkit.get_mol(smiles)!;
      const molJson = JSON.parse(mol.get_json()) as { molecules: { atoms: { z?: number; impHs?: number }[] }[] };
      mol.delete();
      const hsOnC = molJson.molecules[0]!.atoms.filter((x) => (x.z ?? 6) === 6).reduce((s, x) => s + (x.impHs ?? 0), 0);
      expect(got[1 + C + B], `${smiles}: Σ_C v`).toBe(4 * atoms[0] - hsOnC);
      // No atom of a valid molecule is above its element's valence: carbon never above 4.
      expect(got[1 + C + B + 4], `${smiles}: Σ_C relu(v − 4)`).toBe(0);
    });
    // "C.C.C": three isolated carbons.
    expect(f.data[3 * M + G - 1]).toBe(3);
  });

  it("equal a float64 loop implementation on continuous rows, and are invariant to node order", async () => {
    const D = graphRowLength(V);
    const N = 6;
    const x = randomSymmetricRows(N, 7, { edgeScale: 0.6, noBondOnDiagonal: true });
    const M = graphFeatureWidth(V);
    const f = await graphFeaturesHost(V, hostMatrix(N, D, x));
    for (let r = 0; r < N; r++) {
      const want = reference(x.subarray(r * D, (r + 1) * D));
      // float32 against float64: a few units in the 6th significant digit (features reach ~10⁴ on these rows).
      for (let k = 0; k < M; k++) expect(Math.abs(f.data[r * M + k]! - want[k]!), `row ${r} feature ${k}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[k]!)));
    }
    const perm = permutedGraphRows(hostMatrix(N, D, x), V, 2, 5);
    const fp = await graphFeaturesHost(V, perm);
    for (let r = 0; r < N; r++) {
      for (let k = 0; k < M; k++) expect(Math.abs(fp.data[(2 * r + 1) * M + k]! - f.data[r * M + k]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(f.data[r * M + k]!)));
    }
    const g = await toHost(grad((rows: ReturnType<typeof upload>) => np.sum(graphFeatures(V, rows)))(upload(x.slice(0, D), 1, D)));
    expect(g.every((v) => Number.isFinite(v))).toBe(true);
    expect(g.some((v) => v !== 0)).toBe(true);
  });

  it("straightThroughSnap: the argmax one-hots of snapGraphRows forward, the identity backward", async () => {
    const D = graphRowLength(V);
    const N = 5;
    const x = randomSymmetricRows(N, 11, { edgeScale: 1, noBondOnDiagonal: false });
    const got = await toHost(straightThroughSnap(V, upload(x, N, D)));
    const want = snapGraphRows(hostMatrix(N, D, x), V).data;
    for (let i = 0; i < N * D; i++) expect(got[i], `value ${i}`).toBe(want[i]);
    const c = Float32Array.from({ length: D }, (_, i) => Math.cos(i));
    const g = await toHost(grad((rows: ReturnType<typeof upload>) => np.sum(straightThroughSnap(V, rows).mul(upload(c, 1, D))))(upload(x.slice(0, D), 1, D)));
    for (let i = 0; i < D; i++) expect(g[i]).toBeCloseTo(c[i]!, 6);
  });
});

/** softSnap's formula as float64 loops over one row: per group softmax(x/τ); charges and bonds blended by P(atom). */
function softSnapReference(row: ArrayLike<number>, tau: number): number[] {
  const softmax = (v: number[]) => {
    const m = Math.max(...v);
    const e = v.map((u) => Math.exp((u - m) / tau));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((u) => u / z);
  };
  const out: number[] = [];
  const atom: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = softmax(Array.from({ length: F }, (_, k) => row[i * F + k]!));
    out.push(...p);
    atom.push(1 - p[F - 1]!);
  }
  for (let i = 0; i < n; i++) {
    const q = softmax(Array.from({ length: C }, (_, k) => row[n * F + i * C + k]!));
    out.push(...q.map((v, k) => atom[i]! * v + (1 - atom[i]!) * (k === 0 ? 1 : 0)));
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const e = softmax(Array.from({ length: E }, (_, k) => row[n * (F + C) + (i * n + j) * E + k]!));
      const b = i === j ? 0 : atom[i]! * atom[j]!;
      out.push(...e.map((v, k) => b * v + (1 - b) * (k === 0 ? 1 : 0)));
    }
  }
  return out;
}

describe("softSnap", () => {
  it("equals a float64 loop of its formula, tends to snapGraphRows as τ → 0, and has the gradient of central differences", async () => {
    const D = graphRowLength(V);
    const N = 4;
    const x = randomSymmetricRows(N, 23, { edgeScale: 1, noBondOnDiagonal: false });
    const got = await toHost(softSnap(V, upload(x, N, D), 0.3));
    for (let r = 0; r < N; r++) {
      const want = softSnapReference(x.subarray(r * D, (r + 1) * D), 0.3);
      for (let i = 0; i < D; i++) expect(Math.abs(got[r * D + i]! - want[i]!), `row ${r} value ${i}`).toBeLessThanOrEqual(1e-5);
    }
    const cold = await toHost(softSnap(V, upload(x, N, D), 1e-6));
    const hard = snapGraphRows(hostMatrix(N, D, x), V).data;
    let far = 0;
    for (let i = 0; i < N * D; i++) far = Math.max(far, Math.abs(cold[i]! - hard[i]!));
    expect(far).toBeLessThanOrEqual(1e-3);
    // d/dx Σ c·softSnap(x) at τ = 0.5 against central differences of the float64 reference.
    const c = Float32Array.from({ length: D }, (_, i) => Math.cos(i));
    const row = x.slice(0, D);
    const g = await toHost(grad((rows: ReturnType<typeof upload>) => np.sum(softSnap(V, rows, 0.5).mul(upload(c, 1, D))))(upload(row, 1, D)));
    const f = (v: Float32Array | Float64Array) => softSnapReference(v, 0.5).reduce((a, u, i) => a + u * c[i]!, 0);
    const h = 1e-4;
    for (const i of [0, F - 1, n * F, n * F + 1, n * (F + C) + E + 1, D - 1, Math.floor(D / 2)]) {
      const up = Float64Array.from(row);
      const down = Float64Array.from(row);
      up[i] = up[i]! + h;
      down[i] = down[i]! - h;
      expect(Math.abs(g[i]! - (f(up) - f(down)) / (2 * h)), `coordinate ${i}`).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(g[i]!));
    }
    expect(() => softSnap(V, upload(row, 1, D), 0)).toThrow(/temperature/);
  });
});
