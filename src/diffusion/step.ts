/**
 * One stochastic reverse step as a Gaussian policy p_θ(x_s | x_t) = N(μ, σ² I) (methods.md, "Notation").
 * Every sampler in rewardiff is a sequence of these, so the mean, σ, x̂_0, the log-probability of the
 * step taken and the KL to another model's step are available to guidance, RL fine-tuning and CTRL.
 *
 * The mean is written generally as μ = c_x0 · x̂_0 + c_eps · ε̂ + c_xt · x_t:
 *  - DDIM(η) from t to s: σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s), c_x0 = √ᾱ_s, c_eps = √(1 − ᾱ_s − σ²).
 *  - DDPM ancestral (posterior q(x_s | x_t, x̂_0)): with α' = ᾱ_t/ᾱ_s, β' = 1 − α',
 *    c_x0 = √ᾱ_s β'/(1−ᾱ_t), c_xt = √α' (1−ᾱ_s)/(1−ᾱ_t), σ² = β̃ = (1−ᾱ_s)/(1−ᾱ_t) β' ("small")
 *    or σ² = β' ("large"). DDIM with η = 1 gives the same step as DDPM "small".
 * Functions here are plain jax-js array code, so they work eagerly, under `jit`, and under `grad`.
 * x is a batch [N, ...event]; per-sample reductions run over every event axis. This module is the only
 * place that forms the step mean, its log-probability, the path KL ‖μ̃ − μ‖²/(2σ²), the stochastic-step
 * check and the classifier-free combination.
 */
import { np, type JArray } from "../backend/jax.js";
import { scalar } from "../backend/ownership.js";
import { denoised, type Prediction } from "./parameterization.js";
import { alphaBarAt, type Schedule } from "./schedule.js";
import type { StepTime } from "./types.js";

/** The scalars that define one step from t to s < t. */
export interface StepCoefficients {
  readonly t: StepTime;
  /** Target time; index −1 is clean data (ᾱ = 1). */
  readonly s: StepTime;
  readonly cX0: number;
  readonly cEps: number;
  readonly cXt: number;
  /** σ of the step; 0 makes it deterministic. */
  readonly sigma: number;
}

/** The coefficients of a DDIM(η) step from training index t to s (s may be −1). */
export function ddimCoefficients(schedule: Schedule, t: number, s: number, eta: number): StepCoefficients {
  if (!(eta >= 0)) throw new Error(`eta must be ≥ 0, got ${eta}`);
  const at = alphaBarAt(schedule, t);
  const as = alphaBarAt(schedule, s);
  const sigma = eta * Math.sqrt((1 - as) / (1 - at)) * Math.sqrt(Math.max(0, 1 - at / as));
  const rest = 1 - as - sigma * sigma;
  if (rest < -1e-12) throw new Error(`eta = ${eta} is too large for the step ${t + 1} → ${s + 1} (σ² > 1 − ᾱ_s)`);
  return {
    t: { index: t, alphaBar: at },
    s: { index: s, alphaBar: as },
    cX0: Math.sqrt(as),
    cEps: Math.sqrt(Math.max(0, rest)),
    cXt: 0,
    sigma,
  };
}

/** The coefficients of a DDPM ancestral step from t to s (posterior mean; variance "small" = β̃ or "large" = β'). */
export function ddpmCoefficients(schedule: Schedule, t: number, s: number, variance: "small" | "large" = "small"): StepCoefficients {
  const at = alphaBarAt(schedule, t);
  const as = alphaBarAt(schedule, s);
  const alphaPrime = at / as;
  const betaPrime = 1 - alphaPrime;
  const sigma2 = variance === "small" ? ((1 - as) / (1 - at)) * betaPrime : s < 0 ? 0 : betaPrime;
  return {
    t: { index: t, alphaBar: at },
    s: { index: s, alphaBar: as },
    cX0: (Math.sqrt(as) * betaPrime) / (1 - at),
    cEps: 0,
    cXt: (Math.sqrt(alphaPrime) * (1 - as)) / (1 - at),
    sigma: Math.sqrt(Math.max(0, sigma2)),
  };
}

/** A step's Gaussian: mean μ [N, ...event], σ, and the x̂_0, ε̂ it was built from. */
export interface GaussianStep {
  readonly mean: JArray;
  readonly sigma: number;
  readonly x0Hat: JArray;
  readonly epsHat: JArray;
}

/** Number of entries in a coefficient vector (see {@link coefficientVector}). */
export const COEFFICIENT_COUNT = 6;

/**
 * The step's scalars as one float32 array [√ᾱ_t, √(1−ᾱ_t), c_x0, c_eps, c_xt, σ], each computed in
 * float64 on the host and rounded once, so that one jitted function serves every timestep (the scalars
 * are traced, not baked into the compiled kernels).
 */
export function coefficientVector(c: StepCoefficients): JArray {
  return np.array(coefficientRow(c));
}

/** The host row of {@link coefficientVector}. */
export function coefficientRow(c: StepCoefficients): Float32Array {
  const at = c.t.alphaBar;
  return new Float32Array([Math.sqrt(at), Math.sqrt(1 - at), c.cX0, c.cEps, c.cXt, c.sigma]);
}

/** Entry j of a coefficient vector [6] (a scalar) or of per-sample rows [N, 6] (a column [N, 1, …, 1]). Borrows `cv`. */
function coefficient(cv: JArray, j: number, rank: number): JArray {
  if (cv.shape.length === 1) return cv.ref.slice(j);
  return cv.ref.slice([], [j, j + 1]).reshape([cv.shape[0]!, ...Array.from({ length: rank - 1 }, () => 1)]);
}

/**
 * One reverse step from the network output at x_t: x̂_0 and ε̂ straight from the output for its
 * prediction kind (x̂_0 is never rebuilt from a float32 ε̂ for x̂_0- and v-models), then
 * μ = c_x0 x̂_0 + c_eps ε̂ + c_xt x_t. `cv` is a coefficient vector [6] or per-sample rows [N, 6].
 * Traced-friendly. Consumes `x`, `out` and `cv`.
 */
export function stepFromOutput(prediction: Prediction, x: JArray, out: JArray, cv: JArray): { mean: JArray; x0Hat: JArray; epsHat: JArray } {
  const r = x.shape.length;
  const k = (j: number) => coefficient(cv, j, r);
  const { x0Hat, epsHat } = denoised(prediction, x.ref, out, k(0), k(1));
  const mean = x0Hat.ref.mul(k(2)).add(epsHat.ref.mul(k(3))).add(x.mul(k(4)));
  cv.dispose();
  return { mean, x0Hat, epsHat };
}

/** {@link stepFromOutput} for an ε̂ (the ε-predictor case). Consumes all three arguments. */
export function stepMeanFromVector(x: JArray, epsHat: JArray, cv: JArray): { mean: JArray; x0Hat: JArray } {
  const { mean, x0Hat, epsHat: e } = stepFromOutput("eps", x, epsHat, cv);
  e.dispose();
  return { mean, x0Hat };
}

/**
 * Builds the Gaussian of one step at x_t given ε̂. Consumes `x` and `epsHat`. With `clipX0 = c > 0`,
 * x̂_0 is clipped to [−c, c] and ε̂ recomputed from it (guided-diffusion's clip_denoised).
 */
export function gaussianStep(x: JArray, epsHat: JArray, c: StepCoefficients, clipX0 = 0): GaussianStep {
  if (!(clipX0 > 0)) {
    const { mean, x0Hat, epsHat: eps } = stepFromOutput("eps", x, epsHat, coefficientVector(c));
    return { mean, sigma: c.sigma, x0Hat, epsHat: eps };
  }
  const at = c.t.alphaBar;
  const x0 = np.clip(x.ref.sub(epsHat.mul(Math.sqrt(1 - at))).div(Math.sqrt(at)), -clipX0, clipX0);
  const { mean, x0Hat, epsHat: eps } = stepFromOutput("x0", x, x0, coefficientVector(c));
  return { mean, sigma: c.sigma, x0Hat, epsHat: eps };
}

/** x_s = μ + σ z. Consumes `mean` and `z`. */
export function takeStep(mean: JArray, sigma: number, z: JArray): JArray {
  if (sigma === 0) {
    z.dispose();
    return mean;
  }
  return mean.add(z.mul(sigma));
}

/** How {@link requireStochastic} checks a plan and words its error. */
export interface StochasticCheck {
  /** What needs the noise, the start of the error (e.g. `ddpo needs a stochastic sampler`). */
  what: string;
  /** The steps that must be stochastic (default: all but the last, the step into clean data). */
  active?: (i: number, c: StepCoefficients) => boolean;
  /** Smallest usable σ (default: any σ > 0). */
  minSigma?: number;
  /** Name the sampler in the error ("of the ddim sampler with eta = 0"). */
  samplerName?: string;
  /** Name the step's timesteps in the error. */
  showTimes?: boolean;
  /** How to fix it (default: use the ddpm sampler or ddim with eta > 0). */
  hint?: string;
}

/**
 * The one check that the steps a computation needs noise at are stochastic (σ > 0): a step
 * log-probability, a path KL, candidate draws and mean shifts s σ² g are undefined or vanish at σ = 0.
 */
export function requireStochastic(plan: readonly StepCoefficients[], o: StochasticCheck): void {
  const S = plan.length;
  const min = o.minSigma ?? 0;
  plan.forEach((c, i) => {
    const active = o.active ? o.active(i, c) : i < S - 1;
    if (!active || (c.sigma > 0 && c.sigma >= min)) return;
    const value = c.sigma > 0 ? `${c.sigma.toPrecision(2)}, below ${min.toExponential(0)} in float32` : String(c.sigma);
    const times = o.showTimes ? ` (t = ${c.t.index + 1} → ${c.s.index + 1})` : "";
    const sampler = o.samplerName ? ` of ${o.samplerName}` : "";
    throw new Error(
      `${o.what}, but step ${i + 1} of ${S}${times}${sampler} is deterministic (σ = ${value}); ${o.hint ?? "use the ddpm sampler or ddim with eta > 0"}`,
    );
  });
}

/** 1/(2σ²) of a step, refusing a deterministic one. */
function klScaleOf(sigma: number, what: string): number {
  requireStochastic([{ sigma } as StepCoefficients], { what: `${what} needs a stochastic step (σ > 0)`, active: () => true, hint: "DDIM with η = 0 and the final DDPM step have none" });
  return 1 / (2 * sigma * sigma);
}

/** How a per-sample quantity is reduced over the event axes: "sum" (the theory) or "mean". */
export type EventReduce = "sum" | "mean";

/** Reduces [N, ...event] (consumed) to [N] over every event axis. */
export function reduceEvent(x: JArray, reduce: EventReduce = "sum"): JArray {
  const axes = Array.from({ length: x.shape.length - 1 }, (_, j) => j + 1);
  return reduce === "sum" ? np.sum(x, axes) : np.mean(x, axes);
}

/** The number of event entries of [N, ...event]. */
export function eventSize(x: JArray): number {
  return x.shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * log p_θ(x_s | x_t) = log N(x_s; μ, σ² I) per sample [N]: with reduce "sum" (the theory, default)
 * −‖x_s − μ‖²/(2σ²) − D log σ − (D/2) log 2π; with "mean" the same divided by D (ddpo-pytorch averages
 * over dimensions, so its PPO ratio is the D-th root of the true one and the same clip range bounds a
 * wider trust region). `sigma` is the step's σ (host, checked) or per-sample σ [N] (traced, unchecked).
 * Consumes `mean`, `xs` (and an array `sigma`).
 */
export function stepLogProb(mean: JArray, sigma: number | JArray, xs: JArray, reduce: EventReduce = "sum"): JArray {
  const D = reduce === "sum" ? eventSize(mean) : 1;
  const sq = reduceEvent(np.square(xs.sub(mean)), reduce);
  if (typeof sigma === "number") {
    const scale = klScaleOf(sigma, "a step log-probability");
    return sq.mul(scalar(-scale)).sub(scalar(D * Math.log(sigma) + 0.5 * D * Math.log(2 * Math.PI)));
  }
  return sq
    .div(np.square(sigma.ref).mul(2))
    .mul(-1)
    .sub(np.log(sigma).mul(D))
    .sub(0.5 * D * Math.log(2 * Math.PI));
}

/**
 * The path KL of one step, KL(N(μ_a, σ²I) ‖ N(μ_b, σ²I)) = ‖μ_a − μ_b‖²/(2σ²) per sample [N] in nats,
 * summed over the event (or averaged, `reduce = "mean"`, the CTRL reference code's variant). `scale`
 * is 1/(2σ²): a host number, or a traced scalar / per-sample [N] array (then unchecked; 0 drops a
 * deterministic step). Consumes both means (and an array `scale`).
 */
export function pathKl(meanA: JArray, meanB: JArray, scale: number | JArray, reduce: EventReduce = "sum"): JArray {
  const r = reduceEvent(np.square(meanA.sub(meanB)), reduce);
  return r.mul(typeof scale === "number" ? scalar(scale) : scale);
}

/** {@link pathKl} at a step of σ (host), refusing a deterministic step. Consumes both means. */
export function stepKl(meanA: JArray, meanB: JArray, sigma: number, reduce: EventReduce = "sum"): JArray {
  return pathKl(meanA, meanB, klScaleOf(sigma, "a step KL"), reduce);
}

/**
 * Classifier-free guidance: ε̃ = ε_∅ + Σ_j w_j (ε_j − ε_∅) (one term: ε_∅ + w (ε_c − ε_∅); w = 1 is the
 * conditional model, w = 0 the unconditional one). Weights are host numbers or traced scalars.
 * Consumes every array.
 */
export function classifierFree(uncond: JArray, conds: readonly (readonly [JArray, number | JArray])[]): JArray {
  let acc = uncond.ref;
  for (const [c, w] of conds) acc = acc.add(c.sub(uncond.ref).mul(typeof w === "number" ? scalar(w) : w));
  uncond.dispose();
  return acc;
}
