/**
 * Method "classifier-guidance": a time-conditioned predictor trained on noised inputs of the task's
 * training rows (labels from the run's reward), then guidance by its gradient:
 *  - head "regression" (default): f_φ(x_t, t) ≈ E[r(x_0) | x_t], log h = f_φ/α;
 *  - head "classification": p_φ(y | x_t, t) with y = 1[r(x_0) > threshold], log h = log p_φ(y = 1 | x_t, t).
 * Only the learned predictor is differentiated, so any reward (also the indicator) can supply labels.
 */
import * as z from "zod";
import { split2 } from "../../backend/keys.js";
import { classifierGuidanceTerm, regressorGuidanceTerm } from "../../guidance/terms.js";
import { strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided, trainPredictorFor } from "./guidance-common.js";
import { alphaField, gradientPoint, guidanceInterval, guidanceReward, noisyPredictor, scaleField } from "./schema-parts.js";

export const classifierGuidanceMethod = defineMethod({
  kind: "classifier-guidance",
  summary: "guidance by the gradient of a predictor trained on noised inputs (docs/guidance.md)",
  schema: strict({
    kind: z.literal("classifier-guidance"),
    scale: scaleField(),
    alpha: alphaField(),
    head: z.enum(["regression", "classification"]).default("regression"),
    ...gradientPoint("xt"),
    ...noisyPredictor,
    ...guidanceReward,
    ...guidanceInterval,
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
    const m = ctx.method;
    const head = m.head;
    const setup = guidanceSetup(ctx);
    const [kTrain, kSample] = split2(ctx.key);
    // Labels for the classification head: y = 1[r > threshold]; the indicator reward is already 0/1.
    const threshold = m.reward === "indicator" ? 0.5 : m.threshold;
    const { predictor: pred, trainSeconds } = await trainPredictorFor(ctx, setup, head, kTrain, threshold);
    const opts = {
      name: setup.label,
      scale: m.scale,
      where: m.where,
      ...(m.apply ? { apply: m.apply } : {}),
      start: m.start,
      stop: m.stop,
    };
    const term = head === "regression" ? regressorGuidanceTerm(pred, { ...opts, alpha: setup.alpha }) : classifierGuidanceTerm(pred, 1, opts);
    const { samples, cost, pathKl } = await sampleGuided(ctx, setup, await baseEps(ctx), [term], kSample);
    return await guidanceOutput(ctx, setup, samples, cost, {
      pathKl,
      trainSeconds,
      fields: { head, where: term.where, apply: term.apply, predictorLoss: pred.losses.at(-1)?.loss ?? null },
    });
  },
});
