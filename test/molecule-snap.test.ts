/**
 * One-hot training targets of graph rows (src/runners/molecule-snap.ts): a snapped row is one-hot in every
 * group (atom, charge, bond pair), its edges symmetric with "no bond" on the diagonal and at every pair
 * with a "no atom" node, and RDKit decodes it to the same canonical SMILES (or the same invalid graph) as
 * the unsnapped row — checked on soft rows made by perturbing encoded QM9 molecules (asymmetric noise, so
 * upper and lower triangles disagree) and on rows of pure noise. A data row (already one-hot) is unchanged.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { QM9_VOCABULARY, decodeGraph, encodeSmiles, graphFromRow, graphRowLength, graphToRow } from "../src/chem/graph.js";
import { qm9Splits } from "../src/chem/qm9-node.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import { hostRng } from "../src/training/rgdm-shift.js";
import { snapGraphRows } from "../src/runners/molecule-snap.js";

const V = QM9_VOCABULARY;
const D = graphRowLength(V);
const n = V.maxAtoms;
const [F, C, E] = [V.atoms.length + 1, 3, V.bonds.length + 1];

let rdkit: RDKit;
let data: HostMatrix;

beforeAll(async () => {
  rdkit = await loadRDKit();
  const train = qm9Splits().train;
  const rows: Float32Array[] = [];
  for (let i = 0; rows.length < 200; i += 509) {
    const e = encodeSmiles(rdkit, train[i]!, V);
    if (e.ok) rows.push(graphToRow(e.graph));
  }
  const m = new Float32Array(rows.length * D);
  rows.forEach((r, i) => m.set(r, i * D));
  data = hostMatrix(rows.length, D, m);
});

/** The canonical SMILES of each row's argmax decoding by src/chem (null = invalid). */
function decoded(x: HostMatrix): (string | null)[] {
  return Array.from({ length: x.rows }, (_, i) => decodeGraph(rdkit, graphFromRow(x.data.slice(i * D, (i + 1) * D), V), V).smiles);
}

/** Every group one-hot, edges symmetric, "no bond" on the diagonal and at padding nodes, padding charge 0. */
function expectOneHotGraphs(x: HostMatrix): void {
  for (let r = 0; r < x.rows; r++) {
    const row = x.data.subarray(r * D, (r + 1) * D);
    expect(row.every((v) => v === 0 || v === 1)).toBe(true);
    const groupSum = (at: number, w: number) => row.subarray(at, at + w).reduce((a, v) => a + v, 0);
    const atom: boolean[] = [];
    for (let i = 0; i < n; i++) {
      expect(groupSum(i * F, F)).toBe(1);
      atom.push(row[i * F + F - 1] === 0);
      expect(groupSum(n * F + i * C, C)).toBe(1);
      if (!atom[i]) expect(row[n * F + i * C]).toBe(1);
    }
    const edge = (i: number, j: number) => n * F + n * C + (i * n + j) * E;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        expect(groupSum(edge(i, j), E)).toBe(1);
        expect(Array.from(row.subarray(edge(i, j), edge(i, j) + E))).toEqual(Array.from(row.subarray(edge(j, i), edge(j, i) + E)));
        if (i === j || !atom[i] || !atom[j]) expect(row[edge(i, j)]).toBe(1);
      }
    }
  }
}

function perturbed(x: HostMatrix, scale: number, seed: number): HostMatrix {
  const rng = hostRng(seed);
  return hostMatrix(x.rows, x.cols, Float32Array.from(x.data, (v) => v + scale * rng.normal()));
}

describe("snapGraphRows", () => {
  it("leaves one-hot data rows unchanged", () => {
    expect(Array.from(snapGraphRows(data, V).data)).toEqual(Array.from(data.data));
  });

  it("gives one-hot rows that RDKit decodes to the same molecules, on perturbed and on random rows", () => {
    for (const [x, label] of [
      [perturbed(data, 0.25, 1), "data + noise 0.25"],
      [perturbed(data, 0.4, 2), "data + noise 0.4"],
      [perturbed(hostMatrix(200, D, new Float32Array(200 * D)), 1, 3), "pure noise"],
    ] as const) {
      const snapped = snapGraphRows(x, V);
      expectOneHotGraphs(snapped);
      const before = decoded(x);
      const after = decoded(snapped);
      expect(after, label).toEqual(before);
      // Not only invalid graphs (pure noise rarely decodes to a molecule; perturbed data often does).
      if (label !== "pure noise") expect(before.filter((s) => s !== null).length, label).toBeGreaterThan(10);
    }
    // The perturbed rows decode to other molecules than the data rows for at least some rows.
    const clean = decoded(data);
    const changed = decoded(perturbed(data, 0.25, 1)).filter((s, i) => s !== clean[i]).length;
    expect(changed).toBeGreaterThan(10);
  });

  it("refuses rows of another width with one line", () => {
    expect(() => snapGraphRows(hostMatrix(1, 3, new Float32Array(3)), V)).toThrow(/^snap: graph rows of maxAtoms 9 hold 396 values, got 3$/);
  });
});
