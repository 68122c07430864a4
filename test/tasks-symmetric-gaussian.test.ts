/**
 * The structured-event exact Gaussian (src/tasks/symmetric-gaussian.ts, docs/fixtures.md §5) and the
 * denoising loss with a noise hook, checked against float64 formulas written here in the ambient space
 * R^9 (independent of the task's orthonormal coordinates):
 *   E embeds the 6 free entries into vec(X); Π = the projector onto Sym(3), Π_(ij),(kl) = (δ_ik δ_jl + δ_il δ_jk)/2;
 *   K = ᾱ E S Eᵀ + (1−ᾱ) Π = Cov(x_t),   Cov(ε, x_t) = √(1−ᾱ) Π,
 *   E[ε | x_t] = √(1−ᾱ) K⁺ (x_t − √ᾱ E m),   K⁺ = (K + I − Π)^{−1} − (I − Π),
 *   Cov(ε | x_t) = Π − (1−ᾱ) K⁺  (so the loss minimum is tr(·)/9 averaged over t).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, jit, keyFromSeed, np, random, toHostSync, tree, valueAndGrad, type JArray } from "../src/backend/index.js";
import { symmetricPart } from "../src/data/symmetric.js";
import { denoisingLoss, denoisingLossOf, forwardDraw } from "../src/diffusion/loss.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { initDenoiser, type DenoiserParams } from "../src/nn/denoiser.js";
import { symmetricBasis, symmetricFreeEntries, symmetricGaussianTask } from "../src/tasks/symmetric-gaussian.js";
import { invert, matmul, sampleMoments, transpose } from "./helpers/linalg.js";

beforeAll(ensureBackend);

/** Free entries of a symmetric 3×3 matrix, in the task's order: X11, X12, X13, X22, X23, X33. */
const FREE: [number, number][] = [
  [0, 0],
  [0, 1],
  [0, 2],
  [1, 1],
  [1, 2],
  [2, 2],
];
const m = [0.5, -0.3, 0.2, 1.0, 0.1, -0.7];
const A = [
  [0.9, 0.1, -0.3, 0.2, 0.0, 0.4],
  [0.0, 0.7, 0.2, -0.1, 0.3, 0.0],
  [0.2, -0.2, 0.6, 0.0, 0.1, 0.3],
  [0.1, 0.0, 0.3, 1.1, -0.2, 0.1],
  [-0.3, 0.2, 0.0, 0.1, 0.5, 0.2],
  [0.0, 0.1, -0.1, 0.2, 0.3, 0.8],
];
/** S = A Aᵀ + 0.05 I (positive definite, correlated entries). */
const S = matmul(A, transpose(A)).map((r, i) => r.map((v, j) => v + (i === j ? 0.05 : 0)));
const task = symmetricGaussianTask(m, S);

const E: number[][] = Array.from({ length: 9 }, (_, p) => FREE.map(([i, j]) => (p === i * 3 + j || p === j * 3 + i ? 1 : 0)));
const PI: number[][] = Array.from({ length: 9 }, (_, p) =>
  Array.from({ length: 9 }, (_, q) => {
    const [i, j, k, l] = [Math.floor(p / 3), p % 3, Math.floor(q / 3), q % 3];
    return ((i === k && j === l ? 1 : 0) + (i === l && j === k ? 1 : 0)) / 2;
  }),
);
const m9 = E.map((r) => r.reduce((s, v, a) => s + v * m[a]!, 0));
const S9 = matmul(matmul(E, S), transpose(E));

/** K⁺ of Cov(x_t) = ᾱ S9 + (1−ᾱ) Π (a pseudo-inverse: K is zero off Sym(3)). */
function kPlus(ab: number): number[][] {
  const K = S9.map((r, p) => r.map((v, q) => ab * v + (1 - ab) * PI[p]![q]!));
  const inv = invert(K.map((r, p) => r.map((v, q) => v + (p === q ? 1 : 0) - PI[p]![q]!)));
  return inv.map((r, p) => r.map((v, q) => v - ((p === q ? 1 : 0) - PI[p]![q]!)));
}

function exactEps64(x: ArrayLike<number>, ab: number): number[] {
  const kp = kPlus(ab);
  const N = x.length / 9;
  const out: number[] = [];
  for (let r = 0; r < N; r++) {
    const c = Array.from({ length: 9 }, (_, p) => x[r * 9 + p]! - Math.sqrt(ab) * m9[p]!);
    for (let p = 0; p < 9; p++) out.push(Math.sqrt(1 - ab) * kp[p]!.reduce((s, v, q) => s + v * c[q]!, 0));
  }
  return out;
}

function maxAntisymmetric(a: Float32Array): number {
  let worst = 0;
  for (let r = 0; r < a.length / 9; r++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) worst = Math.max(worst, Math.abs(a[r * 9 + i * 3 + j]! - a[r * 9 + j * 3 + i]!));
  return worst;
}

describe("the symmetric subspace and its noise hook", () => {
  it("U has orthonormal columns and UUᵀ = Π; the free entries are the upper triangle", () => {
    expect(symmetricFreeEntries(3)).toEqual(FREE);
    const u = symmetricBasis(3);
    const U = Array.from({ length: 9 }, (_, p) => Array.from({ length: 6 }, (_, c) => u[p * 6 + c]!));
    const utu = matmul(transpose(U), U);
    const uut = matmul(U, transpose(U));
    utu.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 14)));
    uut.forEach((r, p) => r.forEach((v, q) => expect(v).toBeCloseTo(PI[p]![q]!, 14)));
  });

  it("P(z) = (z + zᵀ)/2 is symmetric, idempotent, and Cov(vec P(z)) = Π (a standard normal on the subspace)", () => {
    const N = 20000;
    const eps = symmetricPart(random.normal(keyFromSeed(3), [N, 3, 3]));
    const e = toHostSync(eps.ref);
    expect(maxAntisymmetric(e)).toBe(0);
    expect(Array.from(toHostSync(symmetricPart(eps)))).toEqual(Array.from(e));
    const { mean, cov } = sampleMoments(e, 9);
    for (let p = 0; p < 9; p++) {
      expect(Math.abs(mean[p]!)).toBeLessThan(4 * Math.sqrt(PI[p]![p]! / N));
      for (let q = 0; q < 9; q++) {
        const se = Math.sqrt((PI[p]![p]! * PI[q]![q]! + PI[p]![q]! ** 2) / N);
        expect(Math.abs(cov[p]![q]! - PI[p]![q]!), `cov[${p}][${q}]`).toBeLessThan(4 * se + 1e-12);
      }
    }
    expect(() => symmetricPart(np.zeros([2, 3, 2]))).toThrow(/square matrices/);
  });
});

describe("symmetric-gaussian task", () => {
  it("samples symmetric matrices whose free entries have mean m and covariance S", async () => {
    const N = 20000;
    const x = await task.sample(keyFromSeed(11), N);
    expect([x.rows, x.cols, task.dim]).toEqual([N, 9, 9]);
    expect(task.eventShape).toEqual([3, 3]);
    expect(maxAntisymmetric(x.data)).toBe(0);
    const free = Float32Array.from({ length: N * 6 }, (_, k) => {
      const [i, j] = FREE[k % 6]!;
      return x.data[Math.floor(k / 6) * 9 + i * 3 + j]!;
    });
    const { mean, cov } = sampleMoments(free, 6);
    for (let a = 0; a < 6; a++) {
      expect(Math.abs(mean[a]! - m[a]!)).toBeLessThan(4 * Math.sqrt(S[a]![a]! / N));
      for (let b = 0; b < 6; b++) expect(Math.abs(cov[a]![b]! - S[a]![b]!)).toBeLessThan(4 * Math.sqrt((S[a]![a]! * S[b]![b]! + S[a]![b]! ** 2) / N));
    }
  });

  it("the exact ε matches the float64 ambient formula (and ignores an antisymmetric part of x_t)", () => {
    const eps = task.exactEps();
    const N = 16;
    const x = Float32Array.from({ length: N * 9 }, (_, k) => 2 * Math.sin(1.3 * k + 0.4));
    for (const ab of [0.9995, 0.7, 0.2, 0.004]) {
      const got = toHostSync(eps(np.array(x, { shape: [N, 3, 3] }), { index: 0, alphaBar: ab }));
      const want = exactEps64(x, ab);
      const scale = Math.max(...want.map(Math.abs));
      expect(scale).toBeGreaterThan(0.1);
      for (let k = 0; k < want.length; k++) expect(Math.abs(got[k]! - want[k]!), `ᾱ = ${ab}, entry ${k}`).toBeLessThanOrEqual(2e-5 * (1 + scale));
      expect(maxAntisymmetric(got)).toBeLessThanOrEqual(1e-6 * (1 + scale));
    }
    expect(() => eps(np.zeros([2, 9]), { index: 0, alphaBar: 0.5 })).toThrow(/expected x_t of shape \[N, 3, 3\], got \[2, 9\]/);
  });
});

describe("the denoising loss on [N, 3, 3] with the noise hook", async () => {
  const B = 2048;
  const schedule = makeSchedule({ kind: "cosine", steps: 20 });
  const ab32 = Float32Array.from(schedule.alphaBars);
  const x0Host = (await task.sample(keyFromSeed(21), B)).data;
  const x0 = () => np.array(x0Host, { shape: [B, 3, 3] });

  it("forward noising: ε and x_t stay symmetric with the hook (not without it), x_t = √ᾱ x_0 + √(1−ᾱ) ε", () => {
    const d = forwardDraw(x0(), np.array(ab32), keyFromSeed(5), task.noise);
    const [t, eps, xt, ab] = [toHostSync(d.t.astype(np.float32)), toHostSync(d.eps), toHostSync(d.xt), toHostSync(d.ab)];
    expect(maxAntisymmetric(eps)).toBe(0);
    expect(maxAntisymmetric(xt)).toBe(0);
    for (let r = 0; r < B; r++) {
      expect(ab[r]).toBe(ab32[t[r]!]);
      for (let p = 0; p < 9; p++) {
        const k = r * 9 + p;
        const want = Math.sqrt(ab[r]!) * x0Host[k]! + Math.sqrt(1 - ab[r]!) * eps[k]!;
        expect(Math.abs(xt[k]! - want)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want)));
      }
    }
    const plain = forwardDraw(x0(), np.array(ab32), keyFromSeed(5));
    tree.dispose([plain.t, plain.ab, plain.xt]);
    expect(maxAntisymmetric(toHostSync(plain.eps))).toBeGreaterThan(1);
  });

  it("the network never sees noise off the subspace; E‖ε‖²/9 = tr Π/9 = 2/3 with the hook, 1 without", () => {
    for (const [hook, want, variance] of [[task.noise, 6 / 9, 12 / 81], [undefined, 1, 2 / 9]] as const) {
      let worst = 0;
      const zero = (xt: JArray, t: JArray) => {
        worst = Math.max(worst, maxAntisymmetric(toHostSync(xt)));
        t.dispose();
        return np.zeros([B, 3, 3]);
      };
      const loss = toHostSync(denoisingLossOf(zero, "eps", [3, 3], { x0: x0(), alphaBars: np.array(ab32), key: keyFromSeed(9), ...(hook ? { noise: hook } : {}) }))[0]!;
      if (hook) expect(worst).toBe(0);
      else expect(worst).toBeGreaterThan(1);
      expect(Math.abs(loss - want)).toBeLessThan(4 * Math.sqrt(variance / B));
    }
  });

  it("the loss of the exact ε equals the Bayes risk E_t tr Cov(ε | x_t)/9 within Monte-Carlo error, weighted or not", () => {
    const exact = task.exactEps();
    const predict = (xt: JArray, t: JArray) => {
      const idx = toHostSync(t.astype(np.float32));
      let out = np.zeros([B, 3, 3]);
      for (const i of new Set(idx)) {
        const mask = np.array(Float32Array.from(idx, (v) => (v === i ? 1 : 0)), { shape: [B, 1, 1] });
        out = out.add(exact(xt.ref, { index: i, alphaBar: ab32[i]! }).mul(mask));
      }
      xt.dispose();
      return out;
    };
    // Closed form: per t, ε − ε* ~ N(0, Λ_t), Λ_t = Π − (1−ᾱ_t) K_t⁺; L = ‖ε − ε*‖²/9 has mean tr Λ/9 and
    // variance 2 tr Λ²/81; t is uniform on the T indices.
    const T = ab32.length;
    let risk = 0;
    let second = 0;
    for (let i = 0; i < T; i++) {
      const ab = ab32[i]!;
      const kp = kPlus(ab);
      const lam = PI.map((r, p) => r.map((v, q) => v - (1 - ab) * kp[p]![q]!));
      const mean = lam.reduce((s, r, p) => s + r[p]!, 0) / 9;
      const l2 = matmul(lam, lam).reduce((s, r, p) => s + r[p]!, 0);
      risk += mean / T;
      second += (2 * l2) / 81 / T + mean ** 2 / T;
    }
    const varL = second - risk ** 2;
    const w = Float32Array.from({ length: B }, (_, k) => 0.2 + 1.8 * ((Math.sin(7.1 * k) + 1) / 2));
    const wFactor = w.reduce((s, v) => s + v * v, 0) / w.reduce((s, v) => s + v, 0) ** 2;
    const R = 6;
    let plain = 0;
    let weighted = 0;
    for (let r = 0; r < R; r++) {
      const inp = () => ({ x0: x0(), alphaBars: np.array(ab32), key: keyFromSeed(100 + r), noise: task.noise });
      plain += toHostSync(denoisingLossOf(predict, "eps", [3, 3], inp()))[0]! / R;
      weighted += toHostSync(denoisingLossOf(predict, "eps", [3, 3], { ...inp(), weights: np.array(w) }))[0]! / R;
    }
    // The batches share x_0, but given x_0 every term's error is fresh noise and t; x_0 enters the error
    // only through t (ε − ε* is independent of x_0 given t), so the R·B terms are independent.
    expect(risk).toBeGreaterThan(0.05);
    expect(Math.abs(plain - risk)).toBeLessThan(4 * Math.sqrt(varL / (R * B)));
    expect(Math.abs(weighted - risk)).toBeLessThan(4 * Math.sqrt((varL * wFactor) / R));
  });

  it("trains a small MLP on [N, 3, 3] with the loss and the hook (a flat [B, 9] batch is reshaped)", () => {
    const model: ModelConfig = {
      network: { kind: "mlp", dataDim: 9, eventShape: [3, 3], hidden: 32, layers: 2, timeEmbedding: 8, residual: true, norm: "none" },
      prediction: "eps",
      schedule: { kind: "cosine", steps: 20 },
    };
    const lr = 0.05;
    const step = jit((p: DenoiserParams, x: JArray, key: JArray, ab: JArray) => {
      const [loss, g] = valueAndGrad((q: DenoiserParams) => denoisingLoss(model, q, { x0: x, alphaBars: ab, key, noise: task.noise }))(tree.ref(p));
      return [tree.map((a: JArray, b: JArray) => a.sub(b.mul(lr)), p, g), loss];
    }) as unknown as (p: DenoiserParams, x: JArray, key: JArray, ab: JArray) => [DenoiserParams, JArray];
    let params = initDenoiser(keyFromSeed(2), model.network);
    const losses: number[] = [];
    for (let s = 0; s < 150; s++) {
      let loss: JArray;
      [params, loss] = step(params, np.array(x0Host.subarray(0, 256 * 9), { shape: [256, 9] }), keyFromSeed(1000 + s), np.array(ab32));
      losses.push(toHostSync(loss)[0]!);
    }
    tree.dispose(params);
    expect(losses.every(Number.isFinite)).toBe(true);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-30))).toBeLessThan(0.8 * mean(losses.slice(0, 10)));
  });
});
