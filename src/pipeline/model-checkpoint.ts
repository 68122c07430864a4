/**
 * Model checkpoints: the training state (weights, EMA weights, Adam moments, step, PRNG key) in
 * safetensors, and everything needed to rebuild and resume the model in the JSON sidecar.
 */
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from "../io/checkpoint.js";
import type { Tensor } from "../io/safetensors.js";
import type { ModelConfig } from "../diffusion/model.js";
import { validateDenoiserSpec } from "../nn/denoiser.js";
import { makeSchedule } from "../diffusion/schedule.js";
import {
  trainStateFromTensors,
  trainStateTensors,
  type TrainConfig,
  type TrainState,
} from "../training/trainer.js";

export const MODEL_KIND = "rewardiff-model";

/** What the JSON sidecar holds besides the tensor list. */
export interface ModelMeta {
  kind: typeof MODEL_KIND;
  model: ModelConfig;
  train: TrainConfig;
  step: number;
  dataSeed: number;
  /** Column names of the training data (sampling writes them as the CSV header). */
  columns: string[];
  /** Where the data came from (informative). */
  data: string;
  /**
   * Conditional models (optional; absent for unconditional ones): what the condition y means, e.g. a
   * reward pseudo-labelled by a reward model (2307.07055). `names` has one entry per condition dimension.
   */
  conditioning?: ModelConditioning;
}

/** The meaning of a conditional model's condition (stored in the sidecar). */
export interface ModelConditioning {
  /** One name per condition dimension (e.g. ["reward"]). */
  names: string[];
  /** How the training conditions were made, e.g. "pseudo-labels". */
  source: string;
  /** The reward model that made the pseudo-labels (a path or a description). */
  reward?: string;
  /** ν: the noise added to the pseudo-labels. */
  pseudoLabelNoise?: number;
  /** p_uncond: condition dropout during training (0 = no null condition learned). */
  dropout?: number;
}

export function saveModel(path: string, meta: Omit<ModelMeta, "kind" | "step" | "dataSeed">, state: TrainState): void {
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of trainStateTensors(state)) {
    tensors[name] = t.data instanceof Uint32Array ? { dtype: "U32", shape: t.shape, data: t.data } : { dtype: "F32", shape: t.shape, data: t.data };
  }
  const config: ModelMeta = { kind: MODEL_KIND, ...meta, step: state.step, dataSeed: state.dataSeed };
  saveCheckpoint(path, { tensors, config: config as unknown as Record<string, unknown> });
}

export interface LoadedModel {
  meta: ModelMeta;
  state: TrainState;
}

export function loadModel(path: string): LoadedModel {
  const ck = loadCheckpoint(path);
  const meta = checkModelMeta(ck.config, checkpointPaths(path).sidecar);
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array | Uint32Array }>();
  for (const [name, t] of Object.entries(ck.tensors)) {
    if (!(t.data instanceof Float32Array || t.data instanceof Uint32Array)) throw new Error(`${path}: tensor "${name}" has an unexpected dtype ${t.dtype}`);
    tensors.set(name, { shape: t.shape, data: t.data });
  }
  const state = trainStateFromTensors(meta.model, tensors, { step: meta.step, dataSeed: meta.dataSeed }, path);
  return { meta, state };
}

/** Validates a model sidecar's config; every message names the sidecar file and the key. */
export function checkModelMeta(config: unknown, where: string): ModelMeta {
  const c = config as Partial<ModelMeta> | undefined;
  const fail = (key: string, what: string): never => {
    throw new Error(`${where}: config.${key}: ${what}`);
  };
  if (!c || typeof c !== "object") fail("", "missing");
  if (c!.kind !== MODEL_KIND) fail("kind", `expected "${MODEL_KIND}" (is this a rewardiff model?)`);
  const m = c!.model;
  if (!m || typeof m !== "object") fail("model", "missing");
  if (!m!.network || typeof m!.network !== "object") fail("model.network", "missing");
  try {
    validateDenoiserSpec(m!.network);
  } catch (err) {
    fail("model.network", (err as Error).message.replace(/^model: /, ""));
  }
  if (!m!.schedule || typeof m!.schedule !== "object") fail("model.schedule", "missing");
  try {
    makeSchedule(m!.schedule);
  } catch (err) {
    fail("model.schedule", (err as Error).message.replace(/^schedule: /, ""));
  }
  if (!["eps", "x0", "v"].includes(m!.prediction as string)) fail("model.prediction", `expected "eps", "x0" or "v", got ${JSON.stringify(m!.prediction)}`);
  if (!c!.train || typeof c!.train !== "object") fail("train", "missing");
  if (!Number.isInteger(c!.step) || c!.step! < 0) fail("step", `expected a whole number ≥ 0, got ${JSON.stringify(c!.step)}`);
  if (!Number.isInteger(c!.dataSeed)) fail("dataSeed", `expected a whole number, got ${JSON.stringify(c!.dataSeed)}`);
  const cols = c!.columns;
  if (!Array.isArray(cols) || !cols.every((x) => typeof x === "string")) fail("columns", "expected a list of column names");
  if (cols!.length !== m!.network.dataDim) fail("columns", `${cols!.length} names for a model of dimension ${m!.network.dataDim}`);
  if (c!.conditioning !== undefined) {
    const k = c!.conditioning as Partial<ModelConditioning> | null;
    const cond = m!.network.condition;
    if (!k || typeof k !== "object") fail("conditioning", "expected an object");
    if (!cond) fail("conditioning", "present, but model.network has no condition");
    if (!Array.isArray(k!.names) || !k!.names.every((x) => typeof x === "string")) fail("conditioning.names", "expected a list of names");
    const dim = cond!.kind === "value" ? cond!.dim : 1;
    if (k!.names!.length !== dim) fail("conditioning.names", `${k!.names!.length} names for a condition of dimension ${dim}`);
    if (typeof k!.source !== "string") fail("conditioning.source", "expected a string");
  }
  return c as ModelMeta;
}
