/**
 * Model checkpoints without file I/O (runs in a browser): the sidecar config of a diffusion model,
 * validated with zod (strict at every depth: an unknown key or `train.batchSize: "abc"` is refused with
 * one line naming the sidecar and the key), and the model rebuilt from a decoded checkpoint.
 * Two kinds (`config.checkpoint`):
 *  - "training": the training state (params.*, ema.*, opt.*, key; src/training/trainer.ts) with `step`
 *    and `dataSeed`, enough to resume exactly. Sidecars without the key (written before it existed) are
 *    read as this kind, so every older file loads unchanged.
 *  - "inference": the config and the EMA weights (ema.*) only, what sampling needs; a fine-tuned model
 *    (src/io/checkpoints/finetuned.ts) adds its frozen reference network (reference.*) once.
 * `loadModelFromBytes` loads a model from the two byte strings (SHA-256 through WebCrypto);
 * src/io/checkpoints/model-files.ts reads and writes the files in Node.
 */
import * as z from "zod";
import type { ModelConfig } from "../../diffusion/model.js";
import { makeSchedule } from "../../diffusion/schedule.js";
import { tree } from "../../backend/jax.js";
import { keyFromSeed } from "../../backend/keys.js";
import { denoiserCategories, initDenoiser, validateDenoiserSpec, type DenoiserParams } from "../../nn/denoiser.js";
import { paramsFromHost } from "../../nn/params.js";
import { disposeTrainState, trainStateFromTensors, type TrainConfig, type TrainState } from "../../training/trainer.js";
import type { HostMatrix } from "../../data/matrix.js";
import { decodeCheckpoint, sha256HexWeb, type Checkpoint } from "../sidecar.js";
import { parseCheckpointConfig } from "./schemas.js";
import { checkTransform, type DataTransform } from "../../data/transform.js";

export const MODEL_KIND = "rewardiff-model";

/** What the JSON sidecar holds besides the tensor list. */
export interface ModelMeta {
  kind: typeof MODEL_KIND;
  /** "training" (resumable; the default when absent) or "inference" (EMA weights only). */
  checkpoint?: CheckpointKind;
  model: ModelConfig;
  train: TrainConfig;
  /** Optimisation steps taken (informative for an inference checkpoint). */
  step: number;
  /** Training checkpoints: the seed of the batch sampler. */
  dataSeed?: number;
  /** Column names of the training data (sampling writes them as the CSV header). */
  columns: string[];
  /** Where the data came from (informative). */
  data: string;
  /**
   * Training checkpoints: the SHA-256 of the training data ({@link trainingDataSha256}: the float32 rows
   * the trainer saw), so `--resume` refuses other data. Absent in files written before it existed.
   */
  dataSha256?: string;
  /** The run's seed (`--seed`): a built-in task's data is regenerated from it when resuming. */
  seed?: number;
  /**
   * Conditional models (optional; absent for unconditional ones): what the condition y means, e.g. a
   * reward pseudo-labelled by a reward model (2307.07055). `names` has one entry per condition dimension.
   */
  conditioning?: ModelConditioning;
  /**
   * Fine-tuned models (DRaFT, CTRL; src/io/checkpoints/finetuned.ts): what was fine-tuned and how to sample
   * it. An inference checkpoint: `ema.*` is the effective fine-tuned network (LoRA adapters merged,
   * CTRL's control table included); `reference.*` holds the frozen pretrained network, whose mean the
   * chain's final deterministic step uses. (Older files stored it as a training state with params = ema.)
   */
  finetuned?: FinetunedInfo;
  /**
   * The per-feature data transform fitted on the training data (src/data/transform.ts): the model works
   * in its output space, sampling inverts it to data units. Absent = none (files written before it existed).
   */
  transform?: DataTransform;
  /** Molecule models: the vocabulary (src/chem/graph.ts GraphVocabulary) that decodes a row into a molecule. */
  molecules?: { atoms: string[]; bonds: number[]; maxAtoms: number };
  /**
   * A further fine-tuning stage (e.g. RCGDM's `molecules.startFrom`): the models its weights descend from, the one it
   * started from first, then the one that started from, and so on (as far as each file recorded it). Absent: trained
   * from scratch or from a pretrained model, or written before the key existed.
   */
  startedFrom?: StartedFrom[];
}

/** One model of a fine-tuning lineage: the file as the config named it, its weights' SHA-256 and its step. */
export interface StartedFrom {
  model: string;
  /** The SHA-256 of the .safetensors file (its sidecar's `sha256`): the file, whatever it is called now. */
  sha256: string;
  step: number;
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
  sampler: { sampler: string; steps: number; eta?: number; spacing?: "linspace" | "leading" | "trailing"; stepsOffset?: number };
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
  /**
   * The network reads (y − mean) / std, one entry per condition dimension (a molecule RCGDM model: targets
   * are given in the property's units and standardised before they reach the network). Absent: y as given.
   */
  standardization?: { mean: number[]; std: number[] };
}

/** Host tensors by name (what a model checkpoint stores). */
export type HostTensors = Map<string, { shape: readonly number[]; data: Float32Array | Uint32Array }>;

/** What a model checkpoint holds: everything to resume training, or the EMA weights only. */
export type CheckpointKind = "training" | "inference";

/** A loaded model. Its arrays are owned by the caller: release them with {@link disposeLoadedModel}. */
export interface LoadedModel {
  meta: ModelMeta;
  kind: CheckpointKind;
  /** The EMA weights, which sampling uses (for a training checkpoint, the same arrays as `state.ema`). */
  ema: DenoiserParams;
  /** Training checkpoints only: the state to resume from. */
  state?: TrainState;
  /** Tensors beside the weights (e.g. `reference.*` of a fine-tuned model), as float arrays. */
  extra: Map<string, { shape: readonly number[]; data: Float32Array }>;
}

/** Releases a loaded model's arrays. */
export function disposeLoadedModel(m: LoadedModel): void {
  if (m.state) disposeTrainState(m.state);
  else tree.dispose(m.ema);
}

/** The training state of a loaded model; an inference checkpoint is refused (and released) naming `where`. */
export function trainingState(m: LoadedModel, where: string): TrainState {
  if (m.state) return m.state;
  disposeLoadedModel(m);
  throw new Error(`${where}: an inference checkpoint (EMA weights only) has no training state to resume or read raw weights from`);
}

const int = (min: number) => z.number().int().min(min);
const names = z.array(z.string());

/**
 * The data hash a training checkpoint stores (`dataSha256`): hex SHA-256 of the row and column counts
 * (two little-endian uint32) followed by the float32 rows exactly as the trainer saw them (after any
 * data transform), little-endian. Equal for the same numbers whatever file (CSV, .npy) held them.
 */
export async function trainingDataSha256(m: HostMatrix): Promise<string> {
  const bytes = new Uint8Array(8 + m.rows * m.cols * 4);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, m.rows, true);
  view.setUint32(4, m.cols, true);
  for (let i = 0; i < m.rows * m.cols; i++) view.setFloat32(8 + 4 * i, m.data[i]!, true);
  return sha256HexWeb(bytes);
}

/**
 * A timestep band's fields (src/diffusion/loss.ts `TimestepBand`: [from, to) as fractions of T, and the share of each
 * batch drawn from it), and the check that it is not empty. One place for both: a config's `train.timestepBand`
 * (src/runners/methods/rcgdm.ts) and the sidecar of a model trained with one.
 */
export const TIMESTEP_BAND_FIELDS = { from: z.number().min(0).lt(1), to: z.number().gt(0).max(1), share: z.number().min(0).max(1) };
export const TIMESTEP_BAND_ORDER = [(b: { from: number; to: number }) => b.from < b.to, { message: "from must be < to" }] as const;

/** The optimizer settings a model was trained with (beta1, beta2, eps: Adam's, when not the defaults). */
const TrainBlockSchema = z.strictObject({
  steps: int(0),
  batchSize: int(1),
  learningRate: z.number().positive(),
  weightDecay: z.number().min(0),
  gradClip: z.number().min(0),
  lrSchedule: z.enum(["constant", "cosine", "warmup-cosine"]),
  warmupSteps: int(0),
  ema: z.number().min(0).lt(1),
  beta1: z.number().min(0).lt(1).optional(),
  beta2: z.number().min(0).lt(1).optional(),
  eps: z.number().positive().optional(),
  /** Where the training drew t for a share of each batch (src/diffusion/loss.ts `TimestepBand`); absent = the whole chain. */
  timestepBand: z.strictObject(TIMESTEP_BAND_FIELDS).refine(...TIMESTEP_BAND_ORDER).optional(),
});

const ScheduleBlockSchema = z.strictObject({
  kind: z.enum(["linear", "cosine", "scaled-linear", "custom"]),
  steps: int(1),
  betaStart: z.number().optional(),
  betaEnd: z.number().optional(),
  betas: z.array(z.number()).optional(),
});

const ModelBlockSchema = z.strictObject({
  /** Checked against its kind's strict schema by validateDenoiserSpec (src/nn/denoisers/). */
  network: z.looseObject({ dataDim: z.unknown() }),
  prediction: z.enum(["eps", "x0", "v"]),
  schedule: ScheduleBlockSchema,
  /** The noise space (src/diffusion/noise-space.ts); absent = all of R^D. */
  noise: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("full") }),
      z.strictObject({ kind: z.literal("symmetric") }),
      z.strictObject({ kind: z.literal("graph"), maxNodes: int(1), nodeBlocks: z.array(int(1)).min(1), edgeFeatures: int(1) }),
    ])
    .optional(),
  /** The training loss (src/diffusion/loss.ts); absent = squared error. */
  loss: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("mse") }),
      z.strictObject({ kind: z.literal("cross-entropy"), blockWeights: z.array(z.number().min(0)).min(1) }),
    ])
    .optional(),
});

/** The molecule vocabulary of a model trained on molecules (src/chem/graph.ts): how its rows decode. */
const MoleculesSchema = z.strictObject({
  atoms: z.array(z.string().min(1)).min(1),
  bonds: z.array(int(1)).min(1),
  maxAtoms: int(1),
});

const ConditioningSchema = z.strictObject({
  names,
  source: z.string(),
  reward: z.string().optional(),
  pseudoLabelNoise: z.number().min(0).optional(),
  dropout: z.number().min(0).lt(1).optional(),
  standardization: z.strictObject({ mean: z.array(z.number()), std: z.array(z.number().positive()) }).optional(),
});

const numbers = z.array(z.number());
const TransformSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  z.strictObject({ kind: z.literal("standardize"), mean: numbers, std: numbers }),
  z.strictObject({ kind: z.literal("minmax"), min: numbers, max: numbers }),
  z.strictObject({ kind: z.literal("quantile"), normal: numbers, values: z.array(numbers) }),
]);

const FinetunedSchema = z.strictObject({
  method: z.enum(["draft", "ctrl"]),
  trainable: z.string(),
  rank: int(1).optional(),
  steps: int(0),
  gamma: z.number().optional(),
  alpha: z.number().optional(),
  sampler: z.strictObject({
    sampler: z.enum(["ddpm", "ddim"]),
    steps: int(1),
    eta: z.number().min(0).optional(),
    spacing: z.enum(["linspace", "leading", "trailing"]).optional(),
    stepsOffset: int(0).optional(),
  }),
  context: z.strictObject({ contexts: int(1), names }).optional(),
  control: z.strictObject({ classes: int(1), names, nullProbability: z.number().min(0).lt(1), classifier: z.string() }).optional(),
});

/** The model sidecar's `config` (cross-field checks in {@link checkModelMeta}). */
export const ModelMetaSchema = z.strictObject({
  kind: z.literal(MODEL_KIND),
  checkpoint: z.enum(["training", "inference"]).optional(),
  model: ModelBlockSchema,
  train: TrainBlockSchema,
  step: int(0),
  dataSeed: z.number().int().optional(),
  columns: names,
  data: z.string(),
  dataSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  seed: z.number().int().optional(),
  conditioning: ConditioningSchema.optional(),
  finetuned: FinetunedSchema.optional(),
  transform: TransformSchema.optional(),
  /** Present when the rows are molecule graphs: the vocabulary that decodes them. */
  molecules: MoleculesSchema.optional(),
  startedFrom: z.array(z.strictObject({ model: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/), step: int(0) })).min(1).optional(),
});

/** Validates a model sidecar's config; every message names the sidecar file and the key (`config.…`). */
export function checkModelMeta(config: unknown, where: string): ModelMeta {
  const fail = (key: string, what: string): never => {
    throw new Error(`${where}: config.${key}: ${what}`);
  };
  const kind = (config as { kind?: unknown } | null)?.kind;
  if (kind !== MODEL_KIND) fail("kind", `expected "${MODEL_KIND}"${kind === "rewardiff-reward" ? " (this is a reward model, not a diffusion model)" : " (is this a rewardiff model?)"}`);
  parseCheckpointConfig(ModelMetaSchema, config, where);
  const c = config as ModelMeta;
  const m = c.model;
  const training = (c.checkpoint ?? "training") === "training";
  if (training && c.dataSeed === undefined) fail("dataSeed", "missing: a training checkpoint needs the batch sampler's seed");
  if (!training && c.dataSeed !== undefined) fail("dataSeed", "an inference checkpoint has no batch sampler (remove the key)");
  try {
    validateDenoiserSpec(m.network);
  } catch (err) {
    fail("model.network", (err as Error).message.replace(/^model: /, ""));
  }
  try {
    makeSchedule(m.schedule);
  } catch (err) {
    fail("model.schedule", (err as Error).message.replace(/^schedule: /, ""));
  }
  if (c.columns.length !== m.network.dataDim) fail("columns", `${c.columns.length} names for a model of dimension ${m.network.dataDim}`);
  if (m.loss?.kind === "cross-entropy") {
    const blocks = denoiserCategories(m.network);
    if (!blocks) fail("model.loss", 'cross-entropy needs a network with a categorical output (model.network.output "categorical")');
    if (m.prediction !== "x0") fail("model.loss", `cross-entropy needs x̂_0 prediction, but model.prediction is "${m.prediction}"`);
    if (m.loss.blockWeights.length !== blocks!.length) fail("model.loss.blockWeights", `${m.loss.blockWeights.length} weights for ${blocks!.length} categorical blocks`);
  }
  if (c.molecules !== undefined) {
    const net = m.network as { kind: string; maxNodes?: number; nodeBlocks?: number[]; edgeFeatures?: number };
    const v = c.molecules;
    const ok = net.kind === "graph-transformer" && net.maxNodes === v.maxAtoms && net.nodeBlocks?.[0] === v.atoms.length + 1 && net.edgeFeatures === v.bonds.length + 1;
    if (!ok) fail("molecules", `a vocabulary of ${v.atoms.length} atoms, ${v.bonds.length} bond orders and ${v.maxAtoms} atoms needs a graph-transformer of maxNodes ${v.maxAtoms}, node block ${v.atoms.length + 1} and ${v.bonds.length + 1} edge features`);
  }
  if (c.transform !== undefined) checkTransform(c.transform, m.network.dataDim, where, "config.transform");
  const cond = m.network.condition;
  if (c.conditioning !== undefined) {
    if (!cond) fail("conditioning", "present, but model.network has no condition");
    const dim = cond!.kind === "value" ? cond!.dim : 1;
    if (c.conditioning.names.length !== dim) fail("conditioning.names", `${c.conditioning.names.length} names for a condition of dimension ${dim}`);
    const st = c.conditioning.standardization;
    if (st && (st.mean.length !== dim || st.std.length !== dim)) fail("conditioning.standardization", `${st.mean.length} means and ${st.std.length} standard deviations for a condition of dimension ${dim}`);
  }
  const f = c.finetuned;
  if (f !== undefined) {
    const control = m.network.control;
    if (f.method === "ctrl") {
      if (!f.control || !control) fail("finetuned.control", "a CTRL model needs a control (and model.network.control)");
      if (f.control!.classes !== control!.classes) fail("finetuned.control.classes", `${f.control!.classes}, but model.network.control has ${control!.classes} classes`);
      if (f.control!.names.length !== control!.classes) fail("finetuned.control.names", `expected ${control!.classes} names`);
    } else if (control) fail("finetuned", "a DRaFT model has no control, but model.network.control is set");
    if (f.context !== undefined && (!cond || cond.kind !== "value" || cond.dim !== f.context.contexts)) {
      fail("finetuned.context.contexts", `${f.context.contexts} contexts, but model.network.condition does not take a one-hot of that size`);
    }
  }
  return c;
}

/** Rebuilds a model from a decoded checkpoint; `names` name the sidecar (config errors) and the weights (tensor errors). */
export function modelFromCheckpoint(ck: Checkpoint, names: { weights: string; sidecar: string }): LoadedModel {
  const meta = checkModelMeta(ck.config, names.sidecar);
  const where = names.weights;
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array | Uint32Array }>();
  for (const [name, t] of Object.entries(ck.tensors)) {
    if (!(t.data instanceof Float32Array || t.data instanceof Uint32Array)) throw new Error(`${where}: tensor "${name}" has an unexpected dtype ${t.dtype}`);
    tensors.set(name, { shape: t.shape, data: t.data });
  }
  const extra = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of tensors) if (!/^(params|ema|opt)\.|^key$/.test(name)) extra.set(name, { shape: t.shape, data: Float32Array.from(t.data) });
  if ((meta.checkpoint ?? "training") === "training") {
    const state = trainStateFromTensors(meta.model, tensors, { step: meta.step, dataSeed: meta.dataSeed! }, where);
    return { meta, kind: "training", ema: state.ema, state, extra };
  }
  for (const name of tensors.keys()) {
    if (/^(params|opt)\.|^key$/.test(name)) throw new Error(`${where}: tensor "${name}" belongs to a training state, but this is an inference checkpoint`);
  }
  const floats = new Map([...tensors].filter(([k]) => k.startsWith("ema.")).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]));
  const template = initDenoiser(keyFromSeed(0), meta.model.network);
  try {
    return { meta, kind: "inference", ema: paramsFromHost(template, floats, where, "ema"), extra };
  } finally {
    tree.dispose(template);
  }
}

/**
 * Loads a model from the safetensors bytes and the sidecar (JSON text or its parsed value), e.g. fetched
 * by a browser. Checks the sidecar, the SHA-256 of the bytes (WebCrypto) and every tensor; the returned
 * arrays are owned by the caller ({@link disposeLoadedModel}).
 */
export async function loadModelFromBytes(
  weights: Uint8Array,
  sidecar: string | object,
  names: { weights?: string; sidecar?: string } = {},
): Promise<LoadedModel> {
  const n = { weights: names.weights ?? "model weights", sidecar: names.sidecar ?? "model sidecar" };
  const ck = await decodeCheckpoint(weights, sidecar, n);
  return modelFromCheckpoint(ck, n);
}
