/**
 * Constructors for the guidance terms of ./types.ts. Each documents its log h (the log-likelihood whose
 * gradient steers the step, strength s) in the notation of methods.md; α is the tilt temperature of the
 * target p · exp(r/α), so s = 1 with an exact value reproduces the tilted law (see ./exact.ts).
 *
 *   cfgTerm                 ε̃ = ε̂ + w (ε_c − ε̂)                                    (classifier-free)
 *   rewardGuidanceTerm/dps  log h = r(x̂_0(x_t))/α at where = "x0" (DPS / reconstruction guidance)
 *   regressorGuidanceTerm   log h = f_φ(x, τ)/α, f_φ a regressor trained on noised inputs
 *   classifierGuidanceTerm  log h = log p_φ(y | x, τ), a classifier trained on noised inputs
 *   targetGuidanceTerm      log h = −½ (a − f(x, τ))², f a noisy regressor or a reward (at x̂_0)
 *   svddTerm                SVDD selection with a value v: r(x̂_0(x_s)), a learned f_φ(x_s, s), or exact
 */
import { np } from "../backend/jax.js";
import { scalar, toHost } from "../backend/ownership.js";
import type { EpsFn, StepTime } from "../diffusion/types.js";
import { evaluateReward, requireDifferentiable, type Reward } from "../rewards/reward.js";
import type { NoisyPredictor } from "./noisy-predictor.js";
import {
  WHOLE_CHAIN,
  type ApplyTo,
  type EpsTerm,
  type GradientPoint,
  type GradientTerm,
  type LogLikelihood,
  type LogLikelihoodGrad,
  type SelectTerm,
  type ValueFn,
} from "./types.js";

/** Options every term takes. */
export interface TermOptions {
  /** Shown in errors and reports. */
  name?: string;
  /** Strength (w for CFG, s for gradient terms); default 1. */
  scale?: number;
  /** Active interval [start, stop) as a fraction of the chain; default [0, 1). */
  start?: number;
  stop?: number;
}

/** Options of gradient terms. */
export interface GradientTermOptions extends TermOptions {
  where?: GradientPoint;
  apply?: ApplyTo;
  jacobian?: "full" | "identity";
}

/** `o` without its undefined entries (so that spreading it never overrides a default with undefined). */
export function definedOptions<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function interval(o: TermOptions) {
  return { start: o.start ?? WHOLE_CHAIN.start, stop: o.stop ?? WHOLE_CHAIN.stop };
}

function checkAlpha(alpha: number, who: string): void {
  if (!(Number.isFinite(alpha) && alpha > 0)) throw new Error(`${who}: alpha must be a finite number > 0, got ${alpha}`);
}

/** Classifier-free guidance with the conditional ε_c (the sampler's base ε is the unconditional ε_∅). */
export function cfgTerm(condEps: EpsFn, o: TermOptions = {}): EpsTerm {
  return { kind: "eps", name: o.name ?? "cfg", scale: o.scale ?? 1, interval: interval(o), eps: condEps };
}

/**
 * A gradient term from any differentiable log h. Defaults: where "xt", apply "eps" ("mean" when
 * where = "mean"), jacobian "full".
 */
export function gradientTerm(logH: LogLikelihood, o: GradientTermOptions & { gradLogH?: LogLikelihoodGrad } = {}): GradientTerm {
  const where = o.where ?? "xt";
  const apply = o.apply ?? (where === "mean" ? "mean" : "eps");
  const name = o.name ?? "gradient";
  if (!["xt", "x0", "mean"].includes(where)) throw new Error(`guidance term "${name}": where must be "xt", "x0" or "mean", got "${where}"`);
  if (!["eps", "mean"].includes(apply)) throw new Error(`guidance term "${name}": apply must be "eps" or "mean", got "${apply}"`);
  if (where === "mean" && apply !== "mean") {
    throw new Error(`guidance term "${name}": a gradient taken at the step mean can only be applied to the mean (apply: "mean")`);
  }
  const jacobian = o.jacobian ?? "full";
  if (jacobian !== "full" && jacobian !== "identity") throw new Error(`guidance term "${name}": jacobian must be "full" or "identity"`);
  return {
    kind: "gradient",
    name,
    scale: o.scale ?? 1,
    interval: interval(o),
    where,
    apply,
    jacobian,
    logH,
    ...(o.gradLogH ? { gradLogH: o.gradLogH } : {}),
  };
}

/**
 * log h = r(x)/α of a differentiable reward, evaluated at `where` (default "x0": DPS, the gradient of
 * r(x̂_0(x_t)) with respect to x_t). Refuses a non-differentiable reward with a clear error.
 */
export function rewardGuidanceTerm(reward: Reward, o: GradientTermOptions & { alpha?: number } = {}): GradientTerm {
  const name = o.name ?? "dps";
  requireDifferentiable(reward, `guidance term "${name}"`);
  const alpha = o.alpha ?? 1;
  checkAlpha(alpha, `guidance term "${name}"`);
  const fn = reward.fn;
  const logH: LogLikelihood = (x, _time, cost) => {
    cost.rewardEvals += x.shape[0]!;
    return fn(x).mul(1 / alpha);
  };
  return gradientTerm(logH, { where: "x0", ...definedOptions(o), name });
}

/** DPS: {@link rewardGuidanceTerm} at x̂_0 (where "x0", jacobian "full" unless told otherwise). */
export const dpsTerm = rewardGuidanceTerm;

/** log h = f_φ(x, τ)/α with a regression predictor trained on noised inputs (default where "xt"). */
export function regressorGuidanceTerm(pred: NoisyPredictor, o: GradientTermOptions & { alpha?: number } = {}): GradientTerm {
  const name = o.name ?? "classifier-guidance";
  if (pred.spec.head !== "regression") throw new Error(`guidance term "${name}": needs a regression predictor`);
  const alpha = o.alpha ?? 1;
  checkAlpha(alpha, `guidance term "${name}"`);
  const logH: LogLikelihood = (x, time, cost) => {
    cost.valueEvals += x.shape[0]!;
    return pred.predict(x, time).mul(1 / alpha);
  };
  return gradientTerm(logH, { ...o, name });
}

/** log h = log p_φ(y = label | x, τ) with a classifier trained on noised inputs (default where "xt"). */
export function classifierGuidanceTerm(pred: NoisyPredictor, label: number, o: GradientTermOptions = {}): GradientTerm {
  const name = o.name ?? "classifier-guidance";
  if (pred.spec.head !== "classification") throw new Error(`guidance term "${name}": needs a classification predictor`);
  const logH: LogLikelihood = (x, time, cost) => {
    cost.valueEvals += x.shape[0]!;
    return pred.logProb(x, time, label);
  };
  return gradientTerm(logH, { ...o, name });
}

/**
 * Target-value guidance (the 2307.07055 image code, per-sample strength): log h = −½ (a − f(x, τ))², a
 * Gaussian likelihood of the target a under the predictor f, so ε̃ = ε̂ + √(1−ᾱ_t) s ∇½(a − f)². f is a
 * noisy regressor (default where "xt") or a differentiable reward (default where "x0").
 */
export function targetGuidanceTerm(
  f: { predictor: NoisyPredictor } | { reward: Reward },
  target: number,
  o: GradientTermOptions = {},
): GradientTerm {
  const name = o.name ?? "target-guidance";
  if (!Number.isFinite(target)) throw new Error(`guidance term "${name}": target must be a finite number, got ${target}`);
  if ("reward" in f) {
    requireDifferentiable(f.reward, `guidance term "${name}"`);
    const fn = f.reward.fn;
    const logH: LogLikelihood = (x, _time, cost) => {
      cost.rewardEvals += x.shape[0]!;
      return np.square(fn(x).sub(target)).mul(-0.5);
    };
    return gradientTerm(logH, { where: "x0", ...definedOptions(o), name });
  }
  const pred = f.predictor;
  if (pred.spec.head !== "regression") throw new Error(`guidance term "${name}": needs a regression predictor`);
  const logH: LogLikelihood = (x, time, cost) => {
    cost.valueEvals += x.shape[0]!;
    return np.square(pred.predict(x, time).sub(target)).mul(-0.5);
  };
  return gradientTerm(logH, { ...o, name });
}

/** SVDD with a value function: M candidates per step, one kept with probability ∝ exp(v/α). */
export function svddTerm(value: ValueFn, o: Omit<TermOptions, "scale"> & { candidates?: number; alpha?: number } = {}): SelectTerm {
  const name = o.name ?? "svdd";
  const M = o.candidates ?? 8;
  if (!(Number.isInteger(M) && M >= 1)) throw new Error(`guidance term "${name}": candidates must be a whole number ≥ 1, got ${M}`);
  const alpha = o.alpha ?? 1;
  if (!(Number.isFinite(alpha) && alpha >= 0)) throw new Error(`guidance term "${name}": alpha must be a finite number ≥ 0, got ${alpha}`);
  return { kind: "select", name, candidates: M, alpha, interval: interval(o), value };
}

/**
 * v(x_s) = r(x̂_0(x_s)) with x̂_0 from the base ε at time s (SVDD-PM); at clean time v = r(x). Works with
 * any reward, differentiable or not, sync or async. Counts one ε evaluation and one reward evaluation
 * per candidate.
 */
export function rewardAtX0Value(reward: Reward, eps: EpsFn): ValueFn {
  return async (x, time: StepTime, cost) => {
    const n = x.shape[0]!;
    let x0 = x;
    if (time.alphaBar < 1) {
      const e = eps(x.ref, time);
      cost.modelEvals += n;
      x0 = x.mul(scalar(1 / Math.sqrt(time.alphaBar))).sub(e.mul(scalar(Math.sqrt((1 - time.alphaBar) / time.alphaBar))));
    }
    cost.rewardEvals += n;
    return evaluateReward(reward, x0);
  };
}

/** v(x_s) = f_φ(x_s, s), a regression predictor trained on noised inputs (a learned value network). */
export function predictorValue(pred: NoisyPredictor): ValueFn {
  if (pred.spec.head !== "regression") throw new Error("predictorValue needs a regression predictor");
  return (x, time, cost) => {
    cost.valueEvals += x.shape[0]!;
    return toHost(pred.predict(x, time));
  };
}

/** A one-line description of a term (for logs and reports). */
export function describeTerm(t: { kind: string; name: string; interval: { start: number; stop: number } } & Partial<GradientTerm>): string {
  const span = t.interval.start === 0 && t.interval.stop === 1 ? "" : ` on [${t.interval.start}, ${t.interval.stop})`;
  if (t.kind === "gradient") return `${t.name}: s=${t.scale}, gradient at ${t.where}, applied to ${t.apply}${span}`;
  return `${t.name} (${t.kind})${span}`;
}
