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
  return c as ModelMeta;
}
