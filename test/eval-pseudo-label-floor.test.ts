/**
 * pseudoLabelFloor against the closed form of the Gaussian case: with y ~ N(0, 1), an exact reward model f̂ = y and
 * pseudo-labels ŷ = y + ν ξ, y | ŷ = a ~ N(a / (1 + ν²), ν² / (1 + ν²)) (fixtures.md §2 in one dimension), so the
 * floor's bias is −a ν² / (1 + ν²), its sd ν / √(1 + ν²), and its MAE the folded normal's mean. The pool is a
 * sample of the N(0, 1) law, so each number is checked within 4 standard errors of the weighted sample.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { floorIsSupported, pseudoLabelFloor } from "../src/eval/pseudo-label-floor.js";
import { normalCdf } from "../src/guidance/exact.js";
import { hostNormal } from "../src/tasks/host-random.js";

beforeAll(async () => {
  await ensureBackend();
});

/** E|Z| for Z ~ N(b, s²). */
const foldedMean = (b: number, s: number) => s * Math.sqrt(2 / Math.PI) * Math.exp((-b * b) / (2 * s * s)) + b * (1 - 2 * normalCdf(-b / s));

describe("pseudoLabelFloor", async () => {
  const y = Float64Array.from(await hostNormal(keyFromSeed(11), 200_000, 1));

  for (const [nu, a] of [[0.5, 0], [0.5, 1], [0.3, -1.5], [1, 2]] as const) {
    it(`matches the Gaussian closed form at ν = ${nu}, a = ${a}`, () => {
      const got = pseudoLabelFloor(y, y, nu, a);
      const bias = (-a * nu * nu) / (1 + nu * nu);
      const sd = nu / Math.sqrt(1 + nu * nu);
      const se = sd / Math.sqrt(got.effectiveN);
      expect(got.effectiveN).toBeGreaterThan(1000);
      expect(Math.abs(got.bias - bias)).toBeLessThan(4 * se);
      expect(Math.abs(got.std - sd)).toBeLessThan(4 * se);
      expect(Math.abs(got.mae - foldedMean(bias, sd))).toBeLessThan(4 * se);
    });
  }

  it("rests on f̂'s error: with f̂ = y + e the floor grows, with f̂ = y it is the ν-only value", () => {
    const noisy = Float64Array.from(y, (v, i) => v + 0.4 * Math.sin(i * 12.9898));
    expect(pseudoLabelFloor(y, noisy, 0.3, 0.5).mae).toBeGreaterThan(1.2 * pseudoLabelFloor(y, y, 0.3, 0.5).mae);
  });

  it("stays finite far outside the pool (resting on the nearest molecules), and refuses bad input", () => {
    const far = pseudoLabelFloor(y, y, 0.1, 50);
    const top = y.reduce((m, v) => Math.max(m, v), -Infinity);
    expect(far.effectiveN).toBeLessThan(1.5);
    expect(far.mae).toBeCloseTo(50 - top, 3);
    // Tables show no floor there (it rests on < 10 molecules), and show it inside the pool.
    expect(floorIsSupported(far)).toBe(false);
    expect(floorIsSupported(pseudoLabelFloor(y, y, 0.1, 0))).toBe(true);
    expect(() => pseudoLabelFloor([1, 2], [1], 0.1, 0)).toThrow(/^pseudoLabelFloor: y has 2 values and fHat 1/);
    expect(() => pseudoLabelFloor([1], [1], 0, 0)).toThrow(/ν must be > 0, got 0$/);
  });
});
