import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { medianHeuristic, mmd2 } from "../src/eval/mmd.js";
import { subsampleRows } from "../src/eval/subsample.js";
import { hostNormal } from "../src/tasks/host-random.js";

beforeAll(async () => {
  await ensureBackend();
});

async function gaussian(seed: number, n: number, d: number, shift = 0) {
  const z = await hostNormal(keyFromSeed(seed), n, d);
  return hostMatrix(n, d, Float32Array.from(z, (v, i) => v + (i % d === 0 ? shift : 0)));
}

/**
 * Population MMD² between N(0, I_D) and N(Δ, I_D) with kernel exp(−‖x − y‖²/(2h²)):
 * E k(X, X') = (h²/(h² + 2))^{D/2}, E k(X, Y) = (h²/(h² + 2))^{D/2} exp(−‖Δ‖²/(2(h² + 2))).
 */
function populationMmd2(delta: number, h: number, d: number): number {
  const c = (h * h / (h * h + 2)) ** (d / 2);
  return 2 * c * (1 - Math.exp(-(delta * delta) / (2 * (h * h + 2))));
}

describe("mmd2", () => {
  it("is the unbiased U-statistic: a hand-computed 1-D example", () => {
    // x = {0, 1}, y = {0, 2}, h = 1: within-x pairs k(0,1) = e^{−1/2}, within-y k(0,2) = e^{−2},
    // cross pairs k(0,0) + k(0,2) + k(1,0) + k(1,2) = 1 + e^{−2} + 2e^{−1/2}.
    const x = hostMatrix(2, 1, Float32Array.from([0, 1]));
    const y = hostMatrix(2, 1, Float32Array.from([0, 2]));
    const expected = Math.exp(-0.5) + Math.exp(-2) - (2 * (1 + Math.exp(-2) + 2 * Math.exp(-0.5))) / 4;
    expect(mmd2(x, y, { bandwidth: 1 })).toBeCloseTo(expected, 12);
    expect(() => mmd2(x, hostMatrix(1, 1), { bandwidth: 1 })).toThrow(/at least 2 rows/);
  });

  it("is ≈ 0 for two samples of the same law", async () => {
    const v = mmd2(await gaussian(1, 1500, 2), await gaussian(2, 1500, 2));
    expect(Math.abs(v)).toBeLessThan(3e-3);
  });

  it("matches the closed-form population MMD² for a Gaussian shift (fixed bandwidth)", async () => {
    const x = await gaussian(3, 1500, 2);
    for (const delta of [0.5, 1, 2]) {
      const got = mmd2(x, await gaussian(4, 1500, 2, delta), { bandwidth: 1 });
      expect(Math.abs(got - populationMmd2(delta, 1, 2))).toBeLessThan(0.012);
    }
  });

  it("is positive and decreases as the laws get closer (median-heuristic bandwidth)", async () => {
    const x = await gaussian(5, 1000, 2);
    const values: number[] = [];
    for (const s of [2, 1, 0.5, 0.25]) values.push(mmd2(x, await gaussian(6, 1000, 2, s)));
    for (const v of values) expect(v).toBeGreaterThan(0);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThan(values[i - 1]!);
  });

  it("subsamples deterministically to maxPoints per side", async () => {
    const x = await gaussian(7, 3000, 2);
    const y = await gaussian(8, 3000, 2, 1);
    const a = mmd2(x, y, { maxPoints: 400, seed: 3 });
    expect(mmd2(x, y, { maxPoints: 400, seed: 3 })).toBe(a);
    // The same value from the explicitly subsampled sides (x with the seed, y with seed + 1).
    const manual = mmd2(subsampleRows(x, 400, 3), subsampleRows(y, 400, 4), { seed: 3 });
    expect(manual).toBeCloseTo(a, 12);
    expect(subsampleRows(x, 400, 3).rows).toBe(400);
    expect(new Set(Array.from({ length: 400 }, (_, i) => subsampleRows(x, 400, 3).data[2 * i])).size).toBe(400);
  });

  it("median heuristic ≈ the median distance between standard normals in 2-D (√2 · √(2 ln 2))", async () => {
    // ‖X − X'‖ for X, X' ~ N(0, I₂) is Rayleigh with scale √2: median √2 · √(2 ln 2) ≈ 1.665.
    const h = medianHeuristic(await gaussian(9, 1000, 2));
    expect(Math.abs(h - Math.SQRT2 * Math.sqrt(2 * Math.LN2))).toBeLessThan(0.03);
    const [a2, a3] = [await gaussian(1, 5, 2), await gaussian(1, 5, 3)];
    expect(() => mmd2(a2, a3)).toThrow(/2 and 3 columns/);
  });
});
