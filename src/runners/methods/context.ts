/**
 * The plug point of the experiment runner: every method kind of the config ("none", "rcgdm", "dps", …)
 * is a {@link MethodRunner} registered in ./registry.ts. A runner gets the run's data, model config,
 * keys and a lazily trained unconditional base model, and returns result rows, samples and plots.
 * Runners are plain async functions; side effects (files) stay in the experiment runner.
 */
import type { Key } from "../../backend/keys.js";
import type { HostMatrix } from "../../data/matrix.js";
import type { ModelConfig } from "../../diffusion/model.js";
import type { SamplerConfig } from "../../diffusion/sample.js";
import type { ExperimentConfig, MethodConfig } from "../../io/config.js";
import type { PlotFigure } from "../../report/html.js";
import type { ResultRow } from "../../report/types.js";
import type { ProgressInfo, TrainConfig, TrainState } from "../../training/trainer.js";
import type { TaskData } from "../task-data.js";

export interface ExperimentHooks {
  /** Called after every training step (label says which model is training). */
  onTrain?: (p: ProgressInfo, label?: string) => void;
  /** Called after every sampling step. */
  onSample?: (done: number, total: number, label?: string) => void;
  /** A line of status text (e.g. "training", "sampling"). */
  onStage?: (stage: string) => void;
}

/** The unconditional model trained on the task's data (shared by every method of a run). */
export interface BaseModel {
  model: ModelConfig;
  train: TrainConfig;
  /** Owned by the experiment runner: borrow, never dispose. */
  state: TrainState & { losses: { step: number; loss: number }[] };
  trainSeconds: number;
}

export interface MethodContext {
  cfg: ExperimentConfig;
  method: MethodConfig;
  /** Index of this method in the config's list. */
  index: number;
  data: TaskData;
  model: ModelConfig;
  train: TrainConfig;
  sampler: SamplerConfig;
  /** A fresh key for this method (consumed by the runner). */
  key: Key;
  /** Trains the base model on first call; later calls return the same one. */
  base(): Promise<BaseModel>;
  /** Two independent evaluation sets of n rows (same for every method of the run, per n). */
  evalSets(n: number): [HostMatrix, HostMatrix];
  /** Independent pairs of evaluation sets of n rows (the first is `evalSets(n)`), for averaged distances. */
  evalPairs(n: number): [HostMatrix, HostMatrix][];
  hooks: ExperimentHooks;
  /** The result rows of the methods listed before this one (e.g. to match their reward-evaluation budget). */
  earlierRows?: readonly ResultRow[];
}

export interface MethodOutput {
  rows: ResultRow[];
  /** Generated samples per row label (written as samples[-label].csv). */
  samples: { label: string; matrix: HostMatrix }[];
  plots: PlotFigure[];
  /** Extra sections merged into report.json (e.g. training curves). */
  sections?: Record<string, unknown>;
  /** Extra checkpoints to save: path suffix → writer. */
  checkpoints?: { name: string; save: (path: string) => void }[];
}

export type MethodRunner = (ctx: MethodContext) => Promise<MethodOutput>;
