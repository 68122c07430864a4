/**
 * Fine-tuned models as checkpoints, and CTRL's classifier-free guidance against the null control.
 *  - Round trip: a CTRL model with non-zero LoRA adapters and control table, saved (adapters merged into
 *    the weights, the pretrained reference beside them) and loaded back, samples exactly what the
 *    in-memory model samples under the same key; a DRaFT model likewise.
 *  - CFG: ε̃ = ε(c, ∅) + w (ε(c, y) − ε(c, ∅)) is linear in w, so the guided sampler at w = 1 must equal
 *    plain conditional sampling (the chain engine with control y) and at w = 0 plain sampling with the
 *    null control, under the same key; w = 2 must change the samples. The guided sampler's own path KL
 *    to the pretrained model equals the chain engine's at w = 1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, random, tree } from "../src/backend/index.js";
import type { JArray } from "../src/backend/jax.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import type { EpsFn, StepTime } from "../src/diffusion/types.js";
import { pathKlTracker } from "../src/runners/methods/ctrl-eval.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { finetunedCheckpoint, finetunedFromLoaded, saveFinetuned } from "../src/io/checkpoints/finetuned.js";
import { ctrlSide } from "../src/finetune/ctrl.js";
import { disposeFinetuned, guidedSamples, sampleFinetuned, type FinetunedModel } from "../src/finetune/finetuned.js";
import { denoiserChainModel, initTrainable, type PolicySpec, type TrainableParams } from "../src/finetune/policy.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { indicatorTiltReference, linearTiltReference } from "../src/guidance/exact.js";
import { exactTiltKl } from "../src/runners/methods/draft.js";
import { loadModel, saveModelTensors } from "../src/io/checkpoints/model-files.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainStateTensors } from "../src/training/trainer.js";
import { gaussianMixture, mixtureLogDensity } from "../src/tasks/gaussian-mixture.js";

beforeAll(ensureBackend);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const C = 2;
const model: ModelConfig = {
  network: { kind: "mlp", dataDim: 2, hidden: 16, layers: 2, timeEmbedding: 8, residual: true, norm: "none", condition: { kind: "value", dim: C, embedding: 4 } },
  prediction: "eps",
  schedule: { kind: "linear", steps: 50, betaStart: 1e-4, betaEnd: 0.1 },
};
const contextValue = (c: Int32Array) => {
  const d = new Float32Array(c.length * C);
  c.forEach((v, i) => (d[i * C + v] = 1));
  return np.array(d, { shape: [c.length, C] });
};
const side = (n: number, c: number, y: number) => ctrlSide({ contexts: C, contextInput: contextValue, classes: 2 }, new Int32Array(n).fill(c), new Int32Array(n).fill(y));
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** Moves every trainable leaf off its zero start (so the fine-tuned model differs from the pretrained one). */
function perturb(p: TrainableParams, seed: number): TrainableParams {
  let k = 0;
  return tree.map((a: JArray) => a.add(random.normal(keyFromSeed(seed + k++), a.shape).mul(0.3)), p) as TrainableParams;
}

function ctrlModel(mode: "adapters" | "all"): FinetunedModel {
  const base = initDenoiser(keyFromSeed(1), model.network);
  const schedule = makeSchedule(model.schedule);
  const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 10, eta: 1 });
  const spec: PolicySpec = { model, mode, rank: 2, controlClasses: 2 };
  return { spec, p: perturb(initTrainable(spec, base, keyFromSeed(2)), 10), f: { base }, plan, T: schedule.T, dim: 2 };
}

describe("fine-tuned checkpoints", () => {
  it("a CTRL model (adapters merged) and a DRaFT model sample the same after a save/load round trip", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rewardiff-ctrl-ck-"));
    dirs.push(dir);
    const m = ctrlModel("adapters");
    const info = { method: "ctrl" as const, trainable: "adapters", rank: 2, steps: 1, gamma: 1, sampler: { sampler: "ddpm", steps: 10, eta: 1 }, context: { contexts: C, names: ["c0", "c1"] }, control: { classes: 2, names: ["y=0", "y=1"], nullProbability: 0.1, classifier: "classifier.safetensors" } };
    const conditioning = { names: ["c0", "c1"], source: "test", dropout: 0 };
    saveFinetuned(join(dir, "ctrl.safetensors"), await finetunedCheckpoint(m, info, { train: defaultTrainConfig, columns: ["x1", "x2"], data: "test", conditioning }));
    const back = finetunedFromLoaded(loadModel(join(dir, "ctrl.safetensors")), "ctrl.safetensors", { sampler: "ddpm", steps: 10, eta: 1 });
    expect(back.spec.controlClasses).toBe(2);
    for (const [c, y, w] of [[0, 1, 1], [1, 0, 1], [1, 1, 2]] as const) {
      const a = await sampleFinetuned(m, 64, keyFromSeed(5), (n) => side(n, c, y), { cfgScale: w });
      const b = await sampleFinetuned(back, 64, keyFromSeed(5), (n) => side(n, c, y), { cfgScale: w });
      expect(maxDiff(a.samples.data, b.samples.data)).toBeLessThan(1e-4);
      if (w === 1) expect(Math.abs(a.kl - b.kl)).toBeLessThan(1e-4 * Math.max(1, a.kl));
    }
    disposeFinetuned(back);
    disposeFinetuned(m);

    // DRaFT: no condition, no control, all weights trainable.
    const plain: ModelConfig = { ...model, network: { ...model.network, condition: undefined } };
    const base = initDenoiser(keyFromSeed(3), plain.network);
    const schedule = makeSchedule(plain.schedule);
    const spec: PolicySpec = { model: plain, mode: "all", rank: 1 };
    const d: FinetunedModel = { spec, p: perturb(initTrainable(spec, base, keyFromSeed(4)), 20), f: { base }, plan: samplerPlan(schedule, { sampler: "ddim", steps: 8, eta: 1 }), T: schedule.T, dim: 2 };
    const dinfo = { method: "draft" as const, trainable: "all", steps: 1, alpha: 1, sampler: { sampler: "ddim", steps: 8, eta: 1 } };
    saveFinetuned(join(dir, "draft.safetensors"), await finetunedCheckpoint(d, dinfo, { train: defaultTrainConfig, columns: ["x1", "x2"], data: "test" }));
    const dback = finetunedFromLoaded(loadModel(join(dir, "draft.safetensors")), "draft.safetensors", { sampler: "ddim", steps: 8, eta: 1 });
    const a = await sampleFinetuned(d, 64, keyFromSeed(6));
    const b = await sampleFinetuned(dback, 64, keyFromSeed(6));
    expect(maxDiff(a.samples.data, b.samples.data)).toBeLessThan(1e-4);
    // The fine-tuned model is not the pretrained one (the reference path KL is positive).
    expect(a.kl).toBeGreaterThan(1e-3);
    disposeFinetuned(dback);
    disposeFinetuned(d);
  });

  it("is an inference checkpoint (θ_eff and the reference once); the older training-state layout still samples the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rewardiff-ctrl-old-"));
    dirs.push(dir);
    const m = ctrlModel("adapters");
    const info = { method: "ctrl" as const, trainable: "adapters", rank: 2, steps: 1, gamma: 1, sampler: { sampler: "ddpm", steps: 10, eta: 1 }, context: { contexts: C, names: ["c0", "c1"] }, control: { classes: 2, names: ["y=0", "y=1"], nullProbability: 0.1, classifier: "classifier.safetensors" } };
    const ck = await finetunedCheckpoint(m, info, { train: defaultTrainConfig, columns: ["x1", "x2"], data: "test", conditioning: { names: ["c0", "c1"], source: "test", dropout: 0 } });
    saveFinetuned(join(dir, "new.safetensors"), ck);
    const names = [...ck.tensors.keys()];
    expect(ck.meta.checkpoint).toBe("inference");
    expect(names.filter((k) => !/^(ema|reference)\./.test(k))).toEqual([]);
    const eff = names.filter((k) => k.startsWith("ema.")).length;
    expect(eff).toBeGreaterThan(0);
    expect(names.filter((k) => k.startsWith("reference.")).length).toBe(eff - 1); // θ_eff has the control table E_y too

    // The layout written before inference checkpoints existed: params = ema = θ_eff, zero moments, key 0, no `checkpoint` key.
    const loaded = loadModel(join(dir, "new.safetensors"));
    const fresh = initTrainState(loaded.meta.model, keyFromSeed(0));
    tree.dispose(fresh.params);
    tree.dispose(fresh.ema);
    const oldState = { ...fresh, params: tree.ref(loaded.ema), ema: loaded.ema, step: info.steps, dataSeed: 0 };
    const tensors = await trainStateTensors(oldState);
    disposeTrainState(oldState);
    for (const [k, v] of loaded.extra) tensors.set(k, { shape: [...v.shape], data: v.data });
    const { checkpoint: _kind, ...oldMeta } = loaded.meta;
    saveModelTensors(join(dir, "old.safetensors"), { ...oldMeta, dataSeed: 0 }, tensors);
    const oldLoaded = loadModel(join(dir, "old.safetensors"));
    expect(oldLoaded.kind).toBe("training");

    const sampler = { sampler: "ddpm" as const, steps: 10, eta: 1 };
    const fromNew = finetunedFromLoaded(loadModel(join(dir, "new.safetensors")), "new.safetensors", sampler);
    const fromOld = finetunedFromLoaded(oldLoaded, "old.safetensors", sampler);
    const a = await sampleFinetuned(fromNew, 64, keyFromSeed(7), (n) => side(n, 1, 1));
    const b = await sampleFinetuned(fromOld, 64, keyFromSeed(7), (n) => side(n, 1, 1));
    expect(Array.from(b.samples.data)).toEqual(Array.from(a.samples.data));
    disposeFinetuned(fromNew);
    disposeFinetuned(fromOld);
    disposeFinetuned(m);
  });
});

describe("CTRL classifier-free guidance against the null control", () => {
  it("w = 1 is plain conditional sampling, w = 0 is null-control sampling, w = 2 differs from both", async () => {
    const m = ctrlModel("all");
    const n = 64;
    const key = () => keyFromSeed(11);
    const condRun = await sampleFinetuned(m, n, key(), () => side(n, 1, 1));
    const cond = condRun.samples.data;
    const nul = (await sampleFinetuned(m, n, key(), () => side(n, 1, 2))).samples.data; // y = 2 = classes: the null control ∅
    const g1run = await guidedSamples(m, side(n, 1, 1), n, key(), 1);
    const g1 = g1run.samples;
    const g0 = (await guidedSamples(m, side(n, 1, 1), n, key(), 0)).samples;
    const g2run = await guidedSamples(m, side(n, 1, 1), n, key(), 2);
    const g2 = g2run.samples;
    // The guided sampler's path KL to the pretrained model: at w = 1 the chain engine's Σ_t KL_t.
    expect(condRun.kl).toBeGreaterThan(1e-3);
    expect(Math.abs(g1run.kl - condRun.kl)).toBeLessThan(1e-3 * condRun.kl);
    expect(g2run.kl).toBeGreaterThan(condRun.kl);
    expect(maxDiff(g1, cond)).toBeLessThan(1e-4);
    expect(maxDiff(g0, nul)).toBeLessThan(1e-4);
    // The control matters here (perturbed table), and guidance beyond w = 1 moves the samples further.
    expect(maxDiff(cond, nul)).toBeGreaterThan(1e-2);
    expect(maxDiff(g2, cond)).toBeGreaterThan(1e-2);
    // Through sampleFinetuned's cfgScale option the same guided sampler is used.
    const viaOpt = await sampleFinetuned(m, n, key(), () => side(n, 1, 1), { cfgScale: 2 });
    expect(maxDiff(viaOpt.samples.data, g2)).toBeLessThan(1e-6);
    expect(Math.abs(viaOpt.kl - g2run.kl)).toBeLessThan(1e-6 * g2run.kl);
    disposeFinetuned(m);
  });
});

describe("reference.kl of fine-tuning rows (exactTiltKl)", () => {
  it("matches a Monte Carlo estimate of E_p*[log p*(x) − log p(x)] for the linear and the indicator tilt", async () => {
    const gm = gaussianMixture([
      { weight: 0.5, mean: [-1, 0], std: 0.4 },
      { weight: 0.5, mean: [1, 0.5], std: 0.4 },
    ]);
    const b = [1, 0];
    for (const [ref, alpha] of [[linearTiltReference(gm, b, 1), 1], [indicatorTiltReference(gm, b, 0.5, 0.5), 0.5]] as const) {
      const kl = exactTiltKl({ reference: ref, mixture: { gm, b }, alpha })!;
      const x = await ref.sample(keyFromSeed(3), 20000);
      const lp = ref.logDensity(x);
      const lq = mixtureLogDensity(gm, x);
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < x.rows; i++) {
        const d = lp[i]! - lq[i]!;
        s += d;
        s2 += d * d;
      }
      const mean = s / x.rows;
      const se = Math.sqrt(Math.max(s2 / x.rows - mean * mean, 1e-12) / x.rows);
      expect(kl).toBeGreaterThan(0.05);
      expect(Math.abs(kl - mean)).toBeLessThan(4 * se + 1e-3);
    }
    expect(exactTiltKl({ mixture: { gm, b }, alpha: 1 })).toBeNull();
  });
});

describe("pathKlTracker (klToPretrained of the cfg-triples baseline)", () => {
  it("equals the chain engine's path KL Σ_t E‖μ_θ − μ_pre‖²/(2σ_t²) for the same model and key", async () => {
    const plain: ModelConfig = { ...model, network: { ...model.network, condition: undefined } };
    const base = initDenoiser(keyFromSeed(8), plain.network);
    const schedule = makeSchedule(plain.schedule);
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 10, eta: 1 });
    const spec: PolicySpec = { model: plain, mode: "all", rank: 1 };
    const m: FinetunedModel = { spec, p: perturb(initTrainable(spec, base, keyFromSeed(9)), 30), f: { base }, plan, T: schedule.T, dim: 2 };
    const cm = denoiserChainModel(spec);
    const time = (t: StepTime) => np.array(new Float32Array([(1000 * t.index) / schedule.T]), { shape: [] });
    const ab = (t: StepTime) => np.array(new Float32Array([t.alphaBar]), { shape: [] });
    const policy: EpsFn = (x, t) => cm.eps(tree.ref(m.p) as TrainableParams, tree.ref(m.f), x, time(t), ab(t), []);
    const reference: EpsFn = (x, t) => cm.refEps(tree.ref(m.f), x, time(t), ab(t), []);
    const n = 128;
    const engine = await sampleFinetuned(m, n, keyFromSeed(12));
    const tracked = pathKlTracker(policy, reference, plan);
    (await sample({ model: tracked.eps, plan, n, eventShape: [2], key: keyFromSeed(12) })).dispose();
    expect(engine.kl).toBeGreaterThan(1e-3);
    expect(Math.abs((await tracked.kl(n)) - engine.kl)).toBeLessThan(1e-3 * engine.kl);
    // Against itself the path KL is exactly 0.
    const self = pathKlTracker(reference, reference, plan);
    (await sample({ model: self.eps, plan, n, eventShape: [2], key: keyFromSeed(12) })).dispose();
    expect(await self.kl(n)).toBe(0);
    disposeFinetuned(m);
  });
});
