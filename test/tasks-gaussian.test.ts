import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, splitKey, toHostSync, upload } from "../src/backend/index.js";
import { exactGaussianEps, sampleGaussian } from "../src/tasks/gaussian.js";
import { hostNormal } from "../src/tasks/host-random.js";

beforeAll(async () => {
  await ensureBackend();
});

const t = (alphaBar: number) => ({ index: 0, alphaBar });

describe("exactGaussianEps", () => {
  it("matches the 2×2 closed form √(1−ᾱ) Σ_t^{−1}(x − √ᾱ m) with an explicit adjugate inverse", () => {
    const m = [0.5, -1];
    const S = [
      [2, 0.6],
      [0.6, 0.5],
    ];
    const xs = [
      [0.3, 0.2],
      [-1.5, 2],
      [4, -3],
    ];
    for (const a of [0.05, 0.5, 0.99]) {
      const eps = exactGaussianEps(m, S);
      const got = toHostSync(eps(upload(Float32Array.from(xs.flat()), 3, 2), t(a)));
      const p = a * S[0]![0]! + 1 - a;
      const q = a * S[0]![1]!;
      const r = a * S[1]![1]! + 1 - a;
      const det = p * r - q * q;
      xs.forEach(([x0, x1], i) => {
        const u = x0! - Math.sqrt(a) * m[0]!;
        const v = x1! - Math.sqrt(a) * m[1]!;
        const e0 = (Math.sqrt(1 - a) * (r * u - q * v)) / det;
        const e1 = (Math.sqrt(1 - a) * (-q * u + p * v)) / det;
        expect(got[2 * i]!).toBeCloseTo(e0, 4);
        expect(got[2 * i + 1]!).toBeCloseTo(e1, 4);
      });
    }
  });

  it("is the regression E[ε | x_t]: the residual ε − ε*(x_t) has mean 0 and is uncorrelated with x_t (Monte Carlo, 4 s.e.)", async () => {
    const D = 3;
    const n = 20000;
    const m = [1, -0.5, 2];
    const S = [
      [1.5, 0.4, -0.3],
      [0.4, 0.8, 0.2],
      [-0.3, 0.2, 0.6],
    ];
    const a = 0.4;
    const [k0, k1] = splitKey(keyFromSeed(1), 2);
    const x0 = await sampleGaussian(k0!, m, S, n);
    const eps = await hostNormal(k1!, n, D);
    const xt = Float32Array.from(x0.data, (v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]!);
    const pred = toHostSync(exactGaussianEps(m, S)(upload(xt, n, D), t(a)));
    for (let i = 0; i < D; i++) {
      const res = Array.from({ length: n }, (_, r) => eps[r * D + i]! - pred[r * D + i]!);
      const check = (vals: number[]) => {
        const mu = vals.reduce((s, v) => s + v, 0) / n;
        const sd = Math.sqrt(vals.reduce((s, v) => s + (v - mu) ** 2, 0) / (n - 1));
        expect(Math.abs(mu)).toBeLessThan(4 * (sd / Math.sqrt(n)));
      };
      check(res);
      for (let j = 0; j < D; j++) check(res.map((e, r) => e * (xt[r * D + j]! - Math.sqrt(a) * m[j]!)));
    }
  });

  it("rejects a wrongly shaped batch and a non-symmetric covariance", () => {
    const eps = exactGaussianEps([0, 0], [
      [1, 0],
      [0, 1],
    ]);
    expect(() => eps(upload(new Float32Array(3), 1, 3), t(0.5))).toThrow(/expected x_t of shape \[n, 2\], got \[1, 3\]/);
    expect(() =>
      exactGaussianEps([0, 0], [
        [1, 0.5],
        [0, 1],
      ]),
    ).toThrow(/not symmetric/);
    expect(() => exactGaussianEps([0], [[1]])(upload(new Float32Array(1), 1, 1), t(1.5))).toThrow(/ᾱ_t must be in \[0, 1\]/);
  });
});

describe("sampleGaussian", () => {
  it("has the requested mean and covariance (4 standard errors)", async () => {
    const n = 20000;
    const m = [1, -2, 0.5];
    const S = [
      [2, 0.8, 0],
      [0.8, 1, -0.3],
      [0, -0.3, 0.5],
    ];
    const x = await sampleGaussian(keyFromSeed(2), m, S, n);
    const D = 3;
    const mu = [0, 0, 0];
    for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) mu[i]! += x.data[r * D + i]! / n;
    for (let i = 0; i < D; i++) {
      expect(Math.abs(mu[i]! - m[i]!)).toBeLessThan(4 * Math.sqrt(S[i]![i]! / n));
      for (let j = 0; j < D; j++) {
        let c = 0;
        for (let r = 0; r < n; r++) c += (x.data[r * D + i]! - mu[i]!) * (x.data[r * D + j]! - mu[j]!);
        c /= n - 1;
        // Var of the sample covariance of a Gaussian pair: (S_ii S_jj + S_ij²)/n.
        expect(Math.abs(c - S[i]![j]!)).toBeLessThan(4 * Math.sqrt((S[i]![i]! * S[j]![j]! + S[i]![j]! ** 2) / n));
      }
    }
  });

  it("accepts a singular covariance: a rank-1 law stays on its line", async () => {
    const v = [1, 2, -2];
    const S = v.map((a) => v.map((b) => a * b));
    const m = [0, 1, 0];
    const x = await sampleGaussian(keyFromSeed(3), m, S, 500);
    let spread = 0;
    for (let r = 0; r < x.rows; r++) {
      const d = [0, 1, 2].map((i) => x.data[r * 3 + i]! - m[i]!);
      const along = (d[0]! * v[0]! + d[1]! * v[1]! + d[2]! * v[2]!) / 9;
      const off = Math.hypot(d[0]! - along * v[0]!, d[1]! - along * v[1]!, d[2]! - along * v[2]!);
      expect(off).toBeLessThan(1e-4);
      spread += along * along;
    }
    expect(spread / x.rows).toBeGreaterThan(0.8); // the coefficient along v has variance 1
    await expect(
      sampleGaussian(keyFromSeed(0), [0, 0], [
        [1, 0],
        [0, -1],
      ], 3),
    ).rejects.toThrow(/not positive semi-definite/);
  });
});
