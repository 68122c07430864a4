/**
 * The guided sampler: runs a plan of Gaussian steps (DDPM, DDIM(η)) with any ε-predictor and applies a
 * list of guidance terms (./types.ts) at every step of their active interval. Per step t → s:
 *   1. ε̂ = ε(x_t, t); classifier-free terms: ε̃ = ε̂ + Σ_j w_j (ε_j(x_t, t) − ε̂).
 *   2. Gradient terms at "xt" / "x0" (all at the same x_t and ε̃): "eps" ones give ε̃ ← ε̃ − √(1−ᾱ_t) s g,
 *      "mean" ones are kept as s g.
 *   3. μ, x̂_0 from ε̃ (the plan's coefficients); μ ← μ + σ² Σ s g; then terms at "mean":
 *      μ ← μ + s σ² ∇_μ log h(μ, s).
 *   4. x_s = μ + σ z, or, with an SVDD term active, the selected one of M candidates μ + σ z_m.
 * With `pathKl: true` it also accumulates the path KL to the unguided chain (types.ts PathKl): at each
 * step the guided terms change, KL_t = ‖μ̃ − μ_base‖²/(2σ²) with μ_base the step mean of the base ε̂
 * at the same x_t. ε̂ = ε(x_t, t) is evaluated anyway (step 1), so this costs no extra ε evaluation.
 * A separate function rather than a hook in src/diffusion/sample.ts, so the plain sampler stays jitted.
 * It is async because SVDD may call asynchronous (host) rewards.
 */
import { grad, np, random, type JArray } from "../backend/jax.js";
import { keyAt, splitKeyWords, type Key } from "../backend/keys.js";
import { scalar, settle, toHostSync, toNumber, upload } from "../backend/ownership.js";
import { coefficientVector, stepMeanFromVector, type StepCoefficients } from "../diffusion/step.js";
import type { EpsFn, StepTime } from "../diffusion/types.js";
import { validateRewardValues } from "../rewards/reward.js";
import {
  CLEAN,
  newCost,
  newPathKl,
  type GradientTerm,
  type GuidanceCost,
  type GuidanceTerm,
  type PathKl,
  type SelectTerm,
} from "./types.js";

export interface GuidedSampleOptions {
  /** The base ε-predictor (for CFG: the unconditional ε_∅). */
  eps: EpsFn;
  plan: readonly StepCoefficients[];
  terms: readonly GuidanceTerm[];
  n: number;
  dim: number;
  /** Consumed. */
  key: Key;
  /** Starting noise x_T [n, D] (consumed); drawn from N(0, I) with `key` when omitted. */
  xT?: JArray;
  /** Counter to add to (a fresh one by default); also returned. */
  cost?: GuidanceCost;
  /** Names the sampler in errors (e.g. "ddim with eta = 0"). */
  samplerName?: string;
  /**
   * Accumulate the path KL of the guided chain to the unguided one (the base `eps`), returned as
   * `pathKl` (opt-in: one host read per guided step).
   */
  pathKl?: boolean;
  onStep?: (done: number, total: number) => void;
}

/** Is a term active at step i of `total` (start ≤ i/total < stop)? */
export function isActive(term: { interval: { start: number; stop: number } }, i: number, total: number): boolean {
  const f = i / total;
  return f >= term.interval.start && f < term.interval.stop;
}

/**
 * Checks terms against a plan before any work: intervals in [0, 1], strengths finite, and terms that
 * need a stochastic step (SVDD's candidates, "mean"-applied gradients s σ² g) refused on a plan whose
 * active steps are deterministic (σ = 0; the final step to clean data is always deterministic and is
 * skipped for these terms rather than refused).
 */
export function checkTerms(terms: readonly GuidanceTerm[], plan: readonly StepCoefficients[], samplerName = "this sampler"): void {
  const S = plan.length;
  for (const term of terms) {
    const { start, stop } = term.interval;
    if (!(start >= 0 && stop <= 1 && start < stop)) {
      throw new Error(`guidance term "${term.name}": the active interval [${start}, ${stop}) must satisfy 0 ≤ start < stop ≤ 1`);
    }
    if (term.kind !== "select" && !Number.isFinite(term.scale)) {
      throw new Error(`guidance term "${term.name}": scale must be a finite number, got ${term.scale}`);
    }
    const needsNoise = term.kind === "select" || (term.kind === "gradient" && term.apply === "mean");
    if (!needsNoise) continue;
    const what =
      term.kind === "select"
        ? `draws its ${term.candidates} candidates from a stochastic step (σ > 0)`
        : `applies s·σ²·∇log h to the step mean, which vanishes when σ = 0 (use apply: "eps" on a deterministic sampler)`;
    for (let i = 0; i < S - 1; i++) {
      if (isActive(term, i, S) && !(plan[i]!.sigma > 0)) {
        throw new Error(
          `guidance term "${term.name}" ${what}, but step ${i + 1} of ${S} of ${samplerName} is deterministic (σ = 0); ` +
            `use the ddpm sampler or ddim with eta > 0`,
        );
      }
    }
  }
}

/**
 * Runs the guided chain. Returns x_0 [n, D], the cost, and (with `pathKl: true`) the path KL to the
 * unguided chain over these n samples. Consumes `key` (and `xT`).
 */
export async function guidedSample(o: GuidedSampleOptions): Promise<{ x: JArray; cost: GuidanceCost; pathKl?: PathKl }> {
  const cost = o.cost ?? newCost();
  const kl = o.pathKl ? { ...newPathKl(), n: o.n } : undefined;
  const t0 = performance.now();
  const S = o.plan.length;
  checkTerms(o.terms, o.plan, o.samplerName);
  const keys = splitKeyWords(o.key, 2 * S + 1);
  let x = o.xT ?? random.normal(keyAt(keys, 0), [o.n, o.dim]);
  try {
    for (let i = 0; i < S; i++) {
      const c = o.plan[i]!;
      const active = o.terms.filter((term) => isActive(term, i, S));
      x = await guidedStep(o, x, c, active, keys, i, cost, kl);
      settle(x);
      o.onStep?.(i + 1, S);
    }
  } catch (e) {
    try {
      x.dispose(); // the carried chain state, unless the failing step had consumed it already
    } catch {
      // already released
    }
    throw e;
  }
  cost.seconds += (performance.now() - t0) / 1000;
  return { x, cost, ...(kl ? { pathKl: kl } : {}) };
}

async function guidedStep(
  o: GuidedSampleOptions,
  x: JArray,
  c: StepCoefficients,
  active: GuidanceTerm[],
  keys: Uint32Array,
  i: number,
  cost: GuidanceCost,
  kl: PathKl | undefined,
): Promise<JArray> {
  const n = x.shape[0]!;
  const at = c.t.alphaBar;
  const sigma = c.sigma;
  const epsTerms = active.filter((t) => t.kind === "eps");
  const gradTerms = active.filter((t): t is GradientTerm => t.kind === "gradient");
  const select = active.filter((t): t is SelectTerm => t.kind === "select");
  if (select.length > 1) throw new Error(`at most one SVDD (select) term may be active at a time, got ${select.map((s) => s.name).join(", ")}`);

  // 1. ε̃ = ε̂ + Σ w_j (ε_j − ε̂): the ε the step (and x̂_0 for "x0" terms) uses.
  const combinedEps = (y: JArray, t: StepTime, count: boolean): JArray => {
    const base = o.eps(epsTerms.length > 0 ? y.ref : y, t);
    if (count) cost.modelEvals += n;
    return epsTerms.length > 0 ? mixIn(base, y, t, count) : base;
  };
  /** ε̂ + Σ w_j (ε_j(y) − ε̂) from the base ε̂ (consumed) at y (consumed); only with ε terms active. */
  const mixIn = (base: JArray, y: JArray, t: StepTime, count: boolean): JArray => {
    let acc = base.ref;
    epsTerms.forEach((term, j) => {
      const ec = term.eps(j === epsTerms.length - 1 ? y : y.ref, t);
      if (count) cost.modelEvals += n;
      acc = acc.add(ec.sub(base.ref).mul(scalar(term.scale)));
    });
    base.dispose();
    return acc;
  };
  // The path KL needs the base step mean only where the terms change this step; ε̂ is reused.
  // (σ = 0: "mean"-applied and "mean"-evaluated gradient terms are skipped, as below.)
  const changes = epsTerms.length > 0 || gradTerms.some((term) => sigma > 0 || (term.where !== "mean" && term.apply === "eps"));
  const track = kl !== undefined && changes && !(select.length === 1 && sigma > 0);
  if (kl && select.length === 1 && sigma > 0) kl.selectionSteps++;
  const baseEps = o.eps(x.ref, c.t);
  cost.modelEvals += n;
  const baseMean = track ? stepMeanFromVector(x.ref, baseEps.ref, coefficientVector(c)) : undefined;
  baseMean?.x0Hat.dispose();
  let eps = epsTerms.length > 0 ? mixIn(baseEps, x.ref, c.t, true) : baseEps;

  // 2. Gradient terms at x_t or x̂_0(x_t).
  const meanShifts: JArray[] = [];
  for (const term of gradTerms) {
    if (term.where === "mean") continue;
    if (term.apply === "mean" && !(sigma > 0)) continue; // the final deterministic step: s σ² g = 0
    const g = term.where === "xt" ? gradientAt(term, x.ref, c.t, n, cost) : gradientThroughX0(term, x.ref, eps.ref, c.t, combinedEps, n, cost);
    if (term.apply === "eps") eps = eps.sub(g.mul(scalar(Math.sqrt(1 - at) * term.scale)));
    else meanShifts.push(g.mul(scalar(term.scale)));
  }

  // 3. The step's Gaussian, then mean shifts.
  const { mean: mean0, x0Hat } = stepMeanFromVector(x, eps, coefficientVector(c));
  x0Hat.dispose();
  let mean = mean0;
  for (const shift of meanShifts) mean = mean.add(shift.mul(scalar(sigma * sigma)));
  if (sigma > 0) {
    for (const term of gradTerms) {
      if (term.where !== "mean") continue;
      const g = gradientAt(term, mean.ref, c.s, n, cost);
      mean = mean.add(g.mul(scalar(term.scale * sigma * sigma)));
    }
  }

  if (baseMean) accumulateKl(kl!, mean.ref, baseMean.mean, sigma);

  // 4. Noise, or SVDD's selection among M candidates.
  if (!(sigma > 0)) return mean;
  const key = keyAt(keys, 2 * i + 1);
  if (select.length === 1) return selectCandidate(select[0]!, mean, sigma, c.s, key, keyAt(keys, 2 * i + 2), cost);
  return mean.add(random.normal(key, mean.shape).mul(scalar(sigma)));
}

/**
 * Adds this step's Σ_i ‖μ̃_i − μ_base,i‖²/(2σ²) to `kl`; at σ = 0 counts a deterministic shift instead
 * when the means differ. The 1/(2σ²) is applied on the host (no per-step kernel). Consumes both means.
 */
function accumulateKl(kl: PathKl, mean: JArray, baseMean: JArray, sigma: number): void {
  const ss = toNumber(np.sum(np.square(mean.sub(baseMean))));
  if (sigma > 0) kl.sum += ss / (2 * sigma * sigma);
  else if (!(ss === 0)) kl.deterministicShifts++;
}

/** ∇_x log h(x, τ) (closed form when the term has one). Consumes `x`. */
function gradientAt(term: GradientTerm, x: JArray, time: StepTime, n: number, cost: GuidanceCost): JArray {
  cost.gradEvals += n;
  if (term.gradLogH) return term.gradLogH(x, time, cost);
  return grad((y: JArray) => term.logH(y, time, cost).sum())(x);
}

/**
 * g = ∇_{x_t} log h(x̂_0(x_t)). "full": differentiates x̂_0 = (x_t − √(1−ᾱ_t) ε̃(x_t))/√ᾱ_t through the
 * ε-network (one more forward and a backward pass); "identity": (∇ log h)(x̂_0)/√ᾱ_t with x̂_0 from the
 * step's ε̃ (no network Jacobian). Consumes `x` and `eps`.
 */
function gradientThroughX0(
  term: GradientTerm,
  x: JArray,
  eps: JArray,
  t: StepTime,
  combinedEps: (y: JArray, t: StepTime, count: boolean) => JArray,
  n: number,
  cost: GuidanceCost,
): JArray {
  const ra = 1 / Math.sqrt(t.alphaBar);
  const rb = Math.sqrt(1 - t.alphaBar) / Math.sqrt(t.alphaBar);
  if (term.jacobian === "identity") {
    const x0 = x.mul(scalar(ra)).sub(eps.mul(scalar(rb)));
    return gradientAt(term, x0, CLEAN, n, cost).mul(scalar(ra));
  }
  eps.dispose();
  cost.gradEvals += n;
  const f = (y: JArray) => {
    // One more forward pass of the ε-network(s), counted in modelEvals.
    const x0 = y.ref.mul(scalar(ra)).sub(combinedEps(y, t, true).mul(scalar(rb)));
    return term.logH(x0, CLEAN, cost).sum();
  };
  return grad(f)(x);
}

/**
 * SVDD's step: M candidates μ + σ z_m per sample, values v (validated: M·n finite numbers), one kept
 * per sample with probability ∝ exp(v/α) (α = 0: the arg-max, first on ties). Consumes `mean` and keys.
 */
async function selectCandidate(
  term: SelectTerm,
  mean: JArray,
  sigma: number,
  s: StepTime,
  noiseKey: Key,
  pickKey: Key,
  cost: GuidanceCost,
): Promise<JArray> {
  const [n, D] = mean.shape as [number, number];
  const M = term.candidates;
  const tiled = np.broadcastTo(mean.reshape([1, n, D]), [M, n, D]).reshape([M * n, D]);
  const cand = tiled.add(random.normal(noiseKey, [M * n, D]).mul(scalar(sigma)));
  const v = validateRewardValues({ name: `${term.name} value` }, await term.value(cand.ref, s, cost), M * n);
  const host = toHostSync(cand);
  const u = toHostSync(random.uniform(pickKey, [n]));
  const out = new Float32Array(n * D);
  const w = new Float64Array(M);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let m = 1; m < M; m++) if (v[m * n + i]! > v[best * n + i]!) best = m;
    let pick = best;
    if (term.alpha > 0) {
      const top = v[best * n + i]!;
      let total = 0;
      for (let m = 0; m < M; m++) total += w[m] = Math.exp((v[m * n + i]! - top) / term.alpha);
      let acc = 0;
      const target = u[i]! * total;
      pick = M - 1;
      for (let m = 0; m < M; m++) {
        acc += w[m]!;
        if (target < acc) {
          pick = m;
          break;
        }
      }
    }
    out.set(host.subarray((pick * n + i) * D, (pick * n + i + 1) * D), i * D);
  }
  return upload(out, n, D);
}
