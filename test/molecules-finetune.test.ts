/**
 * Fine-tuning in a molecule run (docs/molecules.md "Runs"): a tiny run on the shipped QM9 model with none,
 * rwr, rgdm (candidates) and ddpo for a few steps. Checks: one row per method with the reward recomputed from
 * its samples CSV by the RDKit oracle; the reward evaluations from their closed forms (rounds × samples per
 * round; steps × batch × K; iterations × batch); each tuned model written with its vocabulary and weights
 * that differ from the pretrained EMA; and `none` sampled the untouched pretrained weights (its molecules
 * equal an independent draw from the model file with the run's key for that row, listed after the others).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyFromSeed, splitKey } from "../src/backend/keys.js";
import { namedLeaves } from "../src/nn/params.js";
import { propertyOfSmiles } from "../src/chem/oracles.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { generate } from "../src/diffusion/generate.js";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { parseMoleculeConfig } from "../src/runners/molecule-run-config.js";
import { runMoleculeExperiment, type MoleculeRunResult } from "../src/runners/molecule-run.js";
import { decodeMoleculeRows, moleculeVocabulary, resolveModelPath } from "../src/runners/molecule-sampling.js";
import { removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

const seed = 3;
const n = 8;
const steps = 5;
const rwr = { rounds: 2, samplesPerRound: 8 };
const rgdm = { steps: 3, batchSize: 8, candidates: 2 };
const ddpo = { iterations: 2, batch: 4 };
const config = {
  seed,
  task: { kind: "qm9" },
  model: { pretrained: "qm9" },
  reward: { kind: "property", property: "qed" },
  // none last: it samples the pretrained weights after every fine-tuning method ran.
  method: [
    { kind: "rwr", alpha: 0.1, ...rwr, stepsPerRound: 2, batchSize: 8, learningRate: 1e-4 },
    { kind: "rgdm", alpha: 0.1, ...rgdm, monitorSamples: 4, learningRate: 1e-4 },
    { kind: "ddpo", ...ddpo, epochs: 1, minibatches: 1, learningRate: 1e-4 },
    { kind: "none" },
  ],
  sampling: { steps, samples: n },
  evaluation: { referenceSize: 40, gridMolecules: 4 },
};

let rdkit: RDKit;
let dir: string;
let res: MoleculeRunResult;

beforeAll(async () => {
  rdkit = await loadRDKit();
  dir = tempDir("mol-finetune");
  res = await runMoleculeExperiment(parseMoleculeConfig(config, "cfg"), dir, { where: "cfg" });
}, 120_000);

type Row = { method: string; label: string; samples: number; reward: { mean: number }; cost: { rewardEvals: number } };

function smilesOf(file: string): (string | null)[] {
  const records = parse(readFileSync(join(dir, file), "utf8"), { columns: true, skip_empty_lines: true }) as { smiles: string }[];
  return records.map((r) => (r.smiles === "" ? null : r.smiles));
}

describe("fine-tuning in a molecule run", () => {
  it("reports one row per method, its reward recomputed by the oracle, its reward evaluations as configured", () => {
    const rows = res.report.results as unknown as Row[];
    expect(rows.map((r) => r.method)).toEqual(["rwr", "rgdm", "ddpo", "none"]);
    for (const r of rows) {
      const smiles = smilesOf(`samples-${r.label}.csv`);
      expect(smiles.length).toBe(n);
      const qed = propertyOfSmiles(rdkit, smiles, "qed");
      expect(r.reward.mean).toBeCloseTo(qed.reduce((a, v) => a + v, 0) / n, 12);
    }
    expect(rows.map((r) => r.cost.rewardEvals)).toEqual([rwr.rounds * rwr.samplesPerRound, rgdm.steps * rgdm.batchSize * rgdm.candidates, ddpo.iterations * ddpo.batch, 0]);
  });

  it("tunes copies: each tuned model differs from the pretrained weights, and none samples the pretrained model as it is", async () => {
    const path = resolveModelPath("qm9", "test");
    const pre = loadModel(path);
    try {
      const preLeaves = namedLeaves(pre.ema);
      for (const label of ["rwr", "rgdm", "ddpo"]) {
        const tuned = loadModel(join(dir, `model-${label}.safetensors`));
        try {
          expect(tuned.meta.molecules).toEqual(pre.meta.molecules);
          let maxDiff = 0;
          const leaves = namedLeaves(tuned.ema);
          for (const [name, a] of preLeaves) {
            const b = leaves.get(name)!;
            const [x, y] = [await a.ref.data(), await b.ref.data()] as Float32Array[];
            for (let i = 0; i < x!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x![i]! - y![i]!));
          }
          expect(maxDiff, label).toBeGreaterThan(1e-6);
        } finally {
          disposeLoadedModel(tuned);
        }
      }
      // `none` (method 3) drew with the run's key splitKey(seed, 1 + methods)[4] from the file's EMA.
      const keys = splitKey(keyFromSeed(seed), 1 + config.method.length);
      const s = parseMoleculeConfig(config, "cfg").sampling;
      const x = await generate(pre.meta.model, pre.ema, { sampler: s.sampler, steps: s.steps, eta: s.eta }, n, keys[4]!);
      keys.filter((_, i) => i !== 4).forEach((k) => k.dispose());
      const expected = decodeMoleculeRows(rdkit, x, moleculeVocabulary(pre.meta, "test")).map((s) => s.smiles);
      expect(smilesOf("samples-none.csv")).toEqual(expected);
    } finally {
      disposeLoadedModel(pre);
    }
  });
});
