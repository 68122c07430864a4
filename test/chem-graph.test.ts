import { beforeAll, describe, expect, it } from "vitest";
import { decodeGraph, encodeSmiles, graphShape, QM9_VOCABULARY, type MolGraph } from "../src/chem/graph.js";
import { canonicalSmiles, loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { readQm9Smiles } from "../src/chem/qm9-node.js";
import { splitIndices } from "../src/chem/splits.js";

let rdkit: RDKit;
beforeAll(async () => {
  rdkit = await loadRDKit();
});

const V = QM9_VOCABULARY;
const { nodeFeatures: NF, chargeFeatures: CF, edgeFeatures: EF } = graphShape(V);

function encoded(smiles: string): MolGraph {
  const e = encodeSmiles(rdkit, smiles, V);
  if (!e.ok) throw new Error(e.detail);
  return e.graph;
}

describe("graph encoding", () => {
  it("encodes benzene kekulised: 6 carbons, 3 padding nodes, 3 single and 3 double bonds, symmetric", () => {
    const g = encoded("c1ccccc1");
    expect(g.nodes.length).toBe(9 * 5);
    expect(g.charges.length).toBe(9 * 3);
    expect(g.edges.length).toBe(81 * 4);
    for (let i = 0; i < 9; i++) {
      expect(Array.from(g.nodes.subarray(i * NF, i * NF + NF))).toEqual(i < 6 ? [1, 0, 0, 0, 0] : [0, 0, 0, 0, 1]);
      expect(Array.from(g.charges.subarray(i * CF, i * CF + CF))).toEqual([1, 0, 0]);
    }
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 9; i++) {
      for (let j = 0; j < 9; j++) {
        const a = Array.from(g.edges.subarray((i * 9 + j) * EF, (i * 9 + j) * EF + EF));
        expect(a).toEqual(Array.from(g.edges.subarray((j * 9 + i) * EF, (j * 9 + i) * EF + EF)));
        expect(a.reduce((s, x) => s + x, 0)).toBe(1);
        if (i < j) counts[a.indexOf(1)]!++;
      }
    }
    expect(counts).toEqual([36 - 6, 3, 3, 0]);
  });

  it("carries formal charges: nitromethane has one N+ and one O−", () => {
    const g = encoded("C[N+](=O)[O-]");
    const q = [0, 1, 2, 3].map((i) => Array.from(g.charges.subarray(i * CF, i * CF + CF)).indexOf(1));
    expect(q.sort()).toEqual([0, 0, 1, 2]);
    expect(decodeGraph(rdkit, g, V).smiles).toBe("C[N+](=O)[O-]");
  });

  it("refuses what it cannot represent", () => {
    expect(encodeSmiles(rdkit, "CCCCCCCCCC", V)).toMatchObject({ ok: false, reason: "size" });
    expect(encodeSmiles(rdkit, "CCS", V)).toMatchObject({ ok: false, reason: "atom" });
    expect(encodeSmiles(rdkit, "C[N+2]", V)).toMatchObject({ ok: false, reason: "charge" });
    expect(encodeSmiles(rdkit, "C1CC", V)).toMatchObject({ ok: false, reason: "unparsable" });
  });

  it("decodes without valence correction: a five-bonded carbon is invalid, an empty graph is invalid", () => {
    const g = encoded("CC(C)(C)C");
    // add a fifth bond from the centre atom (index 1) to a new carbon in slot 5
    g.nodes.fill(0, 5 * NF, 6 * NF);
    g.nodes[5 * NF] = 1;
    for (const [a, b] of [[1, 5], [5, 1]]) {
      g.edges[(a! * 9 + b!) * EF] = 0;
      g.edges[(a! * 9 + b!) * EF + 1] = 1;
    }
    expect(decodeGraph(rdkit, g, V)).toEqual({ valid: false, smiles: null, atoms: 6 });
    const empty = encoded("C");
    empty.nodes.fill(0, 0, NF);
    empty.nodes[NF - 1] = 1;
    expect(decodeGraph(rdkit, empty, V).valid).toBe(false);
  });

  it("decodes soft scores by argmax and reads bonds from the upper triangle", () => {
    const g = encoded("CC=O");
    const soft: MolGraph = {
      nodes: g.nodes.map((x) => 0.6 * x + 0.1),
      charges: g.charges.map((x) => 0.5 * x + 0.2),
      edges: g.edges.map((x) => 0.7 * x + 0.05),
    };
    // corrupt the lower triangle entry of the C=O bond: ignored
    soft.edges.fill(0, (2 * 9 + 1) * EF, (2 * 9 + 1) * EF + EF);
    expect(decodeGraph(rdkit, soft, V).smiles).toBe("CC=O");
  });

  it("round-trips ≥ 99.5% of a seeded 5,000-molecule QM9 subset ignoring stereo", () => {
    const all = readQm9Smiles();
    expect(all.length).toBe(133247);
    const subset = splitIndices(all.length, { validation: 0, test: 5000 / all.length, seed: 2024 }).test;
    expect(subset.length).toBe(5000);
    let exact = 0;
    let noStereo = 0;
    for (const i of subset) {
      const s = all[i]!;
      const e = encodeSmiles(rdkit, s, V);
      if (!e.ok) continue;
      if (decodeGraph(rdkit, e.graph, V).smiles === canonicalSmiles(rdkit, s)) exact++;
      const d = decodeGraph(rdkit, e.graph, V, { stereo: false });
      if (d.smiles !== null && d.smiles === canonicalSmiles(rdkit, s, { stereo: false })) noStereo++;
    }
    console.log(`QM9 round trip on 5000: exact ${(exact / 50).toFixed(2)}%, ignoring stereo ${(noStereo / 50).toFixed(2)}%`);
    expect(noStereo / 5000).toBeGreaterThanOrEqual(0.995);
    expect(exact).toBeLessThanOrEqual(noStereo);
  });
});
