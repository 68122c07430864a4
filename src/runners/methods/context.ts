/**
 * The plug point of the experiment runner: every method kind of the config ("none", "rcgdm", "dps", …)
 * is a {@link MethodModule} registered in ./registry.ts: its kind, its config schema (defaults filled
 * in there, and only there), what it requires of the task and sampler, and its runner. A runner gets
 * the run's data, model config, a key and the run's lazy shared state ({@link RunState}: the base model,
 * trained once, and whatever else methods share), and returns result rows, samples and plots.
 * Runners are plain async functions; side effects (files) stay in the experiment runner.
 */
import type { Key } from "../../backend/keys.js";
import type { HostMatrix } from "../../data/matrix.js";
import type { ModelConfig } from "../../diffusion/model.js";
import type { DenoiserParams } from "../../nn/denoiser.js";
import type { SamplerConfig } from "../../diffusion/sample.js";
import type * as z from "zod";
import type { MethodEntry, RunConfig } from "../config-schemas.js";
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

/**
 * State shared by the methods of one run, built on first use and released by the experiment runner:
 * `memo(id, build, dispose?)` returns the value stored under `id`, calling `build` once (the first
 * caller owns the build's cost, later callers get `{ fresh: false }`); `release()` calls every
 * `dispose` given (device memory of shared models) when the run ends.
 */
export interface RunState {
  memo<T>(id: string, build: () => T, dispose?: (value: T) => void): { value: T; fresh: boolean };
  /** The value stored under `id`, if any (nothing is built). */
  peek<T>(id: string): T | undefined;
  /** Disposes what the stored values hold; the state is empty afterwards. */
  release(): void;
}

/** A {@link RunState} backed by a Map (one per run). */
export function newRunState(): RunState {
  const store = new Map<string, unknown>();
  const disposers: (() => void)[] = [];
  return {
    memo<T>(id: string, build: () => T, dispose?: (value: T) => void) {
      if (store.has(id)) return { value: store.get(id) as T, fresh: false };
      const value = build();
      store.set(id, value);
      if (dispose) disposers.push(() => dispose(value));
      return { value, fresh: true };
    },
    peek<T>(id: string) {
      return store.get(id) as T | undefined;
    },
    release() {
      for (const d of disposers.splice(0)) d();
      store.clear();
    },
  };
}

export interface MethodContext<M extends MethodEntry = MethodEntry> {
  cfg: RunConfig;
  /** This method's validated config (every default of its schema filled in). */
  method: M;
  /** Index of this method in the config's list. */
  index: number;
  /** The row label of this method (its `label`, else the default; unique in the run). */
  label: string;
  /** The run's lazily built shared state (predictors, references, pretrained models). */
  state: RunState;
  data: TaskData;
  model: ModelConfig;
  train: TrainConfig;
  sampler: SamplerConfig;
  /** A fresh key for this method (consumed by the runner). */
  key: Key;
  /** Trains the base model on first call; later calls return the same one. */
  base(): Promise<BaseModel>;
  /**
   * The base model's sampling weights (borrowed), where they do not come from `base()`: a molecule run's
   * pretrained model, which is loaded, not trained (src/runners/molecule-run.ts). Absent: `base()`'s EMA.
   */
  baseWeights?: () => Promise<DenoiserParams>;
  /** Two independent evaluation sets of n rows (same for every method of the run, per n). */
  evalSets(n: number): Promise<[HostMatrix, HostMatrix]>;
  /** Independent pairs of evaluation sets of n rows (the first is `evalSets(n)`), for averaged distances. */
  evalPairs(n: number): Promise<[HostMatrix, HostMatrix][]>;
  hooks: ExperimentHooks;
  /** The result rows of the methods listed before this one (e.g. to match their reward-evaluation budget). */
  earlierRows?: readonly ResultRow[];
  /**
   * Samples behind the shared untuned-model reward of rgdm / rwr rows (default 4,096, methods/rgdm.ts); a
   * molecule run uses its `sampling.samples`, as every sample costs a chain and an oracle call.
   */
  untunedSamples?: number;
}

export interface MethodOutput {
  rows: ResultRow[];
  /** Generated samples per row label (written as samples[-label].csv). */
  samples: { label: string; matrix: HostMatrix }[];
  plots: PlotFigure[];
  /** Extra sections merged into report.json (e.g. training curves). */
  sections?: Record<string, unknown>;
  /** Extra checkpoints to save: path suffix → writer. */
  checkpoints?: { name: string; save: (path: string) => void | Promise<void> }[];
}

export type MethodRunner<M extends MethodEntry = MethodEntry> = (ctx: MethodContext<M>) => Promise<MethodOutput>;

/** What a method needs of the run; checked when the config is parsed, before any work. */
export interface MethodRequirements {
  /** The task's ground-truth reward (tasks listed in TASKS_WITH_REWARD, src/io/config.ts). */
  taskReward: boolean;
  /** Only these task kinds, and why (the error reads `"<kind>" needs <why>, but task.kind is "<t>"`). */
  taskKinds?: { kinds: readonly string[]; why: string };
  /** Stochastic sampler steps (σ_t > 0), and why: refused with DDIM at η = 0. */
  stochasticSampler?: { why: string };
}

/** Adds one config issue at `path` (a path from the config's root). */
export type AddIssue = (path: (string | number)[], message: string, input?: unknown) => void;

/** A method: its kind, config schema (with its defaults), requirements and runner. */
export interface MethodModule<S extends z.ZodType<MethodEntry> = z.ZodType<MethodEntry>> {
  kind: string;
  /** One line for docs/config.md. */
  summary: string;
  schema: S;
  requires: MethodRequirements;
  /** Checks of this method against the rest of the config (`at` = the method's path). */
  refine?: (m: z.output<S>, cfg: Partial<RunConfig>, at: (string | number)[], add: AddIssue) => void;
  /** The row label when the entry gives none (default: the kind). */
  defaultLabel?: (m: z.output<S>) => string;
  run: MethodRunner<z.output<S>>;
}

/** Declares a method module (a typed identity: the runner's config type comes from the schema). */
export function defineMethod<S extends z.ZodType<MethodEntry>>(m: MethodModule<S>): MethodModule<S> {
  return m;
}
