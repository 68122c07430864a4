import { beforeAll, describe, expect, it } from "vitest";
import { encodeSmilesTable } from "../src/chem/dataset.js";
import { decodeGraph, graphFromRow, QM9_VOCABULARY } from "../src/chem/graph.js";
import { encodeQm9, qm9Splits, readQm9Props, readQm9Smiles } from "../src/chem/qm9-node.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { parseSmilesCsv } from "../src/chem/smiles-table.js";
import { splitIndices } from "../src/chem/splits.js";

let rdkit: RDKit;
beforeAll(async () => {
  rdkit = await loadRDKit();
});

describe("QM9 data and splits", () => {
  it("reads the shipped files", () => {
    const smiles = readQm9Smiles();
    expect(smiles.length).toBe(133247);
    expect(smiles.slice(0, 3)).toEqual(["C", "N", "O"]);
    const props = readQm9Props();
    expect(props.rows.length).toBe(14862); // the source README says 14,861: its last line has no newline
    expect(props.header.slice(1, 4)).toEqual(["mol_id", "smiles", "A"]);
  });

  it("splits are a deterministic partition: disjoint, complete, sized 80/10/10", () => {
    const a = splitIndices(1000, { seed: 3 });
    const b = splitIndices(1000, { seed: 3 });
    expect(a).toEqual(b);
    expect([a.train.length, a.validation.length, a.test.length]).toEqual([800, 100, 100]);
    const all = [...a.train, ...a.validation, ...a.test].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(splitIndices(1000, { seed: 4 }).test).not.toEqual(a.test);
  });

  it("the QM9 split has the documented sizes and a fixed first test molecule", () => {
    const s = qm9Splits();
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([106597, 13325, 13325]);
    expect(s.test[0]).toBe(readQm9Smiles()[s.indices.test[0]!]);
  });
});

describe("user SMILES CSV", () => {
  it("reads the vocabulary from the data and encodes every row", () => {
    const table = parseSmilesCsv("id,smiles\n1,CCO\n2,c1ccncc1\n3,ClCC(=O)[O-]\n", "mols.csv");
    const ds = encodeSmilesTable(rdkit, table, { where: "mols.csv" });
    expect(ds.vocab).toEqual({ atoms: ["C", "N", "O", "Cl"], bonds: [1, 2], maxAtoms: 6 });
    expect(ds.graphs.map((g) => decodeGraph(rdkit, g, ds.vocab).smiles)).toEqual(["CCO", "c1ccncc1", "O=C([O-])CCl"]);
  });

  it("refuses unparsable rows, atoms outside the vocabulary and molecules over maxAtoms with counts and line numbers", () => {
    const csv = "smiles\nCCO\nC1CC\nCCS\nCCCCCCC\nxyz\nCCCCCCCCCC\nCS\n";
    const table = parseSmilesCsv(csv, "bad.csv");
    expect(() => encodeSmilesTable(rdkit, table, { atoms: ["C", "N", "O"], maxAtoms: 8, where: "bad.csv" })).toThrow(
      "bad.csv: 5 of 7 rows refused: 2 unparsable SMILES (lines 3, 6); 2 atoms outside the vocabulary (lines 4, 8); 1 molecules over maxAtoms (line 7); vocabulary [C, N, O], maxAtoms 8",
    );
  });

  it("names a missing smiles column", () => {
    expect(() => parseSmilesCsv("name\nCCO\n", "x.csv")).toThrow('x.csv: no "smiles" column in the header ("name")');
  });
});

describe("encodeQm9", () => {
  it("encodes QM9 rows into a [n, 396] matrix and lists what it cannot encode", () => {
    const smiles = readQm9Smiles();
    const pick = ["C", "N#CC1CC1", "C[CH+]1C=C([NH-])N=CO1", "O=[N+]([O-])C1CC1"];
    const out = encodeQm9(rdkit, pick);
    expect([out.matrix.rows, out.matrix.cols]).toEqual([3, 9 * 5 + 9 * 3 + 81 * 4]);
    expect(out.smiles).toEqual(["C", "N#CC1CC1", "O=[N+]([O-])C1CC1"]);
    expect(out.rejected).toEqual([{ smiles: "C[CH+]1C=C([NH-])N=CO1", reason: 'RDKit cannot parse "C[CH+]1C=C([NH-])N=CO1"' }]);
    expect(smiles).toContain("C[CH+]1C=C([NH-])N=CO1");
    // row 1 decodes back to the molecule
    const row = out.matrix.data.subarray(out.matrix.cols, 2 * out.matrix.cols);
    expect(decodeGraph(rdkit, graphFromRow(row, QM9_VOCABULARY), QM9_VOCABULARY).smiles).toBe("N#CC1CC1");
  });
});
