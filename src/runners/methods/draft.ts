/**
 * Method "draft": DRaFT / AlignProp reward backpropagation (src/finetune/draft.ts) on the run's base
 * model and differentiable task reward: max E[r(x_0)] − α Σ_t KL_t through the last `truncation` steps.
 * Row (docs/ctrl.md): reward vs the exact E_{p*}[r] where the task knows it (gaussian-mixture), distances
 * to exact p* samples, `klToPretrained` (Σ_t E KL_t along the fine-tuned chains, an upper bound on
 * KL(p_θ(x_0) ‖ p_pre(x_0)), a number) beside `reference.kl` = the exact KL(p* ‖ p) = E_p*[r]/α − log Z,
 * the wasm heap high-water mark, the training curve and the options used. The fine-tuned model is saved
 * as `model-<label>.safetensors` (src/io/checkpoints/finetuned.ts; sampled by `rewardiff sample` like any model).
 */
import { split2 } from "../../backend/keys.js";
import { makeSchedule } from "../../diffusion/schedule.js";
import { draftFinetune } from "../../finetune/draft.js";
import { disposeFinetuned, sampleFinetuned } from "../../finetune/finetuned.js";
import { newCost } from "../../guidance/types.js";
import { lineChart } from "../../report/plots.js";
import { tiltLogPartition } from "../../tasks/gaussian-mixture.js";
import { finetunedCheckpoint, finetunedFileName, saveFinetuned } from "../../io/checkpoints/finetuned.js";
import * as z from "zod";
import { strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { guidanceOutput, guidanceSetup, type GuidanceSetup } from "./guidance-common.js";
import { alphaField, finetuneOptim, labelField } from "./schema-parts.js";

/**
 * The exact KL(p* ‖ p) = E_p*[r]/α − log Z of the run's tilt p* ∝ p·e^{r/α}, where the task knows it
 * (gaussian-mixture): linear reward r = bᵀx, log Z in closed form (fixtures.md §3); indicator reward
 * r = 1[bᵀx > τ], Z = e^{1/α} P_p(A) + 1 − P_p(A) and E_p*[r] = e^{1/α} P_p(A)/Z, so
 * log Z = −log(1 − E_p*[r] + E_p*[r] e^{−1/α}). Null where p* is unknown.
 */
export function exactTiltKl(setup: Pick<GuidanceSetup, "reference" | "mixture" | "alpha">): number | null {
  const ref = setup.reference;
  if (!ref || !setup.mixture) return null;
  const a = setup.alpha;
  if (ref.reward === "linear") return ref.rewardMean / a - tiltLogPartition(setup.mixture.gm, setup.mixture.b, a);
  if (ref.reward === "indicator") {
    const m = ref.rewardMean;
    return m / a + Math.log(1 - m + m * Math.exp(-1 / a));
  }
  return null;
}

export const draftMethod = defineMethod({
  kind: "draft",
  summary: "DRaFT / AlignProp: max E[r] − α Σ KL by backprop through the last K sampler steps (docs/ctrl.md)",
  schema: strict({
    kind: z.literal("draft"),
    alpha: alphaField(),
    trainable: z.enum(["adapters", "all"]).default("all"),
    ...finetuneOptim({ steps: 200, batchSize: 128, learningRate: 2e-3 }),
    label: labelField(),
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
  const m = ctx.method;
  const setup = guidanceSetup(ctx);
  const base = await ctx.base();
  const schedule = makeSchedule(ctx.model.schedule);
  const optim = { steps: m.steps, batchSize: m.batchSize, learningRate: m.learningRate, gradClip: m.gradClip };
  const [kTrain, kSample] = split2(ctx.key);
  ctx.hooks.onStage?.(`${setup.label}: reward backpropagation, ${optim.steps} steps of ${optim.batchSize} chains (${setup.plan.length} sampler steps)`);
  const r = await draftFinetune(
    {
      model: ctx.model,
      pretrained: base.state.ema,
      reward: setup.reward,
      alpha: setup.alpha,
      plan: setup.plan,
      T: schedule.T,
      dim: setup.dim,
      trainable: m.trainable,
      rank: m.rank,
      optim,
      ...(m.truncation !== undefined ? { truncation: Math.min(m.truncation, setup.plan.length) } : {}),
      truncationMode: m.truncationMode,
      ...(m.segment !== undefined ? { segment: m.segment } : {}),
      klReduce: m.klReduce,
      onStep: (pt, total) => ctx.hooks.onTrain?.({ step: pt.step, total, loss: pt.loss, lr: optim.learningRate }, setup.label),
    },
    kTrain,
  );
  try {
    const t0 = performance.now();
    const s = await sampleFinetuned(r.model, setup.n, kSample);
    const cost = { ...newCost(), modelEvals: setup.n * setup.plan.length * 2, seconds: (performance.now() - t0) / 1000 };
    const exactKl = exactTiltKl(setup);
    const out = await guidanceOutput(ctx, setup, s.samples, cost, {
      trainSeconds: r.seconds,
      fields: {
        klToPretrained: s.kl,
        heapBytes: r.heapBytes,
        finetune: { ...optim, truncation: Math.min(m.truncation ?? setup.plan.length, setup.plan.length), segment: m.segment ?? null },
      },
    });
    const row = out.rows[0]!;
    if (row.reference && exactKl !== null) row.reference = { ...row.reference, kl: exactKl };
    const trainable = m.trainable;
    const ck = await finetunedCheckpoint(
      r.model,
      {
        method: "draft",
        trainable,
        ...(trainable === "adapters" ? { rank: m.rank } : {}),
        steps: optim.steps,
        alpha: setup.alpha,
        sampler: { ...ctx.sampler },
      },
      { train: ctx.train, columns: ctx.data.columns, data: ctx.data.name },
    );
    out.checkpoints = [{ name: finetunedFileName(setup.label), save: (path) => saveFinetuned(path, ck) }];
    out.sections = {
      [`finetuning:${setup.label}`]: {
        options: { trainable: m.trainable, truncationMode: m.truncationMode, klReduce: m.klReduce, rank: m.rank },
        heapBytes: r.heapBytes,
        seconds: r.seconds,
        history: r.history,
      },
    };
    out.plots.push({
      title: `${setup.label}: training`,
      svg: await lineChart({
        title: `${setup.label}: mean reward and Σ KL per step`,
        series: [
          { name: "mean reward", points: r.history.map((p) => ({ x: p.step, y: p.objective })) },
          { name: "Σ_t KL_t", points: r.history.map((p) => ({ x: p.step, y: p.kl })) },
        ],
        xLabel: "step",
        yLabel: "value",
      }),
      caption: `Reward backpropagation through ${r.history.at(-1)?.truncation ?? setup.plan.length} of ${setup.plan.length} steps; exact E_p*[r] = ${setup.reference?.rewardMean.toPrecision(4) ?? "n/a"}.`,
    });
    return out;
  } finally {
    disposeFinetuned(r.model);
  }
},
});
