/**
 * Method "rwr" in `rewardiff run` (docs/rgdm.md): reward-weighted regression fine-tuning of the
 * pretrained base model (methods/rwr.ts), then samples from its EMA weights; the tuned model is saved
 * as `model-<label>.safetensors` (./tuned-model.ts).
 *
 * Row fields (beyond guidance-common's): `slicedWasserstein` / `mmd2` to fresh data with floors,
 * `rewardBefore` ± `rewardBeforeSe` (the untuned base model: the run's one shared estimate, rgdm.ts
 * `untunedReward`), `ess` {first, last, min} and
 * `essFraction` {…} of the rounds, `rewardBudget` (= rounds × samplesPerRound reward evaluations) and
 * the settings. Section `rwr:<label>` holds every round (temperature, reward mean, ESS, loss).
 */
import { splitKey } from "../../backend/keys.js";
import type { GuidanceCost } from "../../guidance/types.js";
import { trainRwr, type RwrSettings } from "../../training/rwr.js";
import { disposeTrainState, type TrainConfig } from "../../training/trainer.js";
import { generate } from "../../diffusion/generate.js";
import { sampleDistances } from "../metrics.js";
import * as z from "zod";
import { int, positive, strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { guidanceReward, labelField, symbolPositive } from "./schema-parts.js";
import { guidanceOutput, guidanceSetup } from "./guidance-common.js";
import { methodPath, rewardCurvePlot, untunedReward } from "./rgdm.js";
import { tunedModelCheckpoint } from "./tuned-model.js";

export const rwrMethod = defineMethod({
  kind: "rwr",
  summary: "reward-weighted regression: rounds of fine-tuning on softmax(r/τ_k)-weighted samples (docs/rgdm.md)",
  schema: strict({
    kind: z.literal("rwr"),
    alpha: symbolPositive("τ").default(1),
    rounds: int(1).default(4),
    samplesPerRound: int(1).default(2000),
    stepsPerRound: int(1).default(150),
    schedule: z.enum(["annealed", "constant"]).default("annealed"),
    batchSize: int(1).default(256),
    learningRate: positive().optional().describe("default: model.train.learningRate / 2"),
    ...guidanceReward,
    label: labelField(),
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
  const m = ctx.method;
  const setup = guidanceSetup(ctx);
  const settings: RwrSettings = {
    tau: setup.alpha,
    rounds: m.rounds,
    samplesPerRound: m.samplesPerRound,
    stepsPerRound: m.stepsPerRound,
    schedule: m.schedule,
  };
  const base = await ctx.base();
  const train: TrainConfig = { ...ctx.train, batchSize: m.batchSize, learningRate: m.learningRate ?? ctx.train.learningRate / 2, lrSchedule: "constant", warmupSteps: 0, ema: 0.99 };
  const [kTrain, kSample] = splitKey(ctx.key, 2);
  const before = await untunedReward(ctx, setup);
  ctx.hooks.onStage?.(`${setup.label}: rwr (${settings.rounds} rounds of ${settings.samplesPerRound} samples, τ = ${settings.tau})`);
  const res = await trainRwr({
    model: ctx.model,
    train,
    init: base.state.ema,
    reward: setup.reward,
    settings,
    // Categorical rows (molecules) are trained toward the one-hot rows of their decoding (TaskData.snap).
    sample: async (params, n, key) => {
      const x = await generate(ctx.model, params, ctx.sampler, n, key);
      return ctx.data.snap ? ctx.data.snap(x) : x;
    },
    key: kTrain!,
    where: methodPath(ctx),
    onStep: (step, total, loss) => ctx.hooks.onTrain?.({ step, total, loss, lr: train.learningRate }, setup.label),
  });
  let samples;
  let checkpoint;
  try {
    checkpoint = await tunedModelCheckpoint(ctx, setup.label, res.state.ema, { train: { ...train, steps: res.state.step }, step: res.state.step });
    ctx.hooks.onStage?.(`${setup.label}: sampling ${setup.n} points`);
    samples = await generate(ctx.model, res.state.ema, ctx.sampler, setup.n, kSample!, { onStep: (a, b) => ctx.hooks.onSample?.(a, b, setup.label) });
  } finally {
    disposeTrainState(res.state);
  }
  const cost: GuidanceCost = { rewardEvals: res.rewardEvals, gradEvals: 0, valueEvals: 0, modelEvals: 0, seconds: 0 };
  const ess = res.rounds.map((r) => r.ess);
  const frac = res.rounds.map((r) => r.essFraction);
  const out = await guidanceOutput(ctx, setup, samples, cost, {
    trainSeconds: res.seconds,
    fields: {
      ...(await sampleDistances(ctx, samples)),
      rewardBefore: before.mean,
      rewardBeforeSe: before.se,
      rewardBeforeSamples: before.n,
      ess: { first: ess[0]!, last: ess.at(-1)!, min: Math.min(...ess) },
      essFraction: { first: frac[0]!, last: frac.at(-1)!, min: Math.min(...frac) },
      rewardBudget: res.rewardEvals,
      tau: settings.tau,
      rounds: settings.rounds,
      samplesPerRound: settings.samplesPerRound,
      stepsPerRound: settings.stepsPerRound,
      schedule: settings.schedule,
    },
    note: `rwr, τ = ${settings.tau}, ${settings.rounds} rounds, ESS ${ess.map((v) => Math.round(v)).join(" → ")} of ${settings.samplesPerRound}`,
  });
  const points = res.rounds.map((r) => ({ step: r.round - 1, reward: r.rewardMean }));
  points.push({ step: settings.rounds, reward: out.rows[0]!.reward!.mean });
  out.plots.push(await rewardCurvePlot(setup, points, "round", `Mean reward of each round's ${settings.samplesPerRound} samples (round 0: the pretrained model); the last point is the final samples.`));
  out.checkpoints = [checkpoint];
  out.sections = { [`rwr:${setup.label}`]: { rounds: res.rounds, settings, train: { batchSize: train.batchSize, learningRate: train.learningRate } } };
  return out;
  },
});
