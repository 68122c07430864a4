/**
 * Method "target-guidance" (the 2307.07055 image code, per-sample strength): a Gaussian likelihood of
 * the target a under a reward predictor, log h = −½ (a − f)², so ε̃ = ε̂ + √(1−ᾱ_t) s ∇½(a − f)².
 * f = a regressor trained on noised inputs (`predictor: "noisy-regressor"`, default, gradient at x_t)
 * or the run's differentiable reward at x̂_0 (`predictor: "reward"`; refuses a non-differentiable
 * reward). One row per target (method.target, else sampling.targets, else the exact E_{p*}[r]).
 */
import * as z from "zod";
import { split2, splitKey } from "../../backend/keys.js";
import type { NoisyPredictor } from "../../guidance/noisy-predictor.js";
import { targetGuidanceTerm } from "../../guidance/terms.js";
import { strict } from "../config-schemas.js";
import { defineMethod, type MethodOutput } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, guidanceTargets, mergeOutputs, sampleGuided, trainPredictorFor } from "./guidance-common.js";
import { alphaField, gradientPointChosen, guidanceInterval, guidanceReward, noisyPredictor, scaleField } from "./schema-parts.js";

export const targetGuidanceMethod = defineMethod({
  kind: "target-guidance",
  summary: "guidance toward a requested reward a: log h = −½(a − f)² (docs/guidance.md)",
  schema: strict({
    kind: z.literal("target-guidance"),
    scale: scaleField(),
    alpha: alphaField(),
    target: z.number().optional(),
    predictor: z.enum(["noisy-regressor", "reward"]).default("noisy-regressor"),
    ...gradientPointChosen(),
    ...noisyPredictor,
    ...guidanceReward,
    ...guidanceInterval,
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
    const m = ctx.method;
    const setup = guidanceSetup(ctx);
    const targets = guidanceTargets(ctx, setup, m.target);
    const kind = m.predictor;
    const [kTrain, kSample] = split2(ctx.key);
    let pred: NoisyPredictor | undefined;
    let trainSeconds = 0;
    if (kind === "noisy-regressor") ({ predictor: pred, trainSeconds } = await trainPredictorFor(ctx, setup, "regression", kTrain));
    else kTrain.dispose();
    const keys = splitKey(kSample, targets.length);
    const outs: MethodOutput[] = [];
    for (const [i, a] of targets.entries()) {
      const f = pred ? { predictor: pred } : { reward: setup.reward };
      const term = targetGuidanceTerm(f, a, {
        name: setup.label,
        scale: m.scale,
        ...(m.where ? { where: m.where } : {}),
        ...(m.apply ? { apply: m.apply } : {}),
        start: m.start,
        stop: m.stop,
      });
      const label = targets.length > 1 ? `${setup.label}[a=${a}]` : setup.label;
      const s = { ...setup, label };
      const { samples, cost, pathKl } = await sampleGuided(ctx, s, await baseEps(ctx), [term], keys[i]!);
      outs.push(await guidanceOutput(ctx, s, samples, cost, { pathKl, target: a, trainSeconds, fields: { predictor: kind, where: term.where } }));
    }
    return mergeOutputs(outs);
  },
});
