/**
 * Timestep grids (src/diffusion/respacing.ts) against diffusers' DDIMScheduler/DDPMScheduler.set_timesteps:
 *  - an independent transcription of numpy's float64 `linspace`, `arange` and `round` (written here as numpy
 *    computes them, not as the library does), with diffusers' three formulas applied literally;
 *  - literal grids copied from diffusers: tests/schedulers/test_scheduler_ddim.py (test_steps_offset) and
 *    docs/source/en/using-diffusers/schedulers.md ("Timestep spacing");
 *  - literal grids printed by numpy 2.4 running diffusers' formulas, at the points where numpy's rounding
 *    error decides a tie (the command is quoted beside each).
 */
import { describe, expect, it } from "vitest";
import { respace, type Spacing } from "../src/diffusion/respacing.js";
import { ddimPlan } from "../src/diffusion/samplers/ddim.js";
import { ddpmPlan } from "../src/diffusion/samplers/ddpm.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { parseConfig } from "../src/runners/config.js";

/** numpy.rint: nearest, halves to even. */
function rint(x: number): number {
  const lo = Math.floor(x);
  const frac = x - lo;
  if (frac !== 0.5) return frac < 0.5 ? lo : lo + 1;
  return lo % 2 === 0 ? lo : lo + 1;
}

/** numpy.arange(start, stop, step) for doubles: length ⌈(stop − start)/step⌉, then PyArray fill: start + i·(a₁ − a₀). */
function npArange(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  if (len === 0) return [];
  const a1 = start + step;
  const delta = a1 - start;
  return Array.from({ length: len }, (_, i) => (i === 0 ? start : i === 1 ? a1 : start + i * delta));
}

/** numpy.linspace(start, stop, num) (endpoint=True): y = arange(num) · ((stop − start)/(num − 1)) + start, y[-1] = stop. */
function npLinspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const step = (stop - start) / div;
  const y = Array.from({ length: num }, (_, i) => (div > 0 ? i * step + start : start));
  if (num > 1) y[num - 1] = stop;
  return y;
}

/** diffusers' set_timesteps (DDIM and DDPM share it), literally: may return S + 1 entries for "trailing". */
function diffusersTimesteps(T: number, S: number, spacing: Spacing, stepsOffset = 0): number[] {
  if (spacing === "linspace") return npLinspace(0, T - 1, S).map(rint).reverse();
  if (spacing === "leading") {
    const ratio = Math.floor(T / S);
    return npArange(0, S, 1).map((i) => rint(i * ratio)).reverse().map((t) => t + stepsOffset);
  }
  return npArange(T, 0, -T / S).map(rint).map((t) => t - 1);
}

const SPACINGS: Spacing[] = ["linspace", "leading", "trailing"];

describe("timestep grids equal diffusers' set_timesteps", () => {
  it("literal grids from diffusers' own tests and docs", () => {
    // tests/schedulers/test_scheduler_ddim.py, test_steps_offset: T = 1000, set_timesteps(5), steps_offset = 1.
    expect(respace(1000, 5, "leading", 1)).toEqual([801, 601, 401, 201, 1]);
    // docs/source/en/using-diffusers/schedulers.md, "Timestep spacing" table (T = 1000, S = 10).
    expect(respace(1000, 10, "leading")).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(respace(1000, 10, "trailing")).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  });

  // diffusers' defaults: DDIMScheduler and DDPMScheduler.__init__ take timestep_spacing="leading", steps_offset=0
  // (src/diffusers/schedulers/scheduling_ddim.py, scheduling_ddpm.py); Stable Diffusion's scheduler config sets steps_offset=1.
  it("diffusers' default (leading, steps_offset 0) and Stable Diffusion's grid (leading, steps_offset 1), T = 1000, S = 50", () => {
    expect(respace(1000, 50, "leading")).toEqual(Array.from({ length: 50 }, (_, k) => 980 - 20 * k));
    const sd = respace(1000, 50, "leading", 1);
    expect(sd[0]).toBe(981);
    expect(sd[1]).toBe(961);
    expect(sd[49]).toBe(1);
    expect(sd).toEqual(Array.from({ length: 50 }, (_, k) => 981 - 20 * k));
    expect(sd).toEqual(diffusersTimesteps(1000, 50, "leading", 1));
  });

  it("numpy's rounding error at exact ties, bit for bit (literal numpy 2.4 output)", () => {
    // np.round(np.arange(1000, 0, -1000/48)).astype(np.int64) - 1: the exact positions 937.5, 687.5, 437.5, 187.5
    // are computed a hair below .5, so numpy gives 936, 686, 436, 186 (exact half-to-even would give 937, …).
    const trailing48 = [
      999, 978, 957, 936, 916, 895, 874, 853, 832, 811, 791, 770, 749, 728, 707, 686, 666, 645, 624, 603, 582, 561, 541, 520,
      499, 478, 457, 436, 416, 395, 374, 353, 332, 311, 291, 270, 249, 228, 207, 186, 166, 145, 124, 103, 82, 61, 41, 20,
    ];
    expect(respace(1000, 48, "trailing")).toEqual(trailing48);
    // np.linspace(0, 999, 27).round()[::-1].astype(np.int64): position 13 is 13·999/26 = 499.5 exactly in rationals,
    // computed by numpy as 13·(999/26) just below it → 499 (not 500).
    const linspace27 = [999, 961, 922, 884, 845, 807, 768, 730, 692, 653, 615, 576, 538, 499, 461, 423, 384, 346, 307, 269, 231, 192, 154, 115, 77, 38, 0];
    expect(respace(1000, 27, "linspace")).toEqual(linspace27);
    // (np.arange(0, 7) * (1000 // 7)).round()[::-1].astype(np.int64) + 1
    expect(respace(1000, 7, "leading", 1)).toEqual([853, 711, 569, 427, 285, 143, 1]);
    // np.round(np.arange(15, 0, -15/13)).astype(np.int64) - 1 has 14 entries, the last one −1 (arange overshoots):
    // we keep the 13 real ones.
    expect(diffusersTimesteps(15, 13, "trailing")).toEqual([14, 13, 12, 11, 9, 8, 7, 6, 5, 4, 2, 1, 0, -1]);
    expect(respace(15, 13, "trailing")).toEqual([14, 13, 12, 11, 9, 8, 7, 6, 5, 4, 2, 1, 0]);
  });

  it("the numpy transcription agrees for every S at several T (arange's extra −1 entry dropped)", () => {
    let overshoots = 0;
    let grids = 0;
    for (const T of [1000, 100, 50, 37, 17, 15, 2, 1]) {
      for (let S = 1; S <= T; S++) {
        for (const spacing of SPACINGS) {
          const expected = diffusersTimesteps(T, S, spacing);
          if (expected.length === S + 1) {
            // Only arange can overshoot, and only by one near-zero position (rounded to 0, minus 1).
            expect(spacing).toBe("trailing");
            expect(expected[S]).toBe(-1);
            overshoots++;
          } else expect(expected.length).toBe(S);
          expect(respace(T, S, spacing)).toEqual(expected.slice(0, S));
          grids++;
        }
        for (const offset of [1, 2]) {
          if ((S - 1) * Math.floor(T / S) + offset <= T - 1) expect(respace(T, S, "leading", offset)).toEqual(diffusersTimesteps(T, S, "leading", offset));
        }
      }
    }
    expect(grids).toBe(3 * (1000 + 100 + 50 + 37 + 17 + 15 + 2 + 1));
    expect(overshoots).toBeGreaterThan(0);
  });

  it("stepsOffset: leading only, and never beyond the last training index", () => {
    expect(() => respace(1000, 10, "trailing", 1)).toThrow(/only to "leading"/);
    expect(() => respace(1000, 10, "linspace", 1)).toThrow(/only to "leading"/);
    expect(() => respace(1000, 10, "leading", -1)).toThrow(/whole number ≥ 0/);
    expect(() => respace(1000, 10, "leading", 0.5)).toThrow(/whole number ≥ 0/);
    // S = T: leading visits 999..0; an offset of 1 would ask for index 1000.
    expect(respace(1000, 1000, "leading", 0)[0]).toBe(999);
    expect(() => respace(1000, 1000, "leading", 1)).toThrow(/beyond the last training index 999/);
    expect(respace(1000, 10, "leading", 99)[0]).toBe(999);
  });
});

describe("samplers visit the grid", () => {
  const schedule = makeSchedule({ kind: "linear", steps: 1000 });

  it("DDIM and DDPM plans step from each grid entry to the next, then to clean data (index −1)", () => {
    const grid = respace(1000, 50, "leading", 1);
    for (const plan of [ddimPlan(schedule, 50, 0.5, "leading", 1), ddpmPlan(schedule, 50, "small", "leading", 1)]) {
      expect(plan.map((c) => c.t.index)).toEqual(grid);
      expect(plan.map((c) => c.s.index)).toEqual([...grid.slice(1), -1]);
    }
    const viaConfig = samplerPlan(schedule, { sampler: "ddim", steps: 50, eta: 0, spacing: "leading", stepsOffset: 1 });
    expect(viaConfig.map((c) => c.t.index)).toEqual(grid);
    expect(() => samplerPlan(schedule, { sampler: "ddpm", steps: 50, eta: 0, spacing: "trailing", stepsOffset: 1 })).toThrow(/only to "leading"/);
  });

  it("for leading and for trailing with S | T the next grid entry is diffusers' DDIM prev_timestep t − ⌊T/S⌋", () => {
    for (const [spacing, S, offset] of [["leading", 50, 1], ["leading", 7, 0], ["trailing", 50, 0], ["trailing", 8, 0]] as const) {
      const grid = respace(1000, S, spacing, offset);
      grid.forEach((t, k) => {
        const prev = t - Math.floor(1000 / S);
        // diffusers uses final_alpha_cumprod (ᾱ = 1 with set_alpha_to_one) once prev < 0: our index −1.
        expect(k + 1 < grid.length ? grid[k + 1] : -1).toBe(prev < 0 ? -1 : prev);
      });
    }
  });
});

describe("the experiment config's sampling.spacing and sampling.stepsOffset", () => {
  it("are optional (the grid's defaults live in src/diffusion/respacing.ts) and checked", () => {
    expect(parseConfig({}, "cfg.json").sampling).not.toHaveProperty("spacing");
    const c = parseConfig({ sampling: { spacing: "leading", stepsOffset: 1 } }, "cfg.json");
    expect(c.sampling).toMatchObject({ spacing: "leading", stepsOffset: 1 });
    expect(() => parseConfig({ sampling: { spacing: "uniform" } }, "cfg.json")).toThrow(/^cfg\.json: sampling\.spacing: expected one of "linspace" \| "leading" \| "trailing", got "uniform"$/);
    expect(() => parseConfig({ sampling: { stepsOffset: -1 } }, "cfg.json")).toThrow(/^cfg\.json: sampling\.stepsOffset: /);
    // Refused when the config is read, before any training.
    expect(() => parseConfig({ sampling: { stepsOffset: 1 } }, "cfg.json")).toThrow(
      /^cfg\.json: sampling\.stepsOffset: 1 applies only to spacing "leading" \(diffusers ignores steps_offset for the others\)$/,
    );
  });
});
