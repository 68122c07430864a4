/**
 * Method "svdd" (derivative-free soft value-based decoding): at every stochastic step draw M candidates
 * from the base step and keep one with probability ∝ exp(v/α). Values: "reward-x0" (default,
 * v = r(x̂_0(x_s)); any reward, also non-differentiable), "learned" (a regressor on noised inputs,
 * f_φ(x_s, s)), "exact" (the closed-form soft value of a gaussian-mixture task). Refused on a
 * deterministic sampler (DDIM with η = 0): there is nothing to choose from.
 */
import * as z from "zod";
import { split2 } from "../../backend/keys.js";
import { exactSoftValue } from "../../guidance/exact.js";
import { predictorValue, rewardAtX0Value, svddTerm } from "../../guidance/terms.js";
import { int, strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { baseEps, guidanceOutput, guidedBatch, guidanceSetup, sampleGuided, trainPredictorFor } from "./guidance-common.js";
import { alphaField, guidanceInterval, guidanceReward, noisyPredictor } from "./schema-parts.js";

export const svddMethod = defineMethod({
  kind: "svdd",
  summary: "soft value-based decoding: M candidates per step, one kept ∝ exp(v/α) (docs/guidance.md)",
  schema: strict({
    kind: z.literal("svdd"),
    alpha: alphaField(),
    candidates: int(1).default(8),
    value: z.enum(["reward-x0", "learned", "exact"]).default("reward-x0"),
    ...noisyPredictor,
    ...guidanceReward,
    ...guidanceInterval,
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
    const m = ctx.method;
    const setup = guidanceSetup(ctx);
    const M = m.candidates;
    const valueKind = m.value;
    const eps = await baseEps(ctx);
    const [kTrain, kSample] = split2(ctx.key);
    let trainSeconds = 0;
    let value;
    if (valueKind === "exact") {
      kTrain.dispose();
      if (!setup.mixture || m.reward !== "task") {
        throw new Error(`svdd: value "exact" needs the closed-form soft value of a "gaussian-mixture" task with its linear reward`);
      }
      value = exactSoftValue(setup.mixture.gm, setup.mixture.b, setup.alpha);
    } else if (valueKind === "learned") {
      const trained = await trainPredictorFor(ctx, setup, "regression", kTrain);
      trainSeconds = trained.trainSeconds;
      value = predictorValue(trained.predictor);
    } else {
      kTrain.dispose();
      value = rewardAtX0Value(setup.reward, eps);
    }
    const term = svddTerm(value, { name: setup.label, candidates: M, alpha: setup.alpha, start: m.start, stop: m.stop });
    const { samples, cost, pathKl } = await sampleGuided(ctx, setup, eps, [term], kSample, { batch: Math.max(1, Math.floor(guidedBatch(ctx) / M)) });
    return await guidanceOutput(ctx, setup, samples, cost, {
      pathKl,
      trainSeconds,
      fields: { candidates: M, value: valueKind },
    });
  },
});
