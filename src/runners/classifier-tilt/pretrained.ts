/**
 * The pretrained context-conditional model p_pre(x | c) of the classifier-tilt task (CTRL, 2406.12120:
 * "given a pretrained model p_pre(x | c)"). The network is the run's denoiser (config.model) with a
 * condition input for the context c ∈ {0..C−1}, fed as the one-hot vector e_c ∈ R^C through the
 * denoiser's value embedding (e = e_c W + b: a learned table row per context, the same function class as
 * a class embedding, and trainable with `trainSteps` as is). No condition dropout: p_pre is only ever
 * used conditioned on c.
 *
 * Trained once per run on the task's training rows with their contexts (key derived from the run's
 * seed, so it does not depend on which method asks first), kept in the run's state (released when the
 * run ends), and saved once as the artefact `pretrained.safetensors`. A method option
 * `pretrained: "path/to/model.safetensors"` loads a saved one instead (frozen; checked against the task).
 */
import { resolve } from "node:path";
import { keyFromSeed, np, type Key } from "../../backend/index.js";
import type { HostMatrix } from "../../data/matrix.js";
import { hostMatrix } from "../../data/matrix.js";
import { modelEps, type ModelConfig } from "../../diffusion/model.js";
import type { SamplerConfig } from "../../diffusion/sample.js";
import type { EpsFn } from "../../diffusion/types.js";
import type { ConditionInput, DenoiserParams } from "../../nn/denoiser.js";
import { disposeTrainState, initTrainState, trainSteps, type TrainConfig, type TrainState } from "../../training/trainer.js";
import { generateWithEps } from "../../diffusion/generate.js";
import type { MethodContext } from "../methods/context.js";
import { loadModel, saveModel } from "../../io/checkpoints/model-files.js";
import { trainingState } from "../../io/checkpoints/model.js";
import type { ClassifierTiltData, TaskData } from "../task-data.js";

/** Size of the context embedding added to the denoiser's input. */
export const CONTEXT_EMBEDDING = 32;
/** File name of the pretrained model in the run's output folder. */
export const PRETRAINED_CHECKPOINT = "pretrained.safetensors";

/** The pretrained p_pre(x | c). Everything here is owned by the run's state: borrow, never dispose. */
export interface PretrainedTiltModel {
  /** The network (with condition { kind: "value", dim: C }), prediction and schedule. */
  model: ModelConfig;
  train: TrainConfig;
  /** The full training state (weights, EMA, optimiser); sample with `params`. */
  state: TrainState;
  /** The frozen weights used for sampling: the EMA weights of `state`. */
  params: DenoiserParams;
  /** C. */
  contexts: number;
  /** "trained" (this run) or the path it was loaded from. */
  source: string;
  losses: { step: number; loss: number }[];
  trainSeconds: number;
}

/** One-hot rows e_c [n, C] on the host; `c` is one context for all rows or one per row. */
export function contextOneHot(contexts: number, c: number | ArrayLike<number>, n: number): Float32Array {
  const out = new Float32Array(n * contexts);
  for (let i = 0; i < n; i++) {
    const ci = typeof c === "number" ? c : c[i]!;
    if (!Number.isInteger(ci) || ci < 0 || ci >= contexts) throw new Error(`context must be a whole number in 0..${contexts - 1}, got ${ci}`);
    out[i * contexts + ci] = 1;
  }
  return out;
}

/** The denoiser's condition input for contexts c (one for all n rows, or one per row): a fresh device value. */
export function contextCondition(contexts: number, c: number | ArrayLike<number>, n: number): ConditionInput {
  return { kind: "value", value: np.array(contextOneHot(contexts, c, n), { shape: [n, contexts] }), keep: np.ones([n]) };
}

/** ε̂_pre(x_t, t, c) for one context c. Borrows `p.params` (keep `p` alive while the function is used). */
export function pretrainedEps(p: PretrainedTiltModel, c: number): EpsFn {
  return modelEps(p.model, p.params, (n) => contextCondition(p.contexts, c, n));
}

/** n samples of p_pre(x | c) with the given sampler. Consumes `key`. */
export function samplePretrained(p: PretrainedTiltModel, sampler: SamplerConfig, c: number, n: number, key: Key): Promise<HostMatrix> {
  return generateWithEps(pretrainedEps(p, c), p.model, sampler, n, key);
}

/** The pretrained network's config: the run's model plus the context condition. */
export function pretrainedModelConfig(base: ModelConfig, contexts: number): ModelConfig {
  return { ...base, network: { ...base.network, condition: { kind: "value", dim: contexts, embedding: CONTEXT_EMBEDDING } } };
}

/** A p_pre kept in the run's state, and whether its checkpoint was handed out. */
interface PretrainedEntry {
  model: PretrainedTiltModel;
  checkpointClaimed: boolean;
}
/** The run-state id of p_pre: trained by the run, or loaded from a path. */
const stateId = (source: string) => `classifier-tilt:pretrained:${source}`;

/** The classifier-tilt part of the run's data, or a clear error naming the method. */
export function tiltData(ctx: Pick<MethodContext, "data" | "method" | "index" | "cfg">): ClassifierTiltData {
  const d = ctx.data.classifierTilt;
  if (!d) {
    const at = Array.isArray(ctx.cfg.method) ? `method[${ctx.index}]` : "method";
    throw new Error(`${at}: "${ctx.method.kind}" on this task needs a pretrained context-conditional model; use task.kind "classifier-tilt" (task.kind is "${ctx.cfg.task.kind}")`);
  }
  return d;
}

/**
 * The run's p_pre(x | c): trained on first use (then kept in the run's state), or loaded from `path` (relative paths are
 * resolved from the working directory). `where` names the config key in errors (e.g. `method[1].pretrained`).
 */
export async function pretrainedFor(ctx: MethodContext, opts: { path?: string; where?: string } = {}): Promise<PretrainedTiltModel> {
  const d = tiltData(ctx);
  const id = stateId(opts.path ? `path:${resolve(opts.path)}` : "trained");
  const entry = ctx.state.memo<Promise<PretrainedEntry>>(
    id,
    async () => {
      const model = opts.path ? loadPretrained(opts.path, d.task.contexts, opts.where ?? "pretrained") : await trainPretrained(ctx, d);
      return { model, checkpointClaimed: !!opts.path };
    },
    (p) => void p.then((e) => disposeTrainState(e.model.state), () => undefined),
  ).value;
  return (await entry).model;
}

/** The run's trained p_pre if a method already trained it (or undefined: nothing is trained here). */
export async function cachedPretrained(ctx: Pick<MethodContext, "state">): Promise<PretrainedTiltModel | undefined> {
  return (await ctx.state.peek<Promise<PretrainedEntry>>(stateId("trained")))?.model;
}

/** The "pretrained.safetensors" artefact of the run's trained p_pre, returned to the first caller only. */
export async function pretrainedCheckpoints(ctx: MethodContext): Promise<{ name: string; save: (path: string) => void | Promise<void> }[]> {
  const hit = await ctx.state.peek<Promise<PretrainedEntry>>(stateId("trained"));
  if (!hit || hit.checkpointClaimed) return [];
  hit.checkpointClaimed = true;
  const p = hit.model;
  return [{ name: PRETRAINED_CHECKPOINT, save: (path) => savePretrained(path, p, ctx.data) }];
}

/** Saves p_pre as a model checkpoint (src/io/checkpoints/model.ts) with its conditioning described. */
export async function savePretrained(path: string, p: PretrainedTiltModel, data: Pick<TaskData, "columns" | "name">): Promise<void> {
  await saveModel(
    path,
    {
      model: p.model,
      train: p.train,
      columns: data.columns,
      data: data.name,
      conditioning: {
        names: Array.from({ length: p.contexts }, (_, c) => `context=${c}`),
        source: "classifier-tilt contexts (one-hot e_c)",
        dropout: 0,
      },
    },
    p.state,
  );
}

async function trainPretrained(ctx: MethodContext, d: ClassifierTiltData): Promise<PretrainedTiltModel> {
  const C = d.task.contexts;
  const model = pretrainedModelConfig(ctx.model, C);
  const x = ctx.data.train;
  const cond = hostMatrix(x.rows, C, contextOneHot(C, d.trainContexts, x.rows));
  ctx.hooks.onStage?.(`training the pretrained p_pre(x|c) on ${x.rows} rows of ${C} contexts for ${ctx.train.steps} steps`);
  const t0 = performance.now();
  // A key of its own, derived from the run's seed (not from the first method's key).
  const key: Key = keyFromSeed((ctx.cfg.seed ^ 0x5eed7e17) >>> 0);
  const state = await trainSteps(model, ctx.train, initTrainState(model, key), { x, cond: { values: cond, dropout: 0 } }, {
    onProgress: (pr) => ctx.hooks.onTrain?.(pr, "pretrained"),
  });
  return { model, train: ctx.train, state, params: state.ema, contexts: C, source: "trained", losses: state.losses, trainSeconds: (performance.now() - t0) / 1000 };
}

function loadPretrained(path: string, contexts: number, where: string): PretrainedTiltModel {
  const loaded = loadModel(path);
  const { meta } = loaded;
  const state = trainingState(loaded, `${where}: ${path}`);
  const net = meta.model.network;
  const cond = net.condition;
  const fail = (what: string): never => {
    disposeTrainState(state);
    throw new Error(`${where}: ${path}: ${what}`);
  };
  if (net.dataDim !== 2) fail(`the model is for ${net.dataDim}-dimensional data, but the classifier-tilt task is 2-D`);
  if (!cond || cond.kind !== "value") fail(`the model takes ${cond ? `a ${cond.kind} condition` : "no condition"}; a pretrained p_pre(x|c) takes the one-hot context (a value condition of dimension ${contexts})`);
  if (cond!.kind === "value" && cond!.dim !== contexts) fail(`the model's context condition has dimension ${cond!.dim}, but the task has ${contexts} contexts`);
  return { model: meta.model, train: meta.train, state, params: state.ema, contexts, source: path, losses: [], trainSeconds: 0 };
}
