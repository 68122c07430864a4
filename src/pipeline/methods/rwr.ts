/**
 * Method "rwr" in `rewardiff run` (docs/rgdm.md): reward-weighted regression fine-tuning of the
 * pretrained base model (methods/rwr.ts), then samples from its EMA weights.
 *
 * Row fields (beyond guidance-common's): `slicedWasserstein` / `mmd2` to fresh data with floors,
 * `rewardBefore` ± `rewardBeforeSe` (the untuned base model: the run's one shared estimate, rgdm.ts
 * `untunedReward`), `ess` {first, last, min} and
 * `essFraction` {…} of the rounds, `rewardBudget` (= rounds × samplesPerRound reward evaluations) and
 * the settings. Section `rwr:<label>` holds every round (temperature, reward mean, ESS, loss).
 */
import { splitKey } from "../../backend/keys.js";
import type { GuidanceCost } from "../../guidance/types.js";
import { trainRwr, type RwrSettings } from "../../methods/rwr.js";
import { disposeTrainState, type TrainConfig } from "../../training/trainer.js";
import { generate } from "../generate.js";
import { sampleDistances } from "../metrics.js";
import type { MethodOutput, MethodRunner } from "./context.js";
import { guidanceOutput, guidanceSetup } from "./guidance-common.js";
import { methodPath, rewardCurvePlot, untunedReward } from "./rgdm.js";

/** The validated "rwr" method config (io/config.ts). */
export interface RwrMethodConfig {
  kind: "rwr";
  alpha?: number;
  rounds?: number;
  samplesPerRound?: number;
  stepsPerRound?: number;
  schedule?: RwrSettings["schedule"];
  batchSize?: number;
  learningRate?: number;
  reward?: "task" | "indicator";
  threshold?: number;
  label?: string;
}

export const runRwr: MethodRunner = async (ctx): Promise<MethodOutput> => {
  const m = ctx.method as unknown as RwrMethodConfig;
  const setup = guidanceSetup(ctx);
  const settings: RwrSettings = {
    tau: setup.alpha,
    rounds: m.rounds ?? 4,
    samplesPerRound: m.samplesPerRound ?? 2000,
    stepsPerRound: m.stepsPerRound ?? 150,
    schedule: m.schedule ?? "annealed",
  };
  const base = await ctx.base();
  const train: TrainConfig = { ...ctx.train, batchSize: m.batchSize ?? 256, learningRate: m.learningRate ?? ctx.train.learningRate / 2, lrSchedule: "constant", warmupSteps: 0, ema: 0.99 };
  const [kTrain, kSample] = splitKey(ctx.key, 2);
  const before = await untunedReward(ctx, setup);
  ctx.hooks.onStage?.(`${setup.label}: rwr (${settings.rounds} rounds of ${settings.samplesPerRound} samples, τ = ${settings.tau})`);
  const res = await trainRwr({
    model: ctx.model,
    train,
    init: base.state.ema,
    reward: setup.reward,
    settings,
    sample: (params, n, key) => generate(ctx.model, params, ctx.sampler, n, key),
    key: kTrain!,
    where: methodPath(ctx),
    onStep: (step, total, loss) => ctx.hooks.onTrain?.({ step, total, loss, lr: train.learningRate }, setup.label),
  });
  let samples;
  try {
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
      ...sampleDistances(ctx, samples),
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
  out.sections = { [`rwr:${setup.label}`]: { rounds: res.rounds, settings, train: { batchSize: train.batchSize, learningRate: train.learningRate } } };
  return out;
};
