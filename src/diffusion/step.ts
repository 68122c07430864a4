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
 */
import { np, type JArray } from "../backend/jax.js";
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

/** A step's Gaussian: mean μ [n, D], σ, and the x̂_0, ε̂ it was built from. */
export interface GaussianStep {
  readonly mean: JArray;
  readonly sigma: number;
  readonly x0Hat: JArray;
  readonly epsHat: JArray;
}

/** Number of entries in a coefficient vector (see {@link coefficientVector}). */
export const COEFFICIENT_COUNT = 6;

/**
 * The step's scalars as one float32 array [√ᾱ_t, √(1−ᾱ_t), c_x0, c_eps, c_xt, σ], so that one jitted
 * function serves every timestep (the scalars are traced, not baked into the compiled kernels).
 */
export function coefficientVector(c: StepCoefficients): JArray {
  const at = c.t.alphaBar;
  return np.array(new Float32Array([Math.sqrt(at), Math.sqrt(1 - at), c.cX0, c.cEps, c.cXt, c.sigma]));
}

/**
 * μ and x̂_0 from x_t, ε̂ and a coefficient vector: x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t,
 * μ = c_x0 x̂_0 + c_eps ε̂ + c_xt x_t. Traced-friendly. Consumes all three arguments.
 */
export function stepMeanFromVector(x: JArray, epsHat: JArray, cv: JArray): { mean: JArray; x0Hat: JArray } {
  const k = (i: number) => cv.ref.slice(i);
  const x0Hat = x.ref.sub(epsHat.ref.mul(k(1))).div(k(0));
  const mean = x0Hat.ref.mul(k(2)).add(epsHat.mul(k(3))).add(x.mul(k(4)));
  cv.dispose();
  return { mean, x0Hat };
}

/**
 * Builds the Gaussian of one step at x_t given ε̂. Consumes `x` and `epsHat`. With `clipX0 = c > 0`,
 * x̂_0 is clipped to [−c, c] and ε̂ recomputed from it (guided-diffusion's clip_denoised).
 */
export function gaussianStep(x: JArray, epsHat: JArray, c: StepCoefficients, clipX0 = 0): GaussianStep {
  let eps = epsHat;
  if (clipX0 > 0) {
    const at = c.t.alphaBar;
    const x0 = np.clip(x.ref.sub(eps.mul(Math.sqrt(1 - at))).div(Math.sqrt(at)), -clipX0, clipX0);
    eps = x.ref.sub(x0.mul(Math.sqrt(at))).div(Math.sqrt(1 - at));
  }
  const { mean, x0Hat } = stepMeanFromVector(x, eps.ref, coefficientVector(c));
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

function requireStochastic(sigma: number, what: string): void {
  if (!(sigma > 0)) {
    throw new Error(`${what} needs a stochastic step (σ > 0); this step is deterministic (σ = 0: DDIM with η = 0, or the final DDPM step)`);
  }
}

/**
 * log p_θ(x_s | x_t) per sample [n]: −‖x_s − μ‖²/(2σ²) − D log σ − (D/2) log 2π.
 * Consumes `mean` and `xs`. Refuses a deterministic step with a clear error.
 */
export function stepLogProb(mean: JArray, sigma: number, xs: JArray): JArray {
  requireStochastic(sigma, "a step log-probability");
  const D = mean.shape[mean.shape.length - 1]!;
  const sq = np.sum(np.square(xs.sub(mean)), -1);
  return sq.mul(-1 / (2 * sigma * sigma)).sub(D * Math.log(sigma) + 0.5 * D * Math.log(2 * Math.PI));
}

/**
 * KL(N(μ_a, σ²I) ‖ N(μ_b, σ²I)) = ‖μ_a − μ_b‖²/(2σ²) per sample [n], in nats, summed over dimensions
 * (or averaged, `reduce = "mean"`, the CTRL reference code's variant). Consumes both means.
 */
export function stepKl(meanA: JArray, meanB: JArray, sigma: number, reduce: "sum" | "mean" = "sum"): JArray {
  requireStochastic(sigma, "a step KL");
  const sq = np.square(meanA.sub(meanB));
  const r = reduce === "sum" ? np.sum(sq, -1) : np.mean(sq, -1);
  return r.mul(1 / (2 * sigma * sigma));
}
