/**
 * RCGDM on a QM9 DFT property, EDM's protocol (docs/molecules.md "RCGDM on a DFT property"):
 *  - the label halves A/B: disjoint, covering every labelled item, sized as documented, fixed by the seed;
 *  - the bounds' formulas on tiny inputs against a recomputation here (the shuffled MAE's average over seeds
 *    against its closed-form expectation over all permutations, (1/n²) Σ_i Σ_j |p_i − y_j|);
 *  - the DFT reward on the shipped sample: its counts and the lower/upper bounds recomputed from labels read
 *    here from the gzip file (Hartree → eV by this file's own constant);
 *  - a tiny molecule run (the shipped model, a small SMILES file, 4 fine-tuning steps) whose rows' φ values
 *    and MAE to the target are recomputed from the decoded samples in its CSVs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend } from "../src/backend/init.js";
import { QM9_VOCABULARY } from "../src/chem/graph.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { permutation } from "../src/data/permutation.js";
import { labelHalves, meanAbsoluteError, shuffledMae } from "../src/eval/edm-protocol.js";
import { MoleculeDftRewardSchema } from "../src/runners/config-schemas.js";
import { prepareDftReward, type DftReward } from "../src/runners/molecule-dft.js";
import { parseMoleculeConfig } from "../src/runners/molecule-run-config.js";
import { runMoleculeExperiment } from "../src/runners/molecule-run.js";
import { removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

let rdkit: RDKit;
beforeAll(async () => {
  await ensureBackend();
  rdkit = await loadRDKit();
});

describe("EDM's label halves", () => {
  it("splits n items into disjoint halves A and B with held-out parts, fixed by the seed", () => {
    const n = 101;
    const h = labelHalves(n, 5, 0.2);
    // A: the first ⌊101/2⌋ = 50 of the permutation, 10 held out; B: the other 51, round(10.2) = 10 held out.
    expect([h.a.length, h.aHeld.length, h.b.length, h.bHeld.length]).toEqual([40, 10, 41, 10]);
    const all = [...h.a, ...h.aHeld, ...h.b, ...h.bHeld];
    expect(new Set(all).size).toBe(n);
    expect([...all].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    const again = labelHalves(n, 5, 0.2);
    expect(Array.from(again.a)).toEqual(Array.from(h.a));
    expect(Array.from(again.bHeld)).toEqual(Array.from(h.bHeld));
    expect(Array.from(labelHalves(n, 6, 0.2).a)).not.toEqual(Array.from(h.a));
    expect(() => labelHalves(n, 5, 0)).toThrow(/heldOut/);
    expect(() => labelHalves(4, 5, 0.2)).toThrow(/≥ 8/);
  });
});

describe("EDM's bounds", () => {
  const p = [1, 2.5, -1, 4, 0.5, 3];
  const y = [1.5, 2, 0, 7, 0.5, -2];
  it("lower bound: the MAE of predictions to the true labels", () => {
    const direct = (0.5 + 0.5 + 1 + 3 + 0 + 5) / 6;
    expect(meanAbsoluteError(p, y)).toBeCloseTo(direct, 12);
    expect(() => meanAbsoluteError([1], [1, 2])).toThrow(/1 predictions for 2 labels/);
  });
  it("upper bound: the MAE to shuffled labels averages, over seeds, to (1/n²) Σ_i Σ_j |p_i − y_j|", () => {
    let exact = 0;
    for (const a of p) for (const b of y) exact += Math.abs(a - b);
    exact /= p.length * y.length;
    let avg = 0;
    const seeds = 4000;
    for (let s = 0; s < seeds; s++) avg += shuffledMae(p, y, s) / seeds;
    // The per-seed values lie within [0, 9]; the mean of 4,000 is within 0.1 of its expectation by far.
    expect(Math.abs(avg - exact)).toBeLessThan(0.1);
    // One seed is one permutation: the multiset of |p_i − y_π(i)| uses each label once.
    const v = shuffledMae(p, y, 7) * p.length;
    const sums = new Set<string>();
    const perms = (k: number[], rest: number[]): void => {
      if (rest.length === 0) sums.add(k.reduce((s, j, i) => s + Math.abs(p[i]! - y[j]!), 0).toFixed(9));
      rest.forEach((j, r) => perms([...k, j], rest.filter((_, q) => q !== r)));
    };
    perms([], [0, 1, 2, 3, 4, 5]);
    expect(sums.has(v.toFixed(9))).toBe(true);
  });
});

/** The property sample read here: the first row per mol_id, in file order, gap in eV. */
function sampleGaps(): { smiles: string; gap: number }[] {
  const lines = gunzipSync(readFileSync("data/qm9/qm9-props-sample.csv.gz")).toString("utf8").split("\n").filter((l) => l.length > 0);
  const head = lines[0]!.split(",");
  const [cId, cS, cGap] = ["mol_id", "smiles", "gap"].map((k) => head.indexOf(k));
  const seen = new Set<string>();
  const out: { smiles: string; gap: number }[] = [];
  for (const l of lines.slice(1)) {
    const c = l.split(",");
    if (seen.has(c[cId!]!)) continue;
    seen.add(c[cId!]!);
    out.push({ smiles: c[cS!]!, gap: Number(c[cGap!]) * 27.211386245988 });
  }
  return out;
}

let dft: DftReward | undefined;

describe("the DFT reward (gap) on the shipped sample", () => {
  it("counts the molecules, splits them in halves, and its bounds match a recomputation from the file", () => {
    const cfg = MoleculeDftRewardSchema.parse({ kind: "dft", property: "gap" });
    dft = prepareDftReward(rdkit, cfg, QM9_VOCABULARY, "test");
    const file = sampleGaps();
    const s = dft.section as { data: { fileRows: number; molecules: number; refused: number; labelled: number }; split: Record<string, number>; bounds: { n: number; lower: number; upper: number }; evaluator: { heldOutN: number; heldOutMae: number } };
    expect(s.data.fileRows).toBe(14862);
    expect(s.data.molecules).toBe(file.length);
    // Every molecule of the sample encodes (measured: 0 refused); the labelled list is then the file's order.
    expect(s.data.refused).toBe(0);
    expect(s.data.labelled).toBe(file.length);
    const half = Math.floor(file.length / 2);
    expect([s.split.a + s.split.aHeld, s.split.b + s.split.bHeld]).toEqual([half, file.length - half]);
    expect(s.split.aHeld).toBe(Math.round(0.2 * half));
    expect(dft.labels.x.rows).toBe(s.split.a);
    expect(dft.labels.heldOut.y.length).toBe(s.split.aHeld);
    // Half A rebuilt here from the seed: its labels are f̂'s, and φ on its molecules gives both bounds.
    const h = labelHalves(file.length, 0, 0.2);
    const aIdx = [...h.a, ...h.aHeld];
    const aY = aIdx.map((i) => file[i]!.gap);
    expect(Array.from(dft.labels.y, (v) => Number(v.toFixed(4)))).toEqual(Array.from(h.a, (i) => Number(Math.fround(file[i]!.gap).toFixed(4))));
    const phi = dft.ofSmiles(aIdx.map((i) => file[i]!.smiles));
    expect(s.bounds.n).toBe(half);
    let lower = 0;
    let upper = 0;
    const pi = permutation(aY.length, 1);
    for (let i = 0; i < aY.length; i++) {
      lower += Math.abs(phi[i]! - Math.fround(aY[i]!)) / aY.length;
      upper += Math.abs(phi[i]! - Math.fround(aY[pi[i]!]!)) / aY.length;
    }
    expect(s.bounds.lower).toBeCloseTo(lower, 6);
    expect(s.bounds.upper).toBeCloseTo(upper, 6);
    // φ is informative: far below the shuffled bound (measured 0.42 vs 1.39 eV).
    expect(s.bounds.upper).toBeGreaterThan(2 * s.bounds.lower);
  }, 120_000);
});

interface Row {
  method: string;
  label: string;
  target: number | null;
  samples: number;
  rewardValid: { mean: number } | null;
  targetError: { mae: number; bias: number } | null;
  validity: { value: number };
}

/** QM9-like molecules (the shipped model's vocabulary): the task's molecules, all unlabeled here. */
const MOLECULES = [
  "CCO", "CC(=O)O", "CCN", "CC#N", "OCCO", "CCCC", "C1CCC1", "CC(C)O", "NCC(=O)O", "C1CCOC1", "CCOC", "CC(N)=O", "OC1CC1", "C=CC=O",
  "CNC=O", "CCCO", "CCF", "FC(F)F", "CC(F)CO", "CCCCCCCCC", "OCC(O)CO", "CC#CC", "c1ccccc1", "c1ccncc1", "Cc1ccco1", "CC(C)(C)C",
];

describe("rcgdm on a DFT property in a molecule run", () => {
  it("fits f̂ on half A, fine-tunes, and reports per target φ of the decoded samples and its MAE to the target", async () => {
    const dir = tempDir("mol-rcgdm-dft");
    writeFileSync(join(dir, "mols.csv"), ["smiles", ...MOLECULES].join("\n") + "\n");
    const targets = [5, 7, 9];
    const n = 12;
    const cfg = parseMoleculeConfig(
      {
        task: { kind: "smiles", path: "mols.csv", maxAtoms: 9 },
        model: { pretrained: "qm9" },
        reward: { kind: "dft", property: "gap" },
        method: [{ kind: "rcgdm", targets, molecules: { train: { steps: 4, batchSize: 8, warmupSteps: 1 } } }],
        sampling: { steps: 10, samples: n },
        evaluation: { referenceSize: 8, gridMolecules: 4 },
      },
      "test",
    );
    const out = join(dir, "out");
    const result = await runMoleculeExperiment(cfg, out, { baseDir: dir });
    // The same evaluator (same file, seed and l2; the labels are read once per process).
    dft ??= prepareDftReward(rdkit, MoleculeDftRewardSchema.parse({ kind: "dft", property: "gap" }), QM9_VOCABULARY, "test");
    const rows = result.report.results as unknown as Row[];
    expect(rows.map((r) => r.target)).toEqual(targets);
    const split = (result.report.dft as { split: { a: number; aHeld: number } }).split;
    const section = result.report.rcgdm as { labeled: number; unlabeled: number; rewardModel: { heldOut: { n: number } } };
    // f̂ on half A (its held-out part measured), every task molecule pseudo-labelled.
    expect(section.labeled).toBe(split.a);
    expect(section.rewardModel.heldOut.n).toBe(split.aHeld);
    expect(section.unlabeled).toBe(MOLECULES.length);
    const pred: number[] = [];
    const tgt: number[] = [];
    for (const row of rows) {
      const records = parse(readFileSync(join(out, `samples-rcgdm-a=${row.target}.csv`), "utf8"), { columns: true, skip_empty_lines: true }) as { smiles: string }[];
      expect(records).toHaveLength(n);
      const valid = records.map((r) => r.smiles).filter((s) => s !== "");
      expect(row.validity.value).toBe(valid.length / n);
      if (valid.length === 0) {
        expect(row.targetError).toBeNull();
        continue;
      }
      // φ of the decoded samples, recomputed here.
      const phi = dft.ofSmiles(valid);
      const mean = phi.reduce((a, v) => a + v, 0) / phi.length;
      expect(row.rewardValid!.mean).toBeCloseTo(mean, 5);
      expect(row.targetError!.mae).toBeCloseTo(phi.reduce((a, v) => a + Math.abs(v - row.target!), 0) / phi.length, 5);
      expect(row.targetError!.bias).toBeCloseTo(mean - row.target!, 5);
      pred.push(...phi);
      tgt.push(...phi.map(() => row.target!));
    }
    const overall = (result.report.dft as { samples: { n: number; mae: number } | null }).samples;
    if (pred.length > 0) {
      expect(overall!.n).toBe(pred.length);
      expect(overall!.mae).toBeCloseTo(pred.reduce((a, v, i) => a + Math.abs(v - tgt[i]!), 0) / pred.length, 5);
    } else expect(overall).toBeNull();
  }, 120_000);

  it("refuses an unknown DFT or oracle property in one line", () => {
    const cfg = (reward: unknown) => () => parseMoleculeConfig({ task: { kind: "qm9" }, model: { pretrained: "qm9" }, reward }, "cfg.json");
    expect(cfg({ kind: "dft", property: "u0" })).toThrow(/^cfg\.json: reward\.property[^\n]*$/);
    expect(cfg({ kind: "property", property: "sa" })).toThrow(/^cfg\.json: reward\.property[^\n]*$/);
    expect(cfg({ kind: "dft", heldOut: 1 })).toThrow(/reward\.heldOut/);
    expect(parseMoleculeConfig({ task: { kind: "qm9" }, model: { pretrained: "qm9" } }, "cfg.json").reward).toEqual({ kind: "property", property: "qed" });
  });
});
