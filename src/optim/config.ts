/**
 * The one optimizer configuration shape of every training loop in rewardiff, its defaults, and the
 * transform it stands for: clip by global norm → Adam → decoupled weight decay → −lr_k.
 */
import { addDecayedWeights, defaultAdamHyper, scaleByAdam } from "./adam.js";
import { clipByGlobalNorm } from "./clip.js";
import { scaleByLearningRate, scheduleRate, type LrScheduleKind } from "./lr-schedule.js";
import { chain, type GradientTransformation } from "./transform.js";

export interface OptimizerConfig {
  /** Peak learning rate. */
  learningRate: number;
  lrSchedule: LrScheduleKind;
  /** Linear warm-up steps of the schedule. */
  warmupSteps: number;
  /** λ of AdamW; 0 = Adam. */
  weightDecay: number;
  /** Max global gradient norm; 0 = no clipping. */
  gradClip: number;
  /** EMA decay δ in [0, 1); 0 = no EMA. */
  ema: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** The defaults (the denoiser's; each loop overrides what its own schema sets). */
export const defaultOptimizerConfig: OptimizerConfig = {
  learningRate: 2e-3,
  lrSchedule: "cosine",
  warmupSteps: 0,
  weightDecay: 0,
  gradClip: 1,
  ema: 0.995,
};

/** A plain supervised fit (reward MLP, classifier, noisy predictor): AdamW (λ) on a cosine schedule, no clipping, no EMA. */
export function plainFitOptimizer(learningRate: number, weightDecay = 0): OptimizerConfig {
  return { ...defaultOptimizerConfig, learningRate, lrSchedule: "cosine", warmupSteps: 0, weightDecay, gradClip: 0, ema: 0 };
}

/** A constant learning rate with clipping and nothing else (PPO, reward fine-tuning). */
export function constantRateOptimizer(learningRate: number, gradClip: number): OptimizerConfig {
  return { ...defaultOptimizerConfig, learningRate, lrSchedule: "constant", warmupSteps: 0, weightDecay: 0, gradClip, ema: 0 };
}

/** The transform of `cfg` for a run of `totalSteps` optimizer steps (the length of the lr schedule). */
export function optimizerFromConfig(cfg: OptimizerConfig, totalSteps: number): GradientTransformation {
  const hyper = {
    beta1: cfg.beta1 ?? defaultAdamHyper.beta1,
    beta2: cfg.beta2 ?? defaultAdamHyper.beta2,
    eps: cfg.eps ?? defaultAdamHyper.eps,
  };
  return chain(
    clipByGlobalNorm(cfg.gradClip),
    scaleByAdam(hyper),
    addDecayedWeights(cfg.weightDecay),
    scaleByLearningRate(scheduleRate({ kind: cfg.lrSchedule, lr: cfg.learningRate, total: totalSteps, warmup: cfg.warmupSteps })),
  );
}

/** The parts of `cfg` that shape the compiled step (everything else reaches it as traced scalars). */
export function optimizerStaticKey(cfg: OptimizerConfig): string {
  return JSON.stringify([cfg.gradClip, cfg.weightDecay, cfg.ema > 0, cfg.beta1, cfg.beta2, cfg.eps]);
}
