/**
 * CTRL's augmented network equals the pretrained one at initialisation: the control embedding E_y
 * starts at zero, so under the same key the augmented model's samples are identical to the pretrained
 * model's (sampled by the library's ordinary sampler, sample + modelEps), for every label y and
 * every trainable mode, and every KL_t is exactly 0. Bad labels are refused with a clear error.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, tree } from "../src/backend/index.js";
import { modelEps, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { checkLabel, ctrlSide } from "../src/finetune/ctrl.js";
import { sampleFinetuned, type FinetunedModel } from "../src/finetune/finetuned.js";
import { initTrainable, oneHot, type PolicySpec } from "../src/finetune/policy.js";
import { applyDenoiser, initDenoiser } from "../src/nn/denoiser.js";

beforeAll(ensureBackend);

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

describe("ctrl at initialisation", () => {
  for (const mode of ["adapters", "embedding", "all"] as const) {
    it(`${mode}: identical samples to the pretrained model under the same key, KL = 0`, async () => {
      const base = initDenoiser(keyFromSeed(1), model.network);
      const schedule = makeSchedule(model.schedule);
      const plan = samplerPlan(schedule, { sampler: "ddim", steps: 10, eta: 1 });
      const spec: PolicySpec = { model, mode, rank: 2, controlClasses: 2 };
      const m: FinetunedModel = { spec, p: initTrainable(spec, base, keyFromSeed(2)), f: { base: tree.ref(base) }, plan, T: schedule.T, dim: 2 };
      const n = 32;
      for (const [c, y] of [[0, 0], [1, 1], [1, 0]] as const) {
        const cs = new Int32Array(n).fill(c);
        const ys = new Int32Array(n).fill(y);
        const ours = await sampleFinetuned(m, n, keyFromSeed(7), () => ctrlSide({ contexts: C, contextInput: contextValue, classes: 2 }, cs, ys));
        expect(ours.kl).toBe(0);
        const eps = modelEps(model, base, (k) => ({ kind: "value", value: contextValue(new Int32Array(k).fill(c)), keep: np.ones([k]) }));
        const ref = toHostSync((await sample({ model: eps, plan, n, eventShape: [2], key: keyFromSeed(7) })));
        const maxDiff = Math.max(...ours.samples.data.map((v, i) => Math.abs(v - ref[i]!)));
        expect(maxDiff).toBeLessThan(1e-5);
      }
      tree.dispose(m.p);
      tree.dispose(m.f);
      tree.dispose(base);
    });
  }

  it("refuses labels outside the classifier's classes and a control on a network without one", () => {
    expect(() => checkLabel(2, 2, "method[0].labels")).toThrow(/method\[0\]\.labels: label 2 is outside the classifier's classes 0\.\.1/);
    expect(() => oneHot([3], 2)).toThrow(/label 3 is outside/);
    const base = initDenoiser(keyFromSeed(1), { ...model.network, condition: undefined });
    expect(() => applyDenoiser({ ...model.network, condition: undefined }, base, np.zeros([1, 2]), np.zeros([1]), undefined, oneHot([0], 2))).toThrow(/takes no control input/);
  });
});
