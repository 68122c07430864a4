/**
 * The defaults `rewardiff train` uses, read from where training takes them (never restated): the
 * unconditional model is built from the experiment config's model schema (src/io/config.ts, through
 * src/runners/config.ts defaultConfig), the conditional one (`--unlabeled --reward-model`) from the
 * library's defaults (src/training/trainer.ts defaultTrainConfig, src/methods/rcgdm.ts
 * defaultConditionalNetwork). `train --help` prints these numbers.
 */
import type { TransformKind } from "../data/transform.js";
import { defaultConditionalNetwork } from "../training/rcgdm.js";
import { defaultConfig } from "../runners/config.js";
import { ModelSchema, ScheduleSchema } from "../runners/config-schemas.js";

/** `train --schedule`: the config schema's schedule kinds but "custom" (a list of β_t needs a config file). */
export const TRAIN_SCHEDULES = ScheduleSchema.in.shape.kind.unwrap().options.filter((k): k is Exclude<typeof k, "custom"> => k !== "custom");
/** `train --prediction`: the config schema's parameterisations (ε, x₀, v). */
export const TRAIN_PREDICTIONS = ModelSchema.shape.prediction.unwrap().options;
export type TrainSchedule = (typeof TRAIN_SCHEDULES)[number];
export type TrainPrediction = (typeof TRAIN_PREDICTIONS)[number];

/** The flags both `train` models share (the unconditional one and 2307.07055's conditional one). */
export interface SharedTrainFlags {
  columns?: string;
  /** The per-feature data transform (src/data/transform.ts); default: the csv task schema's. */
  transform?: TransformKind;
  out: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  hidden?: number;
  layers?: number;
  /** Noise schedule and parameterisation (defaults: the config schema's, see trainDefaults()). */
  schedule?: TrainSchedule;
  prediction?: TrainPrediction;
  quiet?: boolean;
  force?: boolean;
}

export interface TrainDefaults {
  steps: number;
  batchSize: number;
  learningRate: number;
  hidden: number;
  layers: number;
  /** The noise schedule's kind and what the network predicts (`--schedule`, `--prediction`). */
  schedule: string;
  prediction: string;
  /** The conditional model's network (its optimisation defaults are the same numbers; see trainDefaults). */
  conditional: { hidden: number; layers: number; schedule: string; prediction: string };
}

/**
 * The defaults of `rewardiff train`. The optimisation numbers are the config schema's; the conditional
 * path's (defaultTrainConfig) must equal them, since help prints one number for both
 * (test/cli-train-defaults.test.ts checks it).
 */
export function trainDefaults(): TrainDefaults {
  const model = defaultConfig().model;
  const t = model.train;
  return {
    steps: t.steps,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    hidden: model.hidden,
    layers: model.layers,
    schedule: model.schedule.kind,
    prediction: model.prediction,
    conditional: {
      hidden: defaultConditionalNetwork.hidden,
      layers: defaultConditionalNetwork.layers,
      schedule: defaultConditionalNetwork.schedule.kind,
      prediction: defaultConditionalNetwork.prediction,
    },
  };
}
