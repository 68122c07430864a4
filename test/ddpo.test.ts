/**
 * DDPO / DPOK (src/methods/ddpo.ts): the per-step log-probabilities of a rollout match the sampler's
 * Gaussian steps recomputed independently in float64 on the host, the PPO loss's per-row log-probability
 * equals the rollout's (ratio 1 at θ_old), deterministic samplers are refused, and DDPO raises a
 * non-differentiable reward (a half-space indicator) on a small toy task.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, tree, upload } from "../src/backend/index.js";
import { modelEps, type ModelConfig } from "../src/diffusion/model.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { policyStepLogProb, rollout, stochasticSteps, trainDdpo } from "../src/finetune/ddpo.js";
import { halfspaceIndicator } from "../src/rewards/reward.js";
import { exactGaussianEps } from "../src/tasks/gaussian.js";
import { sampleMixture, gaussianMixture } from "../src/tasks/gaussian-mixture.js";
import { pretrainedTwoModes } from "./helpers/two-modes.js";
import { disposeTrainState, initTrainState, trainSteps } from "../src/training/trainer.js";

beforeAll(async () => {
  await ensureBackend();
});

const schedule = { kind: "linear" as const, steps: 100, betaStart: 1e-4, betaEnd: 0.02 };

describe("ddpo step log-probabilities", () => {
  it("match N(x_s; μ, σ²I) recomputed in float64 from the stored trajectory (exact Gaussian ε)", async () => {
    const m = [0.5, -1];
    const S = [0.3, 2];
    const eps = exactGaussianEps(m, [
      [S[0]!, 0],
      [0, S[1]!],
    ]);
    const plan = samplerPlan(makeSchedule(schedule), { sampler: "ddim", steps: 8, eta: 0.7 });
    const tr = await rollout({ policy: eps, plan, n: 64, dim: 2, key: keyFromSeed(4) });
    expect(tr.steps.length).toBe(7); // the last DDIM step into clean data is deterministic
    tr.steps.forEach((c, k) => {
      const a = c.t.alphaBar;
      for (let i = 0; i < 64; i++) {
        let lp = 0;
        for (let d = 0; d < 2; d++) {
          const x = tr.xt[k]![2 * i + d]!;
          // ε*(x, t) = √(1−ᾱ) (x − √ᾱ m)/(ᾱ S + 1 − ᾱ) (fixtures.md §1, diagonal S).
          const e = (Math.sqrt(1 - a) * (x - Math.sqrt(a) * m[d]!)) / (a * S[d]! + 1 - a);
          const x0 = (x - Math.sqrt(1 - a) * e) / Math.sqrt(a);
          const mu = c.cX0 * x0 + c.cEps * e + c.cXt * x;
          const xs = tr.xs[k]![2 * i + d]!;
          lp += -((xs - mu) ** 2) / (2 * c.sigma ** 2) - Math.log(c.sigma) - 0.5 * Math.log(2 * Math.PI);
        }
        expect(Math.abs(tr.logProbs[k]![i]! - lp)).toBeLessThan(2e-3 * Math.max(1, Math.abs(lp)));
      }
    });
  });

  it("the PPO loss's per-row log-probability equals the rollout's at θ_old (a network, eps and v predictions; sum and mean over dimensions)", async () => {
    for (const prediction of ["eps", "v"] as const) {
      const model: ModelConfig = {
        network: { kind: "mlp", dataDim: 2, hidden: 16, layers: 2, timeEmbedding: 8, residual: true, norm: "none" },
        prediction,
        schedule,
      };
      const st = initTrainState(model, keyFromSeed(1));
      const plan = samplerPlan(makeSchedule(schedule), { sampler: "ddpm", steps: 6, eta: 1 });
      const bySum: Float32Array[] = [];
      for (const reduce of ["sum", "mean"] as const) {
        const tr = await rollout({ policy: modelEps(model, st.params), plan, n: 16, dim: 2, key: keyFromSeed(2), reduce });
        const n = 16;
        tr.steps.forEach((c, k) => {
          const coef = new Float32Array(n * 6);
          for (let i = 0; i < n; i++) coef.set([Math.sqrt(c.t.alphaBar), Math.sqrt(1 - c.t.alphaBar), c.cX0, c.cEps, c.cXt, c.sigma], 6 * i);
          const { logProb, mean } = policyStepLogProb(
            model,
            tree.ref(st.params),
            upload(tr.xt[k]!, n, 2),
            upload(tr.xs[k]!, n, 2),
            np.full([n], (1000 * c.t.index) / 100),
            np.full([n], c.t.alphaBar),
            upload(coef, n, 6),
            reduce,
          );
          mean.dispose();
          const lp = toHostSync(logProb);
          for (let i = 0; i < n; i++) expect(Math.abs(lp[i]! - tr.logProbs[k]![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(lp[i]!)));
          // ddpo-pytorch's mean over the D = 2 dimensions is the summed log-density divided by D.
          if (reduce === "sum") bySum[k] = lp;
          else for (let i = 0; i < n; i++) expect(Math.abs(2 * lp[i]! - bySum[k]![i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(bySum[k]![i]!)));
        });
      }
      disposeTrainState(st);
    }
  });

  it("refuses deterministic samplers", () => {
    const sch = makeSchedule(schedule);
    expect(() => stochasticSteps(samplerPlan(sch, { sampler: "ddim", steps: 5, eta: 0 }), "method[0]")).toThrow(
      /method\[0\] needs a stochastic sampler, but step 1 of 5 .* is deterministic \(σ = 0\)/,
    );
    expect(stochasticSteps(samplerPlan(sch, { sampler: "ddpm", steps: 5, eta: 1 }))).toBe(4);
  });
});

describe("ddpo fine-tuning", () => {
  it("raises a non-differentiable reward (indicator of a half-plane) on a two-mode toy task", async () => {
    const { model, st, plan } = await pretrainedTwoModes();
    const indicator = halfspaceIndicator([1, 0], 0);
    const reward = (x: Parameters<typeof indicator.fn>[0]) => indicator.fn(x) as Float32Array;
    const res = await trainDdpo({
      model,
      pretrained: st.ema,
      plan,
      reward,
      config: { iterations: 12, batch: 128, epochs: 2, minibatches: 2, learningRate: 3e-3, clip: 0.2 },
      key: keyFromSeed(5),
    });
    const first = res.history[0]!.rewardMean;
    const last = res.history.slice(-3).reduce((s, r) => s + r.rewardMean, 0) / 3;
    // Before: ≈ 0.5 (two equal modes); after: clearly more mass on x₁ > 0.
    expect(first).toBeGreaterThan(0.3);
    expect(first).toBeLessThan(0.7);
    expect(last).toBeGreaterThan(first + 0.15);
    // Without the KL penalty the policy drifts from the pretrained model: KL grows from 0.
    expect(res.history[0]!.kl).toBeLessThan(1e-6);
    expect(res.history[res.history.length - 1]!.kl).toBeGreaterThan(0);
    tree.dispose(res.params);
    disposeTrainState(st);
  });

  it("DPOK (KL weight α) converges to the exact tilt of the pretrained sampler's law: linear reward on Gaussian data", async () => {
    // p_pre ≈ N(μ, v) per coordinate (the pretrained chain's own output law, measured), r(x) = x₁:
    // the optimum of E[r] − α KL is N(μ + v/α, v): E*[r] = μ₁ + v₁/α and KL* = v₁/(2α²).
    const long = { kind: "linear" as const, steps: 1000, betaStart: 1e-4, betaEnd: 0.02 };
    const model: ModelConfig = {
      network: { kind: "mlp", dataDim: 2, hidden: 32, layers: 2, timeEmbedding: 8, residual: true, norm: "none", fourierFeatures: 0 },
      prediction: "eps",
      schedule: long,
    };
    const train = { steps: 600, batchSize: 256, learningRate: 3e-3, weightDecay: 0, gradClip: 1, lrSchedule: "cosine" as const, warmupSteps: 0, ema: 0.9 };
    const data = await sampleMixture(keyFromSeed(4), gaussianMixture([{ weight: 1, mean: [0, 0], std: 1 }]), 4000);
    const st = await trainSteps(model, train, initTrainState(model, keyFromSeed(3)), { x: data });
    const plan = samplerPlan(makeSchedule(long), { sampler: "ddpm", steps: 10, eta: 1 });
    const pe = modelEps(model, st.ema);
    const pre = (await rollout({ policy: pe, reference: pe, plan, n: 20000, dim: 2, key: keyFromSeed(8) })).x0;
    let mu = 0;
    let v = 0;
    for (let i = 0; i < pre.rows; i++) mu += pre.data[2 * i]! / pre.rows;
    for (let i = 0; i < pre.rows; i++) v += (pre.data[2 * i]! - mu) ** 2 / pre.rows;
    const alpha = 1;
    const res = await trainDdpo({
      model,
      pretrained: st.ema,
      plan,
      reward: (x) => Float32Array.from({ length: x.rows }, (_, i) => x.data[2 * i]!),
      config: { iterations: 24, batch: 512, epochs: 2, minibatches: 2, learningRate: 1e-3, klWeight: alpha },
      key: keyFromSeed(5),
    });
    const tail = res.history.slice(-10);
    const r = tail.reduce((s, h) => s + h.rewardMean, 0) / tail.length;
    const kl = tail.reduce((s, h) => s + h.kl, 0) / tail.length;
    expect(Math.abs(r - (mu + v / alpha))).toBeLessThan(0.12);
    expect(Math.abs(kl - v / (2 * alpha * alpha))).toBeLessThan(0.08);
    tree.dispose(res.params);
    disposeTrainState(st);
  });
});
