/**
 * 2307.07055 without training (fixtures.md §2): a sampler driven by the exact conditional score of the
 * linear-subspace task at ŷ = a must reproduce x | ŷ = a ~ N(A w a/c, A(I − wwᵀ/c)Aᵀ), with zero
 * off-support component and mean reward a βᵀw/c. The law is computed here in float64 from A, θ̂ and ν
 * (independently of the library's exactConditional), and the exact law of a coarse chain is propagated
 * step by step, so the tests compare against closed forms, never against the code's own numbers.
 * Also: classifier-free guidance composes ε̃ = ε(∅) + w(ε(a) − ε(∅)) exactly.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, splitKey, toHostSync, type JArray } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { modelEps } from "../src/diffusion/model.js";
import { sample, samplerPlan, type SamplerConfig } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import type { StepCoefficients } from "../src/diffusion/step.js";
import { cfgEps, conditionalModel } from "../src/training/rcgdm.js";
import { exactConditionalReward } from "../src/runners/rcgdm-metrics.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { exactGaussianEps } from "../src/tasks/gaussian.js";
import { exactConditional, makeLinearSubspace, offSupportDeviation, oracleReward } from "../src/tasks/linear-subspace.js";
import { eye, invert, matmul, sampleMoments, transpose } from "./helpers/linalg.js";

beforeAll(ensureBackend);

const D = 12;
const d = 3;
const nu = 0.3;
const a = 1.5;
const sub = await makeLinearSubspace(keyFromSeed(3), { ambientDim: D, latentDim: d });
// A fitted reward that is not the oracle: θ̂ = A(0.9 β + 0.2 e_1) + an off-subspace part (which the
// data cannot see: w = Aᵀθ̂ ignores it).
const Arows: number[][] = Array.from({ length: D }, (_, i) => Array.from({ length: d }, (_, k) => sub.A.data[i * d + k]!));
const wTrue = sub.beta.map((b, k) => 0.9 * b + (k === 0 ? 0.2 : 0));
const thetaHat = Arows.map((r, i) => r.reduce((s, v, k) => s + v * wTrue[k]!, 0) + (i === 0 ? 0.05 : 0));

/** The law of fixtures.md §2, from scratch: m = A w a/c, S = A(I − wwᵀ/c)Aᵀ (float64). */
function law(target: number) {
  const w = matmul(transpose(Arows), thetaHat.map((v) => [v])).map((r) => r[0]!);
  const c = w.reduce((s, v) => s + v * v, 0) + nu * nu;
  const inner = eye(d).map((r, i) => r.map((v, j) => v - (w[i]! * w[j]!) / c));
  const S = matmul(matmul(Arows, inner), transpose(Arows));
  const m = matmul(Arows, w.map((v) => [(v * target) / c])).map((r) => r[0]!);
  const betaW = sub.beta.reduce((s, b, k) => s + b * w[k]!, 0);
  return { m, S, rewardMean: (target * betaW) / c, rewardVar: 1 - (betaW * betaW) / c };
}

/** The exact law of the discretised chain driven by the exact ε of N(m, S) (each step is affine). */
function chainLaw(plan: readonly StepCoefficients[], m: number[], S: number[][]): { mean: number[]; cov: number[][] } {
  let mu = new Array(D).fill(0);
  let cov = eye(D);
  for (const c of plan) {
    const ab = c.t.alphaBar;
    const M = invert(S.map((r, i) => r.map((v, j) => ab * v + (i === j ? 1 - ab : 0))));
    const G = matmul(S, M).map((r) => r.map((v) => v * Math.sqrt(ab)));
    const Gm = matmul(G, m.map((v) => [v])).map((r) => r[0]!);
    const x0Const = m.map((v, i) => v - Math.sqrt(ab) * Gm[i]!);
    const Amat = G.map((r, i) =>
      r.map((g, j) => c.cX0 * g + (c.cEps * ((i === j ? 1 : 0) - Math.sqrt(ab) * g)) / Math.sqrt(1 - ab) + (i === j ? c.cXt : 0)),
    );
    const b = x0Const.map((v) => c.cX0 * v - (c.cEps * Math.sqrt(ab) * v) / Math.sqrt(1 - ab));
    mu = matmul(Amat, mu.map((v) => [v])).map((r, i) => r[0]! + b[i]!);
    cov = matmul(matmul(Amat, cov), transpose(Amat)).map((r, i) => r.map((v, j) => v + (i === j ? c.sigma ** 2 : 0)));
  }
  return { mean: mu, cov };
}

function expectMoments(x: Float32Array, n: number, mean: number[], cov: number[][], relCov: number): void {
  const got = sampleMoments(x, D);
  for (let j = 0; j < D; j++) expect(Math.abs(got.mean[j]! - mean[j]!), `mean[${j}]`).toBeLessThan(4 * Math.sqrt(cov[j]![j]! / n) + 1e-4);
  let scale = 0;
  for (let j = 0; j < D; j++) scale = Math.max(scale, cov[j]![j]!);
  for (let p = 0; p < D; p++)
    for (let q = 0; q < D; q++) {
      const sd = Math.sqrt((cov[p]![p]! * cov[q]![q]! + cov[p]![q]! ** 2) / n);
      expect(Math.abs(got.cov[p]![q]! - cov[p]![q]!), `cov[${p}][${q}]`).toBeLessThan(4 * sd + relCov * scale + 1e-4);
    }
}

const schedule = makeSchedule({ kind: "linear", steps: 1000 });
const n = 10000;

describe("the exact conditional score of fixtures.md §2 (no training)", () => {
  const { m, S, rewardMean, rewardVar } = law(a);

  it("the library's exactConditional and exactConditionalReward agree with the law computed here", () => {
    const ex = exactConditional(sub, thetaHat, nu, a);
    ex.mean.forEach((v, i) => expect(v).toBeCloseTo(m[i]!, 10));
    ex.cov.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(S[i]![j]!, 10)));
    const r = exactConditionalReward(sub, { weights: thetaHat, bias: 0.25 }, nu, a + 0.25);
    expect(r.mean).toBeCloseTo(rewardMean, 10);
    expect(r.std).toBeCloseTo(Math.sqrt(rewardVar), 10);
  });

  it("DDPM with 1000 steps reproduces N(A w a/c, A(I − wwᵀ/c)Aᵀ): moments, mean reward, zero off-support", async () => {
    const eps = exactGaussianEps(m, S);
    const x = toHostSync(await sample({ model: eps, plan: samplerPlan(schedule, { sampler: "ddpm", steps: 1000, eta: 1 }), n, eventShape: [D], key: keyFromSeed(21) }));
    expectMoments(x, n, m, S, 0.03);
    const X = hostMatrix(n, D, x);
    const r = oracleReward(sub, X);
    let mr = 0;
    for (const v of r) mr += v / n;
    expect(Math.abs(mr - rewardMean)).toBeLessThan(4 * Math.sqrt(rewardVar / n));
    const off = offSupportDeviation(sub, X);
    expect(Math.max(...off)).toBeLessThan(1e-3);
  });

  const coarse: [string, SamplerConfig][] = [
    ["DDIM η=1, 100 steps (the demo's sampler)", { sampler: "ddim", steps: 100, eta: 1 }],
    ["DDIM η=1, 50 steps", { sampler: "ddim", steps: 50, eta: 1 }],
    ["DDIM η=0, 50 steps", { sampler: "ddim", steps: 50, eta: 0 }],
  ];
  for (const [name, cfg] of coarse) {
    it(`${name} matches the exact law of its discretised chain (mean unbiased for η = 1)`, async () => {
      const plan = samplerPlan(schedule, cfg);
      const chain = chainLaw(plan, m, S);
      const x = toHostSync(await sample({ model: exactGaussianEps(m, S), plan, n, eventShape: [D], key: keyFromSeed(22) }));
      expectMoments(x, n, chain.mean, chain.cov, 0);
      if (cfg.eta === 1) chain.mean.forEach((v, i) => expect(Math.abs(v - m[i]!)).toBeLessThan(1e-4));
    });
  }

  it("the check can fail: samples at a target 10% off are refused", async () => {
    const wrong = law(1.1 * a);
    const x = toHostSync(await sample({ model: exactGaussianEps(wrong.m, wrong.S), plan: samplerPlan(schedule, { sampler: "ddim", steps: 100, eta: 1 }), n: 4000, eventShape: [D], key: keyFromSeed(5) }));
    const r = oracleReward(sub, hostMatrix(4000, D, x));
    let mr = 0;
    for (const v of r) mr += v / 4000;
    expect(Math.abs(mr - rewardMean)).toBeGreaterThan(4 * Math.sqrt(rewardVar / 4000));
  });
});

describe("classifier-free guidance", () => {
  it("ε̃ = ε(∅) + w(ε(a) − ε(∅)), with w = 1 the conditional and w = 0 the unconditional ε", () => {
    const model = conditionalModel(4, 1, { hidden: 16, layers: 2, timeEmbedding: 8, conditionEmbedding: 4, schedule: { kind: "linear", steps: 100 } });
    const [k1, k2] = splitKey(keyFromSeed(9), 2);
    const params = initDenoiser(k1!, model.network);
    // A non-zero null embedding, so ε(∅) differs from ε at a zero condition.
    params.valueCond!.null.dispose();
    params.valueCond!.null = np.array(new Float32Array(4).map((_, i) => 0.5 - i * 0.3));
    const x = np.array(toHostSync(np.multiply(np.ones([5, 4]), 0.3).add(np.arange(20).reshape([5, 4]).astype(np.float32).mul(0.1))), { shape: [5, 4] });
    k2!.dispose();
    const t = { index: 40, alphaBar: makeSchedule(model.schedule).alphaBars[40]! };
    const cond = (keep: number) => modelEps(model, params, (rows) => ({ kind: "value", value: np.full([rows, 1], 2.0), keep: np.full([rows], keep) }));
    const e1 = toHostSync(cond(1)(x.ref, t));
    const e0 = toHostSync(cond(0)(x.ref, t));
    expect(e1.some((v, i) => Math.abs(v - e0[i]!) > 1e-3)).toBe(true);
    for (const w of [0, 1, 2.5]) {
      const got = toHostSync(cfgEps(model, params, [2], w)(x.ref, t));
      got.forEach((v, i) => expect(v).toBeCloseTo(e0[i]! + w * (e1[i]! - e0[i]!), 4));
    }
    expect(() => cfgEps(model, params, [1, 2], 1)).toThrow(/2 value\(s\) but the model is conditioned on 1/);
    expect(() => cfgEps(model, params, [Number.NaN], 1)).toThrow(/not a finite number/);
    (x as JArray).dispose();
  });
});
