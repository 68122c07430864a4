/**
 * RGDM's payoff-noise sampling (methods/rgdm-sample.ts) with the exact ε of a Gaussian (fixtures.md §1)
 * and a linear reward r = bᵀx: in one stochastic step the kept candidate follows softmax(r/τ) over the K
 * candidates (frequencies vs probabilities recomputed here in float64 from the candidates themselves),
 * the candidates are the step's Gaussian around the exact step mean, the whole chain's mean reward rises
 * above the data's bᵀm, and a deterministic step is refused with one clear line.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { toHostSync, upload } from "../src/backend/ownership.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { checkPayoffPlan, payoffNoiseSample } from "../src/guidance/payoff-noise.js";
import { hostReward, linearRewardFn } from "../src/rewards/reward.js";
import { exactGaussianEps } from "../src/tasks/gaussian.js";

const m = [0.5, -0.3];
const S = [
  [1, 0.3],
  [0.3, 0.6],
];
const b = [1, 0.5];
const schedule = () => makeSchedule({ kind: "linear", steps: 100, betaStart: 1e-4, betaEnd: 0.02 });

beforeAll(async () => {
  await ensureBackend();
});

describe("rgdm payoff-noise sampling", () => {
  it("keeps candidate k with probability ∝ exp(r_k/τ) in one stochastic step", async () => {
    const plan = samplerPlan(schedule(), { sampler: "ddpm", steps: 10, eta: 1 });
    const c = plan[3]!; // a middle step, σ > 0
    expect(c.sigma).toBeGreaterThan(0);
    const n = 3000, K = 4, tau = 0.1;
    const xt = new Float32Array(n * 2).map((_, i) => (i % 2 === 0 ? 0.8 : -0.4) * ((i >> 1) % 5 - 2) * 0.5);
    const seen: Float32Array[] = [];
    const rec = hostReward("recorded linear", (x) => {
      seen.push(Float32Array.from(x.data));
      return Float32Array.from({ length: x.rows }, (_, i) => b[0]! * x.data[2 * i]! + b[1]! * x.data[2 * i + 1]!);
    });
    const eps = exactGaussianEps(m, S);
    const { x, cost } = await payoffNoiseSample({ eps, plan: [c], reward: rec, settings: { tau, candidates: K, at: "x-tilde" }, n, dim: 2, key: keyFromSeed(11), xT: upload(xt, n, 2) });
    const out = toHostSync(x);
    expect(seen).toHaveLength(1);
    const cand = seen[0]!;
    expect(cost.rewardEvals).toBe(K * n);
    // The exact step mean, recomputed: μ = c_x0 x̂_0 + c_eps ε* + c_xt x_t.
    const e = toHostSync(eps(upload(xt, n, 2), c.t));
    let hits = 0, expected = 0, variance = 0, spread = 0;
    for (let i = 0; i < n; i++) {
      const r: number[] = [];
      let pick = -1;
      for (let k = 0; k < K; k++) {
        const row = (k * n + i) * 2;
        r.push(b[0]! * cand[row]! + b[1]! * cand[row + 1]!);
        if (cand[row] === out[2 * i] && cand[row + 1] === out[2 * i + 1]) pick = k;
        for (let j = 0; j < 2; j++) {
          const x0 = (xt[2 * i + j]! - Math.sqrt(1 - c.t.alphaBar) * e[2 * i + j]!) / Math.sqrt(c.t.alphaBar);
          const mu = c.cX0 * x0 + c.cEps * e[2 * i + j]! + c.cXt * xt[2 * i + j]!;
          spread += ((cand[row + j]! - mu) / c.sigma) ** 2;
        }
      }
      expect(pick).toBeGreaterThanOrEqual(0);
      const top = r.indexOf(Math.max(...r));
      const z = r.reduce((a, v) => a + Math.exp((v - r[top]!) / tau), 0);
      const p = 1 / z; // probability of the best candidate
      hits += pick === top ? 1 : 0;
      expected += p;
      variance += p * (1 - p);
    }
    // Calibration of the best-candidate pick: Σ 1[pick = best] vs Σ p_best (a uniform or arg-max pick fails).
    expect(Math.abs(hits - expected)).toBeLessThan(4 * Math.sqrt(variance));
    expect(expected / n).toBeGreaterThan(0.4);
    expect(expected / n).toBeLessThan(0.9);
    // Candidates are μ + σ z: E‖z‖² = D per candidate.
    expect(Math.abs(spread / (K * n) - 2)).toBeLessThan(4 * Math.sqrt(4 / (K * n)));
  }, 30_000);

  it("raises the mean reward of the whole chain above plain sampling", async () => {
    const plan = samplerPlan(schedule(), { sampler: "ddpm", steps: 20, eta: 1 });
    const eps = exactGaussianEps(m, S);
    const n = 2000;
    const rewardOf = (x: Float32Array) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += b[0]! * x[2 * i]! + b[1]! * x[2 * i + 1]!;
      return s / n;
    };
    const plain = await payoffNoiseSample({ eps, plan, reward: linearRewardFn(b), settings: { tau: 1, candidates: 1, at: "x-tilde" }, n, dim: 2, key: keyFromSeed(3) });
    const tilted = await payoffNoiseSample({ eps, plan, reward: linearRewardFn(b), settings: { tau: 1, candidates: 4, at: "x0-hat" }, n, dim: 2, key: keyFromSeed(4) });
    const sd = Math.sqrt(b[0]! ** 2 * S[0]![0]! + 2 * b[0]! * b[1]! * S[0]![1]! + b[1]! ** 2 * S[1]![1]!);
    const bm = b[0]! * m[0]! + b[1]! * m[1]!;
    const r0 = rewardOf(toHostSync(plain.x));
    const r1 = rewardOf(toHostSync(tilted.x));
    // K = 1 is plain sampling: the data's mean reward up to the 20-step chain's discretisation bias.
    expect(Math.abs(r0 - bm)).toBeLessThan(0.15);
    // The payoff chain's rise is > 10 standard errors of the difference (sd of bᵀx under the data: √(bᵀSb)).
    expect(r1 - r0).toBeGreaterThan(10 * sd * Math.sqrt(2 / n));
    expect(tilted.cost.rewardEvals).toBe(4 * n * (plan.length - 1));
    expect(tilted.cost.modelEvals).toBeGreaterThan(4 * n * (plan.length - 1));
  }, 30_000);

  it("refuses a deterministic step with one line", async () => {
    const plan = samplerPlan(schedule(), { sampler: "ddim", steps: 10, eta: 0 });
    expect(() => checkPayoffPlan(plan, "method[2]", "the ddim sampler with eta = 0")).toThrow(
      'method[2].sampleNoise "payoff" draws each step\'s noise from K candidates, but step 1 of 10 of the ddim sampler with eta = 0 is deterministic (σ = 0)',
    );
    await expect(
      payoffNoiseSample({ eps: exactGaussianEps(m, S), plan, reward: linearRewardFn(b), settings: { tau: 1, candidates: 2, at: "x-tilde" }, n: 4, dim: 2, key: keyFromSeed(1) }),
    ).rejects.toThrow("is deterministic (σ = 0); use the ddpm sampler or ddim with eta > 0");
    // The DDPM plan's last step (to clean data) is deterministic and allowed.
    expect(() => checkPayoffPlan(samplerPlan(schedule(), { sampler: "ddpm", steps: 10, eta: 1 }))).not.toThrow();
  });
});
