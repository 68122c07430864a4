/** RWR weights and ESS (methods/rwr.ts) against hand computations; bad inputs refused clearly. */
import { describe, expect, it } from "vitest";
import { effectiveSampleSize, rwrWeights } from "../src/training/rwr.js";

describe("rwr weights", () => {
  it("softmax(r/τ) and (Σw)²/Σw² match a hand computation", () => {
    const r = [0, 1, 2];
    const tau = 0.5;
    const e = r.map((v) => Math.exp(v / tau)); // 1, e², e⁴
    const z = e[0]! + e[1]! + e[2]!;
    const w = rwrWeights(r, tau);
    w.forEach((v, i) => expect(v).toBeCloseTo(e[i]! / z, 14));
    const ess = (z * z) / (e[0]! ** 2 + e[1]! ** 2 + e[2]! ** 2);
    expect(effectiveSampleSize(w)).toBeCloseTo(ess, 12);
    expect(effectiveSampleSize(e)).toBeCloseTo(ess, 12); // scale-free
    expect(effectiveSampleSize([1, 1, 1, 1])).toBe(4);
    expect(effectiveSampleSize([0, 0, 5])).toBe(1);
    // Large rewards do not overflow (max-shifted).
    const big = rwrWeights([1000, 1000], 0.01);
    expect([...big]).toEqual([0.5, 0.5]);
  });

  it("refuses τ ≤ 0 and non-finite rewards", () => {
    expect(() => rwrWeights([1, 2], 0)).toThrow("alpha (τ) must be > 0, got 0");
    expect(() => rwrWeights([1, NaN], 1)).toThrow("reward 2 of 2 is not finite");
    expect(() => effectiveSampleSize([0, 0])).toThrow("all weights are zero");
  });
});
