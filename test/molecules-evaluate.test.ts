/**
 * Evaluating molecules (docs/molecules.md "Evaluating"): a hand-made samples file whose validity, uniqueness,
 * novelty, fragments and atom/bond-type distances are counted by hand here, their floors, bad input, and the
 * report (metrics table, histograms, the molecule grid).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalSmiles, loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { assertReport } from "../src/report/types.js";
import { writeReport } from "../src/report/write.js";
import { evaluateMolecules, moleculeEvaluationData, readMoleculeSamples, readMoleculeSet } from "../src/runners/molecule-evaluation.js";
import { moleculeReport } from "../src/runners/molecule-report.js";

let rdkit: RDKit;
const dir = mkdtempSync(join(tmpdir(), "rewardiff-moleval-"));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
beforeAll(async () => {
  rdkit = await loadRDKit();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Nine samples: six valid (CCO twice as written differently, cyclopropane, a two-fragment C.O, CCN, benzene),
// three invalid (a pentavalent carbon, an empty cell, text that is not SMILES).
const SAMPLES = ["CCO", "OCC", "C1CC1", "C(C)(C)(C)(C)C", "", "C.O", "not-a-smiles", "CCN", "c1ccccc1"];
// Training set for novelty: CCO and CCN are known, the others novel.
const TRAINING = ["CCO", "NCC", "CCCC"];
// Reference: only carbon and only single bonds, so the type distances are simple fractions.
const REFERENCE = ["CC", "CCC", "C1CC1", "CCCC", "CC(C)C", "C1CCC1", "CCCCC", "C1CCCC1"];

const csv = (rows: string[], extra = "") => `smiles${extra}\n${rows.map((r) => (extra ? `${r},x` : r)).join("\n")}\n`;

describe("evaluateMolecules", () => {
  it("counts validity, uniqueness, novelty, fragments and type distances as by hand, with their floors", () => {
    const samples = readMoleculeSamples(file("mols.csv", csv(SAMPLES, ",note")));
    expect(samples.smiles).toEqual(SAMPLES);
    expect(samples.lines).toEqual(SAMPLES.map((_, i) => i + 2));
    const reference = readMoleculeSet(rdkit, file("ref.csv", csv(REFERENCE)), "--reference");
    const training = readMoleculeSet(rdkit, file("train.csv", csv(TRAINING)), "--training");
    const data = moleculeEvaluationData(rdkit, { n: SAMPLES.length, reference, training, seed: 0 });
    // The reference is split into two disjoint halves: the reference and the floor's data sample.
    expect(data.reference.smiles.length).toBe(4);
    expect(data.floorSample.smiles.length).toBe(4);
    expect(new Set([...data.reference.smiles, ...data.floorSample.smiles]).size).toBe(8);
    const e = evaluateMolecules(rdkit, samples.smiles, data);
    const g = e.generated;
    expect(g.samples).toBe(9);
    expect(g.validity).toBeCloseTo(6 / 9, 15);
    expect(g.uniqueness).toBeCloseTo(5 / 6, 15); // CCO = OCC
    expect(g.novelty).toBeCloseTo(3 / 5, 15); // C1CC1, C.O, benzene of the five distinct
    expect(g.fragmented).toBeCloseTo(1 / 6, 15);
    // Atoms of the valid samples: C 16, O 3, N 1 (20); the reference is all carbon.
    expect(g.atomTypes.generated).toEqual({ C: 16 / 20, N: 1 / 20, O: 3 / 20 });
    expect(g.atomTypes.totalVariation).toBeCloseTo(0.5 * (4 / 20 + 1 / 20 + 3 / 20), 15);
    // Kekulé bonds: 2 + 2 + 3 + 0 (C.O is methane and water) + 2 + 3 single, 3 double (benzene); the reference
    // has only single bonds.
    expect(g.bondTypes.generated).toEqual({ double: 3 / 15, single: 12 / 15 });
    expect(g.bondTypes.totalVariation).toBeCloseTo(3 / 15, 15);
    expect(g.kl).not.toBeNull();
    expect(g.kl!.score).toBeGreaterThan(0);
    expect(g.kl!.score).toBeLessThanOrEqual(1);
    // The floor: the data half in place of the samples.
    const f = e.floor;
    const trainingCanonical = new Set(TRAINING.map((s) => canonicalSmiles(rdkit, s, { stereo: false })));
    expect(f.validity).toBe(1);
    expect(f.uniqueness).toBe(1);
    expect(f.novelty).toBeCloseTo(data.floorSample.smiles.filter((s) => !trainingCanonical.has(s)).length / 4, 15);
    expect(f.atomTypes.totalVariation).toBe(0);
    expect(f.bondTypes.totalVariation).toBe(0);
    expect(e.floorSample).toEqual({ name: `${reference.name} (other half)`, molecules: 4 });
    expect(e.training.molecules).toBe(3);
  });

  it("refuses what it cannot evaluate, in one line with the file, counts and lines", () => {
    expect(() => readMoleculeSamples(file("nosmiles.csv", "mol,score\nCCO,1\n"))).toThrow(/nosmiles\.csv: no "smiles" column in the header \("mol", "score"\)/);
    expect(() => readMoleculeSamples(file("model.json", '{"format": "rewardiff-checkpoint"}'))).toThrow(/model\.json: not a CSV of molecules/);
    expect(() => readMoleculeSamples(join(dir, "absent.csv"))).toThrow(/absent\.csv: no such file/);
    expect(() => readMoleculeSamples(file("header.csv", "smiles\n"))).toThrow(/header\.csv: no data rows/);
    expect(() => readMoleculeSet(rdkit, file("badref.csv", csv(["CC", "C(C)(C)(C)(C)C", "CCC", "xx"])), "--reference")).toThrow(
      /^--reference .*badref\.csv: 2 of 4 SMILES are not molecules RDKit can sanitise \(lines 3, 5\)/,
    );
    const small = readMoleculeSet(rdkit, file("small.csv", csv(["CC", "CCC", "CCCC"])), "--reference");
    expect(() => moleculeEvaluationData(rdkit, { n: 3, reference: small, training: small, seed: 0 })).toThrow(/3 molecules are too few/);
  });
});

describe("the molecule report", () => {
  it("holds the metrics with floors, both histograms and a grid tile per sample with its validity", async () => {
    // (A second column keeps the empty cell's row: a one-column CSV's empty line is no row.)
    const samples = readMoleculeSamples(file("mols2.csv", csv(SAMPLES, ",note")));
    const data = moleculeEvaluationData(rdkit, {
      n: SAMPLES.length,
      reference: readMoleculeSet(rdkit, file("ref2.csv", csv(REFERENCE)), "--reference"),
      training: readMoleculeSet(rdkit, file("train2.csv", csv(TRAINING)), "--training"),
      seed: 0,
    });
    const e = evaluateMolecules(rdkit, samples.smiles, data);
    const { report, html } = await moleculeReport(rdkit, samples, e, { title: "test", config: { molecules: samples.path }, gridMolecules: 48, timings: { totalSeconds: 1 } });
    assertReport(report);
    const row = report.results[0]!;
    expect(row.samples).toBe(9);
    expect((row.validity as { value: number }).value).toBeCloseTo(6 / 9, 15);
    expect((row.validity as { floor: number }).floor).toBe(1);
    const written = writeReport(join(dir, "report"), { report, html });
    const json = JSON.parse(readFileSync(written.json, "utf8"));
    expect(json.molecules.grid.map((t: { valid: boolean }) => t.valid)).toEqual([true, true, true, false, false, true, false, true, true]);
    // Page: the metrics table, two vega-lite histograms, nine tiles (six valid, three invalid).
    expect(html).toContain('id="metrics"');
    for (const m of ["validity", "uniqueness", "novelty", "fragmented", "KL score", "atom types (TV)", "bond types (TV)"]) expect(html).toContain(`<th scope="row">${m}`);
    expect(html).toMatch(/<strong>Atom types<\/strong>[\s\S]*?<svg[\s\S]*?>C<\/text>/);
    expect(html).toMatch(/<strong>Bond types<\/strong>[\s\S]*?<svg[\s\S]*?>single<\/text>/);
    expect(html.match(/<figure class="mol"/g)?.length).toBe(6);
    expect(html.match(/<figure class="mol invalid"/g)?.length).toBe(3);
    // The pentavalent carbon is still drawn (from its unsanitised SMILES); the empty cell has nothing to draw.
    expect(html).toMatch(/<figure class="mol invalid"><svg[\s\S]*?invalid<\/span> · line 5/);
    expect(html).toMatch(/<figure class="mol invalid"><div class="nopic">nothing to draw<\/div><figcaption><span class="flag">invalid<\/span> · line 6/);
    expect(html).not.toMatch(/<script|<\?xml/);
  });
});
