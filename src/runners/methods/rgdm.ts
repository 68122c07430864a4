/**
 * Method "rgdm" in `rewardiff run` (docs/rgdm.md): RGDM training (methods/rgdm.ts) from the pretrained
 * base model (`init: "pretrained"`, default) or from scratch on the task's data, then samples from the
 * trained model's EMA weights with the run's sampler; the trained model is saved as
 * `model-<label>.safetensors` (./tuned-model.ts).
 *
 * Row fields (beyond guidance-common's reward / reference / rewardGap / swToTilted / mmd2ToTilted / cost):
 * `slicedWasserstein` and `mmd2` to fresh data beside their floors (on-manifold check), `rewardBefore`
 * ± `rewardBeforeSe` (mean reward of the untuned base model: ONE shared estimate per run and reward from
 * {@link UNTUNED_SAMPLES} samples, so every row compares against the same number; absent with
 * `init: "scratch"`), `rewardBudget` (reward values + reward gradients used in training, plus the
 * selection's reward values for the payoff-noise row), and the settings (tau, rho, variant, rewardAt,
 * init, trainSteps, sampleNoise).
 * With `sampleNoise: "payoff"` a second row `<label> + payoff noise` samples the same trained model with
 * the payoff-distributed noise of methods/rgdm-sample.ts (K = `candidates`, τ = alpha, reward read at
 * `rewardAt`), so its effect shows beside the plain-sampling row.
 * Section `rgdm:<label>` = reward over training (monitor samples every `monitorEvery` steps), shift
 * norms and the loss curve; a line plot of the reward over training beside the exact E_p*[r].
 */
import { keyFromSeed, splitKey, type Key } from "../../backend/keys.js";
import { mean, standardError } from "../../eval/stats.js";
import { modelEps } from "../../diffusion/model.js";
import { checkPayoffPlan, payoffNoiseTerm } from "../../guidance/payoff-noise.js";
import type { GuidanceCost } from "../../guidance/types.js";
import { defaultRgdmSettings, trainRgdm, type RgdmSettings } from "../../training/rgdm.js";
import type { DenoiserParams } from "../../nn/denoiser.js";
import { lineChart, type LineSeries } from "../../report/plots.js";
import type { PlotFigure } from "../../report/html.js";
import { evaluateRewardHost } from "../../rewards/reward.js";
import { disposeTrainState, type TrainConfig } from "../../training/trainer.js";
import { generate } from "../../diffusion/generate.js";
import { sampleDistances } from "../metrics.js";
import * as z from "zod";
import { int, positive, strict } from "../config-schemas.js";
import { defineMethod, type MethodContext, type MethodOutput } from "./context.js";
import { guidanceReward, labelField, symbolNonNegative, symbolPositive } from "./schema-parts.js";
import { tunedModelCheckpoint } from "./tuned-model.js";
import { guidanceOutput, guidedBatch, guidanceSetup, mergeOutputs, sampleGuided, type GuidanceSetup } from "./guidance-common.js";

/** The library's defaults (src/methods/rgdm.ts); only ρ = √(D+2) depends on the dimension D. */
const RD = defaultRgdmSettings(0);
/** RGDM training from the pretrained model: steps and batch size (learning rate: the model's / 2). */
const FROM_PRETRAINED = { steps: 500, batchSize: 256 };

/** Config path of the method ("method" or "method[i]"). */
export function methodPath(ctx: MethodContext): string {
  return Array.isArray(ctx.cfg.method) ? `method[${ctx.index}]` : "method";
}

/** Samples of the untuned base model behind the shared `rewardBefore` (se ≈ sd/64). */
export const UNTUNED_SAMPLES = 4096;

/**
 * Mean reward (± standard error) of {@link UNTUNED_SAMPLES} samples (`ctx.untunedSamples` where the run sets it) of the run's untuned base model under
 * `setup.reward`: computed once per run and reward (kept in the run's state; the key is derived from the
 * run's seed only), so every rgdm / rwr row reports the same "before" value.
 */
export function untunedReward(ctx: MethodContext, setup: GuidanceSetup): Promise<{ mean: number; se: number; n: number }> {
  return ctx.state.memo(`untuned-reward:${setup.reward.name}`, async () => {
    const base = await ctx.base();
    const n = ctx.untunedSamples ?? UNTUNED_SAMPLES;
    ctx.hooks.onStage?.(`untuned reference: mean ${setup.reward.name} of ${n} base-model samples`);
    const x = await generate(ctx.model, base.state.ema, ctx.sampler, n, keyFromSeed((ctx.cfg.seed ^ 0x0b5e11e) >>> 0));
    const r = await evaluateRewardHost(setup.reward, x);
    return { mean: mean(r), se: standardError(r), n: r.length };
  }).value;
}

/** A reward monitor: mean reward of `n` fresh samples of the given weights, one key per call. */
export function rewardMonitor(ctx: MethodContext, setup: GuidanceSetup, n: number, calls: number, key: Key) {
  const keys = splitKey(key, Math.max(1, calls));
  let used = 0;
  const points: { step: number; reward: number }[] = [];
  const run = async (params: DenoiserParams, step: number) => {
    if (used >= keys.length) return;
    const x = await generate(ctx.model, params, ctx.sampler, n, keys[used++]!);
    points.push({ step, reward: mean(await evaluateRewardHost(setup.reward, x)) });
  };
  const dispose = () => keys.slice(used).forEach((k) => k.dispose());
  return { run, points, dispose };
}

/** Line plot of the monitored reward over training, with the exact E_p*[r] where known. */
export async function rewardCurvePlot(setup: GuidanceSetup, points: { step: number; reward: number }[], xLabel: string, note: string): Promise<PlotFigure> {
  const series: LineSeries[] = [{ name: `${setup.label} mean reward`, points: points.map((p) => ({ x: p.step, y: p.reward })) }];
  if (setup.reference && points.length > 0) {
    const e = setup.reference.rewardMean;
    series.push({ name: `exact E_p*[r] (α = ${setup.alpha})`, points: [{ x: points[0]!.step, y: e }, { x: points.at(-1)!.step, y: e }] });
  }
  return {
    title: `${setup.label}: reward over training`,
    svg: await lineChart({ title: `${setup.label}: reward over training`, xLabel, yLabel: `mean ${setup.reward.name}`, series }),
    caption: note,
  };
}

export const rgdmMethod = defineMethod({
  kind: "rgdm",
  summary: "RGDM: regression toward the payoff-optimal x̃ in a ρ-ball, τ = alpha (docs/rgdm.md)",
  schema: strict({
    kind: z.literal("rgdm"),
    alpha: symbolPositive("τ").default(1),
    rho: symbolNonNegative("ρ").optional().describe("default: √(D+2), D = the data's dimension"),
    rhoScale: z.enum(["absolute", "sigma"]).default(RD.rhoScale),
    variant: z.enum(["gradient", "candidates"]).optional().describe("default: gradient for a differentiable reward, else candidates"),
    rule: z.enum(["argmax", "proximal"]).default(RD.rule),
    candidates: int(1).default(RD.candidates),
    ascentSteps: int(1).default(RD.ascentSteps),
    rewardAt: z.enum(["x-tilde", "x0-hat"]).default(RD.rewardAt),
    center: z.enum(["sample", "mean"]).default(RD.center),
    select: z.enum(["draw", "weighted"]).default(RD.select),
    anchor: z.boolean().default(RD.anchor).describe("candidates variant: the data row x₀ is one more candidate (δ = 0, scored with r(x₀))"),
    init: z.enum(["pretrained", "scratch"]).default("pretrained"),
    steps: int(1).optional().describe(`default: ${FROM_PRETRAINED.steps} from the pretrained model, model.train.steps from scratch`),
    batchSize: int(1).optional().describe(`default: ${FROM_PRETRAINED.batchSize} from the pretrained model, model.train.batchSize from scratch`),
    learningRate: positive().optional().describe("default: model.train.learningRate (/ 2 from the pretrained model)"),
    monitorEvery: int(1).optional().describe("default: steps / 5"),
    monitorSamples: int(1).default(256),
    sampleNoise: z.enum(["gaussian", "payoff"]).default("gaussian"),
    ...guidanceReward,
    label: labelField(),
  }),
  requires: { taskReward: true },
  run: async (ctx) => {
  const m = ctx.method;
  const where = methodPath(ctx);
  const setup = guidanceSetup(ctx);
  const dim = ctx.data.dim;
  const settings: RgdmSettings = {
    tau: setup.alpha,
    rho: m.rho ?? defaultRgdmSettings(dim).rho,
    rhoScale: m.rhoScale,
    variant: m.variant ?? (setup.reward.differentiable ? "gradient" : "candidates"),
    rule: m.rule,
    candidates: m.candidates,
    ascentSteps: m.ascentSteps,
    rewardAt: m.rewardAt,
    center: m.center,
    select: m.select,
    anchor: m.anchor,
  };
  const sampleNoise = m.sampleNoise;
  // Refuse a deterministic sampler before any training.
  if (sampleNoise === "payoff") checkPayoffPlan(setup.plan, where, setup.samplerName);
  const init = m.init;
  const pretrained = init === "pretrained" ? await ctx.base() : undefined;
  const train: TrainConfig = pretrained
    ? { ...ctx.train, steps: m.steps ?? FROM_PRETRAINED.steps, batchSize: m.batchSize ?? FROM_PRETRAINED.batchSize, learningRate: m.learningRate ?? ctx.train.learningRate / 2, lrSchedule: "constant", warmupSteps: 0, ema: 0.99 }
    : { ...ctx.train, steps: m.steps ?? ctx.train.steps, batchSize: m.batchSize ?? ctx.train.batchSize, learningRate: m.learningRate ?? ctx.train.learningRate };
  const every = m.monitorEvery ?? Math.max(1, Math.ceil(train.steps / 5));
  const [kTrain, kMonitor, kSample, kPayoff] = splitKey(ctx.key, 4);
  const monitor = rewardMonitor(ctx, setup, m.monitorSamples, Math.ceil(train.steps / every) + 1, kMonitor!);
  // Step 0: the untuned base model, one shared large-sample estimate per run (rows stay comparable).
  const before = pretrained ? await untunedReward(ctx, setup) : undefined;
  if (before) monitor.points.push({ step: 0, reward: before.mean });
  ctx.hooks.onStage?.(`${setup.label}: rgdm training (${settings.variant}, τ = ${settings.tau}, ${train.steps} steps, init ${init})`);
  const res = await trainRgdm({
    model: ctx.model,
    train,
    data: ctx.data.train,
    reward: setup.reward,
    settings,
    ...(pretrained ? { init: pretrained.state.ema, reference: pretrained.state.ema } : {}),
    ...(ctx.data.snap ? { snap: ctx.data.snap } : {}),
    key: kTrain!,
    where,
    onStep: (p) => ctx.hooks.onTrain?.({ step: p.step, total: p.total, loss: p.loss, lr: p.lr }, setup.label),
    monitor: { every, run: monitor.run },
  });
  monitor.dispose();
  const trainBudget = res.cost.rewardEvals + res.cost.rewardGradEvals;
  const fields = {
    ...(before ? { rewardBefore: before.mean, rewardBeforeSe: before.se, rewardBeforeSamples: before.n } : {}),
    tau: settings.tau,
    rho: settings.rho,
    rhoScale: settings.rhoScale,
    variant: settings.variant,
    rewardAt: settings.rewardAt,
    init,
    trainSteps: train.steps,
  };
  const outs: MethodOutput[] = [];
  let checkpoint: NonNullable<MethodOutput["checkpoints"]>[number];
  try {
    checkpoint = await tunedModelCheckpoint(ctx, setup.label, res.state.ema, { train, step: res.state.step });
    ctx.hooks.onStage?.(`${setup.label}: sampling ${setup.n} points`);
    const samples = await generate(ctx.model, res.state.ema, ctx.sampler, setup.n, kSample!, { onStep: (a, b) => ctx.hooks.onSample?.(a, b, setup.label) });
    const cost: GuidanceCost = { rewardEvals: res.cost.rewardEvals, gradEvals: res.cost.rewardGradEvals, valueEvals: 0, modelEvals: res.cost.modelEvals, seconds: 0 };
    outs.push(
      await guidanceOutput(ctx, setup, samples, cost, {
        trainSeconds: res.cost.seconds,
        fields: { ...(await sampleDistances(ctx, samples)), ...fields, rewardBudget: trainBudget, sampleNoise: "gaussian" },
        note: `rgdm ${settings.variant}, τ = ${settings.tau}, ${trainBudget} reward evaluations in training`,
      }),
    );
    if (sampleNoise === "payoff") {
      const pSetup: GuidanceSetup = { ...setup, label: `${setup.label} + payoff noise` };
      const eps = modelEps(ctx.model, res.state.ema);
      const term = payoffNoiseTerm(setup.reward, eps, { tau: settings.tau, candidates: settings.candidates, at: settings.rewardAt }, pSetup.label, where);
      const sampled = await sampleGuided(ctx, pSetup, eps, [term], kPayoff!, { batch: Math.max(1, Math.floor(guidedBatch(ctx) / settings.candidates)) });
      const c = sampled.cost;
      const pCost: GuidanceCost = { rewardEvals: res.cost.rewardEvals + c.rewardEvals, gradEvals: res.cost.rewardGradEvals, valueEvals: c.valueEvals, modelEvals: res.cost.modelEvals + c.modelEvals, seconds: c.seconds };
      outs.push(
        await guidanceOutput(ctx, pSetup, sampled.samples, pCost, {
          pathKl: sampled.pathKl,
          trainSeconds: res.cost.seconds,
          fields: {
            ...(await sampleDistances(ctx, sampled.samples)),
            ...fields,
            rewardBudget: trainBudget + c.rewardEvals,
            sampleRewardEvals: c.rewardEvals,
            sampleNoise: "payoff",
            candidates: settings.candidates,
          },
          note: `rgdm ${settings.variant} sampled with payoff noise (K = ${settings.candidates} per step, ∝ exp(r/τ)), ${trainBudget} + ${c.rewardEvals} reward evaluations`,
        }),
      );
    } else {
      kPayoff!.dispose();
    }
  } finally {
    disposeTrainState(res.state);
  }
  const out = mergeOutputs(outs);
  out.checkpoints = [checkpoint];
  out.plots.push(
    await rewardCurvePlot(
      setup,
      monitor.points,
      "training step",
      `Mean reward of ${m.monitorSamples} fresh samples every ${every} steps${before ? ` (step 0: the untuned base model, ${before.n} samples)` : ""}.`,
    ),
  );
  out.sections = {
    [`rgdm:${setup.label}`]: {
      rewardOverTraining: monitor.points,
      shiftNorm: res.shiftNorms.filter((_, i) => i % Math.max(1, Math.floor(res.shiftNorms.length / 200)) === 0),
      loss: res.losses.filter((_, i) => i % Math.max(1, Math.floor(res.losses.length / 200)) === 0),
      settings: { ...settings, sampleNoise },
      train: { steps: train.steps, batchSize: train.batchSize, learningRate: train.learningRate },
      cost: res.cost,
    },
  };
  return out;
  },
});
