/**
 * A structured event shape: symmetric 3×3 matrices (the exact Gaussian task of
 * src/tasks/symmetric-gaussian.ts, docs/fixtures.md §5). The free entries w = (X_ij)_{i≤j} ~ N(m, S);
 * the noise hook P(z) = (z + zᵀ)/2 keeps every draw of the sampling loop (x_T and each z) symmetric, and
 * the task's exact ε is linear in x_t. DDPM (1000 steps) and DDIM (η = 0, 250 steps) must reproduce the
 * free entries' mean and covariance within sampling error (+3% on the covariance for the discretisation,
 * as the vector test), every sample exactly symmetric.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, toHostSync, tree } from "../src/backend/index.js";
import { modelEps, modelOutput, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan, type SamplerConfig } from "../src/diffusion/sample.js";
import { makeChain } from "../src/finetune/chain.js";
import { denoiserChainModel, initTrainable } from "../src/finetune/policy.js";
import { rollout } from "../src/finetune/ddpo.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { symmetricFreeEntries, symmetricGaussianTask } from "../src/tasks/symmetric-gaussian.js";

beforeAll(ensureBackend);

const E = 9;
const schedule = makeSchedule({ kind: "linear", steps: 1000 });
const n = 4000;
const FREE = symmetricFreeEntries(3);
const mean = [1, 0.3, -0.2, -0.5, 0.1, 0.25];
/** S = L Lᵀ with a fixed lower-triangular L (correlated, not diagonal). */
const L = Array.from({ length: 6 }, (_, i) => Array.from({ length: 6 }, (_, j) => (j > i ? 0 : j === i ? 0.8 + 0.05 * i : 0.25)));
const Sfree = L.map((ri) => L.map((rj) => ri.reduce((s, v, k) => s + v * rj[k]!, 0)));
const task = symmetricGaussianTask(mean, Sfree);

function check(x: Float32Array): void {
  let asym = 0;
  for (let s = 0; s < n; s++) for (const [i, j] of FREE) asym = Math.max(asym, Math.abs(x[s * E + i * 3 + j]! - x[s * E + j * 3 + i]!));
  expect(asym).toBe(0);
  const u = (s: number, k: number) => x[s * E + FREE[k]![0] * 3 + FREE[k]![1]]!;
  const mu = FREE.map((_, k) => {
    let a = 0;
    for (let s = 0; s < n; s++) a += u(s, k);
    return a / n;
  });
  const cov = (k: number, l: number) => {
    let a = 0;
    for (let s = 0; s < n; s++) a += (u(s, k) - mu[k]!) * (u(s, l) - mu[l]!);
    return a / (n - 1);
  };
  const S = (k: number, l: number) => Sfree[k]![l]!;
  for (let k = 0; k < 6; k++) {
    expect(Math.abs(mu[k]! - mean[k]!)).toBeLessThan(4 * Math.sqrt(S(k, k) / n));
    for (let l = 0; l <= k; l++) {
      const se = Math.sqrt((S(k, k) * S(l, l) + S(k, l) ** 2) / n);
      expect(Math.abs(cov(k, l) - S(k, l))).toBeLessThan(4 * se + 0.03 * Math.sqrt(S(k, k) * S(l, l)));
    }
  }
}

describe("an exact Gaussian over symmetric 3×3 matrices (noise hook: the symmetric part)", () => {
  expect(task.eventShape).toEqual([3, 3]);
  const runs: [string, SamplerConfig, number][] = [
    ["DDPM, 1000 steps", { sampler: "ddpm", steps: 1000, eta: 1 }, 3],
    ["DDIM η=0, 250 steps", { sampler: "ddim", steps: 250, eta: 0 }, 4],
  ];
  for (const [name, cfg, seed] of runs) {
    it(`${name} reproduces the law (mean, covariance), samples exactly symmetric`, async () => {
      const x = await sample({ model: task.exactEps(), plan: samplerPlan(schedule, cfg), n, eventShape: task.eventShape, key: keyFromSeed(seed), hooks: { noise: task.noise } });
      expect(x.shape).toEqual([n, 3, 3]);
      check(toHostSync(x));
    }, 120_000);
  }

  it("the check can fail: without the noise hook the samples are not symmetric", async () => {
    const x = await sample({ model: task.exactEps(), plan: samplerPlan(schedule, { sampler: "ddpm", steps: 50, eta: 1 }), n: 8, eventShape: task.eventShape, key: keyFromSeed(5) });
    const h = toHostSync(x);
    let asym = 0;
    for (let s = 0; s < 8; s++) asym = Math.max(asym, Math.abs(h[s * E + 1]! - h[s * E + 3]!));
    expect(asym).toBeGreaterThan(1e-3);
  });

  it("a network on [3, 3] events samples through modelOutput and modelEps alike (same key, same x_0)", async () => {
    const model: ModelConfig = {
      network: { kind: "mlp", dataDim: 9, eventShape: [3, 3], hidden: 16, layers: 2, timeEmbedding: 8, residual: true, norm: "none" },
      prediction: "v",
      schedule: { kind: "linear", steps: 100 },
    };
    const params = initDenoiser(keyFromSeed(1), model.network);
    const plan = samplerPlan(makeSchedule(model.schedule), { sampler: "ddim", steps: 10, eta: 1 });
    const run = (m: Parameters<typeof sample>[0]["model"]) => sample({ model: m, plan, n: 8, eventShape: [3, 3], key: keyFromSeed(2), hooks: { noise: task.noise } });
    const a = await run(modelOutput(model, params));
    expect(a.shape).toEqual([8, 3, 3]);
    const ha = toHostSync(a);
    const hb = toHostSync(await run(modelEps(model, params)));
    let worst = 0;
    for (let i = 0; i < ha.length; i++) worst = Math.max(worst, Math.abs(ha[i]! - hb[i]!));
    expect(ha.every(Number.isFinite)).toBe(true);
    // The v-model's two paths differ only by float32 rounding of x̂_0 (taken from the output or via ε̂).
    expect(worst).toBeLessThan(1e-4);
    // The fine-tuning chain at θ = pretrained and the DDPO rollout draw the same x_0 on [3, 3] with the hook.
    const spec = { model, mode: "all" as const, rank: 2 };
    const p = initTrainable(spec, params, keyFromSeed(3));
    const chain = makeChain(denoiserChainModel(spec), (x) => x, plan, 100, [3, 3], { objectiveScale: 0, klWeight: 0, noise: task.noise });
    const fwd = await chain.forward(p, { base: params }, [], 8, keyFromSeed(2));
    expect(fwd.klTotal).toBe(0);
    const hc = toHostSync(fwd.x0);
    chain.dispose();
    tree.dispose(p);
    const tr = await rollout({ policy: modelEps(model, params), plan, n: 8, dim: 9, eventShape: [3, 3], noise: task.noise, key: keyFromSeed(2) });
    let worstChain = 0;
    let worstRollout = 0;
    for (let i = 0; i < hb.length; i++) {
      worstChain = Math.max(worstChain, Math.abs(hc[i]! - hb[i]!));
      worstRollout = Math.max(worstRollout, Math.abs(tr.x0.data[i]! - hb[i]!));
    }
    expect(worstChain).toBeLessThan(1e-5);
    expect(worstRollout).toBe(0);
  });
});
