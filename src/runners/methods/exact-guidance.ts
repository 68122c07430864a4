/**
 * Method "exact-guidance" (gaussian-mixture tasks only): the base model guided by the exact soft value,
 * ε̃ = ε̂ − √(1−ᾱ_t) s ∇v_t/α (src/guidance/exact.ts). With `base: "exact"` the base is the exact ε of the
 * mixture instead of the trained model, so the row shows what the sampler itself makes of p* (the
 * oracle the approximate methods are measured against); with the trained base (default) the row adds
 * the base model's error.
 */
import { exactGuidanceTerm } from "../../guidance/exact.js";
import { mixtureEps } from "../../tasks/gaussian-mixture.js";
import type { MethodRunner } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided, type GuidanceMethodConfig } from "./guidance-common.js";

export const runExactGuidance: MethodRunner = async (ctx) => {
  const m = ctx.method as GuidanceMethodConfig & { base?: "trained" | "exact" };
  const base = m.base ?? "trained";
  const setup = guidanceSetup(ctx, base === "exact" ? " (exact ε)" : "");
  if (!setup.mixture) throw new Error(`"exact-guidance" needs the closed-form soft value of a "gaussian-mixture" task, but the task is "${ctx.data.name}"`);
  const { gm, b } = setup.mixture;
  const term = exactGuidanceTerm(gm, b, setup.alpha, { name: setup.label, scale: m.scale ?? 1, start: m.start, stop: m.stop });
  const eps = base === "exact" ? mixtureEps(gm) : await baseEps(ctx);
  const { samples, cost } = await sampleGuided(ctx, setup, eps, [term], ctx.key);
  return guidanceOutput(ctx, setup, samples, cost, {
    fields: { base },
    note: base === "exact" ? "exact mixture ε as the base: only the sampler's discretisation separates it from p*" : "trained base model",
  });
};
