/**
 * SiLU: the forward value and the gradient match x·σ(x) and σ(x)(1 + x(1 − σ(x))) computed on the host in
 * float64, and both stay finite at |x| = 1000 (jax-js's nn.silu has a NaN gradient below x ≈ −88).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, grad, np, toHostSync, type JArray } from "../src/backend/index.js";
import { silu } from "../src/nn/activations.js";

beforeAll(async () => {
  await ensureBackend();
});

const xs = [-1000, -120, -89, -30, -5, -1, -0.1, 0, 0.1, 1, 5, 30, 89, 120, 1000];
const sigma = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

describe("silu", () => {
  it("matches x·σ(x) in value", () => {
    const y = toHostSync(silu(np.array(new Float32Array(xs))));
    xs.forEach((x, i) => expect(y[i]!).toBeCloseTo(x * sigma(x), Math.abs(x) > 10 ? 3 : 6));
  });

  it("has the exact, finite gradient σ(x)(1 + x(1 − σ(x))) everywhere", () => {
    const g = toHostSync(grad((x: JArray) => np.sum(silu(x)))(np.array(new Float32Array(xs))));
    xs.forEach((x, i) => {
      expect(Number.isFinite(g[i]!)).toBe(true);
      const s = sigma(x);
      expect(g[i]!).toBeCloseTo(s * (1 + x * (1 - s)), 5);
    });
  });
});
