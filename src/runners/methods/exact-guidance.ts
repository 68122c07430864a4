/**
 * Method "exact-guidance" (gaussian-mixture tasks only): the base model guided by the exact soft value,
 * ε̃ = ε̂ − √(1−ᾱ_t) s ∇v_t/α (src/guidance/exact.ts). With `base: "exact"` the base is the exact ε of the
 * mixture instead of the trained model, so the row shows what the sampler itself makes of p* (the
 * oracle the approximate methods are measured against); with the trained base (default) the row adds
 * the base model's error.
 */
import * as z from "zod";
import { exactGuidanceTerm } from "../../guidance/exact.js";
import { strict } from "../config-schemas.js";
import { mixtureEps } from "../../tasks/gaussian-mixture.js";
import { defineMethod } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided } from "./guidance-common.js";
import { alphaField, guidanceInterval, scaleField } from "./schema-parts.js";

export const exactGuidanceMethod = defineMethod({
  kind: "exact-guidance",
  summary: "guidance by the exact soft value of a gaussian-mixture task: the oracle (docs/guidance.md)",
  schema: strict({
    kind: z.literal("exact-guidance"),
    alpha: alphaField(),
    scale: scaleField(),
    base: z.enum(["trained", "exact"]).default("trained"),
    ...guidanceInterval,
  }),
  requires: { taskReward: true, taskKinds: { kinds: ["gaussian-mixture"], why: 'the closed-form soft value of a "gaussian-mixture" task' } },
  defaultLabel: (m) => (m.base === "exact" ? "exact-guidance (exact ε)" : "exact-guidance"),
  run: async (ctx) => {
    const m = ctx.method;
    const base = m.base;
    const setup = guidanceSetup(ctx);
    if (!setup.mixture) throw new Error(`"exact-guidance" needs the closed-form soft value of a "gaussian-mixture" task, but the task is "${ctx.data.name}"`);
    const { gm, b } = setup.mixture;
    const term = exactGuidanceTerm(gm, b, setup.alpha, { name: setup.label, scale: m.scale, start: m.start, stop: m.stop });
    const eps = base === "exact" ? mixtureEps(gm) : await baseEps(ctx);
    const { samples, cost, pathKl } = await sampleGuided(ctx, setup, eps, [term], ctx.key);
    return guidanceOutput(ctx, setup, samples, cost, {
      pathKl,
      fields: { base },
      note: base === "exact" ? "exact mixture ε as the base: only the sampler's discretisation separates it from p*" : "trained base model",
    });
  },
});
