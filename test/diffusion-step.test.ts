/**
 * One reverse step as a Gaussian policy (methods.md, "Notation"): mean, log-probability and KL, each
 * against float64 references written here from the formulas.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, np, toHostSync, type JArray } from "../src/backend/index.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import {
  ddimCoefficients,
  ddpmCoefficients,
  gaussianStep,
  stepKl,
  stepLogProb,
  takeStep,
} from "../src/diffusion/step.js";

beforeAll(ensureBackend);

/** Deterministic float64 standard normals (Box–Muller on an LCG), independent of jax-js. */
function normals(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

const dev = (a: ArrayLike<number>, rows: number, cols: number): JArray => np.array(Float32Array.from(a), { shape: [rows, cols] });

/** log N(x; μ, σ² I) for one row, in float64. */
function gaussLogDensity(x: ArrayLike<number>, mu: ArrayLike<number>, sigma: number, off: number, D: number): number {
  let q = 0;
  for (let d = 0; d < D; d++) q += (x[off + d]! - mu[off + d]!) ** 2;
  return -q / (2 * sigma * sigma) - D * Math.log(sigma) - (D / 2) * Math.log(2 * Math.PI);
}

describe("stepLogProb", () => {
  for (const [n, D, sigma] of [
    [5, 2, 0.3],
    [4, 7, 1.7],
    [3, 1, 0.05],
  ] as const) {
    it(`equals the Gaussian log-density per sample (n=${n}, D=${D}, σ=${sigma})`, () => {
      const mu = normals(n * D, 11);
      const z = normals(n * D, 12);
      const xs = mu.map((m, i) => m + sigma * 1.3 * z[i]!);
      const got = toHostSync(stepLogProb(dev(mu, n, D), sigma, dev(xs, n, D)));
      expect(got.length).toBe(n);
      for (let i = 0; i < n; i++) {
        const want = gaussLogDensity(xs, mu, sigma, i * D, D);
        expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want)));
      }
    });
  }

  it("refuses a deterministic step (σ = 0) with an error mentioning it", () => {
    expect(() => stepLogProb(dev([0, 0], 1, 2), 0, dev([0, 0], 1, 2))).toThrow(/deterministic/);
    expect(() => stepLogProb(dev([0, 0], 1, 2), Number.NaN, dev([0, 0], 1, 2))).toThrow(/σ > 0/);
  });
});

describe("stepKl", () => {
  const n = 3;
  const D = 4;
  const sigma = 0.4;
  const muA = normals(n * D, 21).map((v) => 0.3 * v);
  const muB = normals(n * D, 22).map((v) => 0.3 * v);

  it("equals ‖μ_a − μ_b‖²/(2σ²) (sum) and /D of it (mean)", () => {
    const sum = toHostSync(stepKl(dev(muA, n, D), dev(muB, n, D), sigma));
    const mean = toHostSync(stepKl(dev(muA, n, D), dev(muB, n, D), sigma, "mean"));
    for (let i = 0; i < n; i++) {
      let q = 0;
      for (let d = 0; d < D; d++) q += (muA[i * D + d]! - muB[i * D + d]!) ** 2;
      const want = q / (2 * sigma * sigma);
      expect(Math.abs(sum[i]! - want)).toBeLessThanOrEqual(1e-5 * want + 1e-7);
      expect(Math.abs(mean[i]! - want / D)).toBeLessThanOrEqual(1e-5 * want + 1e-7);
    }
    // KL(p ‖ p) = 0.
    const self = toHostSync(stepKl(dev(muA, n, D), dev(muA, n, D), sigma));
    for (const v of self) expect(v).toBe(0);
  });

  it("matches a Monte-Carlo estimate of E_{x~p_a}[log p_a(x) − log p_b(x)] (float64 densities)", () => {
    const M = 40_000;
    const row = 1;
    const a = muA.slice(row * D, row * D + D);
    const b = muB.slice(row * D, row * D + D);
    const z = normals(M * D, 23);
    let sum = 0;
    let sumSq = 0;
    const x = new Float64Array(D);
    for (let m = 0; m < M; m++) {
      for (let d = 0; d < D; d++) x[d] = a[d]! + sigma * z[m * D + d]!;
      const r = gaussLogDensity(x, a, sigma, 0, D) - gaussLogDensity(x, b, sigma, 0, D);
      sum += r;
      sumSq += r * r;
    }
    const est = sum / M;
    const se = Math.sqrt((sumSq / M - est * est) / M);
    const kl = toHostSync(stepKl(dev(muA, n, D), dev(muB, n, D), sigma))[row]!;
    expect(kl).toBeGreaterThan(0.1); // a non-trivial KL, so the comparison means something
    expect(Math.abs(kl - est)).toBeLessThanOrEqual(4 * se);
  });

  it("agrees with E[stepLogProb(μ_a) − stepLogProb(μ_b)] on device draws", () => {
    const M = 4000;
    const a = Array.from({ length: M }, () => Array.from(muA.slice(0, D))).flat();
    const b = Array.from({ length: M }, () => Array.from(muB.slice(0, D))).flat();
    const z = normals(M * D, 24);
    const xs = a.map((v, i) => v + sigma * z[i]!);
    const lpA = toHostSync(stepLogProb(dev(a, M, D), sigma, dev(xs, M, D)));
    const lpB = toHostSync(stepLogProb(dev(b, M, D), sigma, dev(xs, M, D)));
    let mean = 0;
    for (let i = 0; i < M; i++) mean += (lpA[i]! - lpB[i]!) / M;
    const kl = toHostSync(stepKl(dev(muA.slice(0, D), 1, D), dev(muB.slice(0, D), 1, D), sigma))[0]!;
    const se = Math.sqrt((2 * kl) / M); // Var[log p_a − log p_b] = ‖Δμ‖²/σ² = 2 KL
    expect(Math.abs(mean - kl)).toBeLessThanOrEqual(4 * se);
  });

  it("refuses a deterministic step (σ = 0) with an error mentioning it", () => {
    expect(() => stepKl(dev([0, 1], 1, 2), dev([0, 0], 1, 2), 0)).toThrow(/deterministic/);
    expect(() => stepKl(dev([0, 1], 1, 2), dev([0, 0], 1, 2), -1, "mean")).toThrow(/deterministic/);
  });
});

describe("gaussianStep mean (methods.md)", () => {
  const schedule = makeSchedule({ kind: "linear", steps: 1000 });
  const n = 4;
  const D = 3;
  const xt = normals(n * D, 31);
  const epsHat = normals(n * D, 32);

  /** x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t. */
  const x0HatOf = (at: number, e: ArrayLike<number>) => xt.map((x, i) => (x - Math.sqrt(1 - at) * e[i]!) / Math.sqrt(at));

  function check(got: JArray, want: ArrayLike<number>, tol: number): void {
    const g = toHostSync(got);
    for (let i = 0; i < want.length; i++) expect(Math.abs(g[i]! - want[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]!)));
  }

  for (const [t, s, eta] of [
    [999, 899, 0],
    [500, 400, 0.5],
    [300, 299, 1],
    [50, -1, 0.7],
  ] as const) {
    it(`DDIM(η=${eta}) ${t} → ${s}: μ = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂, σ = η√((1−ᾱ_s)/(1−ᾱ_t))√(1 − ᾱ_t/ᾱ_s)`, () => {
      const at = schedule.alphaBars[t]!;
      const as = s < 0 ? 1 : schedule.alphaBars[s]!;
      const sigma = eta * Math.sqrt((1 - as) / (1 - at)) * Math.sqrt(1 - at / as);
      const x0 = x0HatOf(at, epsHat);
      const mu = x0.map((v, i) => Math.sqrt(as) * v + Math.sqrt(1 - as - sigma * sigma) * epsHat[i]!);
      const step = gaussianStep(dev(xt, n, D), dev(epsHat, n, D), ddimCoefficients(schedule, t, s, eta));
      expect(step.sigma).toBeCloseTo(sigma, 12);
      const tol = 2e-6 / Math.sqrt(at);
      check(step.mean, mu, tol);
      check(step.x0Hat, x0, tol);
      check(step.epsHat, epsHat, 1e-7);
    });
  }

  for (const variance of ["small", "large"] as const) {
    it(`DDPM (${variance}) t → t−1: posterior mean √ᾱ_{t−1}β_t/(1−ᾱ_t) x̂_0 + √α_t(1−ᾱ_{t−1})/(1−ᾱ_t) x_t`, () => {
      const t = 200;
      const at = schedule.alphaBars[t]!;
      const ap = schedule.alphaBars[t - 1]!;
      const beta = schedule.betas[t]!;
      const x0 = x0HatOf(at, epsHat);
      const mu = x0.map((v, i) => ((Math.sqrt(ap) * beta) / (1 - at)) * v + ((Math.sqrt(1 - beta) * (1 - ap)) / (1 - at)) * xt[i]!);
      const step = gaussianStep(dev(xt, n, D), dev(epsHat, n, D), ddpmCoefficients(schedule, t, t - 1, variance));
      const sigma2 = variance === "small" ? ((1 - ap) / (1 - at)) * beta : beta;
      expect(step.sigma ** 2).toBeCloseTo(sigma2, 12);
      check(step.mean, mu, 1e-5);
      step.x0Hat.dispose();
      step.epsHat.dispose();
    });
  }

  it("DDIM with η = 1 and s = t − 1 has the same mean as DDPM 'small' (methods.md)", () => {
    const t = 640;
    const a = gaussianStep(dev(xt, n, D), dev(epsHat, n, D), ddimCoefficients(schedule, t, t - 1, 1));
    const b = gaussianStep(dev(xt, n, D), dev(epsHat, n, D), ddpmCoefficients(schedule, t, t - 1, "small"));
    expect(a.sigma).toBeCloseTo(b.sigma, 10);
    const ma = toHostSync(a.mean);
    const mb = toHostSync(b.mean);
    for (let i = 0; i < ma.length; i++) expect(Math.abs(ma[i]! - mb[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(mb[i]!)));
    for (const s of [a, b]) {
      s.x0Hat.dispose();
      s.epsHat.dispose();
    }
  });

  it("clipX0 clips x̂_0 to [−c, c] and recomputes ε̂ from it", () => {
    const t = 900; // low ᾱ: |x̂_0| is large, so clipping is active
    const c = 1;
    const at = schedule.alphaBars[t]!;
    const coef = ddimCoefficients(schedule, t, 700, 0.3);
    const x0 = x0HatOf(at, epsHat).map((v) => Math.min(c, Math.max(-c, v)));
    expect(x0HatOf(at, epsHat).some((v) => Math.abs(v) > c)).toBe(true);
    const e = xt.map((x, i) => (x - Math.sqrt(at) * x0[i]!) / Math.sqrt(1 - at));
    const mu = x0.map((v, i) => coef.cX0 * v + coef.cEps * e[i]!);
    const step = gaussianStep(dev(xt, n, D), dev(epsHat, n, D), coef, c);
    check(step.x0Hat, x0, 1e-5);
    check(step.epsHat, e, 1e-5);
    check(step.mean, mu, 1e-5);
  });

  it("takeStep: x_s = μ + σ z, and σ = 0 returns μ", () => {
    const mu = normals(6, 41);
    const z = normals(6, 42);
    check(takeStep(dev(mu, 2, 3), 0.25, dev(z, 2, 3)), mu.map((m, i) => m + 0.25 * z[i]!), 1e-6);
    check(takeStep(dev(mu, 2, 3), 0, dev(z, 2, 3)), Float32Array.from(mu), 0);
  });
});
