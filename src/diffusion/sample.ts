/**
 * The sampling loop (k-diffusion style: a plain function with a callback). It runs any plan of
 * Gaussian steps with any ε-predictor; guidance wraps the ε-predictor or the step (later modules).
 */
import { jit, random, type JArray } from "../backend/jax.js";
import { settle } from "../backend/ownership.js";
import { keyAt, splitKeyWords, type Key } from "../backend/keys.js";
import { ddimPlan } from "./samplers/ddim.js";
import { ddpmPlan } from "./samplers/ddpm.js";
import type { Spacing } from "./respacing.js";
import type { Schedule } from "./schedule.js";
import { coefficientVector, stepMeanFromVector, type StepCoefficients } from "./step.js";
import type { EpsFn } from "./types.js";

export interface SamplerConfig {
  sampler: "ddpm" | "ddim";
  /** Number of reverse steps S (≤ T). */
  steps: number;
  /** DDIM stochasticity η (ignored by DDPM). */
  eta: number;
  /** Timestep grid (src/diffusion/respacing.ts; default "trailing") and diffusers' steps_offset ("leading" only). */
  spacing?: Spacing;
  stepsOffset?: number;
  /** DDPM variance choice: β̃ ("small", default) or β ("large"). */
  variance?: "small" | "large";
}

/** The steps a sampler takes, in order. */
export function samplerPlan(schedule: Schedule, cfg: SamplerConfig): StepCoefficients[] {
  if (cfg.sampler === "ddim") return ddimPlan(schedule, cfg.steps, cfg.eta, cfg.spacing, cfg.stepsOffset);
  if (cfg.sampler === "ddpm") return ddpmPlan(schedule, cfg.steps, cfg.variance, cfg.spacing, cfg.stepsOffset);
  throw new Error(`unknown sampler "${String(cfg.sampler)}" (ddpm, ddim)`);
}

/** What the callback sees after each step (arrays are borrowed: copy with `.ref` to keep them). */
export interface StepInfo {
  /** 0-based position in the plan. */
  i: number;
  total: number;
  coefficients: StepCoefficients;
  /** x_s after the step. */
  x: JArray;
  x0Hat: JArray;
}

/**
 * x_s = μ + σ z, z ~ N(0, I) drawn from `key`, with μ from the traced coefficient vector: one compiled
 * kernel serves every step of every chain of the same shape.
 */
const updateStep = jit((x: JArray, epsHat: JArray, key: JArray, cv: JArray) => {
  const sigma = cv.ref.slice(5);
  const z = random.normal(key, x.shape);
  const { mean, x0Hat } = stepMeanFromVector(x, epsHat, cv);
  return [mean.add(z.mul(sigma)), x0Hat] as [JArray, JArray];
});

export interface SampleOptions {
  eps: EpsFn;
  plan: readonly StepCoefficients[];
  /** Starting noise x_T [n, D] (consumed); drawn from N(0, I) with `key` when omitted. */
  xT?: JArray;
  n: number;
  dim: number;
  key: Key;
  callback?: (info: StepInfo) => void;
}

/** Runs the chain from x_T ~ N(0, I) to x_0. Consumes `key`. Returns x_0 [n, D]. */
export function sampleChain(o: SampleOptions): JArray {
  // One split up front: step i uses keys[i + 1] (cheaper than splitting at every step).
  const keys = splitKeyWords(o.key, o.plan.length + 1);
  let x = o.xT ?? random.normal(keyAt(keys, 0), [o.n, o.dim]);
  o.plan.forEach((c, i) => {
    const epsHat = o.eps(x.ref, c.t);
    const [next, x0Hat] = updateStep(x, epsHat, keyAt(keys, i + 1), coefficientVector(c));
    x = next;
    settle(x);
    if (o.callback) o.callback({ i, total: o.plan.length, coefficients: c, x, x0Hat });
    x0Hat.dispose();
  });
  return x;
}
