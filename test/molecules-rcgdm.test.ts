/**
 * RCGDM on molecules (docs/molecules.md "RCGDM on a property"):
 *  - the condition added to the shipped pretrained graph transformer (zero-initialised new `cond` inputs) gives
 *    the pretrained model's outputs for any condition value and for the null condition, and stops doing so once
 *    those inputs are non-zero (so the comparison can fail);
 *  - the default targets are the labels' quantiles and the two values beyond their range (recomputed here);
 *  - a tiny molecule run (the shipped model, a small SMILES file, a few fine-tuning steps and samples) writes one
 *    row per target whose property numbers are recomputed here by RDKit from the decoded samples in its CSVs.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { np, tree, type JArray } from "../src/backend/jax.js";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { toHost } from "../src/backend/ownership.js";
import { propertyOfSmiles } from "../src/chem/oracles.js";
import { loadRDKit, type RDKit } from "../src/chem/rdkit.js";
import { modelOutput, type ModelConfig } from "../src/diffusion/model.js";
import { loadModel, saveInferenceModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { addValueCondition } from "../src/nn/denoisers/graph-condition.js";
import type { GraphTransformerParams, GraphTransformerSpec } from "../src/nn/denoisers/graph-transformer.js";
import { graphEnvironments } from "../src/rewards/graph-features.js";
import { encodeSmiles, graphToRow, QM9_VOCABULARY } from "../src/chem/graph.js";
import { RcgdmMoleculesSchema, type RcgdmMethodConfig } from "../src/runners/methods/rcgdm.js";
import { conditionalTrainConfig, moleculeTargets, runMoleculeRcgdm } from "../src/runners/molecule-rcgdm.js";
import { conditionalModelMismatch, STANDARDIZATION_TOLERANCE } from "../src/runners/molecule-rcgdm-saved.js";
import { smilesTrainData } from "../src/runners/molecule-data.js";
import { parseMoleculeConfig } from "../src/runners/molecule-run-config.js";
import { parseConfig } from "../src/runners/config.js";
import { checkMoleculeInputs, rcgdmResumeCheckpoints, runMoleculeExperiment } from "../src/runners/molecule-run.js";
import { moleculeRunTable } from "../src/cli/molecule-run-command.js";
import { formatNumber } from "../src/report/format.js";
import { networkTarget, resolveModelPath } from "../src/runners/molecule-sampling.js";
import { cli, expectOneLineError, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

let rdkit: RDKit;
beforeAll(async () => {
  await ensureBackend();
  rdkit = await loadRDKit();
});

/** QM9-like molecules of C, N, O, F with single, double and triple bonds, up to 9 heavy atoms (the shipped model's vocabulary). */
const MOLECULES = [
  "CCO", "CC(=O)O", "CCN", "CC#N", "OCCO", "CCCC", "C1CCC1", "CC(C)O", "NCC(=O)O", "C1CCOC1", "CCOC", "CC(N)=O", "OC1CC1", "C=CC=O",
  "CNC=O", "CCCO", "CCF", "FC(F)F", "CC(F)CO", "CCCCCCCCC", "OCC(O)CO", "CC#CC", "c1ccccc1", "c1ccncc1", "Cc1ccco1", "CC(C)(C)C",
  "CCCCCC", "CCCCO", "NC(=O)N", "CC(=O)C", "CCOCC", "CN(C)C", "C#CCO", "OC(=O)CO", "CCC(C)CC", "CCCCCN", "CC1CCCC1", "OC1CCCC1",
  "CCCCCCC", "CC(O)C(O)C", "N#CC#N", "FCC(F)F",
];

describe("adding a value condition to the pretrained graph transformer", () => {
  it.each([{ fourier: undefined }, { fourier: 8 }])("equals the pretrained model at step 0 for any condition and for ∅; differs once the new inputs are non-zero (Fourier features: $fourier)", async ({ fourier }) => {
    const loaded = loadModel(resolveModelPath("qm9"));
    try {
      const model = loaded.meta.model;
      const spec = model.network as GraphTransformerSpec;
      const added = addValueCondition(spec, loaded.ema as GraphTransformerParams, { dim: 1, embedding: 32, ...(fourier ? { fourier } : {}) }, keyFromSeed(3));
      expect(added.params.valueCond!.w.shape).toEqual([fourier ? 1 + 2 * fourier : 1, 32]);
      expect(added.spec.timeEmbedding).toBe(spec.timeEmbedding);
      expect(added.params.cond.w.shape).toEqual([spec.timeEmbedding + 32, spec.hidden]);
      expect((spec.timeEmbedding + 32) % 4).toBe(0);
      const cmodel: ModelConfig = { ...model, network: added.spec };
      const n = 6;
      const D = spec.dataDim;
      const xt = Float32Array.from({ length: n * D }, (_, i) => Math.sin(i * 12.9898) * 1.3);
      const run = async (m: ModelConfig, p: unknown, cond?: { value: number; keep: number }, index = 400) => {
        const f = modelOutput(m, p as never, cond ? (k) => ({ kind: "value", value: np.array(new Float32Array(k).fill(cond.value), { shape: [k, 1] }), keep: np.array(new Float32Array(k).fill(cond.keep)) }) : undefined);
        return toHost(f.apply(np.array(xt, { shape: [n, D] }), { index, alphaBar: 0.5 }));
      };
      for (const index of [20, 400, 900]) {
        const ref = await run(model, loaded.ema, undefined, index);
        for (const cond of [{ value: -3.5, keep: 1 }, { value: 0.7, keep: 1 }, { value: 12, keep: 1 }, { value: 2, keep: 0 }]) {
          const out = await run(cmodel, added.params, cond, index);
          let diff = 0;
          for (let i = 0; i < out.length; i++) diff = Math.max(diff, Math.abs(out[i]! - ref[i]!));
          expect(diff, `t index ${index}, condition ${JSON.stringify(cond)}`).toBeLessThanOrEqual(1e-6);
        }
      }
      // The same network with the new rows of W_c switched on: the condition now changes the output.
      const w = added.params.cond.w;
      const on = { ...added.params, cond: { w: w.ref.add(np.concatenate([np.zeros([spec.timeEmbedding, spec.hidden]), np.ones([32, spec.hidden]).mul(0.05)], 0)), b: added.params.cond.b.ref } };
      const a = await run(cmodel, on, { value: -3.5, keep: 1 });
      const b = await run(cmodel, on, { value: 3.5, keep: 1 });
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeGreaterThan(1e-3);
      tree.dispose([on.cond.w, on.cond.b]);
      tree.dispose(added.params);
    } finally {
      disposeLoadedModel(loaded);
    }
  }, 60_000);

  it("with the condition at every layer: equals the pretrained model at step 0; each layer's projection U_l is a live path", async () => {
    const loaded = loadModel(resolveModelPath("qm9"));
    try {
      const model = loaded.meta.model;
      const spec = model.network as GraphTransformerSpec;
      const added = addValueCondition(spec, loaded.ema as GraphTransformerParams, { dim: 1, embedding: 32, everyLayer: true }, keyFromSeed(3));
      expect(added.spec.layerConditioning).toBe(true);
      expect(added.params.layerCond?.map((u) => u.w.shape)).toEqual(Array.from({ length: spec.layers }, () => [spec.hidden, spec.hidden + spec.edgeHidden]));
      const cmodel: ModelConfig = { ...model, network: added.spec };
      const n = 5;
      const D = spec.dataDim;
      const xt = Float32Array.from({ length: n * D }, (_, i) => Math.cos(i * 7.31) * 1.1);
      const run = async (m: ModelConfig, p: unknown, value?: number) => {
        const f = modelOutput(m, p as never, value !== undefined ? (k) => ({ kind: "value", value: np.array(new Float32Array(k).fill(value), { shape: [k, 1] }), keep: np.array(new Float32Array(k).fill(1)) }) : undefined);
        return toHost(f.apply(np.array(xt, { shape: [n, D] }), { index: 500, alphaBar: 0.4 }));
      };
      const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      const ref = await run(model, loaded.ema);
      for (const v of [-2, 0.5, 3]) expect(maxDiff(await run(cmodel, added.params, v), ref)).toBeLessThanOrEqual(1e-6);
      // Switch on the condition's rows of W_c, then one layer's U_l at a time (the others zero): each moves the output.
      const onW = added.params.cond.w.ref.add(np.concatenate([np.zeros([spec.timeEmbedding, spec.hidden]), np.ones([32, spec.hidden]).mul(0.05)], 0));
      const baseline = { ...added.params, cond: { w: onW, b: added.params.cond.b } };
      const inputOnly = await run(cmodel, baseline, 2);
      const u0Shape = added.params.layerCond![0]!.w.shape as [number, number];
      for (let l = 0; l < spec.layers; l++) {
        // A patterned U_l (a constant one would only shift every channel alike, which the layer norms remove).
        const [r, c] = u0Shape;
        const pattern = np.array(Float32Array.from({ length: r * c }, (_, i) => 0.05 * Math.sin(i * 1.7 + l)), { shape: [r, c] });
        const layerCond = added.params.layerCond!.map((u, j) => (j === l ? { w: u.w.ref.add(pattern), b: u.b } : u));
        const on = { ...baseline, layerCond };
        expect(maxDiff(await run(cmodel, on, 2), inputOnly), `layer ${l}`).toBeGreaterThan(1e-3);
        layerCond[l]!.w.dispose();
      }
      onW.dispose();
      tree.dispose(added.params);
    } finally {
      disposeLoadedModel(loaded);
    }
  }, 60_000);

  it("refuses a condition embedding that would take the cond layer off the SIMD path, and a model that has a condition", () => {
    const loaded = loadModel(resolveModelPath("qm9"));
    try {
      const spec = loaded.meta.model.network as GraphTransformerSpec;
      expect(() => addValueCondition(spec, loaded.ema as GraphTransformerParams, { dim: 1, embedding: 30 }, keyFromSeed(1))).toThrow(/32 \+ condition embedding 30 = 62 is no multiple of 4.*use a condition embedding of 32/);
      expect(() => addValueCondition({ ...spec, condition: { kind: "value", dim: 1, embedding: 32 } }, loaded.ema as GraphTransformerParams, { dim: 1, embedding: 32 }, keyFromSeed(1))).toThrow(/already takes a value condition/);
    } finally {
      disposeLoadedModel(loaded);
    }
  });
});

describe("rcgdm's molecule pieces", () => {
  it("reads atom environments of a graph row as RDKit does: hydrogens per atom sum to RDKit's count", () => {
    for (const s of ["CC(=O)O", "C1CCOC1", "CC#N", "c1ccncc1", "FC(F)F", "C[NH3+]"]) {
      const enc = encodeSmiles(rdkit, s, QM9_VOCABULARY);
      expect(enc.ok, s).toBe(true);
      if (!enc.ok) continue;
      const env = graphEnvironments(graphToRow(enc.graph), QM9_VOCABULARY);
      const mol = rdkit.get_mol(s)!;
      const desc = JSON.parse(mol.get_descriptors()) as { NumHeavyAtoms: number; NumAtoms: number };
      mol.delete();
      expect(env.atoms.length, s).toBe(desc.NumHeavyAtoms);
      // RDKit's NumAtoms counts the implicit hydrogens too.
      expect(env.atoms.reduce((a, x) => a + x.hydrogens, 0), s).toBe(desc.NumAtoms - desc.NumHeavyAtoms);
    }
  });

  it("takes the default targets at the labels' quantiles and `beyond` outside their range", () => {
    const labels = Float32Array.from({ length: 11 }, (_, i) => 10 - i); // 0..10 in reverse
    const m = { molecules: { targetQuantiles: [0.1, 0.5, 0.95], beyond: 2 } } as unknown as RcgdmMethodConfig;
    expect(moleculeTargets(m, labels)).toEqual([
      { target: -2, quantile: null },
      { target: 1, quantile: 0.1 },
      { target: 5, quantile: 0.5 },
      { target: 9.5, quantile: 0.95 },
      { target: 12, quantile: null },
    ]);
    expect(moleculeTargets({ targets: [1, 2] } as unknown as RcgdmMethodConfig, labels)).toEqual([{ target: 1, quantile: null }, { target: 2, quantile: null }]);
  });
});

interface Row {
  method: string;
  label: string;
  target: number;
  samples: number;
  rewardValid: { mean: number } | null;
  targetError: { mae: number; bias: number } | null;
  validity: { value: number };
  cost: { modelEvals: number; gradEvals: number };
}

describe("rcgdm in a molecule run", () => {
  it("fine-tunes the shipped model on pseudo-labels and reports, per target, RDKit's logP of the decoded samples", async () => {
    const dir = tempDir("mol-rcgdm");
    writeFileSync(join(dir, "mols.csv"), ["smiles", ...MOLECULES].join("\n") + "\n");
    const targets = [-1, 0.5, 2];
    const n = 12;
    const steps = 10;
    const cfg = parseMoleculeConfig(
      {
        task: { kind: "smiles", path: "mols.csv", maxAtoms: 9 },
        model: { pretrained: "qm9" },
        reward: { kind: "property", property: "logp" },
        method: [
          { kind: "rcgdm", targets, molecules: { labeled: 16, heldOut: 8, extraScales: [2], train: { steps: 4, batchSize: 8, warmupSteps: 1 } } },
          // ν = 1 here: a law wide enough to rest on ≥ 10 of the molecules at some targets (ν = 0.1 at none).
          { kind: "rcgdm", variant: "target-guidance", scale: 2, pseudoLabelNoise: 1, targets, molecules: { labeled: 16, heldOut: 8, predictor: { hidden: 16, layers: 1, steps: 20, batchSize: 16 } } },
        ],
        sampling: { steps, samples: n },
        evaluation: { referenceSize: 8, gridMolecules: 4 },
      },
      "test",
    );
    const out = join(dir, "out");
    const result = await runMoleculeExperiment(cfg, out, { baseDir: dir });
    const rows = result.report.results as unknown as Row[];
    expect(rows.map((r) => r.target)).toEqual([...targets, ...targets, ...targets]);
    // The conditional model is kept (one file for all its targets and scales); target guidance trains none.
    const written = result.files.map((f) => f.slice(f.lastIndexOf("/") + 1));
    expect(written).toContain("model-rcgdm.safetensors");
    expect(written.filter((f) => f.startsWith("model-"))).toEqual(["model-rcgdm.safetensors"]);
    // molecules.extraScales: the same model sampled at w = 2 too, rows after the method's own scale.
    expect(rows.map((r) => r.label)).toEqual([...targets.map((a) => `rcgdm[a=${a}]`), ...targets.map((a) => `rcgdm w=2[a=${a}]`), ...targets.map((a) => `target-guidance[a=${a}]`)]);
    expect(rows.map((r) => (r as unknown as { scale: number }).scale)).toEqual([1, 1, 1, 2, 2, 2, 2, 2, 2]);
    const section = result.report.rcgdm as { rewardModel: { heldOut: { n: number; mae: number } }; labeled: number; unlabeled: number };
    expect(section.labeled).toBe(16);
    expect(section.unlabeled).toBe(MOLECULES.length - 16);
    expect(section.rewardModel.heldOut.n).toBe(8);
    const table = moleculeRunTable(result.report);
    expect(table).toContain("|y − a| (valid; floor)");
    // report.html: the same error beside its floor, per row at a target.
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toContain("floor: the exact pseudo-label law");
    // The floor shows where its law rests on ≥ 10 molecules (effective pool size), "—" where it does not; the
    // terminal table likewise.
    const floorOf = (r: Row) => (r as unknown as { targetErrorFloor: { mae: number; effectiveN: number } }).targetErrorFloor;
    const shown = rows.map((r) => (floorOf(r).effectiveN >= 10 ? formatNumber(floorOf(r).mae) : "—"));
    expect([...html.matchAll(/<span class="sub">floor ([0-9.]+|—) \(on [0-9]+\)<\/span>/g)].map((m) => m[1])).toEqual(shown);
    const tableLines = table.split("\n");
    rows.forEach((r, k) => expect(tableLines[k + 1]).toContain(`(${shown[k]})`));
    expect(table).toContain("rcgdm[a=0.5]");
    // Each target's MAE floor (the exact pseudo-label law over the unlabeled molecules, here all of them): the
    // same law for the rows of one entry at that target (its scales; target guidance fits its own f̂), a weighted
    // mean of the pool's |y − a|, so between the smallest and largest |y − a| of the data's molecules (RDKit here,
    // independently).
    expect((result.report.rcgdm as { floor: { molecules: number } }).floor.molecules).toBe(MOLECULES.length - 16);
    const yData = propertyOfSmiles(rdkit, MOLECULES, "logp");
    for (const a of targets) {
      const floors = rows.filter((r) => r.target === a).map((r) => (r as unknown as { targetErrorFloor: { mae: number; bias: number; effectiveN: number } }).targetErrorFloor);
      expect(floors).toHaveLength(3);
      expect(floors[1]).toEqual(floors[0]);
      const dist = yData.map((y) => Math.abs(y - a));
      for (const fl of [floors[0]!, floors[2]!]) {
        expect(fl.mae).toBeGreaterThanOrEqual(Math.min(...dist) - 1e-9);
        expect(fl.mae).toBeLessThanOrEqual(Math.max(...dist) + 1e-9);
        expect(fl.bias + a).toBeGreaterThanOrEqual(Math.min(...yData) - 1e-9);
        expect(fl.bias + a).toBeLessThanOrEqual(Math.max(...yData) + 1e-9);
        expect(fl.effectiveN).toBeGreaterThanOrEqual(1);
        expect(fl.effectiveN).toBeLessThanOrEqual(MOLECULES.length - 16 + 1e-9);
      }
    }
    const guided = result.report["target-guidance"] as { variant: string; predictor: { clean: { n: number } } };
    expect(guided.variant).toBe("target-guidance");
    expect(guided.predictor.clean.n).toBe(8);
    for (const row of rows) {
      expect(row.method).toBe("rcgdm");
      const tg = row.label.startsWith("target-guidance");
      const w2 = row.label.startsWith("rcgdm w=2");
      // Classifier-free guidance evaluates the network twice per step (ε(a) and ε(∅)).
      expect(row.cost.modelEvals).toBe((w2 ? 2 : 1) * n * steps);
      // Target guidance takes one gradient of the noisy regressor per sample and step; the conditional model none.
      expect(row.cost.gradEvals).toBe(tg ? n * steps : 0);
      const file = join(out, `samples-${tg ? "target-guidance" : w2 ? "rcgdm-w=2" : "rcgdm"}-a=${row.target}.csv`);
      const records = parse(readFileSync(file, "utf8"), { columns: true, skip_empty_lines: true }) as { smiles: string }[];
      expect(records).toHaveLength(n);
      const valid = records.map((r) => r.smiles).filter((s) => s !== "");
      expect(row.validity.value).toBe(valid.length / n);
      const logp = propertyOfSmiles(rdkit, valid, "logp");
      if (valid.length === 0) {
        expect(row.rewardValid).toBeNull();
        continue;
      }
      const mean = logp.reduce((a, v) => a + v, 0) / logp.length;
      expect(row.rewardValid!.mean).toBeCloseTo(mean, 10);
      expect(row.targetError!.mae).toBeCloseTo(logp.reduce((a, v) => a + Math.abs(v - row.target), 0) / logp.length, 10);
      expect(row.targetError!.bias).toBeCloseTo(mean - row.target, 10);
    }
  }, 120_000);

  it.each([{ addedLayers: 0, depth: "the pretrained depth" }, { addedLayers: 1, depth: "one added layer" }])("saves the conditional model ($depth); reloaded, --target a reaches the network as (a − μ)/σ, and the CLI samples it at a", async ({ addedLayers }) => {
    const dir = tempDir("mol-rcgdm-model");
    writeFileSync(join(dir, "mols.csv"), ["smiles", ...MOLECULES].join("\n") + "\n");
    const data = await smilesTrainData(join(dir, "mols.csv"), 9);
    const cfg = parseMoleculeConfig(
      {
        task: { kind: "smiles", path: "mols.csv", maxAtoms: 9 },
        model: { pretrained: "qm9" },
        reward: { kind: "property", property: "logp" },
        // A large learning rate so that the condition's new weights move far enough to matter.
        method: [{ kind: "rcgdm", targets: [0], molecules: { labeled: 16, heldOut: 0, addedLayers, train: { steps: 12, batchSize: 8, warmupSteps: 1, learningRate: 0.02 } } }],
      },
      "test",
    );
    const loaded = loadModel(resolveModelPath("qm9"));
    const D = loaded.meta.model.network.dataDim;
    const baseLayers = (loaded.meta.model.network as GraphTransformerSpec).layers;
    const n = 4;
    const xt = Float32Array.from({ length: n * D }, (_, i) => Math.sin(i * 7.1) * 0.9);
    const at = { index: 300, alphaBar: 0.6 };
    const a = 1.7;
    const outputAt = async (m: ModelConfig, p: unknown, z: number) => {
      const f = modelOutput(m, p as never, (k) => ({ kind: "value", value: np.array(new Float32Array(k).fill(z), { shape: [k, 1] }), keep: np.array(new Float32Array(k).fill(1)) }));
      return toHost(f.apply(np.array(xt, { shape: [n, D] }), at));
    };
    let trained: { out: Float32Array; mean: number; std: number } | undefined;
    let r;
    try {
      r = await runMoleculeRcgdm({
        method: [cfg.method].flat()[0] as RcgdmMethodConfig,
        label: "rcgdm",
        key: keyFromSeed(5),
        rdkit,
        property: "logp",
        data,
        model: loaded.meta.model,
        weights: loaded.ema,
        sampler: { sampler: "ddpm", steps: 2, eta: 1 },
        samples: 2,
        seed: 0,
        hooks: {},
        onConditionalModel: async ({ model, ema, mean, std }) => {
          trained = { out: await outputAt(model, ema, (a - mean) / std), mean, std };
        },
      });
    } finally {
      disposeLoadedModel(loaded);
    }
    expect(r.checkpoint?.name).toBe("model-rcgdm.safetensors");
    const path = join(dir, r.checkpoint!.name);
    r.checkpoint!.save(path);
    const back = loadModel(path);
    try {
      expect(back.meta.conditioning).toMatchObject({ names: ["logp"], source: "pseudo-labels", standardization: { mean: [trained!.mean], std: [trained!.std] } });
      expect(back.meta.molecules).toEqual({ atoms: [...data.vocabulary.atoms], bonds: [...data.vocabulary.bonds], maxAtoms: 9 });
      expect((back.meta.model.network as GraphTransformerSpec).layers).toBe(baseLayers + addedLayers);
      expect(r.section.addedLayers).toBe(addedLayers);
      const z = networkTarget(back.meta, [a]);
      expect(z[0]).toBeCloseTo((a - trained!.mean) / trained!.std, 12);
      const again = await outputAt(back.meta.model, back.ema, z[0]!);
      expect(Math.max(...again.map((v, i) => Math.abs(v - trained!.out[i]!)))).toBeLessThanOrEqual(1e-6);
      // The standardisation matters: a fed unstandardised gives another output.
      const raw = await outputAt(back.meta.model, back.ema, a);
      expect(Math.max(...raw.map((v, i) => Math.abs(v - trained!.out[i]!)))).toBeGreaterThan(1e-4);
    } finally {
      disposeLoadedModel(back);
    }
    // The CLI: --target is required, and the CSV holds the decoded molecules.
    const csv = join(dir, "at.csv");
    const missing = await cli("sample", "--model", path, "--n", "4", "--steps", "2", "--out", csv, "--quiet");
    expectOneLineError(missing, "conditional model", "--target");
    const ok = await cli("sample", "--model", path, "--n", "4", "--steps", "2", "--target", String(a), "--scale", "2", "--out", csv);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr + ok.stdout).toMatch(/logp = 1\.7, w = 2/);
    expect(parse(readFileSync(csv, "utf8"), { columns: true })).toHaveLength(4);
  }, 120_000);

  it("resumes a stopped molecule run in its folder (`run --resume`): the rcgdm row fine-tunes on from its training checkpoint there and ends with the straight run's molecules", async () => {
    const dir = tempDir("mol-rcgdm-resume");
    writeFileSync(join(dir, "mols.csv"), ["smiles", ...MOLECULES].join("\n") + "\n");
    const config = (checkpointEvery: number) =>
      parseMoleculeConfig(
        {
          task: { kind: "smiles", path: "mols.csv", maxAtoms: 9 },
          model: { pretrained: "qm9" },
          reward: { kind: "property", property: "logp" },
          method: [{ kind: "none" }, { kind: "rcgdm", targets: [0.5], molecules: { labeled: 16, heldOut: 0, checkpointEvery, train: { steps: 8, batchSize: 8, warmupSteps: 1, learningRate: 0.02 } } }],
          sampling: { steps: 4, samples: 6 },
          evaluation: { referenceSize: 8, gridMolecules: 4 },
        },
        "test",
      );
    const straight = join(dir, "straight");
    const first = await runMoleculeExperiment(config(0), straight, { baseDir: dir });
    // A run with checkpoints every 4 steps leaves the one at step 4 in its folder; resumed there, it fine-tunes
    // steps 5–8 only and samples what the straight run sampled.
    const out = join(dir, "out");
    await runMoleculeExperiment(config(4), out, { baseDir: dir });
    const checkpoint = join(out, "model-rcgdm-train.safetensors");
    const half = loadModel(checkpoint);
    expect([half.kind, half.meta.step]).toEqual(["training", 4]);
    disposeLoadedModel(half);
    const resumed = await runMoleculeExperiment(config(4), out, { baseDir: dir, resume: true });
    const section = resumed.report.rcgdm as { conditionalModel: unknown; training: { loss: { step: number }[] } };
    expect(section.conditionalModel).toEqual({ path: checkpoint, step: 4, resumed: true });
    expect(section.training.loss.map((l) => l.step)).toEqual([5, 6, 7, 8]);
    const rowsOf = (r: typeof first) => [r.samples.map((x) => [x.label, x.molecules.map((m) => [m.smiles, m.fragments, m.atoms])]), r.report.results.map((row) => (row as unknown as { rewardValid: unknown }).rewardValid)];
    expect(rowsOf(resumed)).toEqual(rowsOf(first));
    // Without `resume` the same folder fine-tunes from the start; a folder without a checkpoint has nothing to resume.
    expect((await runMoleculeExperiment(config(0), out, { baseDir: dir })).report.rcgdm).toMatchObject({ conditionalModel: null });
    expect(rcgdmResumeCheckpoints(config(4), straight).size).toBe(0);
    expect([...rcgdmResumeCheckpoints(config(4), out)]).toEqual([["rcgdm", checkpoint]]);
    // On the command line: `--resume` of a folder that is missing, or holds no such checkpoint, is one line.
    const cfgPath = join(dir, "run.json");
    writeFileSync(cfgPath, JSON.stringify({ task: { kind: "smiles", path: "mols.csv", maxAtoms: 9 }, model: { pretrained: "qm9" }, reward: { kind: "property", property: "logp" }, method: { kind: "rcgdm", molecules: { labeled: 16, heldOut: 0 } } }));
    expectOneLineError(await cli("run", cfgPath, "--resume", join(dir, "nowhere"), "--quiet"), "--resume", "no such folder");
    expectOneLineError(await cli("run", cfgPath, "--resume", straight, "--quiet"), "--resume", "holds no training checkpoint of this config's rcgdm rows");
    expectOneLineError(await cli("run", cfgPath, "--resume", out, "--out", straight, "--quiet"), "--out", "drop --out");
  }, 120_000);

  it("samples a saved conditional model (molecules.conditionalModel) as the fine-tuned one: the same molecules from the same keys, from the file's weights; resumes from a training checkpoint; starts a further stage from one (molecules.startFrom); a file from another row is refused", async () => {
    const dir = tempDir("mol-rcgdm-saved");
    writeFileSync(join(dir, "mols.csv"), ["smiles", ...MOLECULES].join("\n") + "\n");
    const data = await smilesTrainData(join(dir, "mols.csv"), 9);
    const row = (molecules: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      [
        parseMoleculeConfig(
          {
            task: { kind: "smiles", path: "mols.csv", maxAtoms: 9 },
            model: { pretrained: "qm9" },
            reward: { kind: "property", property: "logp" },
            method: [{ kind: "rcgdm", targets: [-0.5, 1], ...extra, molecules: { labeled: 16, heldOut: 0, train: { steps: 12, batchSize: 8, warmupSteps: 1, learningRate: 0.02 }, ...molecules } }],
          },
          "test",
        ).method,
      ].flat()[0] as RcgdmMethodConfig;
    const loaded = loadModel(resolveModelPath("qm9"));
    const checkpoints: string[] = [];
    // The fine-tuned network's output at one x_t and condition (captured before sampling).
    const D = loaded.meta.model.network.dataDim;
    const xt = Float32Array.from({ length: 4 * D }, (_, i) => Math.sin(i * 3.7) * 0.9);
    let output: Float32Array | undefined;
    const onConditionalModel = async ({ model, ema }: { model: ModelConfig; ema: unknown }) => {
      const f = modelOutput(model, ema as never, (k) => ({ kind: "value", value: np.array(new Float32Array(k).fill(0.8), { shape: [k, 1] }), keep: np.array(new Float32Array(k).fill(1)) }));
      output = await toHost(f.apply(np.array(xt, { shape: [4, D] }), { index: 300, alphaBar: 0.6 }));
    };
    const run = (method: RcgdmMethodConfig, conditionalModel?: string, o: { seed?: number; property?: string; startFrom?: string; key?: number } = {}) =>
      runMoleculeRcgdm({
        method, label: "rcgdm", key: keyFromSeed(o.key ?? 5), rdkit, property: o.property ?? "logp", data, model: loaded.meta.model, weights: loaded.ema,
        sampler: { sampler: "ddpm", steps: 3, eta: 1 }, samples: 4, seed: o.seed ?? 0, hooks: {}, onConditionalModel,
        ...(conditionalModel !== undefined ? { conditionalModel } : {}), ...(o.startFrom !== undefined ? { startFrom: o.startFrom } : {}),
        onCheckpoint: async (name, save) => {
          const path = join(dir, `${checkpoints.length}-${name}`);
          await save(path);
          checkpoints.push(path);
        },
      });
    const rowsOf = (r: Awaited<ReturnType<typeof run>>) => r.samples.map((s) => Array.from(s.matrix.data));
    try {
      const tuned = await run(row({}));
      const tunedOutput = output!;
      const path = join(dir, tuned.checkpoint!.name);
      tuned.checkpoint!.save(path);
      const again = await run(row({ conditionalModel: "saved.safetensors" }), path);
      expect(again.samples.map((s) => s.label)).toEqual(tuned.samples.map((s) => s.label));
      expect(rowsOf(again)).toEqual(rowsOf(tuned));
      expect(again.section.conditionalModel).toEqual({ path: "saved.safetensors", step: 12, resumed: false });
      expect(again.section.training).toBeNull();
      expect((again.section.timings as { trainSeconds: number }).trainSeconds).toBe(0);
      // A file whose run drew differently (another key: f̂'s held-out share, the noise of the pseudo-labels; on
      // QM9 μ and σ then move a little) is accepted within 1e−2 σ and read with its own standardisation; the
      // same file 0.05 σ off is refused. (Here: the saved sidecar with μ moved.)
      const back0 = loadModel(path);
      const shifted = async (by: number, file: string) => {
        const { kind: _k, checkpoint: _c, step: st, dataSeed: _d, ...meta0 } = back0.meta;
        const sd = meta0.conditioning!.standardization!;
        const moved = { ...meta0, conditioning: { ...meta0.conditioning!, standardization: { mean: [sd.mean[0]! + by * sd.std[0]!], std: sd.std } } };
        await saveInferenceModel(join(dir, file), moved, back0.ema, st);
        return { path: join(dir, file), mean: sd.mean[0]! + by * sd.std[0]!, std: sd.std[0]! };
      };
      const near = await shifted(0.005, "near.safetensors");
      const far = await shifted(0.05, "far.safetensors");
      disposeLoadedModel(back0);
      const drawn = await run(row({}), near.path);
      expect(drawn.section.networkStandardization).toEqual({ mean: near.mean, std: near.std });
      expect(tuned.section.networkStandardization).toEqual(tuned.section.pseudoLabels);
      expect(rowsOf(drawn)).not.toEqual(rowsOf(tuned));
      await expect(run(row({}), far.path)).rejects.toThrow(/: its pseudo-labels \(mean .*\) are not this row's \(mean .*; within 0\.01 sd asked\)/);
      // The file's weights make the samples: scaled by 1.1 (same sidecar), the molecules' rows change.
      const back = loadModel(path);
      const { kind: _k, checkpoint: _c, step, dataSeed: _d, ...info } = back.meta;
      const scaled = tree.map((a: JArray) => a.mul(1.1), back.ema) as typeof back.ema;
      const other = join(dir, "scaled.safetensors");
      await saveInferenceModel(other, info, scaled, step);
      tree.dispose(scaled);
      expect(rowsOf(await run(row({}), other))).not.toEqual(rowsOf(tuned));
      // A long fine-tuning in two parts: a training checkpoint at step 6 of 12 (molecules.checkpointEvery), then
      // a run that names it resumes there and ends with the straight run's model, so its samples are the same.
      const withCheckpoints = await run(row({ checkpointEvery: 6 }));
      expect(checkpoints).toEqual([join(dir, "0-model-rcgdm-train.safetensors")]);
      expect(rowsOf(withCheckpoints)).toEqual(rowsOf(tuned));
      const half = loadModel(checkpoints[0]!);
      expect([half.kind, half.meta.step]).toEqual(["training", 6]);
      disposeLoadedModel(half);
      const resumed = await run(row({ conditionalModel: "ck.safetensors" }), checkpoints[0]);
      expect(resumed.section.conditionalModel).toEqual({ path: "ck.safetensors", step: 6, resumed: true });
      expect((resumed.section.training as { loss: { step: number }[] }).loss.map((l) => l.step)).toEqual([7, 8, 9, 10, 11, 12]);
      expect(rowsOf(resumed)).toEqual(rowsOf(tuned));
      // A further stage (molecules.startFrom) starts from the file's weights: with a vanishing learning rate its
      // network is the first stage's; from the pretrained model (no startFrom) it would not be.
      const stage = (startFrom?: string) => run(row({ ...(startFrom ? { startFrom: "s1.safetensors" } : {}), train: { steps: 2, batchSize: 8, warmupSteps: 0, learningRate: 1e-12 } }), undefined, startFrom ? { startFrom } : {});
      const second = await stage(path);
      expect(second.section.startFrom).toMatchObject({ path: "s1.safetensors", step: 12, train: { steps: 12, learningRate: 0.02 } });
      const gap = (a: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - tunedOutput[i]!)));
      expect(gap(output!)).toBeLessThanOrEqual(1e-5);
      await stage();
      expect(gap(output!)).toBeGreaterThan(1e-3);
      await expect(stage(resolveModelPath("qm9"))).rejects.toThrow(/^rcgdm: molecules\.startFrom: .*: not an RCGDM conditional model/);
      // A stage's files record where it started (the file as the config names it, that file's SHA-256, computed
      // here from its bytes, and its step), then what that file recorded: the lineage, nearest first. A model
      // sampled as saved is written again with its lineage; the first stage's file has none.
      const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
      const lineageOf = (p: string) => {
        const m = loadModel(p);
        disposeLoadedModel(m);
        return m.meta.startedFrom;
      };
      expect(second.section.startFrom).toMatchObject({ sha256: sha(path) });
      expect(lineageOf(path)).toBeUndefined();
      const secondPath = join(dir, "s2.safetensors");
      await second.checkpoint!.save(secondPath);
      expect(lineageOf(secondPath)).toEqual([{ model: "s1.safetensors", sha256: sha(path), step: 12 }]);
      const thirdRow = (molecules: object) => row({ ...molecules, train: { steps: 2, batchSize: 8, warmupSteps: 0, learningRate: 1e-12 } });
      const third = await run(thirdRow({ startFrom: "s2.safetensors" }), undefined, { startFrom: secondPath });
      const thirdPath = join(dir, "s3.safetensors");
      await third.checkpoint!.save(thirdPath);
      const lineage = [{ model: "s2.safetensors", sha256: sha(secondPath), step: 2 }, { model: "s1.safetensors", sha256: sha(path), step: 12 }];
      expect(lineageOf(thirdPath)).toEqual(lineage);
      const asSaved = await run(thirdRow({ conditionalModel: "s3.safetensors" }), thirdPath);
      const againPath = join(dir, "s3-again.safetensors");
      await asSaved.checkpoint!.save(againPath);
      expect(lineageOf(againPath)).toEqual(lineage);
      expect([third.section.startedFrom, asSaved.section.startedFrom, tuned.section.startedFrom]).toEqual([lineage, lineage, null]);
      // A fine-tuning with a timestep band: its training checkpoint and model record the band (the sidecar's
      // schema once refused it, after the work), the same row samples the file, a row without the band refuses it.
      const bandTrain = { steps: 12, batchSize: 8, warmupSteps: 1, learningRate: 0.02, timestepBand: { from: 0.1, to: 0.5, share: 0.5 } };
      const banded = await run(row({ checkpointEvery: 6, train: bandTrain }));
      const bandCheckpoint = loadModel(checkpoints.at(-1)!);
      expect([bandCheckpoint.meta.step, bandCheckpoint.meta.train.timestepBand]).toEqual([6, bandTrain.timestepBand]);
      disposeLoadedModel(bandCheckpoint);
      const bandPath = join(dir, "band.safetensors");
      await banded.checkpoint!.save(bandPath);
      expect(rowsOf(await run(row({ train: bandTrain }), bandPath))).toEqual(rowsOf(banded));
      await expect(run(row({}), bandPath)).rejects.toThrow(/: train\.timestepBand is \{.*\} in the file but absent for this row \(other fine-tuning settings\)$/);
      // A file from another row: fine-tuning settings, pseudo-labels (another seed), property, network.
      await expect(run(row({ train: { steps: 13, batchSize: 8, warmupSteps: 1, learningRate: 0.02 } }), path)).rejects.toThrow(/^rcgdm: molecules\.conditionalModel: .*model-rcgdm\.safetensors: train\.steps is 12 in the file but 13 for this row \(other fine-tuning settings\)$/);
      await expect(run(row({}), path, { seed: 1 })).rejects.toThrow(/: its pseudo-labels \(mean .*\) are not this row's \(mean .*\): another seed/);
      await expect(run(row({}), path, { property: "tpsa" })).rejects.toThrow(/: conditioned on logp, not tpsa$/);
      await expect(run(row({}, { conditionEmbedding: 16 }), path)).rejects.toThrow(/: model\.network\.[a-zA-Z.[\]0-9]+ is .* in the file but .* for this row \(another network/);
      await expect(run(row({}), resolveModelPath("qm9"))).rejects.toThrow(/: not an RCGDM conditional model/);
    } finally {
      disposeLoadedModel(loaded);
    }
  }, 120_000);

  it("ships models/qm9-logp.safetensors (started from models/qm9-logp-stage5, and that from stage4, stage3, stage2 and stage1) as the model of configs/molecules-rcgdm-logp.json's rcgdm row, and `sample --model qm9-logp --target a` samples it", async () => {
    const cfg = parseMoleculeConfig(JSON.parse(readFileSync("configs/molecules-rcgdm-logp.json", "utf8")), "configs/molecules-rcgdm-logp.json");
    const m = [cfg.method].flat().find((x) => x.kind === "rcgdm" && (x as RcgdmMethodConfig).variant === "conditional") as RcgdmMethodConfig;
    expect(m.molecules?.conditionalModel).toBe("qm9-logp");
    const shipped = loadModel(resolveModelPath("qm9-logp"));
    const base = loadModel(resolveModelPath("qm9"));
    try {
      const added = addValueCondition(base.meta.model.network as GraphTransformerSpec, base.ema as GraphTransformerParams, { dim: 1, embedding: m.conditionEmbedding, everyLayer: m.conditionEveryLayer }, keyFromSeed(0));
      tree.dispose(added.params);
      const st = shipped.meta.conditioning!.standardization!;
      const expected = {
        property: "logp", model: { ...base.meta.model, network: added.spec }, train: conditionalTrainConfig(RcgdmMoleculesSchema.parse(m.molecules)), pseudoLabelNoise: m.pseudoLabelNoise ?? 0.1, dropout: m.dropout,
        mean: st.mean[0]!, std: st.std[0]!, molecules: base.meta.molecules!,
      };
      expect(conditionalModelMismatch(shipped.meta, expected, STANDARDIZATION_TOLERANCE.resume)).toBeUndefined();
      expect(shipped.meta.step).toBe(expected.train.steps);
      expect(shipped.meta.train.timestepBand).toEqual({ from: 0.1, to: 0.5, share: 0.75 });
      // The check can fail: the same file against 8,000 steps.
      expect(conditionalModelMismatch(shipped.meta, { ...expected, train: { ...expected.train, steps: 8000 } }, STANDARDIZATION_TOLERANCE.resume)).toMatch(/^train\.steps is 12000 in the file but 8000/);
      // The row's startFrom, the fifth stage, and where the stages before it started: the second to fifth 12,000
      // steps at lr 1e−3 with the same timestep band, the first 16,000 steps at lr 2e−3 from the pretrained model;
      // the same network, pseudo-labels and vocabulary (checked without their fine-tuning settings, as a stage's
      // start is).
      expect(m.molecules?.startFrom).toBe("qm9-logp-stage5");
      // The shipped model's sidecar names its start by the start's weights hash (the file was renamed since):
      // the fifth stage's bytes, hashed here.
      const stage5Sha = createHash("sha256").update(readFileSync(resolveModelPath("qm9-logp-stage5"))).digest("hex");
      expect(shipped.meta.startedFrom?.map((s) => [s.sha256, s.step])).toEqual([[stage5Sha, 12000]]);
      const { train: _t, ...rest } = expected;
      const band = { from: 0.1, to: 0.5, share: 0.75 };
      for (const [name, settings] of [["qm9-logp-stage5", [12000, 12000, 0.001, band]], ["qm9-logp-stage4", [12000, 12000, 0.001, band]], ["qm9-logp-stage3", [12000, 12000, 0.001, band]], ["qm9-logp-stage2", [12000, 12000, 0.001, band]], ["qm9-logp-stage1", [16000, 16000, 0.002, undefined]]] as const) {
        const stage = loadModel(resolveModelPath(name));
        try {
          expect(conditionalModelMismatch(stage.meta, rest, STANDARDIZATION_TOLERANCE.draws), name).toBeUndefined();
          expect([stage.meta.step, stage.meta.train.steps, stage.meta.train.learningRate, stage.meta.train.timestepBand], name).toEqual(settings);
        } finally {
          disposeLoadedModel(stage);
        }
      }
    } finally {
      disposeLoadedModel(shipped);
      disposeLoadedModel(base);
    }
    const csv = join(tempDir("mol-rcgdm-shipped"), "at.csv");
    const ok = await cli("sample", "--model", "qm9-logp", "--n", "4", "--steps", "2", "--target", "1.5", "--out", csv);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr + ok.stdout).toMatch(/logp = 1\.5/);
    expect(parse(readFileSync(csv, "utf8"), { columns: true })).toHaveLength(4);
  }, 120_000);

  it("refuses a network or rank for rcgdm on molecules, and the molecules keys elsewhere", () => {
    const base = { task: { kind: "qm9" }, model: { pretrained: "qm9" }, reward: { kind: "property", property: "logp" } };
    expect(() => parseMoleculeConfig({ ...base, method: { kind: "rcgdm", network: "low-rank" } }, "c.json")).toThrow(/^c\.json: method\.network: not used on molecules/);
    expect(() => parseMoleculeConfig({ ...base, method: { kind: "rcgdm", molecules: { labeled: 2 } } }, "c.json")).toThrow(/^c\.json: method\.molecules\.labeled/);
    expect(() => parseMoleculeConfig({ ...base, method: { kind: "rcgdm", variant: "target-guidance", molecules: { extraScales: [2] } } }, "c.json")).toThrow(/^c\.json: method\.molecules\.extraScales: only for the conditional variant/);
    expect(() => parseMoleculeConfig({ ...base, method: { kind: "rcgdm", variant: "target-guidance", molecules: { addedLayers: 2 } } }, "c.json")).toThrow(/^c\.json: method\.molecules\.addedLayers: only for the conditional variant/);
    expect(() => parseMoleculeConfig({ ...base, method: { kind: "rcgdm", molecules: { addedLayers: -1 } } }, "c.json")).toThrow(/^c\.json: method\.molecules\.addedLayers/);
    expect(() => parseMoleculeConfig({ ...base, method: { kind: "rcgdm", variant: "target-guidance", molecules: { conditionalModel: "m.safetensors" } } }, "c.json")).toThrow(/^c\.json: method\.molecules\.conditionalModel: only for the conditional variant/);
    expect(() => parseMoleculeConfig({ ...base, method: { kind: "rcgdm", variant: "target-guidance", molecules: { startFrom: "m.safetensors" } } }, "c.json")).toThrow(/^c\.json: method\.molecules\.startFrom: only for the conditional variant/);
    const missing = parseMoleculeConfig({ ...base, method: [{ kind: "none" }, { kind: "rcgdm", molecules: { conditionalModel: "nope.safetensors" } }] }, "c.json");
    expect(() => checkMoleculeInputs(missing, "/tmp", "c.json")).toThrow(/^c\.json: method\[1\]\.molecules\.conditionalModel: \/tmp\/nope\.safetensors: no such file \(/);
    expect(() => parseConfig({ task: { kind: "linear-subspace" }, method: { kind: "rcgdm", molecules: {} }, sampling: { targets: [1] } }, "c.json")).toThrow(/^c\.json: method\.molecules: only for molecule runs/);
    expect(() => parseConfig({ task: { kind: "linear-subspace" }, method: { kind: "rcgdm", conditionEveryLayer: true }, sampling: { targets: [1] } }, "c.json")).toThrow(/^c\.json: method\.conditionEveryLayer: only for molecule runs/);
  });
});
