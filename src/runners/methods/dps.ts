/**
 * Method "dps": DPS / reconstruction guidance with the run's differentiable reward,
 * log h = r(x̂_0(x_t))/α, gradient taken through the ε-network (`jacobian: "full"`) or with
 * ∂x̂_0/∂x_t ≈ I/√ᾱ_t ("identity"); `where` / `apply` as in docs/guidance.md. Refuses a
 * non-differentiable reward (e.g. `reward: "indicator"`) with a clear error.
 */
import * as z from "zod";
import { strict } from "../config-schemas.js";
import { rewardGuidanceTerm } from "../../guidance/terms.js";
import { defineMethod } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided } from "./guidance-common.js";
import { alphaField, gradientPoint, guidanceInterval, guidanceReward, scaleField } from "./schema-parts.js";

export const dpsMethod = defineMethod({
  kind: "dps",
  summary: "DPS / reconstruction guidance: ∇ r(x̂₀(x_t))/α through the ε-network (docs/guidance.md)",
  schema: strict({
    kind: z.literal("dps"),
    scale: scaleField(),
    alpha: alphaField(),
    jacobian: z.enum(["full", "identity"]).default("full"),
    ...gradientPoint("x0"),
    ...guidanceReward,
    ...guidanceInterval,
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
    const m = ctx.method;
    const setup = guidanceSetup(ctx);
    const term = rewardGuidanceTerm(setup.reward, {
      name: setup.label,
      alpha: setup.alpha,
      scale: m.scale,
      where: m.where,
      ...(m.apply ? { apply: m.apply } : {}),
      jacobian: m.jacobian,
      start: m.start,
      stop: m.stop,
    });
    const { samples, cost, pathKl } = await sampleGuided(ctx, setup, await baseEps(ctx), [term], ctx.key);
    return guidanceOutput(ctx, setup, samples, cost, { pathKl, fields: { where: term.where, apply: term.apply, jacobian: term.jacobian } });
  },
});
