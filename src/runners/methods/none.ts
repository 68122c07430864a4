/**
 * Method "none": the unconditional base model, sampled as is. The baseline every reward-directed
 * method is compared with, and the foundation's end-to-end check (distance to fresh data vs the floor).
 */
import { generate } from "../../diffusion/generate.js";
import { sampleDistances } from "../metrics.js";
import * as z from "zod";
import { strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { summary } from "../../eval/stats.js";
import type { ResultRow } from "../../report/types.js";
import { runPretrainedTilt } from "../classifier-tilt/none.js";

export const noneMethod = defineMethod({
  kind: "none",
  summary: "the unconditional base model, sampled as is: the baseline",
  schema: strict({ kind: z.literal("none"), label: z.string().min(1).optional() }),
  requires: { taskReward: false },
  run: async (ctx) => {
  // classifier-tilt: the baseline is the pretrained p_pre(x|c), which ignores the requested label.
  if (ctx.data.classifierTilt) return runPretrainedTilt(ctx);
  const base = await ctx.base();
  const n = ctx.cfg.sampling.samples;
  ctx.hooks.onStage?.(`sampling ${n} points with ${ctx.sampler.sampler} (${ctx.sampler.steps} steps)`);
  // Model space → data units (the task's data transform) before metrics, rewards and files.
  const samples = ctx.data.toData(
    await generate(ctx.model, base.state.ema, ctx.sampler, n, ctx.key, {
      onStep: (d, t) => ctx.hooks.onSample?.(d, t),
    }),
  );
  const row: ResultRow = { method: "none", target: null, alpha: null, samples: samples.rows, ...(await sampleDistances(ctx, samples)) };
  if (ctx.data.reward) {
    row.reward = summary(ctx.data.reward(samples));
    if (ctx.data.rewardMeanExact !== undefined) row.reference = { rewardMean: ctx.data.rewardMeanExact };
  }
  return { rows: [row], samples: [{ label: "base model", matrix: samples }], plots: [] };
  },
});
