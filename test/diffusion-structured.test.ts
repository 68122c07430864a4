/**
 * A structured event shape: symmetric 3×3 matrices. The data law is an exact Gaussian on the symmetric
 * subspace, X = m + Σ_k u_k B_k with u ~ N(0, I_6) and a fixed basis of symmetric matrices B_k; the
 * noise hook P(z) = (z + zᵀ)/2 keeps every draw symmetric, so the forward noise is ε ~ N(0, Π) with
 * Π the projector onto symmetric matrices (in vec form). With x_t = √ᾱ x_0 + √(1−ᾱ) ε:
 *   Cov(x_t) = C_t = ᾱ Σ + (1−ᾱ) Π,   ε*(x_t, t) = √(1−ᾱ) Π C_t⁺ (x_t − √ᾱ m),
 * linear in x_t (C_t⁺ the pseudo-inverse on the subspace, computed here in float64). DDPM (1000 steps)
 * and DDIM (η = 0, 250 steps) sample it; the 6 free coordinates' mean and covariance must match m and Σ
 * within sampling error (+3% on the covariance for the discretisation, as the vector test), and every
 * sample must be exactly symmetric.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, type JArray } from "../src/backend/index.js";
import { sample, samplerPlan, type SamplerConfig } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import type { EpsFn, NoiseHook, StepTime } from "../src/diffusion/types.js";

beforeAll(ensureBackend);

const E = 9;
const schedule = makeSchedule({ kind: "linear", steps: 1000 });
const n = 4000;

/** Free coordinates of a symmetric 3×3 matrix: (0,0), (1,1), (2,2), (0,1), (0,2), (1,2). */
const FREE: [number, number][] = [[0, 0], [1, 1], [2, 2], [0, 1], [0, 2], [1, 2]];

const mean = [1, -0.5, 0.25, 0.3, -0.2, 0.1, 0, 0, 0];
// vec(m) of the symmetric mean matrix.
const m = new Float64Array(E);
FREE.forEach(([i, j], k) => {
  m[i * 3 + j] = m[j * 3 + i] = mean[k]!;
});
/** B: 9×6, column k = vec(B_k), a fixed, correlated basis (so Σ = B Bᵀ is not diagonal). */
const B: number[][] = Array.from({ length: E }, () => new Array(6).fill(0));
FREE.forEach(([i, j], k) => {
  for (let l = 0; l <= k; l++) {
    const w = (l === k ? 0.8 : 0.25) * (1 + 0.1 * l);
    const [a, b] = FREE[l]!;
    B[a * 3 + b]![k] += w;
    if (a !== b) B[b * 3 + a]![k] += w;
  }
  void i;
  void j;
});
const Sigma = Array.from({ length: E }, (_, r) => Array.from({ length: E }, (_, c) => B[r]!.reduce((s, v, k) => s + v * B[c]![k]!, 0)));
/** Π: the projector vec(Z) ↦ vec((Z + Zᵀ)/2). */
const Pi = Array.from({ length: E }, (_, r) => Array.from({ length: E }, (_, c) => {
  const [i, j] = [Math.floor(r / 3), r % 3];
  const [k, l] = [Math.floor(c / 3), c % 3];
  return ((i === k && j === l ? 1 : 0) + (i === l && j === k ? 1 : 0)) / 2;
}));

function inverse(a: number[][]): number[][] {
  const N = a.length;
  const M = a.map((row, i) => [...row, ...Array.from({ length: N }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < N; c++) {
    let p = c;
    for (let r = c + 1; r < N; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    const d = M[c]![c]!;
    for (let k = 0; k < 2 * N; k++) M[c]![k]! /= d;
    for (let r = 0; r < N; r++) {
      if (r === c) continue;
      const f = M[r]![c]!;
      for (let k = 0; k < 2 * N; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row) => row.slice(N));
}
const matmul = (a: number[][], b: number[][]) => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));

/** The exact ε*: x_t [N, 3, 3] → √(1−ᾱ) Π C_t⁺ (x_t − √ᾱ m), with C_t⁺ = Π (C_t + I − Π)⁻¹ Π. */
function exactEps(): EpsFn {
  const cache = new Map<number, Float32Array>();
  return (x: JArray, t: StepTime) => {
    let A = cache.get(t.index);
    if (!A) {
      const ab = t.alphaBar;
      const Ct = Sigma.map((row, r) => row.map((v, c) => ab * v + (1 - ab) * Pi[r]![c]! + (r === c ? 1 : 0) - Pi[r]![c]!));
      const K = matmul(matmul(Pi, inverse(Ct)), Pi);
      // Row-vector form: ε = (x − √ᾱ m) Aᵀ with A = √(1−ᾱ) K.
      A = Float32Array.from(K.flatMap((row) => row.map((v) => Math.sqrt(1 - ab) * v)));
      cache.set(t.index, A);
    }
    const N = x.shape[0]!;
    const shift = np.array(Float32Array.from(m, (v) => Math.sqrt(t.alphaBar) * v), { shape: [1, E] });
    const At = np.array(A, { shape: [E, E] }).transpose();
    return np.matmul(x.reshape([N, E]).sub(shift), At).reshape([N, 3, 3]);
  };
}

const symmetric: NoiseHook = (z) => z.ref.add(z.transpose([0, 2, 1])).mul(0.5);

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
  const S = (k: number, l: number) => Sigma[FREE[k]![0] * 3 + FREE[k]![1]]![FREE[l]![0] * 3 + FREE[l]![1]]!;
  for (let k = 0; k < 6; k++) {
    expect(Math.abs(mu[k]! - mean[k]!)).toBeLessThan(4 * Math.sqrt(S(k, k) / n));
    for (let l = 0; l <= k; l++) {
      const se = Math.sqrt((S(k, k) * S(l, l) + S(k, l) ** 2) / n);
      expect(Math.abs(cov(k, l) - S(k, l))).toBeLessThan(4 * se + 0.03 * Math.sqrt(S(k, k) * S(l, l)));
    }
  }
}

describe("an exact Gaussian over symmetric 3×3 matrices (noise hook: the symmetric part)", () => {
  const runs: [string, SamplerConfig, number][] = [
    ["DDPM, 1000 steps", { sampler: "ddpm", steps: 1000, eta: 1 }, 3],
    ["DDIM η=0, 250 steps", { sampler: "ddim", steps: 250, eta: 0 }, 4],
  ];
  for (const [name, cfg, seed] of runs) {
    it(`${name} reproduces the law (mean, covariance), samples exactly symmetric`, async () => {
      const x = await sample({ model: exactEps(), plan: samplerPlan(schedule, cfg), n, eventShape: [3, 3], key: keyFromSeed(seed), hooks: { noise: symmetric } });
      expect(x.shape).toEqual([n, 3, 3]);
      check(toHostSync(x));
    }, 120_000);
  }

  it("the check can fail: without the noise hook the samples are not symmetric", async () => {
    const x = await sample({ model: exactEps(), plan: samplerPlan(schedule, { sampler: "ddpm", steps: 50, eta: 1 }), n: 8, eventShape: [3, 3], key: keyFromSeed(5) });
    const h = toHostSync(x);
    let asym = 0;
    for (let s = 0; s < 8; s++) asym = Math.max(asym, Math.abs(h[s * E + 1]! - h[s * E + 3]!));
    expect(asym).toBeGreaterThan(1e-3);
  });
});
