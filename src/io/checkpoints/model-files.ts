/**
 * Model checkpoints as files (Node): the training state (weights, EMA weights, optimizer moments, step,
 * PRNG key) in safetensors, and everything needed to rebuild and resume the model in the JSON sidecar
 * (validated by src/io/checkpoints/model.ts).
 */
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from "../checkpoint.js";
import type { Tensor } from "../safetensors.js";
import { trainStateTensors, type TrainState } from "../../training/trainer.js";
import { checkModelMeta, MODEL_KIND, modelFromCheckpoint, type HostTensors, type LoadedModel, type ModelMeta } from "./model.js";

/** Saves a training state; `extra` adds tensors beside it (e.g. a fine-tuned model's `reference.*`). */
export function saveModel(path: string, meta: Omit<ModelMeta, "kind" | "step" | "dataSeed">, state: TrainState, extra?: HostTensors): void {
  const tensors: HostTensors = trainStateTensors(state);
  for (const [k, v] of extra ?? []) tensors.set(k, v);
  saveModelTensors(path, { kind: MODEL_KIND, ...meta, step: state.step, dataSeed: state.dataSeed }, tensors);
}

/** Writes host tensors and a complete sidecar config (checked first, so a bad one never reaches disk). */
export function saveModelTensors(path: string, config: ModelMeta, hostTensors: HostTensors): void {
  checkModelMeta(config, path);
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of hostTensors) {
    tensors[name] = t.data instanceof Uint32Array ? { dtype: "U32", shape: [...t.shape], data: t.data } : { dtype: "F32", shape: [...t.shape], data: t.data };
  }
  saveCheckpoint(path, { tensors, config: config as unknown as Record<string, unknown> });
}

/** Loads a model checkpoint from its .safetensors or .json path. */
export function loadModel(path: string): LoadedModel {
  return modelFromCheckpoint(loadCheckpoint(path), checkpointPaths(path).sidecar);
}
