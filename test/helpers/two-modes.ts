/**
 * The two-mode toy of the policy-gradient tests (test/ddpo.test.ts, test/ctrl-pg.test.ts): modes at x₁ = ±1.5
 * (std 0.4) of equal weight, a small MLP ε-predictor trained on 4,000 draws (400 steps), and a 10-step DDPM plan,
 * so that a sample lands on x₁ > 0 about half the time before any fine-tuning.
 */
import { keyFromSeed } from "../../src/backend/index.js";
import type { ModelConfig } from "../../src/diffusion/model.js";
import { samplerPlan } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { gaussianMixture, sampleMixture } from "../../src/tasks/gaussian-mixture.js";
import { initTrainState, trainSteps } from "../../src/training/trainer.js";

const schedule = { kind: "linear" as const, steps: 100, betaStart: 1e-4, betaEnd: 0.02 };

/** The pretrained toy model: its config, train state (dispose with disposeTrainState) and sampler plan. */
export async function pretrainedTwoModes() {
  const gm = gaussianMixture([
    { weight: 1, mean: [-1.5, 0], std: 0.4 },
    { weight: 1, mean: [1.5, 0], std: 0.4 },
  ]);
  const model: ModelConfig = {
    network: { kind: "mlp", dataDim: 2, hidden: 32, layers: 2, timeEmbedding: 8, residual: true, norm: "none", fourierFeatures: 0 },
    prediction: "eps",
    schedule,
  };
  const train = { steps: 400, batchSize: 256, learningRate: 3e-3, weightDecay: 0, gradClip: 1, lrSchedule: "cosine" as const, warmupSteps: 0, ema: 0.9 };
  const st = await trainSteps(model, train, initTrainState(model, keyFromSeed(3)), { x: await sampleMixture(keyFromSeed(4), gm, 4000) });
  const plan = samplerPlan(makeSchedule(schedule), { sampler: "ddpm", steps: 10, eta: 1 });
  return { model, st, plan };
}
