/**
 * Method "dps": DPS / reconstruction guidance with the run's differentiable reward,
 * log h = r(x̂_0(x_t))/α, gradient taken through the ε-network (`jacobian: "full"`) or with
 * ∂x̂_0/∂x_t ≈ I/√ᾱ_t ("identity"); `where` / `apply` as in docs/guidance.md. Refuses a
 * non-differentiable reward (e.g. `reward: "indicator"`) with a clear error.
 */
import { rewardGuidanceTerm } from "../../guidance/terms.js";
import type { MethodRunner } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided, type GuidanceMethodConfig } from "./guidance-common.js";

export const runDps: MethodRunner = async (ctx) => {
  const m = ctx.method as GuidanceMethodConfig & { where?: "xt" | "x0" | "mean"; apply?: "eps" | "mean"; jacobian?: "full" | "identity" };
  const setup = guidanceSetup(ctx);
  const term = rewardGuidanceTerm(setup.reward, {
    name: setup.label,
    alpha: setup.alpha,
    scale: m.scale ?? 1,
    where: m.where ?? "x0",
    ...(m.apply ? { apply: m.apply } : {}),
    jacobian: m.jacobian ?? "full",
    start: m.start,
    stop: m.stop,
  });
  const { samples, cost } = await sampleGuided(ctx, setup, await baseEps(ctx), [term], ctx.key);
  return guidanceOutput(ctx, setup, samples, cost, { fields: { where: term.where, apply: term.apply, jacobian: term.jacobian } });
};
