/**
 * `rewardiff run` on molecules (docs/molecules.md "Runs"): a config with a smiles task trains a tiny molecule
 * model and runs none + best-of-n; a second config loads that model as `model.pretrained` and runs none, svdd
 * and best-of-n at svdd's budget. Every reported number is recomputed here from the written samples CSVs with
 * the RDKit oracle and set arithmetic, and the reward-evaluation counts from the closed forms (N × n for
 * best-of-N, M × n × active stochastic steps for SVDD). Methods that cannot run on molecules are refused with
 * one line naming the method and why, before anything is written.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalize } from "../src/chem/metrics.js";
import { propertyOfSmiles } from "../src/chem/oracles.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { parseMoleculeConfig } from "../src/runners/molecule-run-config.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { generateWithEps } from "../src/diffusion/generate.js";
import { modelEps } from "../src/diffusion/model.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import type { MethodContext } from "../src/runners/methods/context.js";
import { sampleGuided, type GuidanceSetup } from "../src/runners/methods/guidance-common.js";
import { cli, expectOneLineError, expectUntouched, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

/** Small molecules of C, N, O (≤ 6 heavy atoms) with a spread of QED. */
const MOLECULES = ["CCO", "CC(=O)O", "CCN", "CC#N", "OCCO", "CCCC", "C1CCC1", "CC(C)O", "NCC(=O)O", "C1CCOC1", "CCOC", "CC(N)=O", "OC1CC1", "C=CC=O", "CNC=O", "CCCO"];

interface Row {
  method: string;
  label: string;
  samples: number;
  reward: { mean: number; std: number };
  rewardValid: { mean: number } | null;
  candidates?: number;
  matchedBudget?: number;
  cost: { rewardEvals: number; gradEvals: number };
  validity: { value: number; floor: number };
  uniqueness: { value: number | null; floor: number };
  novelty: { value: number | null; floor: number };
  fragmented: { value: number | null; floor: number };
  klScore: { value: number | null; floor: number | null };
}

let dir: string;
let rdkit: RDKit;
let first: { code: number; stderr: string; stdout: string };
let second: { code: number; stderr: string; stdout: string };
const N = 8;
const n = 24;
const steps = 20;
const M = 4;

beforeAll(async () => {
  rdkit = await loadRDKit();
  dir = tempDir("mol-run");
  writeFileSync(join(dir, "mols.csv"), ["smiles", ...MOLECULES].join("\n") + "\n");
  const train = {
    task: { kind: "smiles", path: "mols.csv" },
    model: { hidden: 16, edgeHidden: 8, heads: 2, layers: 1, train: { steps: 400, batchSize: 32, learningRate: 3e-3, warmupSteps: 5, ema: 0.9 } },
    reward: { kind: "property", property: "qed" },
    method: [{ kind: "none" }, { kind: "best-of-n", candidates: N }],
    sampling: { steps, samples: n },
    evaluation: { referenceSize: 8, gridMolecules: 6 },
  };
  writeFileSync(join(dir, "train.json"), JSON.stringify(train));
  first = await cli("run", join(dir, "train.json"), "--out", join(dir, "a"), "--quiet");
  const pretrained = {
    task: { kind: "smiles", path: "mols.csv" },
    model: { pretrained: "a/model.safetensors" },
    method: [{ kind: "none" }, { kind: "svdd", candidates: M, start: 0.5, alpha: 0.1 }, { kind: "best-of-n", matchBudget: "svdd", label: "bon@svdd" }],
    sampling: { steps, samples: n },
    evaluation: { referenceSize: 8, gridMolecules: 6 },
  };
  writeFileSync(join(dir, "pretrained.json"), JSON.stringify(pretrained));
  second = await cli("run", join(dir, "pretrained.json"), "--out", join(dir, "b"), "--quiet");
}, 240_000);

const rows = (out: string): Row[] => JSON.parse(readFileSync(join(dir, out, "report.json"), "utf8")).results as Row[];

/** The `smiles` column of a written samples CSV ("" = invalid). */
function samplesOf(out: string, file: string): string[] {
  const records = parse(readFileSync(join(dir, out, file), "utf8"), { columns: true, skip_empty_lines: true }) as { smiles: string }[];
  return records.map((r) => r.smiles);
}

/** The row's numbers recomputed from its samples CSV with the oracle and set arithmetic. */
function expectRowMatchesSamples(row: Row, smiles: string[], trainingSet: Set<string>): void {
  expect(smiles.length).toBe(row.samples);
  const valid = smiles.filter((s) => s !== "");
  const qed = propertyOfSmiles(rdkit, smiles.map((s) => (s === "" ? null : s)), "qed");
  const mean = qed.reduce((a, v) => a + v, 0) / qed.length;
  expect(row.reward.mean).toBeCloseTo(mean, 12);
  const validQed = propertyOfSmiles(rdkit, valid, "qed");
  if (valid.length > 0) expect(row.rewardValid!.mean).toBeCloseTo(validQed.reduce((a, v) => a + v, 0) / valid.length, 12);
  expect(row.validity.value).toBe(valid.length / smiles.length);
  const distinct = new Set(valid);
  if (valid.length > 0) {
    expect(row.uniqueness.value).toBe(distinct.size / valid.length);
    expect(row.novelty.value).toBe([...distinct].filter((s) => !trainingSet.has(s)).length / distinct.size);
    expect(row.fragmented.value).toBe(valid.filter((s) => s.includes(".")).length / valid.length);
  }
  // The floor is a data sample: every molecule valid, none novel (it is drawn from the training file).
  expect(row.validity.floor).toBe(1);
  expect(row.novelty.floor).toBe(0);
  expect(row.fragmented.floor).toBe(0);
}

describe("rewardiff run on molecules", () => {
  it("trains a molecule model, and best-of-N's mean QED exceeds the base model's; every number matches its samples", () => {
    expect(first.code, first.stderr).toBe(0);
    for (const f of ["report.json", "report.html", "samples-none.csv", "samples-best-of-n.csv", "model.safetensors"]) expect(existsSync(join(dir, "a", f)), f).toBe(true);
    const [none, bon] = rows("a");
    expect(none!.method).toBe("none");
    expect(bon!.method).toBe("best-of-n");
    const training = new Set(canonicalize(rdkit, MOLECULES) as string[]);
    expectRowMatchesSamples(none!, samplesOf("a", "samples-none.csv"), training);
    expectRowMatchesSamples(bon!, samplesOf("a", "samples-best-of-n.csv"), training);
    // Best-of-N keeps the best of N base samples per output: a selection, so its mean reward is higher.
    expect(bon!.reward.mean).toBeGreaterThan(none!.reward.mean);
    // Cost: none calls no oracle; best-of-N calls it on N × n candidates.
    expect(none!.cost.rewardEvals).toBe(0);
    expect(bon!.cost.rewardEvals).toBe(N * n);
    expect(bon!.cost.gradEvals).toBe(0);
    expect(first.stdout).toMatch(/best-of-n\s/);
  });

  it("writes a report page with the table and a molecule grid per method", () => {
    const html = readFileSync(join(dir, "a", "report.html"), "utf8");
    expect(html.match(/<section id="molecules-\d+">/g)).toHaveLength(2);
    expect(html.match(/<figure class="mol/g)).toHaveLength(12);
    expect(html).toContain("floor<span class=\"sub\">a data sample of the same size");
    expect(html).not.toMatch(/<script/i);
    const report = JSON.parse(readFileSync(join(dir, "a", "report.json"), "utf8"));
    expect(report.molecules.grids.map((g: { label: string }) => g.label)).toEqual(["none", "best-of-n"]);
    expect(report.files.map((f: { path: string }) => f.path)).toEqual(["samples-none.csv", "samples-best-of-n.csv", "model.safetensors"]);
  });

  it("loads a pretrained model; SVDD's reward evaluations are M × n × its stochastic steps, and best-of-N matches that budget", () => {
    expect(second.code, second.stderr).toBe(0);
    const [none, svdd, bon] = rows("b");
    expect(existsSync(join(dir, "b", "model.safetensors"))).toBe(false);
    const training = new Set(canonicalize(rdkit, MOLECULES) as string[]);
    expectRowMatchesSamples(none!, samplesOf("b", "samples-none.csv"), training);
    expectRowMatchesSamples(svdd!, samplesOf("b", "samples-svdd.csv"), training);
    const files = JSON.parse(readFileSync(join(dir, "b", "report.json"), "utf8")).files as { path: string; label: string }[];
    expectRowMatchesSamples(bon!, samplesOf("b", files.find((f) => f.label === "bon@svdd")!.path), training);
    // DDPM with S steps: steps i = 0..S−1, the last deterministic (σ = 0); SVDD is active for start ≤ i/S < 1.
    let active = 0;
    for (let i = 0; i < steps - 1; i++) if (i / steps >= 0.5) active++;
    expect(svdd!.cost.rewardEvals).toBe(M * n * active);
    expect(bon!.candidates).toBe(Math.round((M * n * active) / n));
    expect(bon!.cost.rewardEvals).toBe(bon!.candidates! * n);
  });

  it("guided sampling draws in the model's noise space: with no term it gives the plain sampler's graph rows for the same key", async () => {
    const loaded = loadModel(join(dir, "a", "model.safetensors"));
    try {
      const model = loaded.meta.model;
      expect(model.noise?.kind).toBe("graph");
      const eps = modelEps(model, loaded.ema);
      const sampler = { sampler: "ddpm" as const, steps: 10, eta: 1 };
      const plain = await generateWithEps(eps, model, sampler, 6, keyFromSeed(5));
      const ctx = { model, hooks: {} } as unknown as MethodContext;
      const setup = { label: "t", plan: samplerPlan(makeSchedule(model.schedule), sampler), samplerName: "ddpm", n: 6, dim: model.network.dataDim } as GuidanceSetup;
      const guided = (await sampleGuided(ctx, setup, eps, [], keyFromSeed(5), { pathKl: false })).samples;
      expect(Array.from(guided.data)).toEqual(Array.from(plain.data));
    } finally {
      disposeLoadedModel(loaded);
    }
  });

  it("refuses methods that cannot run on molecules, with one line naming the method and why, writing nothing", async () => {
    const bad = (method: unknown, extra: Record<string, unknown> = {}) => {
      const path = join(dir, "bad.json");
      writeFileSync(path, JSON.stringify({ task: { kind: "smiles", path: "mols.csv" }, model: { pretrained: "a/model.safetensors" }, method, ...extra }));
      return path;
    };
    const out = join(dir, "bad-out");
    const config = bad([{ kind: "none" }, { kind: "dps" }]);
    const dps = await expectUntouched(dir, () => cli("run", config, "--out", out, "--quiet"));
    expectOneLineError(dps, 'method[1].kind: "dps" cannot run on molecules', "no gradient");
    const cfgConfig = bad({ kind: "cfg" });
    const cfgRefused = await expectUntouched(dir, () => cli("run", cfgConfig, "--out", out, "--quiet"));
    expectOneLineError(cfgRefused, 'method.kind: "cfg" cannot run on molecules', "property-conditioned molecule model");
    const gradientConfig = bad({ kind: "rgdm", variant: "gradient" });
    const gradient = await expectUntouched(dir, () => cli("run", gradientConfig, "--out", out, "--quiet"));
    expectOneLineError(gradient, 'method.variant: "gradient" cannot run on molecules', "no gradient");
    const learnedConfig = bad({ kind: "svdd", value: "learned" });
    const learned = await expectUntouched(dir, () => cli("run", learnedConfig, "--out", out, "--quiet"));
    expectOneLineError(learned, 'method.value: "learned" cannot run on molecules');
    const bothConfig = bad({ kind: "none" }, { model: { pretrained: "a/model.safetensors", hidden: 32 } });
    const both = await expectUntouched(dir, () => cli("run", bothConfig, "--out", out, "--quiet"));
    expectOneLineError(both, "model.hidden", "not used with model.pretrained");
    const propConfig = bad({ kind: "none" }, { reward: { kind: "property", property: "sa" } });
    const prop = await expectUntouched(dir, () => cli("run", propConfig, "--out", out, "--quiet"));
    expectOneLineError(prop, "reward.property");
    const missingConfig = bad({ kind: "none" }, { model: { pretrained: "nope.safetensors" } });
    const missing = await expectUntouched(dir, () => cli("run", missingConfig, "--out", out, "--quiet"));
    expectOneLineError(missing, "model.pretrained", "nope.safetensors");
    const resumeConfig = bad({ kind: "none" });
    const resume = await expectUntouched(dir, () => cli("run", resumeConfig, "--resume", join(dir, "a"), "--quiet"));
    expectOneLineError(resume, "--resume", "holds no training checkpoint of this config's rcgdm rows");
    const twiceConfig = bad([{ kind: "none", label: "x" }, { kind: "best-of-n", label: "x" }]);
    const twice = await expectUntouched(dir, () => cli("run", twiceConfig, "--out", out, "--quiet"));
    expectOneLineError(twice, 'method[1].label: "x" is already the label of method[0]');
    // The library's parser gives the same line.
    expect(() => parseMoleculeConfig({ task: { kind: "qm9" }, model: { pretrained: "qm9" }, method: { kind: "draft" } }, "cfg")).toThrow(/^cfg: method\.kind: "draft" cannot run on molecules: .*gradient/);
  });
});
