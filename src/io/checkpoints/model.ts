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
  /**
   * Fine-tuned models (DRaFT, CTRL; src/finetune/checkpoint.ts): what was fine-tuned and how to sample
   * it. The weights (params = ema) are the effective fine-tuned network (LoRA adapters merged, CTRL's
   * control table included); the tensors `reference.*` hold the frozen pretrained network, whose mean
   * the chain's final deterministic step uses.
   */
  finetuned?: FinetunedInfo;
}

/** The sidecar block of a fine-tuned model. */
export interface FinetunedInfo {
  method: "draft" | "ctrl";
  /** What trained ("all", "adapters" merged into the weights, "embedding"), and the LoRA rank. */
  trainable: string;
  rank?: number;
  /** Optimisation steps, and γ (CTRL) or α (DRaFT). */
  steps: number;
  gamma?: number;
  alpha?: number;
  /** The sampler of the run that trained it (the chain the policy was trained on). */
  sampler: { sampler: string; steps: number; eta?: number };
  /** CTRL: the context c the pretrained p_pre(x | c) takes (one-hot, value condition of dimension C). */
  context?: { contexts: number; names: string[] };
  /** CTRL: the added control y ∈ {0..classes−1} (+ the null class), and whether ∅ was trained (CFG possible). */
  control?: { classes: number; names: string[]; nullProbability: number; classifier: string };
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

/** Host tensors by name (what a model checkpoint stores). */
export type HostTensors = Map<string, { shape: readonly number[]; data: Float32Array | Uint32Array }>;

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

export interface LoadedModel {
  meta: ModelMeta;
  state: TrainState;
  /** Tensors beside the training state (e.g. `reference.*` of a fine-tuned model), as float arrays. */
  extra: Map<string, { shape: readonly number[]; data: Float32Array }>;
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
  const extra = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of tensors) if (!/^(params|ema|opt)\.|^key$/.test(name)) extra.set(name, { shape: t.shape, data: Float32Array.from(t.data) });
  return { meta, state, extra };
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
  if (c!.finetuned !== undefined) {
    const f = c!.finetuned as Partial<FinetunedInfo> | null;
    if (!f || typeof f !== "object") fail("finetuned", "expected an object");
    if (f!.method !== "draft" && f!.method !== "ctrl") fail("finetuned.method", `expected "draft" or "ctrl", got ${JSON.stringify(f!.method)}`);
    const control = m!.network.control;
    if (f!.method === "ctrl") {
      if (!f!.control || !control) fail("finetuned.control", "a CTRL model needs a control (and model.network.control)");
      if (f!.control!.classes !== control!.classes) fail("finetuned.control.classes", `${f!.control!.classes}, but model.network.control has ${control!.classes} classes`);
      if (!Array.isArray(f!.control!.names) || f!.control!.names.length !== control!.classes) fail("finetuned.control.names", `expected ${control!.classes} names`);
      if (!(f!.control!.nullProbability >= 0 && f!.control!.nullProbability < 1)) fail("finetuned.control.nullProbability", "expected a number in [0, 1)");
    } else if (control) fail("finetuned", "a DRaFT model has no control, but model.network.control is set");
    const cond = m!.network.condition;
    if (f!.context !== undefined) {
      if (!cond || cond.kind !== "value" || cond.dim !== f!.context.contexts) fail("finetuned.context.contexts", `${f!.context.contexts} contexts, but model.network.condition does not take a one-hot of that size`);
    }
    const s = f!.sampler;
    if (!s || !["ddpm", "ddim"].includes(s.sampler) || !Number.isInteger(s.steps)) fail("finetuned.sampler", "expected { sampler, steps, eta }");
  }
  return c as ModelMeta;
}
