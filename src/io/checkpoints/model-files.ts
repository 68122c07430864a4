/**
 * Model checkpoints as files (Node): a training checkpoint (weights, EMA weights, optimizer moments,
 * step, PRNG key) or an inference checkpoint (EMA weights) in safetensors, and everything needed to
 * rebuild the model in the JSON sidecar (the kinds and their validation: src/io/checkpoints/model.ts).
 */
import { toHost } from "../../backend/ownership.js";
import type { JArray } from "../../backend/jax.js";
import type { DenoiserParams } from "../../nn/denoiser.js";
import { namedLeaves } from "../../nn/params.js";
import { readFileSync } from "node:fs";
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from "../checkpoint.js";
import { parseSidecar } from "../sidecar.js";
import type { Tensor } from "../safetensors.js";
import { trainStateTensors, type TrainState } from "../../training/trainer.js";
import { checkModelMeta, MODEL_KIND, modelFromCheckpoint, type HostTensors, type LoadedModel, type ModelMeta } from "./model.js";

/** The sidecar fields a caller gives (the kind, step and seed come from what is saved). */
export type ModelInfo = Omit<ModelMeta, "kind" | "checkpoint" | "step" | "dataSeed">;

/** Saves a training checkpoint (resumable); `extra` adds tensors beside the state. */
export async function saveModel(path: string, meta: ModelInfo, state: TrainState, extra?: HostTensors): Promise<void> {
  const tensors: HostTensors = await trainStateTensors(state);
  for (const [k, v] of extra ?? []) tensors.set(k, v);
  saveModelTensors(path, { kind: MODEL_KIND, checkpoint: "training", ...meta, step: state.step, dataSeed: state.dataSeed }, tensors);
}

/** Saves an inference checkpoint: the EMA weights (borrowed) after `step` optimisation steps, plus `extra`. */
export async function saveInferenceModel(path: string, meta: ModelInfo, ema: DenoiserParams, step: number, extra?: HostTensors): Promise<void> {
  const tensors = await weightTensors(ema, "ema");
  for (const [k, v] of extra ?? []) tensors.set(k, v);
  saveModelTensors(path, { kind: MODEL_KIND, checkpoint: "inference", ...meta, step }, tensors);
}

/** A network's weights (borrowed) as host tensors named `prefix.path`, read asynchronously (any device). */
export async function weightTensors(p: DenoiserParams, prefix: string): Promise<HostTensors> {
  const out: HostTensors = new Map();
  for (const [name, leaf] of namedLeaves(p, prefix)) out.set(name, { shape: [...leaf.shape], data: await toHost((leaf as JArray).ref) });
  return out;
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

/** Loads a model checkpoint (either kind) from its .safetensors or .json path. */
export function loadModel(path: string): LoadedModel {
  return modelFromCheckpoint(loadCheckpoint(path), checkpointPaths(path));
}

/** The SHA-256 a model file's sidecar records for its weights (what {@link loadModel} checks the weights against). */
export function recordedWeightsSha256(path: string): string {
  const { sidecar } = checkpointPaths(path);
  return parseSidecar(readFileSync(sidecar, "utf8"), sidecar).sha256;
}
