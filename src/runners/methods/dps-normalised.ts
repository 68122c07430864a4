/**
 * Method "dps-normalised": DPS with a per-step normalised strength (Chung et al.'s ζ_t = ζ/‖y − A(x̂_0)‖,
 * here for a reward): at every step the reward gradient at x̂_0 is scaled to unit length per sample,
 *   log h_t(x_t) = r(x̂_0(x_t)) / sg(‖∇_{x̂_0} r(x̂_0)‖ + 1e-12),   sg = stop-gradient,
 * so ∇_{x_t} log h_t = (∂x̂_0/∂x_t)ᵀ ∇r/‖∇r‖ and the step moves by `scale` (ζ) along the reward's
 * direction whatever the reward's magnitude (docs/guidance.md). The norm reduces over every event axis.
 * The step does not depend on α; `alpha` only names the exact tilt p* ∝ p·e^{r/α} the row is compared with.
 */
import * as z from "zod";
import { grad, lax, np, type JArray } from "../../backend/jax.js";
import { gradientTerm } from "../../guidance/terms.js";
import type { LogLikelihood } from "../../guidance/types.js";
import { strict } from "../../io/config.js";
import { requireDifferentiable, type DifferentiableReward } from "../../rewards/reward.js";
import { defineMethod } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided } from "./guidance-common.js";
import { alphaField, guidanceInterval, scaleField } from "./schema-parts.js";

/** Keeps ‖∇r‖ = 0 (a flat reward) from dividing by zero: the step is then zero. */
const NORM_FLOOR = 1e-12;

/** log h(x) = r(x) / sg(‖∇r(x)‖) per sample, for x [n, ...event] (consumed). */
export function normalisedRewardLogH(reward: DifferentiableReward): LogLikelihood {
  const fn = reward.fn;
  const total = grad((y: JArray) => np.sum(fn(y)));
  return (x, _time, cost) => {
    const n = x.shape[0]!;
    cost.rewardEvals += 2 * n;
    cost.gradEvals += n;
    const g = total(x.ref);
    const norm = np.sqrt(np.sum(np.square(g.reshape([n, -1])), 1)).add(NORM_FLOOR);
    return fn(x).div(lax.stopGradient(norm));
  };
}

export const dpsNormalisedMethod = defineMethod({
  kind: "dps-normalised",
  summary: "DPS with per-step normalised strength: a step of length ζ = scale along ∇r(x̂₀)/‖∇r(x̂₀)‖ (docs/guidance.md)",
  schema: strict({
    kind: z.literal("dps-normalised"),
    scale: scaleField(),
    alpha: alphaField(),
    jacobian: z.enum(["full", "identity"]).default("full"),
    ...guidanceInterval,
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
    const m = ctx.method;
    const setup = guidanceSetup(ctx);
    requireDifferentiable(setup.reward, `method "${setup.label}"`);
    const term = gradientTerm(normalisedRewardLogH(setup.reward), { name: setup.label, scale: m.scale, where: "x0", jacobian: m.jacobian, start: m.start, stop: m.stop });
    const { samples, cost, pathKl } = await sampleGuided(ctx, setup, baseEps(ctx), [term], ctx.key);
    return guidanceOutput(ctx, setup, samples, cost, { pathKl, fields: { scale: m.scale, jacobian: m.jacobian } });
  },
});
