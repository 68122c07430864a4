import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { randomDirections, slicedWasserstein, wasserstein2Squared1d } from "../src/eval/sliced-wasserstein.js";
import { hostNormal } from "../src/tasks/host-random.js";

beforeAll(async () => {
  await ensureBackend();
});

/** n×D standard normal draws, shifted by `shift` and scaled by `scale`. */
async function gaussian(seed: number, n: number, d: number, shift: number[] = [], scale = 1) {
  const z = await hostNormal(keyFromSeed(seed), n, d);
  return hostMatrix(n, d, Float32Array.from(z, (v, i) => scale * v + (shift[i % d] ?? 0)));
}

describe("wasserstein2Squared1d", () => {
  it("integrates the quantile functions exactly, for unequal sizes", () => {
    // Quantiles of {0, 1} and {0, ½, 1} differ by ½ on [1/3, 2/3): W₂² = ¼ · ⅓.
    expect(wasserstein2Squared1d([1, 0], [0, 0.5, 1])).toBeCloseTo(1 / 12, 14);
    expect(wasserstein2Squared1d([1, 2], [2, 1, 1, 2])).toBe(0);
    expect(wasserstein2Squared1d([0], [3])).toBe(9);
    expect(() => wasserstein2Squared1d([], [1])).toThrow(/empty sample/);
  });
});

describe("slicedWasserstein", () => {
  it("1-D: N(0,1) vs N(1,1) gives W₂ = |Δμ| = 1; N(0,1) vs N(0,4) gives |σ₁ − σ₂| = 1", async () => {
    const n = 5000;
    const a = await gaussian(1, n, 1);
    expect(slicedWasserstein(a, await gaussian(2, 4000, 1, [1]))).toBeGreaterThan(0.97);
    expect(slicedWasserstein(a, await gaussian(2, 4000, 1, [1]))).toBeLessThan(1.03);
    expect(Math.abs(slicedWasserstein(a, await gaussian(3, n, 1, [], 2)) - 1)).toBeLessThan(0.05);
  });

  it("two samples of the same 2-D law are close, and SW is symmetric", async () => {
    const x = await gaussian(4, 3000, 2);
    const y = await gaussian(5, 2500, 2);
    const d = slicedWasserstein(x, y);
    expect(d).toBeLessThan(0.06);
    expect(slicedWasserstein(y, x)).toBe(d);
  });

  it("a translation by Δ gives SW₂² = mean over the directions of (θᵀΔ)², ≈ ‖Δ‖²/D", async () => {
    const x = await gaussian(6, 500, 2);
    const delta = [0.6, -0.8];
    const y = hostMatrix(500, 2, Float32Array.from(x.data, (v, i) => v + delta[i % 2]!));
    const dirs = randomDirections(2, 128, 0);
    let exact = 0;
    for (let c = 0; c < 128; c++) exact += (dirs[2 * c]! * delta[0]! + dirs[2 * c + 1]! * delta[1]!) ** 2 / 128;
    expect(slicedWasserstein(x, y) ** 2).toBeCloseTo(exact, 5);
    // Over isotropic directions E(θᵀΔ)² = ‖Δ‖²/D = 0.5; (θᵀΔ)² = cos²φ has variance 1/8 in 2-D.
    const many = slicedWasserstein(x, y, { projections: 4000, seed: 1 }) ** 2;
    expect(Math.abs(many - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 8 / 4000));
  });

  it("random directions are unit vectors, isotropic (E θθᵀ = I/D), reproducible from the seed", async () => {
    const D = 3;
    const n = 6000;
    const dirs = randomDirections(D, n, 7);
    for (let c = 0; c < 10; c++) expect(Math.hypot(dirs[3 * c]!, dirs[3 * c + 1]!, dirs[3 * c + 2]!)).toBeCloseTo(1, 12);
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += dirs[c * D + i]! ** 2 / n;
      // θ_i² ~ Beta(½, 1) in 3-D: mean ⅓, variance 4/45.
      expect(Math.abs(s - 1 / 3)).toBeLessThan(4 * Math.sqrt(4 / 45 / n));
    }
    expect(Array.from(randomDirections(D, 5, 7))).toEqual(Array.from(dirs.subarray(0, 15)));
    const [a2, a3] = [await gaussian(1, 5, 2), await gaussian(1, 5, 3)];
    expect(() => slicedWasserstein(a2, a3)).toThrow(/2 and 3 columns/);
  });
});
