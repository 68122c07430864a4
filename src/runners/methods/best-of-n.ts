/**
 * Method "best-of-n": N whole samples from the base model per output, the best by reward kept
 * (`select: "max"`), or one drawn ∝ exp(r/α) (`select: "softmax"`). Any reward, also non-differentiable.
 * `matchBudget: "<row label>"` sets N so that N × samples equals the reward + gradient evaluations an
 * earlier row of the same run used (its `cost`), the comparison at an equal reward-evaluation budget.
 */
import { bestOfN } from "../../guidance/best-of-n.js";
import { newCost } from "../../guidance/types.js";
import type { MethodContext, MethodRunner } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided, type GuidanceMethodConfig } from "./guidance-common.js";

export const runBestOfN: MethodRunner = async (ctx) => {
  const m = ctx.method as GuidanceMethodConfig & { candidates?: number; select?: "max" | "softmax"; matchBudget?: string };
  const setup = guidanceSetup(ctx);
  const matched = m.matchBudget === undefined ? undefined : matchedBudget(ctx, m.matchBudget, setup.n);
  const N = matched?.candidates ?? m.candidates ?? 8;
  const eps = await baseEps(ctx);
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
  return guidanceOutput(ctx, setup, res.samples, res.cost, {
    fields: { candidates: N, select: m.select ?? "max", ...(matched ? { matchedBudget: matched.budget } : {}) },
  });
};

/** N = round(budget / samples) (≥ 1) from the `cost` of the earlier row labelled `label`. */
function matchedBudget(ctx: MethodContext, label: string, samples: number): { candidates: number; budget: number } {
  const at = Array.isArray(ctx.cfg.method) ? `method[${ctx.index}].matchBudget` : "method.matchBudget";
  if ((ctx.method as { candidates?: number }).candidates !== undefined) throw new Error(`${at}: give either candidates or matchBudget, not both`);
  const earlier = ctx.earlierRows ?? [];
  const row = earlier.find((r) => r.method === label);
  if (!row) {
    const names = earlier.map((r) => `"${r.method}"`).join(", ") || "none";
    throw new Error(`${at}: no earlier row is labelled "${label}" (earlier rows: ${names})`);
  }
  const cost = row.cost as { rewardEvals?: number; gradEvals?: number } | undefined;
  const budget = (cost?.rewardEvals ?? 0) + (cost?.gradEvals ?? 0);
  if (!(budget > 0)) throw new Error(`${at}: row "${label}" reports no reward evaluations to match`);
  return { candidates: Math.max(1, Math.round(budget / samples)), budget };
}
