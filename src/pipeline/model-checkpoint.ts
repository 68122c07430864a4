/**
 * Model checkpoints: the training state (weights, EMA weights, Adam moments, step, PRNG key) in
 * safetensors, and everything needed to rebuild and resume the model in the JSON sidecar.
 */
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.js";
import type { Tensor } from "../io/safetensors.js";
import type { ModelConfig } from "../diffusion/model.js";
import { validateDenoiserSpec } from "../nn/denoiser.js";
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
  const meta = ck.config as unknown as ModelMeta;
  if (!meta || meta.kind !== MODEL_KIND || !meta.model || !meta.model.network) {
    throw new Error(`${path}: not a rewardiff model checkpoint (its config has no model description)`);
  }
  validateDenoiserSpec(meta.model.network);
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array | Uint32Array }>();
  for (const [name, t] of Object.entries(ck.tensors)) {
    if (!(t.data instanceof Float32Array || t.data instanceof Uint32Array)) throw new Error(`${path}: tensor "${name}" has an unexpected dtype ${t.dtype}`);
    tensors.set(name, { shape: t.shape, data: t.data });
  }
  const state = trainStateFromTensors(meta.model, tensors, { step: meta.step, dataSeed: meta.dataSeed }, path);
  return { meta, state };
}
