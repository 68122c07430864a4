import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { hostMatrix } from "../src/data/matrix.js";
import { encodeSmiles, graphFromRow, graphRowLength, graphToRow, QM9_VOCABULARY } from "../src/chem/graph.js";
import { graphPropertyReward, PROPERTY_RANGES, propertyOfSmiles } from "../src/chem/oracles.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";

let rdkit: RDKit;
beforeAll(async () => {
  rdkit = await loadRDKit();
});

/** Golden rows from RDKit's Python descriptors (scripts/chem/make_golden.py); the last 40 are drug-like. */
function golden(): Array<Record<string, string>> {
  const lines = readFileSync(new URL("./fixtures/chem/qed-golden.csv", import.meta.url), "utf8").trim().split("\n");
  const header = lines[1]!.split(",");
  return lines.slice(-40).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i]!, v])));
}

describe("chemistry oracles", () => {
  it("match RDKit's Python logP, TPSA, MW and ring counts on drug-like molecules", () => {
    const rows = golden();
    const smiles = rows.map((r) => r.smiles!);
    const pairs = [
      ["logp", "logp"],
      ["tpsa", "tpsa"],
      ["mw", "amw"],
      ["aromaticRings", "aromatic_rings"],
      ["aliphaticRings", "aliphatic_rings"],
    ] as const;
    for (const [property, column] of pairs) {
      const got = propertyOfSmiles(rdkit, smiles, property);
      rows.forEach((r, i) => expect(got[i], `${property} of ${r.smiles}`).toBeCloseTo(Number(r[column]), 9));
    }
    const rings = propertyOfSmiles(rdkit, smiles, "rings");
    rows.forEach((r, i) => expect(rings[i]).toBe(Number(r.aromatic_rings) + Number(r.aliphatic_rings)));
    const q = propertyOfSmiles(rdkit, smiles, "qed");
    rows.forEach((r, i) => expect(q[i]).toBeCloseTo(Number(r.qed), 9));
  });

  it("invalid molecules get the documented reward (range minimum, or invalidReward)", () => {
    expect(Array.from(propertyOfSmiles(rdkit, ["C1CC", null, "CC"], "logp"))).toEqual([PROPERTY_RANGES.logp[0], PROPERTY_RANGES.logp[0], expect.closeTo(1.0262, 4)]);
    expect(Array.from(propertyOfSmiles(rdkit, ["xyz"], "qed", { invalidReward: -1 }))).toEqual([-1]);
  });

  it("fragmentedReward scores a valid molecule of several fragments; one-fragment and invalid ones are unchanged", () => {
    const smiles = ["CCO.CN", "CCO", "C1CC", null, "[Na+].[Cl-]"];
    const plain = propertyOfSmiles(rdkit, smiles, "qed");
    const penalised = propertyOfSmiles(rdkit, smiles, "qed", { fragmentedReward: -2, invalidReward: -1 });
    expect(plain[0]).toBeGreaterThan(0); // RDKit's QED of the two fragments together
    expect(Array.from(penalised)).toEqual([-2, plain[1], -1, -1, -2]);
  });

  it("graph rows: decoded then scored; a five-bonded carbon scores invalidReward", async () => {
    const V = QM9_VOCABULARY;
    const good = encodeSmiles(rdkit, "CCO", V);
    const bad = encodeSmiles(rdkit, "CC(C)(C)C", V);
    if (!good.ok || !bad.ok) throw new Error("encode failed");
    const badRow = graphToRow(bad.graph);
    const g = graphFromRow(badRow, V);
    g.nodes.fill(0, 5 * 5, 6 * 5);
    g.nodes[5 * 5] = 1;
    for (const [a, b] of [[1, 5], [5, 1]] as const) {
      g.edges[(a * 9 + b) * 4] = 0;
      g.edges[(a * 9 + b) * 4 + 1] = 1;
    }
    const w = graphRowLength(V);
    const x = hostMatrix(2, w, Float32Array.from([...graphToRow(good.graph), ...badRow]));
    const values = await graphPropertyReward(rdkit, V, "mw", { invalidReward: -5 }).fn(x);
    expect(Array.from(values)).toEqual([expect.closeTo(46.069, 3), -5]);
  });
});
