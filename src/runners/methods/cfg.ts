/**
 * Method "cfg": classifier-free guidance on a value-conditioned model. A denoiser conditioned on the
 * reward y = r(x_0) of its training rows is trained with condition dropout (probability `dropout`,
 * learned null ∅), then sampled with ε̃ = ε_θ(x, t, ∅) + w (ε_θ(x, t, a) − ε_θ(x, t, ∅)), w = `scale`.
 * One row per target a (method.target, else sampling.targets, else the exact E_{p*}[r] at α).
 */
import { np } from "../../backend/jax.js";
import { split2, splitKey } from "../../backend/keys.js";
import { upload } from "../../backend/ownership.js";
import { hostMatrix } from "../../data/matrix.js";
import { modelEps, type ModelConfig } from "../../diffusion/model.js";
import { cfgTerm } from "../../guidance/terms.js";
import { evaluateRewardHost } from "../../rewards/reward.js";
import { disposeTrainState, initTrainState, trainSteps } from "../../training/trainer.js";
import * as z from "zod";
import { int, strict } from "../config-schemas.js";
import { defineMethod, type MethodOutput } from "./context.js";
import { guidanceOutput, guidanceSetup, guidanceTargets, mergeOutputs, sampleGuided } from "./guidance-common.js";
import { alphaField, guidanceInterval, scaleField } from "./schema-parts.js";

export const cfgMethod = defineMethod({
  kind: "cfg",
  summary: "classifier-free guidance on a reward-conditioned model (docs/guidance.md)",
  schema: strict({
    kind: z.literal("cfg"),
    scale: scaleField(),
    alpha: alphaField(),
    target: z.number().optional(),
    dropout: z.number().min(0).lt(1).default(0.1),
    /** Training steps of the conditional model (default: model.train.steps). */
    trainSteps: int(1).optional().describe("default: model.train.steps"),
    ...guidanceInterval,
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
  const m = ctx.method;
  const setup = guidanceSetup(ctx);
  const targets = guidanceTargets(ctx, setup, m.target);
  const dropout = m.dropout;
  const x = ctx.data.train;
  const y = await evaluateRewardHost(setup.reward, x);
  const model: ModelConfig = {
    ...ctx.model,
    network: { ...ctx.model.network, condition: { kind: "value", dim: 1, embedding: ctx.model.network.timeEmbedding } },
  };
  const train = { ...ctx.train, steps: m.trainSteps ?? ctx.train.steps };
  const [kTrain, kSample] = split2(ctx.key);
  ctx.hooks.onStage?.(`${setup.label}: training a reward-conditioned model (dropout ${dropout}) for ${train.steps} steps`);
  const t0 = performance.now();
  const state = await trainSteps(model, train, initTrainState(model, kTrain), { x, cond: { values: hostMatrix(x.rows, 1, y), dropout } }, {
    onProgress: (p) => ctx.hooks.onTrain?.(p, `${setup.label} conditional model`),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  try {
    const uncond = modelEps(model, state.ema, (n) => ({ kind: "value", value: np.zeros([n, 1]), keep: np.zeros([n]) }));
    const keys = splitKey(kSample, targets.length);
    const outs: MethodOutput[] = [];
    for (const [i, a] of targets.entries()) {
      const cond = modelEps(model, state.ema, (n) => ({ kind: "value", value: upload(new Float32Array(n).fill(a), n, 1), keep: np.ones([n]) }));
      const term = cfgTerm(cond, { name: setup.label, scale: m.scale, start: m.start, stop: m.stop });
      const label = targets.length > 1 ? `${setup.label}[a=${a}]` : setup.label;
      const s = { ...setup, label };
      const { samples, cost, pathKl } = await sampleGuided(ctx, s, uncond, [term], keys[i]!);
      outs.push(await guidanceOutput(ctx, s, samples, cost, { pathKl, target: a, trainSeconds, fields: { dropout, finalLoss: state.losses.at(-1)?.loss ?? null } }));
    }
    return mergeOutputs(outs);
  } finally {
    disposeTrainState(state);
  }
},
});
