import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { bertzCT } from "../src/chem/bertz.js";
import { loadRDKit, withMol, type RDKit } from "../src/chem/rdkit.js";

let rdkit: RDKit;
beforeAll(async () => {
  rdkit = await loadRDKit();
});

describe("BertzCT", () => {
  it("by hand: ethane and propane 0, ethanol 3·H(2/3, 1/3), a single atom 0", () => {
    // ethane: no atom pair through a hinge, no multiple bond → connection table {1} → 1·(0 + log₂1) = 0
    expect(withMol(rdkit, "CC", bertzCT)).toBe(0);
    // propane: hinge C2 with two single bonds → one connection; atom types all C → 0; total 1·(0 + 0) = 0
    expect(withMol(rdkit, "CCC", bertzCT)).toBe(0);
    // ethanol: one connection (C–C–O at hinge C), atom types {C: 2, O: 1}: 3·H(2/3, 1/3)
    const h = -(2 / 3) * Math.log2(2 / 3) - (1 / 3) * Math.log2(1 / 3);
    expect(withMol(rdkit, "CCO", bertzCT)).toBeCloseTo(3 * h, 12);
    expect(withMol(rdkit, "C", bertzCT)).toBe(0);
  });

  it("matches RDKit's Python BertzCT on the golden molecules", () => {
    const lines = readFileSync(new URL("./fixtures/chem/qed-golden.csv", import.meta.url), "utf8").trim().split("\n");
    const header = lines[1]!.split(",");
    const col = header.indexOf("bertz");
    let maxRel = 0;
    let compared = 0;
    for (const line of lines.slice(2)) {
      const cells = line.split(",");
      const got = withMol(rdkit, cells[0]!, bertzCT);
      if (got === null) continue; // the few charged-carbon rows RDKit 2026.09 rejects (test/chem-qed.test.ts)
      const want = Number(cells[col]);
      maxRel = Math.max(maxRel, Math.abs(got - want) / Math.max(1, Math.abs(want)));
      expect(got, cells[0]).toBeCloseTo(want, 6);
      compared++;
    }
    console.log(`BertzCT vs RDKit Python on ${compared} molecules: max relative error ${maxRel.toExponential(2)}`);
    expect(compared).toBeGreaterThanOrEqual(550);
  });
});
