import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, splitKey } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { sampleGaussian } from "../src/tasks/gaussian.js";
import { hostNormal } from "../src/tasks/host-random.js";
import {
  exactConditional,
  linearSubspaceTask,
  makeLinearSubspace,
  noisyLabels,
  oracleReward,
  offSupportDeviation,
  sampleLinearSubspace,
  subspaceAngle,
} from "../src/tasks/linear-subspace.js";

beforeAll(async () => {
  await ensureBackend();
});

function meanSe(v: ArrayLike<number>): { mean: number; se: number; sd: number } {
  const n = v.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += v[i]! / n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (v[i]! - m) ** 2;
  const sd = Math.sqrt(s / (n - 1));
  return { mean: m, se: sd / Math.sqrt(n), sd };
}

describe("makeLinearSubspace", () => {
  it("draws A with orthonormal columns, a unit β and θ* = Aβ (D = 64, d = 16)", async () => {
    const sub = await makeLinearSubspace(keyFromSeed(0), { ambientDim: 64, latentDim: 16 });
    const { A } = sub;
    expect([A.rows, A.cols]).toEqual([64, 16]);
    for (let j = 0; j < 16; j++) {
      for (let k = 0; k < 16; k++) {
        let s = 0;
        for (let i = 0; i < 64; i++) s += A.data[i * 16 + j]! * A.data[i * 16 + k]!;
        expect(Math.abs(s - (j === k ? 1 : 0))).toBeLessThan(1e-6);
      }
    }
    expect(sub.beta.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 12);
    for (let i = 0; i < 64; i++) {
      const ab = sub.beta.reduce((s, bk, k) => s + A.data[i * 16 + k]! * bk, 0);
      expect(sub.theta[i]).toBeCloseTo(ab, 12);
    }
    const again = await makeLinearSubspace(keyFromSeed(0), { ambientDim: 64, latentDim: 16 });
    expect(Array.from(again.A.data)).toEqual(Array.from(A.data));
    await expect(makeLinearSubspace(keyFromSeed(0), { ambientDim: 3, latentDim: 4 })).rejects.toThrow(/1 ≤ latentDim ≤ ambientDim/);
  });
});

describe("data, oracle reward and labels", () => {
  const sub = () => makeLinearSubspace(keyFromSeed(1), { ambientDim: 32, latentDim: 8 });

  it("f*(x) ~ N(0, 1) on the data (mean and variance within 4 standard errors)", async () => {
    const n = 20000;
    const s = await sub();
    const r = oracleReward(s, await sampleLinearSubspace(keyFromSeed(2), s, n));
    const { mean, sd } = meanSe(r);
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(sd * sd - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
    const task = linearSubspaceTask(s);
    expect(task.dim).toBe(32);
    expect(Array.from(task.reward(await task.sample(keyFromSeed(2), 5)))).toEqual(Array.from(r.subarray(0, 5)));
  });

  it("noisyLabels adds N(0, σ²) noise", async () => {
    const values = new Float32Array(20000).fill(2);
    const y = await noisyLabels(keyFromSeed(3), values, 0.1);
    const { mean, sd } = meanSe(y);
    expect(Math.abs(mean - 2)).toBeLessThan((4 * 0.1) / Math.sqrt(values.length));
    expect(Math.abs(sd - 0.1)).toBeLessThan(4 * 0.1 * Math.sqrt(1 / (2 * values.length)));
    await expect(noisyLabels(keyFromSeed(3), values, -1)).rejects.toThrow(/sigma must be a finite number ≥ 0/);
  });

  it("off-support deviation: ≈ 0 on the data, ‖v‖ for v ⟂ span(A), also when added to data", async () => {
    const s = await sub();
    const x = await sampleLinearSubspace(keyFromSeed(4), s, 200);
    for (const v of offSupportDeviation(s, x)) expect(v).toBeLessThan(1e-5);
    // v = g − A Aᵀ g in float64.
    const g = Array.from(await hostNormal(keyFromSeed(5), 1, 32), Number);
    const z = Array.from({ length: 8 }, (_, k) => g.reduce((acc, gi, i) => acc + s.A.data[i * 8 + k]! * gi, 0));
    const v = g.map((gi, i) => gi - z.reduce((acc, zk, k) => acc + s.A.data[i * 8 + k]! * zk, 0));
    const norm = Math.hypot(...v);
    const shifted = Float32Array.from(x.data, (val, idx) => val + v[idx % 32]!);
    expect(offSupportDeviation(s, hostMatrix(1, 32, Float32Array.from(v)))[0]).toBeCloseTo(norm, 5);
    for (const d of offSupportDeviation(s, hostMatrix(200, 32, shifted))) expect(d).toBeCloseTo(norm, 4);
  });
});

describe("exactConditional", () => {
  it("matches Monte Carlo conditioning on |ŷ − a| < 0.05 (reward and mean, 4 standard errors)", async () => {
    const D = 16;
    const d = 4;
    const n = 200000;
    const nu = 0.5;
    const [k0, k1, k2, k3] = splitKey(keyFromSeed(6), 4);
    const s = await makeLinearSubspace(k0!, { ambientDim: D, latentDim: d });
    // θ̂: θ* plus a perturbation with components inside and outside span(A).
    const pert = await hostNormal(k1!, 1, D);
    const thetaHat = s.theta.map((t, i) => t + 0.3 * pert[i]!);
    const x = await sampleLinearSubspace(k2!, s, n);
    const f = oracleReward(s, x);
    const clean = Float32Array.from({ length: n }, (_, r) => thetaHat.reduce((acc, t, i) => acc + t * x.data[r * D + i]!, 0));
    const yhat = await noisyLabels(k3!, clean, nu);
    for (const a of [0.5, 1.5]) {
      const keep: number[] = [];
      for (let r = 0; r < n; r++) if (Math.abs(yhat[r]! - a) < 0.05) keep.push(r);
      expect(keep.length).toBeGreaterThan(2000);
      const exact = exactConditional(s, thetaHat, nu, a);
      const fr = meanSe(keep.map((r) => f[r]!));
      expect(Math.abs(fr.mean - exact.rewardMean)).toBeLessThan(4 * fr.se);
      for (let i = 0; i < D; i++) {
        const xi = meanSe(keep.map((r) => x.data[r * D + i]!));
        expect(Math.abs(xi.mean - exact.mean[i]!)).toBeLessThan(4 * xi.se + 1e-3);
      }
      // Consistency of the closed form: rewardMean = θ*ᵀ E[x | ŷ = a]; it shrinks a (a βᵀw/c).
      expect(exact.rewardMean).toBeCloseTo(s.theta.reduce((acc, t, i) => acc + t * exact.mean[i]!, 0), 6);
    }
  });

  it("its Gaussian has zero off-support component and the stated mean reward", async () => {
    const s = await makeLinearSubspace(keyFromSeed(7), { ambientDim: 12, latentDim: 3 });
    const exact = exactConditional(s, [...s.theta], 0.3, 2);
    // With θ̂ = θ*: w = β, c = 1 + ν², so E[f* | ŷ = a] = a / (1 + ν²).
    expect(exact.rewardMean).toBeCloseTo(2 / (1 + 0.09), 6);
    const x = await sampleGaussian(keyFromSeed(8), exact.mean, exact.cov, 20000);
    for (const v of offSupportDeviation(s, x)) expect(v).toBeLessThan(1e-4);
    const fr = meanSe(oracleReward(s, x));
    expect(Math.abs(fr.mean - exact.rewardMean)).toBeLessThan(4 * fr.se);
    // Var[f* | ŷ] = 1 − 1/c = ν²/(1 + ν²) when θ̂ = θ*.
    expect(Math.abs(fr.sd ** 2 - 0.09 / 1.09)).toBeLessThan(4 * (0.09 / 1.09) * Math.sqrt(2 / 20000));
    expect(() => exactConditional(s, [1, 2], 0.1, 1)).toThrow(/θ̂ has length 2, expected 12/);
  });
});

describe("subspaceAngle", () => {
  it("is 0 for the same subspace in another basis, √(k + d) for orthogonal ones, √2|sin φ| for lines at angle φ", async () => {
    const s = await makeLinearSubspace(keyFromSeed(9), { ambientDim: 10, latentDim: 2 });
    const { A } = s;
    const c = Math.cos(0.7);
    const sn = Math.sin(0.7);
    const rotated = hostMatrix(
      10,
      2,
      Float32Array.from({ length: 20 }, (_, idx) => {
        const i = Math.floor(idx / 2);
        const a0 = A.data[2 * i]!;
        const a1 = A.data[2 * i + 1]!;
        return idx % 2 === 0 ? c * a0 - sn * a1 : sn * a0 + c * a1;
      }),
    );
    expect(subspaceAngle(rotated, A)).toBeLessThan(1e-3);
    const e = (i: number) => hostMatrix(3, 1, Float32Array.from([0, 1, 2], (j) => (j === i ? 1 : 0)));
    expect(subspaceAngle(e(0), e(1))).toBeCloseTo(Math.SQRT2, 6);
    const line = hostMatrix(2, 1, Float32Array.from([Math.cos(0.3), Math.sin(0.3)]));
    expect(subspaceAngle(line, hostMatrix(2, 1, Float32Array.from([1, 0])))).toBeCloseTo(Math.SQRT2 * Math.sin(0.3), 6);
    expect(() => subspaceAngle(e(0), A)).toThrow(/V̂ has 3 rows but A has 10/);
  });
});
