/**
 * Noisy predictors for classifier / regressor guidance, checked against closed forms: on the linear
 * reward of a Gaussian mixture, E[r(x_0) | x_t] = bᵀE[x_0 | x_t] is exact (fixtures.md §3, μ_k).
 * Then a regressor-guided chain raises the reward over the unguided one.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, toHostSync, upload } from "../src/backend/index.js";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { mean } from "../src/eval/stats.js";
import { trainNoisyPredictor, type NoisyPredictor } from "../src/guidance/noisy-predictor.js";
import { guidedSample } from "../src/guidance/sampler.js";
import { classifierGuidanceTerm, regressorGuidanceTerm } from "../src/guidance/terms.js";
import { gaussianMixture, mixtureEps, sampleMixture, type GaussianMixture } from "../src/tasks/gaussian-mixture.js";
import { linearReward } from "../src/tasks/linear-reward.js";

beforeAll(async () => {
  await ensureBackend();
});

const gm = gaussianMixture([
  { weight: 2, mean: [-1.5, 0], std: 0.5 },
  { weight: 1, mean: [1.5, 1], std: 0.5 },
  { weight: 1, mean: [0.5, -1.5], std: 0.4 },
]);
const b = [1, 0.5];
const scheduleConfig = { kind: "linear" as const, steps: 1000 };
const schedule = makeSchedule(scheduleConfig);

/** E[bᵀx_0 | x_t] in float64 (posterior component weights ρ_k and means μ_k of fixtures.md §3). */
function posteriorReward(g: GaussianMixture, x: number[], a: number): number {
  let num = 0;
  let den = 0;
  g.weights.forEach((pi, k) => {
    const s2 = g.stds[k]! ** 2;
    const v = a * s2 + 1 - a;
    const m = g.means[k]!;
    const sq = x.reduce((s, xi, i) => s + (xi - Math.sqrt(a) * m[i]!) ** 2, 0);
    const rho = (pi * Math.exp(-sq / (2 * v))) / v;
    const mu = m.map((mi, i) => mi + (Math.sqrt(a) * s2 * (x[i]! - Math.sqrt(a) * mi)) / v);
    num += rho * (b[0]! * mu[0]! + b[1]! * mu[1]!);
    den += rho;
  });
  return num / den;
}

let data: HostMatrix;
let reg: NoisyPredictor;

describe("noisy predictors", () => {
  beforeAll(async () => {
    data = await sampleMixture(keyFromSeed(1), gm, 4000);
    reg = await trainNoisyPredictor({ head: "regression", x: data, y: linearReward(b, data), schedule: scheduleConfig, key: keyFromSeed(2), hidden: 48, steps: 800, batchSize: 256 });
  });

  it("regression head ≈ E[r(x_0) | x_t] (closed form) at clean, middle and high noise", async () => {
    const test = await sampleMixture(keyFromSeed(3), gm, 200);
    for (const index of [-1, 300, 700]) {
      const a = index < 0 ? 1 : schedule.alphaBars[index]!;
      // x_t = √a x_0 + √(1−a) ε from fresh x_0 (the noise drawn on the host from a fixed pattern).
      const xt = new Float32Array(test.data.length);
      for (let i = 0; i < xt.length; i++) xt[i] = Math.sqrt(a) * test.data[i]! + Math.sqrt(1 - a) * Math.sin(7.3 * i + index);
      const pred = toHostSync(reg.predict(upload(xt, 200, 2), { index, alphaBar: a }));
      let se = 0;
      let sv = 0;
      const truth = Array.from({ length: 200 }, (_, i) => posteriorReward(gm, [xt[2 * i]!, xt[2 * i + 1]!], a));
      const tm = mean(truth);
      truth.forEach((t, i) => {
        se += (pred[i]! - t) ** 2;
        sv += (t - tm) ** 2;
      });
      // R² of the prediction against the exact posterior mean reward.
      expect(1 - se / sv).toBeGreaterThan(0.9);
    }
    expect(reg.losses.length).toBe(800);
  });

  it("regressor guidance (log h = f_φ/α at x_t) and classifier guidance (log p_φ(y = 1 | x_t)) raise the reward", async () => {
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 100, eta: 1 });
    const eps = mixtureEps(gm);
    const draw = async (terms: Parameters<typeof guidedSample>[0]["terms"]) => {
      const { x, cost } = await guidedSample({ eps, plan, terms, n: 1000, dim: 2, key: keyFromSeed(4) });
      return { r: mean(linearReward(b, hostMatrix(1000, 2, toHostSync(x)))), cost };
    };
    const plain = await draw([]);
    const guided = await draw([regressorGuidanceTerm(reg, { alpha: 1 })]);
    expect(guided.r).toBeGreaterThan(plain.r + 1);
    expect(guided.cost.valueEvals).toBe(1000 * 100);
    const labels = linearReward(b, data).map((v) => (v > 1 ? 1 : 0));
    const cls = await trainNoisyPredictor({ head: "classification", classes: 2, x: data, y: labels, schedule: scheduleConfig, key: keyFromSeed(5), hidden: 32, steps: 400, batchSize: 256 });
    try {
      const withCls = await draw([classifierGuidanceTerm(cls, 1, { scale: 1 })]);
      expect(withCls.r).toBeGreaterThan(plain.r + 0.5);
      expect(() => classifierGuidanceTerm(reg, 1)).toThrow(/needs a classification predictor/);
      expect(() => cls.logProb(upload(new Float32Array(2), 1, 2), { index: -1, alphaBar: 1 }, 2)).toThrow(/class label must be a whole number in 0..1/);
    } finally {
      cls.dispose();
    }
  });
});
