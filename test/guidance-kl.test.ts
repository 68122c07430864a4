/**
 * The guided sampler's path KL to the unguided chain (src/guidance/types.ts PathKl), checked against
 * closed forms computed here from the plan's σ_t and coefficients, never against the sampler's output:
 *  - a gradient term that shifts the step mean by a constant δ at every stochastic step:
 *    KL = s² Σ_{σ_t>0} ‖δ‖²/(2σ_t²) (s the term's scale; 0 at s = 0);
 *  - a classifier-free term whose ε_c = ε̂ + d (a constant): μ̃ − μ = a_t w d with
 *    a_t = c_eps − c_x0 √(1−ᾱ_t)/√ᾱ_t, so KL = Σ_t a_t² w² ‖d‖²/(2σ_t²) over its active steps;
 *    guiding the final deterministic step makes it infinite; an SVDD step makes it undefined.
 * Base: the exact ε of a Gaussian (src/tasks/gaussian.ts), so every quantity is deterministic.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, upload, type JArray } from "../src/backend/index.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import type { StepCoefficients } from "../src/diffusion/step.js";
import type { EpsFn, StepTime } from "../src/diffusion/types.js";
import { guidedSample } from "../src/guidance/sampler.js";
import { cfgTerm, svddTerm } from "../src/guidance/terms.js";
import { guidedDeterministicStep, pathKlPerSample, WHOLE_CHAIN, type GradientTerm, type GuidanceTerm, type PathKl } from "../src/guidance/types.js";
import { exactGaussianEps } from "../src/tasks/gaussian.js";

beforeAll(async () => {
  await ensureBackend();
});

const D = 2;
const n = 64;
const eps = exactGaussianEps([0.5, -1], [
  [1, 0.3],
  [0.3, 0.5],
]);
const schedule = makeSchedule({ kind: "linear", steps: 1000 });
const ddpm = samplerPlan(schedule, { sampler: "ddpm", steps: 20, eta: 1 });
const ddim = samplerPlan(schedule, { sampler: "ddim", steps: 15, eta: 0.6 });
const delta = [0.3, -0.2];
const deltaSq = delta[0]! ** 2 + delta[1]! ** 2;

/** [n, D] rows all equal to `v` (x consumed). */
function constantRows(x: JArray, v: number[]): JArray {
  const rows = x.shape[0]!;
  x.dispose();
  return np.broadcastTo(upload(Float32Array.from(v), 1, D), [rows, D]);
}

/**
 * A gradient term at x_t applied to the mean with g = δ/σ_t², so that the shift s σ_t² g = s δ is the
 * same at every stochastic step (σ_t looked up from the plan by the step's time).
 */
function constantShift(plan: readonly StepCoefficients[], scale: number): GradientTerm {
  const sigmaAt = new Map(plan.map((c) => [c.t.index, c.sigma] as const));
  const g = (x: JArray, t: StepTime) => {
    const s = sigmaAt.get(t.index)!;
    return constantRows(x, delta.map((d) => d / (s * s)));
  };
  return {
    kind: "gradient",
    name: "constant shift",
    scale,
    interval: WHOLE_CHAIN,
    where: "xt",
    apply: "mean",
    jacobian: "identity",
    logH: (x, t) => np.sum(x.mul(g(x.ref, t)), -1),
    gradLogH: (x, t) => g(x, t),
  };
}

async function pathKlRecord(plan: readonly StepCoefficients[], terms: GuidanceTerm[]): Promise<PathKl> {
  const { x, pathKl: k } = await guidedSample({ eps, plan, terms, n, dim: D, key: keyFromSeed(3), pathKl: true });
  expect(toHostSync(x).every(Number.isFinite)).toBe(true);
  return k!;
}

async function pathKl(plan: readonly StepCoefficients[], terms: GuidanceTerm[]): Promise<number> {
  return pathKlPerSample(await pathKlRecord(plan, terms));
}

describe("path KL of the guided chain to the unguided one", () => {
  for (const [name, plan] of [
    ["ddpm", ddpm],
    ["ddim(η = 0.6)", ddim],
  ] as const) {
    it(`${name}: a constant mean shift δ gives s² Σ_t ‖δ‖²/(2σ_t²); s = 0 gives 0`, async () => {
      const stochastic = plan.filter((c) => c.sigma > 0);
      expect(stochastic.length).toBe(plan.length - 1); // only the final step is deterministic
      const expected = stochastic.reduce((acc, c) => acc + deltaSq / (2 * c.sigma * c.sigma), 0);
      expect(await pathKl(plan, [constantShift(plan, 0)])).toBe(0);
      expect(Math.abs((await pathKl(plan, [constantShift(plan, 1)])) / expected - 1)).toBeLessThan(1e-3);
      expect(Math.abs((await pathKl(plan, [constantShift(plan, 0.5)])) / (0.25 * expected) - 1)).toBeLessThan(1e-3);
    });
  }

  it("classifier-free term with ε_c = ε̂ + d: Σ_t a_t² w² ‖d‖²/(2σ_t²) over the stochastic steps; a guided final step is flagged", async () => {
    const d = [0.2, 0.1];
    const condEps: EpsFn = (x, t) => eps(x.ref, t).add(constantRows(x, d));
    const w = 1.5;
    const S = ddpm.length;
    const stop = (S - 1) / S; // inactive at the final (deterministic) step
    const expected = ddpm.slice(0, S - 1).reduce((acc, c) => {
      const ab = c.t.alphaBar;
      const a = c.cEps - (c.cX0 * Math.sqrt(1 - ab)) / Math.sqrt(ab);
      return acc + (a * a * w * w * (d[0]! ** 2 + d[1]! ** 2)) / (2 * c.sigma * c.sigma);
    }, 0);
    expect(expected).toBeGreaterThan(0);
    const got = await pathKl(ddpm, [cfgTerm(condEps, { scale: w, stop })]);
    expect(Math.abs(got / expected - 1)).toBeLessThan(2e-3);
    // Active on the final σ = 0 step too: that step is outside the sum (flagged instead), so the same value.
    expect(Math.abs((await pathKl(ddpm, [cfgTerm(condEps, { scale: w })])) / expected - 1)).toBeLessThan(2e-3);
    expect(guidedDeterministicStep(await pathKlRecord(ddpm, [cfgTerm(condEps, { scale: w })]))).toBe(true);
    expect(guidedDeterministicStep(await pathKlRecord(ddpm, [cfgTerm(condEps, { scale: w, stop })]))).toBe(false);
    expect(await pathKl(ddpm, [cfgTerm(condEps, { scale: 0 })])).toBe(0);
  });

  it("an SVDD (selection) step leaves the KL undefined; no guidance gives 0", async () => {
    const value = (x: JArray) => toHostSync(np.sum(x, -1));
    expect(Number.isNaN(await pathKl(ddpm, [svddTerm(value, { candidates: 2 })]))).toBe(true);
    expect(await pathKl(ddpm, [])).toBe(0);
  });
});
