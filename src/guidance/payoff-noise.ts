/**
 * Sampling "with the reward-conditioned noise" of RGDM's reverse process (2304.07132) — rewardiff's
 * READING of it. The stored copies of the paper hold only its abstract, which says that the payoff
 * distribution ∝ exp(r/τ) "enables diffusion models to explore for highly rewarded samples in the
 * reverse process" but does not define the sampler. The natural reading, implemented here: at every
 * stochastic reverse step t → s the noise is drawn from the payoff distribution restricted to K
 * Gaussian draws,
 *   x_s^(k) = μ_θ(x_t, t) + σ_t z_k,  z_k ~ N(0, I), k = 1..K,
 *   keep x_s^(k) with probability ∝ exp(r(y_k)/τ),  y_k = x_s^(k) (`at: "x-tilde"`, the analogue of
 *   training's x̃ + δ) or y_k = x̂_0(x_s^(k), s) under the sampled model (`at: "x0-hat"`).
 * This is SVDD's selection step (src/guidance: svddTerm + guidedSample) with the value v = r(y_k) at
 * temperature α = τ, so it reuses that machinery rather than duplicating it; reward evaluations (K per
 * sample and stochastic step) and the extra ε evaluations of x̂_0 are counted in the returned cost.
 * The final step to clean data is deterministic (σ = 0) and is taken plainly; any other deterministic
 * step (DDIM with η = 0) is refused: there is no noise to choose.
 *
 * Not offered: restricting the candidates to training's ρ-ball (the SVDD step draws plain Gaussian
 * noise and its value sees only the candidate, not μ); with ρ = √(D+2)·σ_t most Gaussian draws lie in
 * that ball anyway (D = 2: 1 − e^{−2} ≈ 86%).
 */
import type { JArray } from "../backend/jax.js";
import type { Key } from "../backend/keys.js";
import { requireStochastic, type StepCoefficients } from "../diffusion/step.js";
import type { EpsFn } from "../diffusion/types.js";
import { guidedSample } from "./sampler.js";
import { rewardAtX0Value, svddTerm } from "./terms.js";
import type { GuidanceCost, SelectTerm, ValueFn } from "./types.js";
import { evaluateReward, type Reward } from "../rewards/reward.js";

/** Where the payoff reward of a noise candidate is read. */
export type PayoffPoint = "x-tilde" | "x0-hat";

export interface PayoffNoiseSettings {
  /** τ, the payoff temperature (config `alpha`). */
  tau: number;
  /** K, noise candidates per sample and step (config `candidates`). */
  candidates: number;
  /** r(x_s^(k)) ("x-tilde") or r(x̂_0(x_s^(k), s)) ("x0-hat"; config `rewardAt`). */
  at: PayoffPoint;
}

/**
 * The selection term: K candidates of the step's Gaussian, one kept ∝ exp(r/τ). `eps` is the sampled
 * model's ε (used for x̂_0; borrowed). `where` names the config path in errors.
 */
export function payoffNoiseTerm(reward: Reward, eps: EpsFn, s: PayoffNoiseSettings, name = "rgdm payoff noise", where = "method"): SelectTerm {
  if (!(Number.isFinite(s.tau) && s.tau > 0)) throw new Error(`${where}.alpha (τ) must be > 0, got ${s.tau}`);
  if (!(Number.isInteger(s.candidates) && s.candidates >= 1)) throw new Error(`${where}.candidates (K) must be a whole number ≥ 1, got ${s.candidates}`);
  const value: ValueFn =
    s.at === "x0-hat"
      ? rewardAtX0Value(reward, eps)
      : async (x, _time, cost) => {
          cost.rewardEvals += x.shape[0]!;
          return evaluateReward(reward, x);
        };
  return svddTerm(value, { name, candidates: s.candidates, alpha: s.tau });
}

/**
 * Refuses a plan with a deterministic step (σ = 0) before its last one: the payoff draw needs noise.
 * One line naming the config key, the step and the sampler.
 */
export function checkPayoffPlan(plan: readonly StepCoefficients[], where = "method", samplerName = "this sampler"): void {
  requireStochastic(plan, { what: `${where}.sampleNoise "payoff" draws each step's noise from K candidates`, samplerName });
}

/** Runs the chain with payoff noise (see the module doc). Consumes `key`; returns x_0 [n, D] and the cost. */
export async function payoffNoiseSample(o: {
  eps: EpsFn;
  plan: readonly StepCoefficients[];
  reward: Reward;
  settings: PayoffNoiseSettings;
  n: number;
  dim: number;
  key: Key;
  /** Starting noise x_T [n, D] (consumed); drawn from N(0, I) with `key` when omitted. */
  xT?: JArray;
  samplerName?: string;
  where?: string;
  onStep?: (done: number, total: number) => void;
}): Promise<{ x: JArray; cost: GuidanceCost }> {
  let term: SelectTerm;
  try {
    checkPayoffPlan(o.plan, o.where, o.samplerName);
    term = payoffNoiseTerm(o.reward, o.eps, o.settings, undefined, o.where);
  } catch (e) {
    o.key.dispose();
    o.xT?.dispose();
    throw e;
  }
  return guidedSample({ eps: o.eps, plan: o.plan, terms: [term], n: o.n, dim: o.dim, key: o.key, ...(o.xT ? { xT: o.xT } : {}), ...(o.samplerName ? { samplerName: o.samplerName } : {}), ...(o.onStep ? { onStep: o.onStep } : {}) });
}
