/**
 * Method "best-of-n": N whole samples from the base model per output, the best by reward kept
 * (`select: "max"`), or one drawn ∝ exp(r/α) (`select: "softmax"`). Any reward, also non-differentiable.
 */
import { bestOfN } from "../../guidance/best-of-n.js";
import { newCost } from "../../guidance/types.js";
import type { MethodRunner } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided, type GuidanceMethodConfig } from "./guidance-common.js";

export const runBestOfN: MethodRunner = async (ctx) => {
  const m = ctx.method as GuidanceMethodConfig & { candidates?: number; select?: "max" | "softmax" };
  const setup = guidanceSetup(ctx);
  const N = m.candidates ?? 8;
  const eps = baseEps(ctx);
  const res = await bestOfN({
    draw: async (key, count, cost) => (await sampleGuided(ctx, setup, eps, [], key, { n: count, cost, stage: `${setup.label}: sampling ${count} candidates` })).samples,
    reward: setup.reward,
    n: setup.n,
    candidates: N,
    select: m.select ?? "max",
    alpha: setup.alpha,
    key: ctx.key,
    cost: newCost(),
  });
  return guidanceOutput(ctx, setup, res.samples, res.cost, { fields: { candidates: N, select: m.select ?? "max" } });
};
