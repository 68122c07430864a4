/**
 * DRaFT on a tiny 2-D Gaussian mixture with a linear reward r = bᵀx: reward backpropagation with the KL
 * penalty α moves the mean reward from the pretrained model's toward the exact tilted mean
 * E_{p*}[r], p* ∝ p·exp(r/α) (fixtures.md §3, exactTiltedRewardMean), and its KL to the pretrained
 * model grows from exactly 0.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, tree } from "../src/backend/index.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { draftFinetune } from "../src/finetune/draft.js";
import { disposeFinetuned, sampleFinetuned } from "../src/finetune/finetuned.js";
import { halfspaceIndicator, linearRewardFn } from "../src/rewards/reward.js";
import { makeChain } from "../src/finetune/chain.js";
import { denoiserChainModel, initTrainable } from "../src/finetune/policy.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { exactTiltedRewardMean, gaussianMixture, sampleMixture } from "../src/tasks/gaussian-mixture.js";
import { disposeTrainState, initTrainState, trainSteps } from "../src/training/trainer.js";

beforeAll(ensureBackend);

const gm = gaussianMixture([
  { weight: 0.5, mean: [-1, 0], std: 0.3 },
  { weight: 0.5, mean: [1, 0], std: 0.3 },
]);
const b = [1, 0];
const alpha = 1;
const model: ModelConfig = {
  network: { kind: "mlp", dataDim: 2, hidden: 32, layers: 2, timeEmbedding: 8, residual: true, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 100, betaStart: 1e-4, betaEnd: 0.1 },
};

const meanReward = (x: Float32Array) => {
  let s = 0;
  for (let i = 0; i < x.length; i += 2) s += b[0]! * x[i]! + b[1]! * x[i + 1]!;
  return s / (x.length / 2);
};

describe("draft on a Gaussian mixture", () => {
  it("raises the mean reward toward the exact tilt E_p*[r]", async () => {
    const train = { steps: 500, batchSize: 256, learningRate: 3e-3, weightDecay: 0, gradClip: 1, lrSchedule: "cosine" as const, warmupSteps: 0, ema: 0.99 };
    const st = await trainSteps(model, train, initTrainState(model, keyFromSeed(1)), { x: await sampleMixture(keyFromSeed(2), gm, 4000) });
    const schedule = makeSchedule(model.schedule);
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 20, eta: 1 });
    const exact = exactTiltedRewardMean(gm, b, alpha);
    const r = await draftFinetune(
      { model, pretrained: st.ema, reward: linearRewardFn(b), alpha, plan, T: schedule.T, dim: 2, trainable: "all", rank: 4, optim: { steps: 60, batchSize: 128, learningRate: 3e-3, gradClip: 1 } },
      keyFromSeed(3),
    );
    const before = r.history[0]!;
    expect(Math.abs(before.kl)).toBeLessThan(1e-9);
    const after = await sampleFinetuned(r.model, 2000, keyFromSeed(4));
    const r1 = meanReward(after.samples.data);
    const r0 = before.objective;
    expect(Math.abs(r0)).toBeLessThan(0.25);
    expect(Math.abs(r1 - exact)).toBeLessThan(0.35 * Math.abs(r0 - exact));
    expect(after.kl).toBeGreaterThan(0.05);
    disposeFinetuned(r.model);
    disposeTrainState(st);
    console.log(`draft: r0 ${r0.toFixed(3)} → ${r1.toFixed(3)} (exact ${exact.toFixed(3)}), KL ${after.kl.toFixed(3)}, ${r.seconds.toFixed(1)} s`);
  });

  it("refuses bad input with one clear line", async () => {
    const schedule = makeSchedule(model.schedule);
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 5, eta: 1 });
    const base = initDenoiser(keyFromSeed(1), model.network);
    const o = { model, pretrained: base, alpha: 1, plan, T: schedule.T, dim: 2, trainable: "all" as const, rank: 2, optim: { steps: 1, batchSize: 4, learningRate: 1e-3, gradClip: 1 } };
    await expect(draftFinetune({ ...o, reward: halfspaceIndicator(b) }, keyFromSeed(2))).rejects.toThrow(/needs a differentiable reward/);
    expect(() => initTrainable({ model, mode: "embedding", rank: 2 }, base, keyFromSeed(3))).toThrow(/"embedding" applies to CTRL only/);
    const ddim0 = samplerPlan(schedule, { sampler: "ddim", steps: 5, eta: 0 });
    const m = denoiserChainModel({ model, mode: "all", rank: 2 });
    expect(() => makeChain(m, (x) => x, ddim0, schedule.T, 2, { objectiveScale: 1, klWeight: 1 })).toThrow(/needs a stochastic sampler/);
    expect(() => makeChain(m, (x) => x, plan, schedule.T, 2, { objectiveScale: 1, klWeight: 1, truncation: 9 })).toThrow(/truncation must be a whole number in 1\.\.5/);
    tree.dispose(base);
  });
});
