/**
 * Method "best-of-n": N whole samples from the base model per output, the best by reward kept
 * (`select: "max"`), or one drawn ∝ exp(r/α) (`select: "softmax"`). Any reward, also non-differentiable.
 * `matchBudget: "<row label>"` sets N so that N × samples equals the reward + gradient evaluations an
 * earlier row of the same run used (its `cost`), the comparison at an equal reward-evaluation budget.
 */
import * as z from "zod";
import { bestOfN } from "../../guidance/best-of-n.js";
import { newCost } from "../../guidance/types.js";
import { int, strict } from "../config-schemas.js";
import { defineMethod, type MethodContext } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided } from "./guidance-common.js";
import { alphaField, guidanceReward, labelField } from "./schema-parts.js";

/** N when neither `candidates` nor `matchBudget` is given. */
export const DEFAULT_CANDIDATES = 8;

export const bestOfNMethod = defineMethod({
  kind: "best-of-n",
  summary: "N base samples per output, the best (or one ∝ exp(r/α)) kept (docs/guidance.md)",
  schema: strict({
    kind: z.literal("best-of-n"),
    alpha: alphaField(),
    /** N (default {@link DEFAULT_CANDIDATES}; absent so that `matchBudget` can set it). */
    candidates: int(1).optional().describe(`N (default ${DEFAULT_CANDIDATES}, or set by matchBudget)`),
    matchBudget: z.string().min(1).optional(),
    select: z.enum(["max", "softmax"]).default("max"),
    ...guidanceReward,
    label: labelField(),
  }),
  requires: { taskReward: true },
  refine: (m, _cfg, at, add) => {
    if (m.candidates !== undefined && m.matchBudget !== undefined) add([...at, "matchBudget"], "give either candidates or matchBudget, not both", m.matchBudget);
  },
  run: async (ctx) => {
    const m = ctx.method;
    const setup = guidanceSetup(ctx);
    const matched = m.matchBudget === undefined ? undefined : matchedBudget(ctx, m.matchBudget, setup.n);
    const N = matched?.candidates ?? m.candidates ?? DEFAULT_CANDIDATES;
    const eps = await baseEps(ctx);
    const res = await bestOfN({
      draw: async (key, count, cost) => (await sampleGuided(ctx, setup, eps, [], key, { n: count, cost, stage: `${setup.label}: sampling ${count} candidates` })).samples,
      reward: setup.reward,
      n: setup.n,
      candidates: N,
      select: m.select,
      alpha: setup.alpha,
      key: ctx.key,
      cost: newCost(),
    });
    return guidanceOutput(ctx, setup, res.samples, res.cost, {
      fields: { candidates: N, select: m.select, ...(matched ? { matchedBudget: matched.budget } : {}) },
    });
  },
});

/** N = round(budget / samples) (≥ 1) from the `cost` of the earlier row labelled `label`. */
function matchedBudget(ctx: MethodContext, label: string, samples: number): { candidates: number; budget: number } {
  const at = Array.isArray(ctx.cfg.method) ? `method[${ctx.index}].matchBudget` : "method.matchBudget";
  const earlier = ctx.earlierRows ?? [];
  const row = earlier.find((r) => r.label === label);
  if (!row) {
    const names = earlier.map((r) => `"${r.label}"`).join(", ") || "none";
    throw new Error(`${at}: no earlier row is labelled "${label}" (earlier rows: ${names})`);
  }
  const cost = row.cost as { rewardEvals?: number; gradEvals?: number } | undefined;
  const budget = (cost?.rewardEvals ?? 0) + (cost?.gradEvals ?? 0);
  if (!(budget > 0)) throw new Error(`${at}: row "${label}" reports no reward evaluations to match`);
  return { candidates: Math.max(1, Math.round(budget / samples)), budget };
}
