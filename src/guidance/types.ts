/**
 * Guidance at sampling time as composable terms (guided-diffusion style: pure functions the sampler
 * applies). Notation of methods.md: a step goes from t to s < t, ᾱ_t, ε̂ = ε_θ(x_t, t),
 * x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, μ = c_x0 x̂_0 + c_eps ε̂ + c_xt x_t, x_s = μ + σ z.
 *
 * Three kinds of term:
 * - {@link EpsTerm} (classifier-free guidance): ε̃ = ε̂ + w (ε_c(x_t, t) − ε̂).
 * - {@link GradientTerm}: a differentiable log-likelihood log h whose gradient g = ∇ log h steers the step,
 *   with strength s. Two explicit choices:
 *     `where` — the point at which log h is evaluated and differentiated:
 *        "xt":   g = ∇_{x_t} log h(x_t, t)                     (time-conditioned predictors, exact value)
 *        "x0":   g = ∇_{x_t} log h(x̂_0(x_t), clean)            (DPS / reconstruction guidance; through
 *                the ε-network with `jacobian: "full"`, or ∂x̂_0/∂x_t ≈ I/√ᾱ_t with "identity")
 *        "mean": g = ∇_μ log h(μ, s)  at the step mean, at the step's target time s
 *     `apply` — how g changes the step:
 *        "eps":  ε̃ = ε̂ − √(1−ᾱ_t) s g  (a score shift ∇log p_t + s g; the step mean and x̂_0 follow)
 *        "mean": μ̃ = μ + s σ² g         (Dhariwal & Nichol; vanishes when σ = 0)
 *     ("mean" is evaluated after the step mean exists, so it can only be applied to the mean.)
 * - {@link SelectTerm} (SVDD): draw M candidates x_s^(m) = μ + σ z_m from the step, keep one with
 *   probability ∝ exp(v(x_s^(m))/α) (α = 0: the arg-max). Needs a stochastic step (σ > 0).
 * Every term has a strength and an active interval [start, stop) as a fraction of the chain: step i of
 * S (i = 0 is the first, noisiest step) is guided when start ≤ i/S < stop.
 */
import type { JArray } from "../backend/jax.js";
import type { EpsFn, StepTime } from "../diffusion/types.js";

/** Work done by guidance, counted per sample (a batch of n counts n). */
export interface GuidanceCost {
  /** Evaluations of the reward plug-in r. */
  rewardEvals: number;
  /** Evaluations of a value or predictor network (learned regressor/classifier, exact soft value). */
  valueEvals: number;
  /** Backward passes taken for guidance gradients. */
  gradEvals: number;
  /** Evaluations of ε-networks (base, conditional, and the extra ones DPS and SVDD need). */
  modelEvals: number;
  /** Wall time in seconds. */
  seconds: number;
}

/** A zeroed cost counter. */
export function newCost(): GuidanceCost {
  return { rewardEvals: 0, valueEvals: 0, gradEvals: 0, modelEvals: 0, seconds: 0 };
}

/** Adds `b` into `a` (returns a). */
export function addCost(a: GuidanceCost, b: GuidanceCost): GuidanceCost {
  a.rewardEvals += b.rewardEvals;
  a.valueEvals += b.valueEvals;
  a.gradEvals += b.gradEvals;
  a.modelEvals += b.modelEvals;
  a.seconds += b.seconds;
  return a;
}

/**
 * The guided chain's path KL to the unguided (base) chain, accumulated on request (guidedSample's
 * `pathKl: true`). At step t → s with σ_t > 0 both steps are Gaussians N(·, σ_t² I) at the same x_t, so
 *   KL_t = ‖μ̃_t − μ_base,t‖² / (2σ_t²)   (summed over dimensions),
 * μ̃_t the guided step mean actually taken, μ_base,t the base ε's step mean. A deterministic step
 * (σ = 0, e.g. the final one) adds nothing if μ̃ = μ_base there and makes the path KL infinite
 * otherwise; an SVDD selection step is not a Gaussian at all (its law is a reweighting of the base
 * step's), so the KL is not computed then. Sums over samples, so that batches add up.
 */
export interface PathKl {
  /** Samples accumulated. */
  n: number;
  /** Σ_i Σ_t KL_t^i over the stochastic steps (nats, summed over samples i). */
  sum: number;
  /** Deterministic (σ = 0) steps at which μ̃ ≠ μ_base: each makes the path KL infinite. */
  deterministicShifts: number;
  /** Stochastic steps taken by selection among candidates (SVDD): the KL is undefined there. */
  selectionSteps: number;
}

/** A zeroed path-KL accumulator. */
export function newPathKl(): PathKl {
  return { n: 0, sum: 0, deterministicShifts: 0, selectionSteps: 0 };
}

/** Adds `b` into `a` (returns a). */
export function addPathKl(a: PathKl, b: PathKl): PathKl {
  a.n += b.n;
  a.sum += b.sum;
  a.deterministicShifts += b.deterministicShifts;
  a.selectionSteps += b.selectionSteps;
  return a;
}

/**
 * Σ_t E_i KL_t^i over the stochastic steps, in nats per sample; NaN when a selection step was taken
 * (undefined) or nothing was accumulated. Deterministic steps (σ = 0, the final step of DDPM/DDIM) are
 * not part of the sum, as for the fine-tuning rows: when guidance moved such a step the path KL proper
 * is infinite, which {@link guidedDeterministicStep} tells.
 */
export function pathKlPerSample(k: PathKl): number {
  if (k.selectionSteps > 0 || !(k.n > 0)) return NaN;
  return k.sum / k.n;
}

/** Whether guidance moved the mean of a deterministic (σ = 0) step (the path KL proper is then infinite). */
export function guidedDeterministicStep(k: PathKl): boolean {
  return k.deterministicShifts > 0;
}

/** The fraction [start, stop) of the chain during which a term is active (0 = first step). */
export interface ActiveInterval {
  readonly start: number;
  readonly stop: number;
}

/** The whole chain. */
export const WHOLE_CHAIN: ActiveInterval = { start: 0, stop: 1 };

/** The point at which a gradient term evaluates (and differentiates) log h. */
export type GradientPoint = "xt" | "x0" | "mean";

/** Where a gradient term's g enters the step. */
export type ApplyTo = "eps" | "mean";

/** The time of clean data (training index −1, ᾱ = 1): the time at which x̂_0 is evaluated. */
export const CLEAN: StepTime = { index: -1, alphaBar: 1 };

/**
 * log h(x, τ) per sample: x [n, D] (consumed) at time τ → [n]. Must be built from differentiable jax
 * ops. `cost` lets it count what it evaluates (reward / value evaluations).
 */
export type LogLikelihood = (x: JArray, time: StepTime, cost: GuidanceCost) => JArray;

/** ∇_x log h(x, τ) [n, D] in closed form (x consumed), when known. */
export type LogLikelihoodGrad = (x: JArray, time: StepTime, cost: GuidanceCost) => JArray;

interface TermBase {
  readonly name: string;
  readonly interval: ActiveInterval;
}

/** Classifier-free guidance: adds w (ε_c − ε̂) to ε̂. */
export interface EpsTerm extends TermBase {
  readonly kind: "eps";
  /** w (1 = the conditional model alone; 0 = no effect). */
  readonly scale: number;
  /** The conditional ε_c(x_t, t); x_t is consumed. */
  readonly eps: EpsFn;
}

/** A gradient of a log-likelihood, applied to ε̂ or to the step mean. */
export interface GradientTerm extends TermBase {
  readonly kind: "gradient";
  /** s. */
  readonly scale: number;
  readonly where: GradientPoint;
  readonly apply: ApplyTo;
  /** For where = "x0": differentiate through the ε-network ("full") or use ∂x̂_0/∂x_t ≈ I/√ᾱ_t. */
  readonly jacobian: "full" | "identity";
  readonly logH: LogLikelihood;
  /** A closed-form gradient used instead of differentiating `logH` (where = "xt", "mean", or x0 + identity). */
  readonly gradLogH?: LogLikelihoodGrad;
}

/** A soft value v(x_s) for SVDD: x [m, D] (consumed) at time s → m values (sync or async). */
export type ValueFn = (x: JArray, time: StepTime, cost: GuidanceCost) => Float32Array | Promise<Float32Array>;

/** SVDD: M candidates from the step, one kept with probability ∝ exp(v/α). */
export interface SelectTerm extends TermBase {
  readonly kind: "select";
  /** M ≥ 1. */
  readonly candidates: number;
  /** α ≥ 0 (0 = keep the arg-max). */
  readonly alpha: number;
  readonly value: ValueFn;
}

/** Any guidance term. */
export type GuidanceTerm = EpsTerm | GradientTerm | SelectTerm;
