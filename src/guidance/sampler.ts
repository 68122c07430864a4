/**
 * The guided sampler: runs a plan of Gaussian steps (DDPM, DDIM(η)) with any ε-predictor and applies a
 * list of guidance terms (./types.ts) at every step of their active interval. Per step t → s:
 *   1. ε̂ = ε(x_t, t); classifier-free terms: ε̃ = ε̂ + Σ_j w_j (ε_j(x_t, t) − ε̂).
 *   2. Gradient terms at "xt" / "x0" (all at the same x_t and ε̃): "eps" ones give ε̃ ← ε̃ − √(1−ᾱ_t) s g,
 *      "mean" ones are kept as s g. With a noise hook P (graphs: symmetric edges, zero diagonal) every
 *      gradient is projected first, g ← P g: the chain's off-space part u is data-like (the projected
 *      ε̂ never touches it, so each step maps u to u/√α'_t), and an unprojected g injected at ᾱ_t reaches
 *      x_0 multiplied by 1/√ᾱ_t (docs/molecules.md, "Comparison row: target-value guidance").
 *   3. μ, x̂_0 from ε̃ (the plan's coefficients); μ ← μ + σ² Σ s g; then terms at "mean":
 *      μ ← μ + s σ² ∇_μ log h(μ, s).
 *   4. x_s = μ + σ z, or, with an SVDD term active, the selected one of M candidates μ + σ z_m.
 * With `pathKl: true` it also accumulates the path KL to the unguided chain (types.ts PathKl): at each
 * step the guided terms change, KL_t = ‖P(μ̃ − μ_base)‖²/(2σ²) (P the noise hook, if any) with μ_base
 * the step mean of the base ε̂ at the same x_t. ε̂ = ε(x_t, t) is evaluated anyway (step 1), so this
 * costs no extra ε evaluation.
 * It is the sampling loop of src/diffusion/sample.ts with a guidance hook (so with no active term it
 * draws exactly the plain sampler's samples for the same key); SVDD's candidates and pick are drawn
 * from the step's key, split inside the step.
 */
import { grad, np, random, type JArray } from "../backend/jax.js";
import { splitKey, type Key } from "../backend/keys.js";
import { scalar, toHost } from "../backend/ownership.js";
import { selectCandidateRows } from "../data/selection.js";
import { drawNoise, sample, type GuidanceHook, type StepContext, type StepInfo } from "../diffusion/sample.js";
import { classifierFree, coefficientVector, pathKl as stepPathKl, requireStochastic, stepFromOutput, type StepCoefficients } from "../diffusion/step.js";
import type { EpsFn, NoiseHook, StepTime } from "../diffusion/types.js";
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
  /** Entries per sample; the event shape is [dim] unless `eventShape` is given. */
  dim: number;
  eventShape?: readonly number[];
  /** Consumed. */
  key: Key;
  /** Starting noise x_T [n, ...event] (consumed); drawn from N(0, I) with `key` when omitted. */
  xT?: JArray;
  /** Maps each standard-normal draw into the model's noise space (src/diffusion/types.ts). */
  noise?: NoiseHook;
  /** Counter to add to (a fresh one by default); also returned. */
  cost?: GuidanceCost;
  /** Names the sampler in errors (e.g. "ddim with eta = 0"). */
  samplerName?: string;
  /**
   * Accumulate the path KL of the guided chain to the unguided one (the base `eps`), returned as
   * `pathKl` (opt-in: one host read per guided step).
   */
  pathKl?: boolean;
  /** After each step; `info` holds the current samples x_s and x̂_0 (borrowed: `.ref` to keep one). */
  onStep?: (done: number, total: number, info: StepInfo) => void;
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
    requireStochastic(plan, { what: `guidance term "${term.name}" ${what}`, active: (i) => i < S - 1 && isActive(term, i, S), samplerName });
  }
}

/**
 * Runs the guided chain. Returns x_0 [n, ...event], the cost, and (with `pathKl: true`) the path KL to
 * the unguided chain over these n samples. Consumes `key` (and `xT`).
 */
export async function guidedSample(o: GuidedSampleOptions): Promise<{ x: JArray; cost: GuidanceCost; pathKl?: PathKl }> {
  const cost = o.cost ?? newCost();
  const kl = o.pathKl ? { ...newPathKl(), n: o.n } : undefined;
  const t0 = performance.now();
  try {
    checkTerms(o.terms, o.plan, o.samplerName);
  } catch (e) {
    o.key.dispose();
    o.xT?.dispose();
    throw e;
  }
  const x = await sample({
    model: o.eps,
    plan: o.plan,
    n: o.n,
    eventShape: o.eventShape ?? [o.dim],
    key: o.key,
    ...(o.xT ? { xT: o.xT } : {}),
    hooks: {
      ...(o.terms.length > 0 ? { guidance: guidanceHook(o, cost, kl) } : { guidance: countingHook(o.n, cost) }),
      ...(o.noise ? { noise: o.noise } : {}),
      ...(o.onStep ? { onStep: (info) => o.onStep!(info.i + 1, info.total, info) } : {}),
    },
  });
  cost.seconds += (performance.now() - t0) / 1000;
  return { x, cost, ...(kl ? { pathKl: kl } : {}) };
}

/** The unguided step, counting its model evaluations. */
function countingHook(n: number, cost: GuidanceCost): GuidanceHook {
  return {
    step(_ctx, _x, base) {
      cost.modelEvals += n;
      base.x0Hat.dispose();
      base.epsHat.dispose();
      return base.mean;
    },
  };
}

/** The guidance terms as the sampling loop's guidance hook (steps 1–4 of the module doc). */
function guidanceHook(o: GuidedSampleOptions, cost: GuidanceCost, kl: PathKl | undefined): GuidanceHook {
  const activeAt = (ctx: StepContext) => o.terms.filter((term) => isActive(term, ctx.i, ctx.total));
  // A gradient moves the chain only within the noise space (the gradient of log h restricted to it, P g):
  // a component outside it is never corrected by the (projected) model output and grows by 1/√ᾱ_t to x_0.
  const inNoiseSpace = (g: JArray): JArray => (o.noise ? o.noise(g) : g);
  return {
    async step(ctx, x, base) {
      const n = x.shape[0]!;
      cost.modelEvals += n;
      const c = ctx.coefficients;
      const active = activeAt(ctx);
      const sigma = c.sigma;
      const epsTerms = active.filter((t) => t.kind === "eps");
      const gradTerms = active.filter((t): t is GradientTerm => t.kind === "gradient");
      const select = active.filter((t): t is SelectTerm => t.kind === "select");
      if (select.length > 1) throw new Error(`at most one SVDD (select) term may be active at a time, got ${select.map((s) => s.name).join(", ")}`);
      if (kl && select.length === 1 && sigma > 0) kl.selectionSteps++;
      // (σ = 0: "mean"-applied and "mean"-evaluated gradient terms are skipped, as below.)
      const changes = epsTerms.length > 0 || gradTerms.some((term) => sigma > 0 || (term.where !== "mean" && term.apply === "eps"));
      base.x0Hat.dispose();
      if (!changes) {
        base.epsHat.dispose();
        return base.mean;
      }
      const track = kl !== undefined && !(select.length === 1 && sigma > 0);

      // 1. ε̃ = ε̂ + Σ w_j (ε_j − ε̂): the ε the step (and x̂_0 for "x0" terms) uses.
      const mixIn = (epsBase: JArray, y: JArray, t: StepTime, count: boolean): JArray => {
        const conds = epsTerms.map((term, j) => {
          if (count) cost.modelEvals += n;
          return [term.eps(j === epsTerms.length - 1 ? y : y.ref, t), term.scale] as const;
        });
        return classifierFree(epsBase, conds);
      };
      const combinedEps = (y: JArray, t: StepTime, count: boolean): JArray => {
        const e = o.eps(epsTerms.length > 0 ? y.ref : y, t);
        if (count) cost.modelEvals += n;
        return epsTerms.length > 0 ? mixIn(e, y, t, count) : e;
      };
      let eps = epsTerms.length > 0 ? mixIn(base.epsHat, x.ref, c.t, true) : base.epsHat;

      // 2. Gradient terms at x_t or x̂_0(x_t).
      const meanShifts: JArray[] = [];
      for (const term of gradTerms) {
        if (term.where === "mean") continue;
        if (term.apply === "mean" && !(sigma > 0)) continue; // the final deterministic step: s σ² g = 0
        const g = inNoiseSpace(term.where === "xt" ? gradientAt(term, x.ref, c.t, n, cost) : gradientThroughX0(term, x.ref, eps.ref, c.t, combinedEps, n, cost));
        if (term.apply === "eps") eps = eps.sub(g.mul(scalar(Math.sqrt(1 - c.t.alphaBar) * term.scale)));
        else meanShifts.push(g.mul(scalar(term.scale)));
      }

      // 3. The step's Gaussian from ε̃, then mean shifts.
      const step = stepFromOutput("eps", x.ref, eps, coefficientVector(c));
      step.x0Hat.dispose();
      step.epsHat.dispose();
      let mean = step.mean;
      for (const shift of meanShifts) mean = mean.add(shift.mul(scalar(sigma * sigma)));
      if (sigma > 0) {
        for (const term of gradTerms) {
          if (term.where !== "mean") continue;
          const g = inNoiseSpace(gradientAt(term, mean.ref, c.s, n, cost));
          mean = mean.add(g.mul(scalar(term.scale * sigma * sigma)));
        }
      }
      // The step's Gaussian lives on the noise space: its KL is between the means' projections there.
      if (track) await accumulateKl(kl!, inNoiseSpace(mean.ref), inNoiseSpace(base.mean), sigma);
      else base.mean.dispose();
      return mean;
    },

    // 4. SVDD's selection among M candidates.
    draw(ctx, mean, key, noise) {
      const select = activeAt(ctx).find((t): t is SelectTerm => t.kind === "select");
      if (!select) return undefined;
      return selectCandidate(select, mean, ctx.coefficients.sigma, ctx.coefficients.s, key, cost, noise);
    },
  };
}

/**
 * Adds this step's Σ_i ‖μ̃_i − μ_base,i‖²/(2σ²) to `kl`; at σ = 0 counts a deterministic shift instead
 * when the means differ. Consumes both means.
 */
async function accumulateKl(kl: PathKl, mean: JArray, baseMean: JArray, sigma: number): Promise<void> {
  const perSample = await toHost(stepPathKl(mean, baseMean, sigma > 0 ? 1 / (2 * sigma * sigma) : 1));
  let total = 0;
  for (const v of perSample) total += v;
  if (sigma > 0) kl.sum += total;
  else if (!(total === 0)) kl.deterministicShifts++;
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
 * per sample with probability ∝ exp(v/α) (α = 0: the arg-max, first on ties). The candidates' noise
 * and the pick come from the step's key (consumed), split in two. Consumes `mean`.
 */
async function selectCandidate(
  term: SelectTerm,
  mean: JArray,
  sigma: number,
  s: StepTime,
  key: Key,
  cost: GuidanceCost,
  noise: NoiseHook | undefined,
): Promise<JArray> {
  const [noiseKey, pickKey] = splitKey(key, 2) as [Key, Key];
  const shape = mean.shape;
  const n = shape[0]!;
  const event = shape.slice(1);
  const D = event.reduce((a, b) => a * b, 1);
  const M = term.candidates;
  const tiled = np.broadcastTo(mean.reshape([1, n, ...event]), [M, n, ...event]).reshape([M * n, ...event]);
  const cand = tiled.add(drawNoise(noiseKey, [M * n, ...event], noise).mul(scalar(sigma)));
  const v = validateRewardValues({ name: `${term.name} value` }, await term.value(cand.ref, s, cost), M * n);
  const host = await toHost(cand);
  const u = await toHost(random.uniform(pickKey, [n]));
  const picks = selectCandidateRows(v, n, M, term.alpha, (i) => u[i]!);
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const pick = picks[i]!;
    out.set(host.subarray((pick * n + i) * D, (pick * n + i + 1) * D), i * D);
  }
  return np.array(out, { shape: [n, ...event] });
}
