/**
 * Molecules on the command line (docs/molecules.md): `sample` of a tiny molecule model trained here writes the
 * documented CSV, `evaluate --molecules` prints the metrics and writes the report, and bad input gets one line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { cli, expectOneLineError, expectUntouched, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

let shared: string;
let model: string;
let moons: string;
const write = (name: string, text: string) => {
  const p = join(shared, name);
  writeFileSync(p, text);
  return p;
};

beforeAll(async () => {
  shared = tempDir("molecules-cli");
  const data = write("tri.csv", "smiles\nCCO\nCC=O\nCCN\nC=CO\nCCC\nOCO\n");
  model = join(shared, "tri.safetensors");
  const r = await cli("train", "--smiles", data, "--steps", "40", "--hidden", "16", "--layers", "1", "--out", model, "--quiet");
  expect(r.code, r.stderr).toBe(0);
  moons = join(shared, "moons.safetensors");
  const m = await cli("train", "--task", "moons", "--steps", "2", "--hidden", "8", "--layers", "1", "--out", moons, "--quiet");
  expect(m.code, m.stderr).toBe(0);
});
afterAll(removeTempDirs);

describe("rewardiff sample (molecule model)", () => {
  it("writes one decoded molecule per row with the documented columns", async () => {
    const out = join(tempDir("molsample"), "mols.csv");
    const r = await cli("sample", "--model", model, "--n", "12", "--steps", "5", "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote 12 molecules to .*mols\.csv \(ddpm, 5 steps\): \d+ valid/);
    const rows = parse(readFileSync(out, "utf8")) as string[][];
    expect(rows[0]).toEqual(["smiles", "valid", "fragments", "atoms", "qed", "logp", "tpsa", "mw", "graph_smiles"]);
    expect(rows.length).toBe(13);
    for (const row of rows.slice(1)) {
      expect(["0", "1"]).toContain(row[1]);
      expect(row[0] === "").toBe(row[1] === "0");
      expect(row.slice(4, 8).every((c) => (row[1] === "1" ? Number.isFinite(Number(c)) && c !== "" : c === ""))).toBe(true);
      expect(Number(row[3])).toBeLessThanOrEqual(3);
    }
  });

  it("refuses conditioning options for a molecule model, leaving nothing behind", async () => {
    const dir = tempDir("molsample-bad");
    const out = join(dir, "mols.csv");
    const r = await expectUntouched(dir, () => cli("sample", "--model", model, "--n", "4", "--steps", "2", "--target", "1", "--out", out, "--quiet"));
    expectOneLineError(r, "--target", "molecule model");
  });
});

describe("rewardiff evaluate --molecules", () => {
  const mols = () => write("mols.csv", "smiles,valid\nCCO,1\nOCC,1\nC1CC1,1\n,0\nC(C)(C)(C)(C)C,0\nCCN,1\n");
  const ref = () => write("ref.csv", "smiles\nCC\nCCC\nC1CC1\nCCCC\nCC(C)C\nC1CCC1\nCCCCC\nC1CCCC1\n");
  const train = () => write("train.csv", "smiles\nCCO\nCCN\n");

  it("prints the metrics beside their floor and writes report.json and report.html", async () => {
    const out = tempDir("moleval");
    const r = await cli("evaluate", "--molecules", mols(), "--reference", ref(), "--training", train(), "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    // 4 valid of 6; CCO = OCC, so 3 distinct of 4 valid; only cyclopropane is novel (1 of 3 distinct).
    expect(r.stdout).toMatch(/validity\s+0\.6667\s+1\s+0\.9570/);
    expect(r.stdout).toMatch(/uniqueness\s+0\.7500\s+1\s/);
    expect(r.stdout).toMatch(/novelty\s+0\.3333\s/);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.results[0].validity.value).toBeCloseTo(4 / 6, 15);
    expect(report.molecules.grid.length).toBe(6);
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain('class="molgrid"');
  });

  it("refuses bad input in one line, writing nothing", async () => {
    const out = tempDir("moleval-bad");
    const run = (...argv: string[]) => expectUntouched(out, () => cli("evaluate", ...argv, "--out", join(out, "r"), "--quiet"));
    expectOneLineError(await run("--molecules", write("nosmiles.csv", "mol\nCCO\n")), "nosmiles.csv", '"smiles"');
    expectOneLineError(await run("--molecules", model), "tri.safetensors", "not a CSV of molecules");
    expectOneLineError(await run("--molecules", mols(), "--reference", write("badref.csv", "smiles\nCC\nxx\nCCC\nC(C)(C)(C)(C)C\n")), "badref.csv", "2 of 4", "lines 3, 5");
    expectOneLineError(await run("--molecules", mols(), "--samples", mols()), "--samples", "--molecules");
    expect(existsSync(join(out, "r"))).toBe(false);
    const r = await cli("evaluate", "--samples", mols(), "--data", ref(), "--reference-size", "5");
    expectOneLineError(r, "--reference-size", "--molecules");
  });

  it("demo: an unknown demo's name and a missing shipped model are one line", async () => {
    expectOneLineError(await cli("demo", "proteins", "--quiet"), "demo proteins", "unknown demo");
    if (!existsSync(join(process.cwd(), "models", "qm9.safetensors"))) {
      expectOneLineError(await cli("demo", "molecules", "--out", join(tempDir("moldemo"), "d"), "--quiet"), "models/qm9.safetensors");
      expectOneLineError(await cli("sample", "--model", "qm9", "--out", join(tempDir("molqm9"), "m.csv")), "--model qm9", "models/qm9.safetensors");
    }
    // A model without a vocabulary samples rows, as before (the molecule path needs meta.molecules).
    const out = join(tempDir("moons"), "s.csv");
    const r = await cli("sample", "--model", moons, "--n", "3", "--steps", "2", "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, "utf8").split("\n")[0]).toBe("x1,x2");
  });
});
