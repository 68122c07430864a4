/**
 * fixtures.md §1: samplers driven by the exact ε* of a non-isotropic Gaussian must reproduce its mean
 * and covariance within sampling error. No training involved.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, type JArray } from "../src/backend/index.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { sample, samplerPlan, type SamplerConfig } from "../src/diffusion/sample.js";
import type { EpsFn } from "../src/diffusion/types.js";
import { eye, invert, matmul, sampleMoments, transpose } from "./helpers/linalg.js";
import type { StepCoefficients } from "../src/diffusion/step.js";

const m = [1.5, -0.5, 0.25];
const S = [
  [1.0, 0.6, 0.0],
  [0.6, 0.8, -0.2],
  [0.0, -0.2, 0.3],
];
const D = 3;

/** ε*(x, t) = √(1−ᾱ) (ᾱ S + (1−ᾱ) I)^{-1} (x − √ᾱ m), with the inverse computed here in float64. */
const exactEps: EpsFn = (x: JArray, t) => {
  const a = t.alphaBar;
  const inv = invert(S.map((r, i) => r.map((v, j) => a * v + (i === j ? 1 - a : 0))));
  const P = np.array(new Float32Array(inv.flat().map((v) => v * Math.sqrt(1 - a))), { shape: [D, D] });
  const shift = np.array(new Float32Array(m.map((v) => v * Math.sqrt(a))), { shape: [1, D] });
  return np.matmul(x.sub(shift), P); // P is symmetric
};

beforeAll(ensureBackend);

/**
 * The exact law of the *discretised* chain, computed independently in float64: with the exact ε*, each
 * step is affine, x_s = A x_t + b + σ z, so mean and covariance follow
 *   μ_s = A μ_t + b,  Σ_s = A Σ_t Aᵀ + σ² I,  starting from x_T ~ N(0, I).
 * A = c_x0 G + c_eps (I − √ᾱ G)/√(1−ᾱ) + c_xt I with G = √ᾱ S (ᾱS + (1−ᾱ)I)^{-1} (x̂_0 = G x + (I − √ᾱ G S^{-1}…) m).
 */
function chainLaw(plan: readonly StepCoefficients[]): { mean: number[]; cov: number[][] } {
  let mu = new Array(D).fill(0);
  let cov = eye(D);
  for (const c of plan) {
    const a = c.t.alphaBar;
    const M = invert(S.map((r, i) => r.map((v, j) => a * v + (i === j ? 1 - a : 0)))); // (ᾱS + (1−ᾱ)I)^{-1}
    // x̂_0(x) = m + √ᾱ S M (x − √ᾱ m) = G x + (m − √ᾱ G m)
    const G = matmul(S, M).map((r) => r.map((v) => v * Math.sqrt(a)));
    const Gm = matmul(G, m.map((v) => [v])).map((r) => r[0]!);
    const x0Const = m.map((v, i) => v - Math.sqrt(a) * Gm[i]!);
    // ε̂(x) = (x − √ᾱ x̂_0)/√(1−ᾱ)
    const A = G.map((r, i) =>
      r.map((g, j) => c.cX0 * g + (c.cEps * ((i === j ? 1 : 0) - Math.sqrt(a) * g)) / Math.sqrt(1 - a) + (i === j ? c.cXt : 0)),
    );
    const b = x0Const.map((v) => c.cX0 * v - (c.cEps * Math.sqrt(a) * v) / Math.sqrt(1 - a));
    mu = matmul(A, mu.map((v) => [v])).map((r, i) => r[0]! + b[i]!);
    cov = matmul(matmul(A, cov), transpose(A)).map((r, i) => r.map((v, j) => v + (i === j ? c.sigma ** 2 : 0)));
  }
  return { mean: mu, cov };
}

function expectMoments(x: Float32Array, n: number, mean: number[], cov: number[][], relCov: number): void {
  const got = sampleMoments(x, D);
  for (let j = 0; j < D; j++) expect(Math.abs(got.mean[j]! - mean[j]!)).toBeLessThan(4 * Math.sqrt(cov[j]![j]! / n));
  for (let a = 0; a < D; a++)
    for (let b = 0; b < D; b++) {
      // sampling sd of a covariance entry: √((Σ_aa Σ_bb + Σ_ab²)/n)
      const sd = Math.sqrt((cov[a]![a]! * cov[b]![b]! + cov[a]![b]! ** 2) / n);
      expect(Math.abs(got.cov[a]![b]! - cov[a]![b]!)).toBeLessThan(4 * sd + relCov * Math.sqrt(cov[a]![a]! * cov[b]![b]!));
    }
}

describe("samplers with the exact Gaussian denoiser (fixtures §1)", () => {
  const schedule = makeSchedule({ kind: "linear", steps: 1000 });
  const n = 10000;

  const fine: [string, SamplerConfig][] = [
    ["DDPM, 1000 steps", { sampler: "ddpm", steps: 1000, eta: 1 }],
    ["DDIM η=0, 250 steps", { sampler: "ddim", steps: 250, eta: 0 }],
    ["DDIM η=1, 1000 steps", { sampler: "ddim", steps: 1000, eta: 1 }],
  ];
  for (const [name, cfg] of fine) {
    it(`${name} reproduces the data law N(m, S) within sampling error + 3%`, async () => {
      const x = (await sample({ model: exactEps, plan: samplerPlan(schedule, cfg), n, eventShape: [D], key: keyFromSeed(7) }));
      expectMoments(toHostSync(x), n, m, S, 0.03);
    });
  }

  const coarse: [string, SamplerConfig][] = [
    ["DDPM (small σ), 50 steps", { sampler: "ddpm", steps: 50, eta: 1 }],
    ["DDPM (large σ), 50 steps", { sampler: "ddpm", steps: 50, eta: 1, variance: "large" }],
    ["DDIM η=0, 50 steps", { sampler: "ddim", steps: 50, eta: 0 }],
    ["DDIM η=0.5, 50 steps", { sampler: "ddim", steps: 50, eta: 0.5 }],
  ];
  for (const [name, cfg] of coarse) {
    it(`${name} matches the exact law of its discretised chain`, async () => {
      const plan = samplerPlan(schedule, cfg);
      const x = (await sample({ model: exactEps, plan, n, eventShape: [D], key: keyFromSeed(11) }));
      const law = chainLaw(plan);
      expectMoments(toHostSync(x), n, law.mean, law.cov, 0);
    });
  }

  it("DDIM η=1 and DDPM (small σ) take the same steps", () => {
    const a = samplerPlan(schedule, { sampler: "ddim", steps: 20, eta: 1 });
    const b = samplerPlan(schedule, { sampler: "ddpm", steps: 20, eta: 1 });
    const mean = (c: StepCoefficients, x0: number, e: number, x: number) => c.cX0 * x0 + c.cEps * e + c.cXt * x;
    a.forEach((c, i) => {
      const d = b[i]!;
      expect(c.sigma).toBeCloseTo(d.sigma, 10);
      // same mean for a consistent (x_t, x̂_0, ε̂) triple: x_t = √ᾱ x̂_0 + √(1−ᾱ) ε̂
      const x0 = 0.7, e = -1.3, x = Math.sqrt(c.t.alphaBar) * x0 + Math.sqrt(1 - c.t.alphaBar) * e;
      expect(mean(c, x0, e, x)).toBeCloseTo(mean(d, x0, e, x), 10);
    });
  });

  it("a wrong denoiser fails the same check (the test can fail)", async () => {
    const wrong: EpsFn = (x, t) => exactEps(x.mul(1.1), t);
    const plan = samplerPlan(schedule, { sampler: "ddim", steps: 50, eta: 0 });
    const x = (await sample({ model: wrong, plan, n: 4000, eventShape: [D], key: keyFromSeed(1) }));
    const law = chainLaw(plan);
    const { mean } = sampleMoments(toHostSync(x), D);
    expect(Math.abs(mean[0]! - law.mean[0]!)).toBeGreaterThan(4 * Math.sqrt(law.cov[0]![0]! / 4000));
  });
});
