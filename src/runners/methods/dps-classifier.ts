/**
 * Method "dps-classifier" (CTRL's second baseline, 2406.12120): the pretrained p_pre(x | c) guided at
 * sampling time by DPS with the run's calibrated classifier, log h(x_t) = γ log p̂(y | x̂_0(x_t)), the
 * gradient taken through the ε-network (src/guidance/terms.ts rewardGuidanceTerm, where "x0", jacobian
 * "full"), strength `scale` (default 1). γ = 1/alpha, default the task's γ. `pretrained: PATH` loads a
 * saved p_pre (as "ctrl" does). Evaluated by ./ctrl-eval.ts. `klToPretrained` is the guided chains' path
 * KL to p_pre(x | c) (src/guidance/types.ts PathKl), averaged over (c, y); omitted when infinite (a
 * guided deterministic step, e.g. the final σ = 0 step under the default active interval).
 */
import { np, upload } from "../../backend/index.js";
import { samplerPlan } from "../../diffusion/sample.js";
import { makeSchedule } from "../../diffusion/schedule.js";
import { guidedSample } from "../../guidance/sampler.js";
import { rewardGuidanceTerm } from "../../guidance/terms.js";
import { newCost, pathKlPerSample } from "../../guidance/types.js";
import { classifierLogProbs } from "../../rewards/classifier.js";
import { deviceReward } from "../../rewards/reward.js";
import { hostMatrix } from "../../data/matrix.js";
import { tiltClassifierFor } from "../classifier-tilt/classifier.js";
import { pretrainedEps, pretrainedFor, tiltData } from "../classifier-tilt/pretrained.js";
import { toHost } from "../../backend/ownership.js";
import * as z from "zod";
import { strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { CLASSIFIER_TILT, labelField, optionalAlpha, scaleField } from "./schema-parts.js";
import { resolveGamma } from "./ctrl.js";
import { tiltEvaluation } from "./ctrl-eval.js";

export const dpsClassifierMethod = defineMethod({
  kind: "dps-classifier",
  summary: "CTRL baseline: DPS guidance of p_pre(x | c) with γ·log p̂(y | x̂₀) (docs/ctrl.md)",
  schema: strict({
    kind: z.literal("dps-classifier"),
    alpha: optionalAlpha(),
    scale: scaleField(),
    pretrained: z.string().min(1).optional(),
    label: labelField(),
  }),
  requires: { taskReward: true, taskKinds: CLASSIFIER_TILT },
  run: async (ctx) => {
  const m = ctx.method;
  const d = tiltData(ctx);
  const gamma = resolveGamma(ctx);
  const label = ctx.label;
  const at = Array.isArray(ctx.cfg.method) ? `method[${ctx.index}]` : "method";
  // The run's p_pre, or a saved one (`pretrained: PATH`, the same loader and checks as "ctrl").
  const pre = await pretrainedFor(ctx, { ...(m.pretrained ? { path: m.pretrained } : {}), where: `${at}.pretrained` });
  const cls = (await tiltClassifierFor(ctx)).model;
  const logProbs = classifierLogProbs(cls);
  const K = d.task.classes;
  const plan = samplerPlan(makeSchedule(pre.model.schedule), ctx.sampler);
  const cost = newCost();
  return tiltEvaluation(ctx, {
    label,
    gamma,
    key: ctx.key,
    sampler: async (c, y, n, key) => {
      const col = new Float32Array(K);
      col[y] = 1;
      const reward = deviceReward(`log p̂(y=${y} | x)`, (x) => np.matmul(logProbs(x), upload(col, K, 1)).reshape([-1]));
      const term = rewardGuidanceTerm(reward, { name: label, alpha: 1 / gamma, scale: m.scale, where: "x0", jacobian: "full" });
      const { x, pathKl } = await guidedSample({ eps: pretrainedEps(pre, c), plan, terms: [term], n, dim: 2, key, cost, samplerName: ctx.sampler.sampler, pathKl: true });
      // Non-finite (infinite / undefined) values are left out of the row by tiltEvaluation.
      return { samples: hostMatrix(n, 2, await toHost(x)), ...(pathKl ? { kl: pathKlPerSample(pathKl) } : {}) };
    },
    fields: { scale: m.scale },
  });
},
});
