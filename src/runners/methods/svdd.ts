/**
 * Method "svdd" (derivative-free soft value-based decoding): at every stochastic step draw M candidates
 * from the base step and keep one with probability ∝ exp(v/α). Values: "reward-x0" (default,
 * v = r(x̂_0(x_s)); any reward, also non-differentiable), "learned" (a regressor on noised inputs,
 * f_φ(x_s, s)), "exact" (the closed-form soft value of a gaussian-mixture task). Refused on a
 * deterministic sampler (DDIM with η = 0): there is nothing to choose from.
 */
import { split2 } from "../../backend/keys.js";
import { exactSoftValue } from "../../guidance/exact.js";
import { predictorValue, rewardAtX0Value, svddTerm } from "../../guidance/terms.js";
import type { MethodRunner } from "./context.js";
import { baseEps, GUIDED_BATCH, guidanceOutput, guidanceSetup, sampleGuided, trainPredictorFor, type GuidanceMethodConfig } from "./guidance-common.js";

export const runSvdd: MethodRunner = async (ctx) => {
  const m = ctx.method as GuidanceMethodConfig & { candidates?: number; value?: "reward-x0" | "learned" | "exact" };
  const setup = guidanceSetup(ctx);
  const M = m.candidates ?? 8;
  const valueKind = m.value ?? "reward-x0";
  const eps = await baseEps(ctx);
  const [kTrain, kSample] = split2(ctx.key);
  let trainSeconds = 0;
  let value;
  if (valueKind === "exact") {
    kTrain.dispose();
    if (!setup.mixture || (m.reward ?? "task") !== "task") {
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
  const { samples, cost } = await sampleGuided(ctx, setup, eps, [term], kSample, { batch: Math.max(1, Math.floor(GUIDED_BATCH / M)) });
  return await guidanceOutput(ctx, setup, samples, cost, {
    trainSeconds,
    fields: { candidates: M, value: valueKind },
  });
};
