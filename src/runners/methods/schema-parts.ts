/**
 * Config fields several method schemas share (docs/config.md). Each default is given here, once, and
 * filled in when the config is parsed; runners read the validated values.
 */
import * as z from "zod";
import { int, nonNegative, positive } from "../config-schemas.js";

/**
 * Defaults of the shared fields, also taken by guidance-common.ts for a kind whose schema lacks the
 * field (e.g. "draft" has no `reward`: it always uses the task's; "ddpo" without α is compared with
 * the tilt at α = DEFAULT_ALPHA where the task knows it).
 */
export const DEFAULT_ALPHA = 1;
export const DEFAULT_REWARD = "task" as const;
export const DEFAULT_THRESHOLD = 0;

/** Temperature / KL strength α of the tilt p · exp(r/α), default 1. */
export const alphaField = () => positive().default(DEFAULT_ALPHA);
/** Temperature α without a default (the method derives it, e.g. γ = 1/α from the task). */
export const optionalAlpha = () => positive().optional();
/** Guidance strength s, default 1. */
export const scaleField = () => nonNegative().default(1);
/** A row label (unique in a run; default: the kind). */
export const labelField = () => z.string().min(1).optional();
/** Guidance methods (docs/guidance.md): active interval [start, stop) of the chain, and a row label. */
export const guidanceInterval = {
  start: z.number().min(0).lt(1).optional(),
  stop: z.number().gt(0).max(1).optional(),
  label: labelField(),
};
/** Where a gradient term takes its gradient (x_t, x̂_0, the step mean), default `where`, and what it changes (ε̂ or the mean). */
export const gradientPoint = (where: "xt" | "x0" | "mean") => ({
  where: z.enum(["xt", "x0", "mean"]).default(where),
  apply: z.enum(["eps", "mean"]).optional(),
});
/** As {@link gradientPoint}, where the default point depends on another setting (the term chooses it). */
export const gradientPointChosen = () => ({
  where: z.enum(["xt", "x0", "mean"]).optional(),
  apply: z.enum(["eps", "mean"]).optional(),
});
/** The reward the method steers by: the task's, or the indicator 1[r(x) > threshold] (non-differentiable). */
export const guidanceReward = {
  reward: z.enum(["task", "indicator"]).default(DEFAULT_REWARD),
  threshold: z.number().default(DEFAULT_THRESHOLD),
};
/** The time-conditioned predictor trained on noised inputs (classifier guidance, target guidance, SVDD "learned"). */
export const noisyPredictor = {
  hidden: int(1).default(64),
  layers: int(1).default(2),
  trainSteps: int(1).default(1500),
};
/** A positive temperature with the paper's symbol in its error (RGDM's and RWR's τ). */
export const symbolPositive = (symbol: string) =>
  z.number().superRefine((v, c) => {
    if (!(v > 0)) c.addIssue({ code: "custom", message: `(${symbol}) must be > 0, got ${v}`, input: v });
  });
/** A non-negative number with the paper's symbol in its error (RGDM's ρ). */
export const symbolNonNegative = (symbol: string) =>
  z.number().superRefine((v, c) => {
    if (!(v >= 0)) c.addIssue({ code: "custom", message: `(${symbol}) must be ≥ 0, got ${v}`, input: v });
  });
/** The requirement of the CTRL benchmark's methods: a classifier-tilt task. */
export const CLASSIFIER_TILT = {
  kinds: ["classifier-tilt"],
  why: 'task.kind "classifier-tilt" (the method controls or guides a pretrained context-conditional model)',
} as const;
/**
 * Reward backpropagation through the sampler (DRaFT, CTRL; docs/ctrl.md): optimiser steps of
 * `batchSize` chains, gradient clip, LoRA rank of the adapters, truncation to the last K steps
 * (default: all), gradient checkpointing segment, and the per-step KL reduction over the event axes.
 */
export const finetuneOptim = (d: { steps: number; batchSize: number; learningRate: number }) => ({
  steps: int(1).default(d.steps),
  batchSize: int(1).default(d.batchSize),
  learningRate: positive().default(d.learningRate),
  gradClip: nonNegative().default(1),
  rank: int(1).default(4),
  truncation: int(1).optional().describe("default: every sampler step"),
  truncationMode: z.enum(["fixed", "random"]).default("fixed"),
  segment: int(1).optional(),
  klReduce: z.enum(["sum", "mean"]).default("sum"),
});
