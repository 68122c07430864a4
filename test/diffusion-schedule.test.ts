/**
 * Noise schedules, step coefficients and timestep respacing against independent float64 references
 * written here from the published formulas (DDPM, Nichol & Dhariwal, diffusers' schedulers), never
 * against numbers the library produced.
 */
import { describe, expect, it } from "vitest";
import { respace } from "../src/diffusion/respacing.js";
import { alphaBarAt, makeBetas, makeSchedule, type Schedule } from "../src/diffusion/schedule.js";
import { ddimCoefficients, ddpmCoefficients } from "../src/diffusion/step.js";

/** Relative closeness in float64 (the schedules are host-side float64 code). */
function expectRel(got: number, want: number, rel = 1e-12): void {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.abs(want) + 1e-300);
}

/** ᾱ_t for t = 1..T as a plain cumulative product of (1 − β). */
function cumprod(betas: readonly number[]): number[] {
  const out: number[] = [];
  let p = 1;
  for (const b of betas) out.push((p *= 1 - b));
  return out;
}

/** Round half to even, as numpy's `np.round` / `ndarray.round` does (JS Math.round rounds half up). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

describe("linear schedule (Ho et al. 2020: β from 1e-4 to 0.02, T = 1000)", () => {
  const s = makeSchedule({ kind: "linear", steps: 1000 });
  const beta = (t: number) => 1e-4 + ((0.02 - 1e-4) * (t - 1)) / 999; // paper's t = 1..T

  it("has the published endpoints and midpoint", () => {
    expect(s.T).toBe(1000);
    expectRel(s.betas[0]!, 1e-4);
    expectRel(s.betas[499]!, 1e-4 + (0.0199 * 499) / 999);
    expectRel(s.betas[999]!, 0.02);
    for (const t of [1, 2, 137, 500, 501, 999, 1000]) expectRel(s.betas[t - 1]!, beta(t));
  });

  it("ᾱ_t is the product of (1 − β_s), and ᾱ_1000 ≈ 4.0358e-5", () => {
    // Reference product in log space (a different summation from a running product).
    let logAb = 0;
    for (let t = 1; t <= 1000; t++) {
      logAb += Math.log1p(-beta(t));
      if (t === 1 || t === 10 || t === 500 || t === 1000) expectRel(s.alphaBars[t - 1]!, Math.exp(logAb), 1e-10);
    }
    expectRel(s.alphaBars[999]!, 4.0358e-5, 1e-4); // the value quoted for DDPM's schedule
    expectRel(s.alphas[41]!, 1 - beta(42));
  });

  it("alphaBarAt(−1) is 1 (clean data), other indices read ᾱ", () => {
    expect(alphaBarAt(s, -1)).toBe(1);
    expect(alphaBarAt(s, 10)).toBe(s.alphaBars[10]);
  });
});

describe("scaled-linear schedule (diffusers: linspace(√β_start, √β_end, T)²)", () => {
  it("matches Stable Diffusion's 0.00085..0.012", () => {
    const T = 1000;
    const s = makeSchedule({ kind: "scaled-linear", steps: T, betaStart: 0.00085, betaEnd: 0.012 });
    const a = Math.sqrt(0.00085);
    const b = Math.sqrt(0.012);
    const ref = Array.from({ length: T }, (_, i) => (a + ((b - a) * i) / (T - 1)) ** 2);
    expectRel(s.betas[0]!, 0.00085);
    expectRel(s.betas[T - 1]!, 0.012);
    for (const i of [0, 1, 250, 499, 500, 998, 999]) expectRel(s.betas[i]!, ref[i]!);
    const ab = cumprod(ref);
    for (const i of [0, 499, 999]) expectRel(s.alphaBars[i]!, ab[i]!, 1e-10);
    // Not the same as a linear schedule with the same endpoints: the midpoint is lower.
    expect(s.betas[499]!).toBeLessThan((0.00085 + 0.012) / 2 - 1e-4);
  });
});

describe("cosine schedule (Nichol & Dhariwal 2021)", () => {
  const f = (t: number, T: number) => Math.cos((((t / T) + 0.008) / 1.008) * (Math.PI / 2)) ** 2;

  for (const T of [1000, 100, 10]) {
    it(`ᾱ_t = f(t)/f(0) wherever β was not capped, and β_T = 0.999 (T = ${T})`, () => {
      const s = makeSchedule({ kind: "cosine", steps: T });
      // β_t uncapped = 1 − f(t)/f(t−1); find where the 0.999 cap applies.
      const capped = Array.from({ length: T }, (_, i) => 1 - f(i + 1, T) / f(i, T) > 0.999);
      expect(capped[T - 1]).toBe(true); // f(T) ≈ 0 → the last β is capped
      const firstCap = capped.indexOf(true);
      for (let i = 0; i < firstCap; i++) expectRel(s.alphaBars[i]!, f(i + 1, T) / f(0, T), 1e-9);
      for (let i = 0; i < T; i++) {
        if (capped[i]) expect(s.betas[i]).toBe(0.999);
        else expectRel(s.betas[i]!, 1 - f(i + 1, T) / f(i, T), 1e-9);
        expect(s.betas[i]!).toBeGreaterThan(0);
        expect(s.betas[i]!).toBeLessThanOrEqual(0.999);
      }
      // Small at the start (the s = 0.008 offset keeps β_1 away from 0 but tiny).
      expect(s.betas[0]!).toBeLessThan(T >= 100 ? 1e-3 : 0.05);
    });
  }
});

describe("custom betas and validation", () => {
  it("uses the given betas", () => {
    const betas = [0.1, 0.2, 0.3];
    const s = makeSchedule({ kind: "custom", steps: 3, betas });
    expect(Array.from(s.betas)).toEqual(betas);
    expectRel(s.alphaBars[2]!, 0.9 * 0.8 * 0.7);
  });

  it("rejects out-of-range betas with a message naming the index", () => {
    expect(() => makeSchedule({ kind: "custom", steps: 3, betas: [0.1, 1, 0.2] })).toThrow(/betas\[1\] = 1 is not in \(0, 1\)/);
    expect(() => makeSchedule({ kind: "custom", steps: 2, betas: [0, 0.1] })).toThrow(/betas\[0\] = 0 is not in \(0, 1\)/);
    expect(() => makeSchedule({ kind: "custom", steps: 2, betas: [0.1, Number.NaN] })).toThrow(/betas\[1\]/);
    expect(() => makeSchedule({ kind: "custom", steps: 2, betas: [-0.1, 0.1] })).toThrow(/not in \(0, 1\)/);
  });

  it("rejects a wrong number of betas, a bad T and a bad linear range", () => {
    expect(() => makeSchedule({ kind: "custom", steps: 3, betas: [0.1, 0.2] })).toThrow(/needs 3 betas, got 2/);
    expect(() => makeSchedule({ kind: "custom", steps: 3 })).toThrow(/needs 3 betas, got none/);
    expect(() => makeBetas({ kind: "linear", steps: 0 })).toThrow(/steps must be a whole number/);
    expect(() => makeBetas({ kind: "linear", steps: 2.5 })).toThrow(/steps must be a whole number/);
    expect(() => makeSchedule({ kind: "linear", steps: 10, betaStart: 0.1, betaEnd: 1.5 })).toThrow(/not in \(0, 1\).*betaStart\/betaEnd/);
    expect(() => makeSchedule({ kind: "linear", steps: 10, betaStart: 0, betaEnd: 0.02 })).toThrow(/β_1 = 0 is not in \(0, 1\)/);
    expect(() => makeSchedule({ kind: "nope" as never, steps: 10 })).toThrow(/unknown kind "nope"/);
  });
});

describe("DDIM step coefficients vs diffusers' DDIMScheduler", () => {
  const s = makeSchedule({ kind: "linear", steps: 1000 });
  /** diffusers `_get_variance` (set_alpha_to_one = True: ᾱ_prev = 1 before the first step). */
  const getVariance = (sch: Schedule, t: number, prev: number) => {
    const at = sch.alphaBars[t]!;
    const ap = prev >= 0 ? sch.alphaBars[prev]! : 1;
    return ((1 - ap) / (1 - at)) * (1 - at / ap);
  };

  for (const [t, prev] of [
    [999, 899],
    [500, 499],
    [99, -1],
    [10, 3],
  ] as const) {
    for (const eta of [0, 0.3, 1]) {
      it(`t=${t} → ${prev}, η=${eta}: σ = η·√variance, direction √(1−ᾱ_prev−σ²), x0 coefficient √ᾱ_prev`, () => {
        const c = ddimCoefficients(s, t, prev, eta);
        const ap = prev >= 0 ? s.alphaBars[prev]! : 1;
        const sigma = eta * Math.sqrt(getVariance(s, t, prev));
        expectRel(c.sigma, sigma, 1e-12);
        expectRel(c.cX0, Math.sqrt(ap));
        expectRel(c.cEps, Math.sqrt(1 - ap - sigma * sigma), 1e-10);
        expect(c.cXt).toBe(0);
        expect(c.t.alphaBar).toBe(s.alphaBars[t]);
        expect(c.s.alphaBar).toBe(ap);
      });
    }
  }

  it("η = 1 with s = t−1 has the DDPM posterior variance β̃_t", () => {
    for (const t of [1, 50, 999]) {
      const c = ddimCoefficients(s, t, t - 1, 1);
      const bTilde = ((1 - s.alphaBars[t - 1]!) / (1 - s.alphaBars[t]!)) * s.betas[t]!;
      expectRel(c.sigma ** 2, bTilde, 1e-10);
    }
  });

  it("rejects a negative η", () => {
    expect(() => ddimCoefficients(s, 10, 9, -0.5)).toThrow(/eta must be ≥ 0/);
  });
});

describe("DDPM posterior coefficients (Ho et al. eq. 7)", () => {
  const s = makeSchedule({ kind: "cosine", steps: 200 });
  for (const t of [1, 2, 100, 199]) {
    it(`t index ${t}: μ̃ = √ᾱ_{t−1} β_t/(1−ᾱ_t) x_0 + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) x_t, β̃ = (1−ᾱ_{t−1})/(1−ᾱ_t) β_t`, () => {
      const at = s.alphaBars[t]!;
      const ap = s.alphaBars[t - 1]!;
      const beta = s.betas[t]!;
      const alpha = 1 - beta;
      const small = ddpmCoefficients(s, t, t - 1, "small");
      expectRel(small.cX0, (Math.sqrt(ap) * beta) / (1 - at), 1e-9);
      expectRel(small.cXt, (Math.sqrt(alpha) * (1 - ap)) / (1 - at), 1e-9);
      expect(small.cEps).toBe(0);
      expectRel(small.sigma ** 2, ((1 - ap) / (1 - at)) * beta, 1e-9);
      const large = ddpmCoefficients(s, t, t - 1, "large");
      expectRel(large.sigma ** 2, beta, 1e-9);
      expectRel(large.cX0, small.cX0, 1e-15);
    });
  }

  it("the step to clean data (s = −1) has σ = 0 and lands on x̂_0", () => {
    const c = ddpmCoefficients(s, 0, -1, "small");
    expect(c.sigma).toBe(0);
    expect(ddpmCoefficients(s, 0, -1, "large").sigma).toBe(0);
    // ᾱ_{−1} = 1: μ̃ = β_1/(1−ᾱ_1) x_0 + 0 · x_t = x_0 (since 1 − ᾱ_1 = β_1).
    expectRel(c.cX0, 1, 1e-12);
    expect(Math.abs(c.cXt)).toBeLessThan(1e-15);
  });

  it("a respaced step uses β' = 1 − ᾱ_t/ᾱ_s", () => {
    const t = 150;
    const sIdx = 120;
    const at = s.alphaBars[t]!;
    const as = s.alphaBars[sIdx]!;
    const bp = 1 - at / as;
    const c = ddpmCoefficients(s, t, sIdx, "small");
    expectRel(c.sigma ** 2, ((1 - as) / (1 - at)) * bp, 1e-9);
    expectRel(c.cX0, (Math.sqrt(as) * bp) / (1 - at), 1e-9);
    expectRel(c.cXt, (Math.sqrt(at / as) * (1 - as)) / (1 - at), 1e-9);
  });
});

describe("respace vs diffusers' timestep_spacing (T = 1000, S = 10)", () => {
  // Hand-derived from diffusers' DDIMScheduler.set_timesteps:
  //   linspace: np.linspace(0, 999, 10).round()[::-1]          → 999, 888, …, 111, 0 (999/9 = 111)
  //   leading:  (np.arange(0, 10) * (1000 // 10)).round()[::-1] → 900, 800, …, 0
  //   trailing: np.round(np.arange(1000, 0, -100)) − 1          → 999, 899, …, 99
  it("linspace", () => {
    expect(respace(1000, 10, "linspace")).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
  });
  it("leading", () => {
    expect(respace(1000, 10, "leading")).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
  });
  it("trailing (the default)", () => {
    expect(respace(1000, 10, "trailing")).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    expect(respace(1000, 10)).toEqual(respace(1000, 10, "trailing"));
  });
  it("uneven ratios (T = 1000, S = 3 and S = 7)", () => {
    // trailing: arange(1000, 0, −333.33…) = 1000, 666.67, 333.33 → 1000, 667, 333 → −1
    expect(respace(1000, 3, "trailing")).toEqual([999, 666, 332]);
    // leading: 1000 // 7 = 142 → 852, 710, 568, 426, 284, 142, 0
    expect(respace(1000, 7, "leading")).toEqual([852, 710, 568, 426, 284, 142, 0]);
    // linspace(0, 999, 3) = 0, 499.5, 999 → np.round(499.5) = 500 (half to even)
    expect(respace(1000, 3, "linspace")).toEqual([999, 500, 0]);
  });
  it("S = T visits every training step; bad S throws", () => {
    const all = respace(50, 50, "trailing");
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => 49 - i));
    expect(respace(50, 50, "linspace")).toEqual(all);
    expect(respace(50, 50, "leading")).toEqual(all);
    expect(() => respace(50, 0)).toThrow(/1\.\.50/);
    expect(() => respace(50, 51)).toThrow(/1\.\.50/);
    expect(() => respace(50, 2.5)).toThrow(/whole number/);
  });

  it("agrees with numpy-faithful linspace / trailing / leading wherever no position is a half-integer", () => {
    // numpy: linspace(0, T−1, S)[i] = i·(T−1)/(S−1) (last = T−1 exactly); arange(T, 0, −T/S)[k] = T − k·T/S.
    let compared = 0;
    for (const T of [100, 1000]) {
      for (let S = 2; S <= 100; S++) {
        const lin = Array.from({ length: S }, (_, i) => (i === S - 1 ? T - 1 : (i * (T - 1)) / (S - 1))).reverse();
        const trail = Array.from({ length: S }, (_, k) => T - (k * T) / S);
        const isHalf = (v: number) => Math.abs(v - Math.floor(v) - 0.5) < 1e-9;
        if (!lin.some(isHalf)) {
          expect(respace(T, S, "linspace")).toEqual(lin.map(roundHalfEven));
          compared++;
        }
        if (!trail.some(isHalf)) {
          expect(respace(T, S, "trailing")).toEqual(trail.map((v) => roundHalfEven(v) - 1));
          compared++;
        }
        const r = Math.floor(T / S);
        expect(respace(T, S, "leading")).toEqual(Array.from({ length: S }, (_, k) => (S - 1 - k) * r));
      }
    }
    expect(compared).toBeGreaterThan(200);
  });

  /**
   * numpy rounds halves to even (Math.round rounds them up): at T = 1000 with S = 16 (step ratio 62.5)
   * diffusers' trailing spacing visits 811, 561, 311, 61.
   */
  it("half-integer positions round half to even, like numpy (T = 1000, S = 16 and 32)", () => {
    for (const S of [16, 32]) {
      const trailing = Array.from({ length: S }, (_, k) => roundHalfEven(1000 - (k * 1000) / S) - 1);
      expect(respace(1000, S, "trailing")).toEqual(trailing);
    }
    // linspace(0, 9, 5) = 0, 2.25, 4.5, 6.75, 9 → 0, 2, 4, 7, 9 (4.5 → 4)
    expect(respace(10, 5, "linspace")).toEqual([9, 7, 4, 2, 0]);
  });
});
