/**
 * RGDM's shift (methods/rgdm-shift.ts) against independent computations: projected ascent for a linear
 * reward has closed forms (argmax: δ = ρ b/‖b‖; proximal: δ = min(σ²‖b‖/τ, ρ) b/‖b‖), candidates are
 * uniform in the ball, and the payoff draw picks candidate k with probability ∝ exp(r_k/τ).
 */
import { describe, expect, it } from "vitest";
import { ascentUpdate, ballCandidates, checkShiftParameters, gradientShift, hostRng, projectBall, selectCandidates, weightedCandidates } from "../src/training/rgdm-shift.js";

const b = [1, 0.5];
const nb = Math.hypot(1, 0.5);

describe("rgdm shift", () => {
  it("projected ascent on a linear reward gives the closed forms", async () => {
    const center = new Float32Array([0.3, -2, 5, 1]);
    const radius = [0.5, 0.1];
    const sigma = [0.2, 0.9];
    const gradAt = (x: Float32Array) => Float32Array.from(x, (_, i) => b[i % 2]!);
    const argmax = await gradientShift({ center, dim: 2, radius, sigma, tau: 0.7, rule: "argmax", steps: 3, gradAt });
    const prox = await gradientShift({ center, dim: 2, radius, sigma, tau: 0.7, rule: "proximal", steps: 2, gradAt });
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        expect(argmax[i * 2 + j]).toBeCloseTo((radius[i]! * b[j]!) / nb, 10);
        const len = Math.min((sigma[i]! ** 2 * nb) / 0.7, radius[i]!);
        expect(prox[i * 2 + j]).toBeCloseTo((len * b[j]!) / nb, 10);
      }
    }
    // Row 0 is inside the ball (σ²‖b‖/τ = 0.064 < 0.5), row 1 is clipped (1.29 > 0.1).
    expect(Math.hypot(prox[0]!, prox[1]!)).toBeLessThan(0.5);
    expect(Math.hypot(prox[2]!, prox[3]!)).toBeCloseTo(0.1, 10);
  });

  it("projection keeps points inside and scales outside points to the sphere", () => {
    const d = projectBall(new Float64Array([3, 4, 0.1, 0.1, 0, 0]), 2, [1, 1, 0]);
    expect([...d]).toEqual([expect.closeTo(0.6, 12), expect.closeTo(0.8, 12), 0.1, 0.1, 0, 0]);
    // argmax rule with a zero gradient leaves δ unchanged
    const z = ascentUpdate("argmax", new Float64Array([0.2, 0]), [0, 0], 2, [1], [1], 1);
    expect([...z]).toEqual([0.2, 0]);
  });

  it("candidates are uniform in the ball (‖δ‖ ≤ ρ, E[(‖δ‖/ρ)^D] = 1/2, zero mean)", () => {
    const B = 2000, K = 5, D = 3;
    const radius = Array.from({ length: B }, (_, i) => 0.5 + (i % 3));
    const c = ballCandidates(hostRng(1), B, K, D, radius);
    let s = 0, m0 = 0;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < B; i++) {
        const r = Math.hypot(c[(k * B + i) * D]!, c[(k * B + i) * D + 1]!, c[(k * B + i) * D + 2]!);
        expect(r).toBeLessThanOrEqual(radius[i]! + 1e-12);
        s += (r / radius[i]!) ** D;
        m0 += c[(k * B + i) * D]! / radius[i]!;
      }
    }
    const n = B * K;
    // (r/ρ)^D ~ U(0,1): mean 1/2, sd 1/√12; first coordinate/ρ has variance 1/(D+2).
    expect(Math.abs(s / n - 0.5)).toBeLessThan(4 / Math.sqrt(12 * n));
    expect(Math.abs(m0 / n)).toBeLessThan(4 / Math.sqrt((D + 2) * n));
  });

  it("the payoff draw picks candidate k with probability ∝ exp(r_k/τ)", () => {
    const K = 4, B = 20000, tau = 0.5;
    const rk = [0, 0.3, -0.2, 1];
    const rewards = new Float64Array(K * B);
    for (let k = 0; k < K; k++) for (let i = 0; i < B; i++) rewards[k * B + i] = rk[k]!;
    const pick = selectCandidates(hostRng(7), rewards, B, K, tau);
    const z = rk.reduce((a, r) => a + Math.exp(r / tau), 0);
    for (let k = 0; k < K; k++) {
      const p = Math.exp(rk[k]! / tau) / z;
      const freq = pick.filter((v) => v === k).length / B;
      expect(Math.abs(freq - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / B));
    }
    // The weighted mean is Σ_k p_k δ_k.
    const cand = new Float64Array([1, 0, 0, 1]); // K = 2, B = 1, D = 2
    const w = weightedCandidates(cand, [0, Math.log(3) * tau], 1, 2, 2, tau);
    expect(w[0]).toBeCloseTo(0.25, 12);
    expect(w[1]).toBeCloseTo(0.75, 12);
  });

  it("refuses τ ≤ 0 and ρ < 0 with the config names", () => {
    expect(() => checkShiftParameters(0, 1, "method[2]")).toThrow("method[2].alpha (τ) must be > 0, got 0");
    expect(() => checkShiftParameters(1, -0.1)).toThrow("method.rho (ρ) must be ≥ 0, got -0.1");
    expect(() => selectCandidates(hostRng(1), [1, 2, 3], 2, 2, 1)).toThrow("3 candidate rewards for 2 rows × 2 candidates");
  });
});
