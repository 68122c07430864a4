/**
 * The sampling loop (k-diffusion style: a plain async function with hooks). It runs any plan of
 * Gaussian steps (./step.ts) with any model output on samples of any event shape [N, ...event].
 * One key scheme serves every loop in rewardiff: keys = split(key, S + 1), key 0 draws x_T and key
 * i + 1 drives step i (a step that needs more randomness, e.g. SVDD's candidates, splits its own key).
 * Hooks:
 *  - guidance: may replace the step mean μ (from x_t and the model's x̂_0, ε̂) and the draw x_s ~ N(μ, σ²I);
 *  - noise: maps every standard-normal draw (x_T and each z) into the model's noise space;
 *  - onStep: sees the current samples and x̂_0 after each step (borrowed).
 */
import { backendDevice } from "../backend/init.js";
import { jit, random, type JArray } from "../backend/jax.js";
import { keyAt, splitKeyWords, type Key } from "../backend/keys.js";
import { settleAsync } from "../backend/reads.js";
import { ddimPlan } from "./samplers/ddim.js";
import { ddpmPlan } from "./samplers/ddpm.js";
import type { Prediction } from "./parameterization.js";
import type { Spacing } from "./respacing.js";
import type { Schedule } from "./schedule.js";
import { coefficientVector, stepFromOutput, type StepCoefficients } from "./step.js";
import { outputProjection, type EpsFn, type ModelFn, type NoiseHook } from "./types.js";
import { nextTask, YIELD_MS } from "../backend/event-loop.js";

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

/** Where the loop is: step i of total, its coefficients. */
export interface StepContext {
  /** 0-based position in the plan. */
  i: number;
  total: number;
  coefficients: StepCoefficients;
}

/** What the per-step callback sees (arrays are borrowed: copy with `.ref` to keep them). */
export interface StepInfo extends StepContext {
  /** x_s after the step. */
  x: JArray;
  x0Hat: JArray;
}

/** The model's Gaussian step at x_t, before guidance (arrays owned by the hook). */
export interface BaseStep {
  mean: JArray;
  x0Hat: JArray;
  epsHat: JArray;
}

/** Changes a step (guidance). Every method may be async (host rewards). */
export interface GuidanceHook {
  /**
   * The mean to draw x_s from, given x_t (borrowed) and the model's step (consumed). Return
   * `base.mean` to leave the step as it is; `x0Hat` is what the per-step callback sees.
   */
  step(ctx: StepContext, x: JArray, base: BaseStep): JArray | Promise<JArray>;
  /**
   * Draws x_s ~ N(μ, σ²I) differently (σ > 0 only), from the step's key (consumed) — e.g. SVDD's
   * selection among candidates μ + σ z_m, the key split inside. Return undefined to draw μ + σ z.
   */
  draw?(ctx: StepContext, mean: JArray, key: Key, noise: NoiseHook | undefined): Promise<JArray> | undefined;
}

export interface SampleHooks {
  guidance?: GuidanceHook;
  noise?: NoiseHook;
  /** Awaited when it returns a promise (e.g. to settle work queued off the chain, ./generate.ts). */
  onStep?: (info: StepInfo) => void | Promise<void>;
}

export interface SampleOptions {
  /** The network output with its prediction kind, or an ε-predictor. */
  model: ModelFn | EpsFn;
  plan: readonly StepCoefficients[];
  n: number;
  /** The event shape of one sample (e.g. [D], [3, 3]). */
  eventShape: readonly number[];
  /** Consumed. */
  key: Key;
  /** Starting noise x_T [n, ...event] (consumed); drawn from N(0, I) (through the noise hook) with key 0 when omitted. */
  xT?: JArray;
  hooks?: SampleHooks;
}

/** The model as a {@link ModelFn}. */
export function asModelFn(model: ModelFn | EpsFn): ModelFn {
  return typeof model === "function" ? { prediction: "eps", apply: model } : model;
}

/**
 * With a noise hook P, the network's output passes through the hook's output projection (P itself unless the
 * data holds a fixed part outside the noise space V, ./types.ts): x_T and every z_t lie in V, and so do the
 * true ε and the data's varying part, so projecting the prediction only removes what a learned network gets
 * wrong there. Without it, an off-subspace error in ε̂ is amplified by 1/√ᾱ_t in x̂₀ at high noise and the
 * chain leaves V.
 */
function projectedOutput(model: ModelFn, noise: NoiseHook | undefined): ModelFn {
  if (!noise) return model;
  const project = outputProjection(noise);
  return { prediction: model.prediction, apply: (x, t) => project(model.apply(x, t)) };
}

/** A standard-normal draw of `shape` from `key` (consumed), through the noise hook. */
export function drawNoise(key: Key, shape: readonly number[], noise?: NoiseHook): JArray {
  const z = random.normal(key, [...shape]);
  return noise ? noise(z) : z;
}

type Update = (x: JArray, out: JArray, key: JArray, cv: JArray) => [JArray, JArray];
type MeanUpdate = (x: JArray, out: JArray, cv: JArray) => [JArray, JArray];
/** Compiled updates by noise hook, then by device and prediction (a jitted function keeps its device). */
const updates = new Map<NoiseHook | "none", Map<string, Update>>();
/** Compiled σ = 0 updates by device and prediction (no draw, so no noise hook). */
const meanUpdates = new Map<string, MeanUpdate>();

/**
 * x_s = μ + σ z with μ from the model output and the traced coefficient vector, z from the step's key:
 * one compiled kernel per (prediction, noise hook) serves every step of every chain of the same shape.
 */
function fusedUpdate(prediction: Prediction, noise: NoiseHook | undefined): Update {
  let byNoise = updates.get(noise ?? "none");
  if (!byNoise) updates.set(noise ?? "none", (byNoise = new Map()));
  const id = `${backendDevice()} ${prediction}`;
  let f = byNoise.get(id);
  if (!f) {
    f = jit((x: JArray, out: JArray, key: JArray, cv: JArray) => {
      const sigma = cv.ref.slice(5);
      const z = drawNoise(key, x.shape, noise);
      const { mean, x0Hat, epsHat } = stepFromOutput(prediction, x, out, cv);
      epsHat.dispose();
      return [mean.add(z.mul(sigma)), x0Hat] as [JArray, JArray];
    }) as unknown as Update;
    byNoise.set(id, f);
  }
  return f;
}

/** x_s = μ for a step with σ = 0 (DDIM with η = 0, DDPM's last step): no z is drawn and no key is made. */
function meanUpdate(prediction: Prediction): MeanUpdate {
  const id = `${backendDevice()} ${prediction}`;
  let f = meanUpdates.get(id);
  if (!f) {
    f = jit((x: JArray, out: JArray, cv: JArray) => {
      const { mean, x0Hat, epsHat } = stepFromOutput(prediction, x, out, cv);
      epsHat.dispose();
      return [mean, x0Hat] as [JArray, JArray];
    }) as unknown as MeanUpdate;
    meanUpdates.set(id, f);
  }
  return f;
}

/** Runs step i of the loop with a guidance hook. Consumes `x` and `key`. */
async function guidedStep(
  hook: GuidanceHook,
  ctx: StepContext,
  model: ModelFn,
  x: JArray,
  key: Key,
  noise: NoiseHook | undefined,
): Promise<[JArray, JArray]> {
  const c = ctx.coefficients;
  const base = stepFromOutput(model.prediction, x.ref, model.apply(x.ref, c.t), coefficientVector(c));
  const x0Hat = base.x0Hat.ref;
  let mean: JArray;
  try {
    mean = await hook.step(ctx, x, base);
  } finally {
    x.dispose();
  }
  if (!(c.sigma > 0)) {
    key.dispose();
    return [mean, x0Hat];
  }
  const drawn = hook.draw?.(ctx, mean, key, noise);
  if (drawn) return [await drawn, x0Hat];
  return [mean.add(drawNoise(key, mean.shape, noise).mul(c.sigma)), x0Hat];
}

/**
 * Runs the chain from x_T ~ N(0, I) to x_0 [n, ...event]. Consumes `key` (and `xT`). Reads nothing
 * synchronously: it waits for each step's result asynchronously (this bounds jax-js's queue of pending
 * kernels, which otherwise slows every later step).
 */
export async function sample(o: SampleOptions): Promise<JArray> {
  const S = o.plan.length;
  const hooks = o.hooks ?? {};
  const model = projectedOutput(asModelFn(o.model), hooks.noise);
  const shape = [o.n, ...o.eventShape];
  const keys = splitKeyWords(o.key, S + 1);
  let x = o.xT ?? drawNoise(keyAt(keys, 0), shape, hooks.noise);
  let turn = performance.now();
  try {
    for (let i = 0; i < S; i++) {
      // A macrotask now and then, so that Ctrl-C handlers and a browser page can run (src/backend/event-loop.ts).
      if (performance.now() - turn >= YIELD_MS) {
        await nextTask();
        turn = performance.now();
      }
      const c = o.plan[i]!;
      const ctx: StepContext = { i, total: S, coefficients: c };
      let x0Hat: JArray;
      if (hooks.guidance) {
        const cur = x;
        x = undefined as unknown as JArray; // owned by the step now
        [x, x0Hat] = await guidedStep(hooks.guidance, ctx, model, cur, keyAt(keys, i + 1), hooks.noise);
      } else {
        const out = model.apply(x.ref, c.t);
        [x, x0Hat] =
          c.sigma > 0
            ? fusedUpdate(model.prediction, hooks.noise)(x, out, keyAt(keys, i + 1), coefficientVector(c))
            : meanUpdate(model.prediction)(x, out, coefficientVector(c));
      }
      await settleAsync(x);
      await hooks.onStep?.({ ...ctx, x, x0Hat });
      x0Hat.dispose();
    }
  } catch (e) {
    try {
      x?.dispose(); // the carried chain state, unless the failing step had consumed it already
    } catch {
      // already released
    }
    throw e;
  }
  return x;
}
