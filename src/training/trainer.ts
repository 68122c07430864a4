/**
 * Training a denoiser: Adam/AdamW on the denoising loss, gradient clipping, a learning-rate schedule
 * and an EMA of the weights, in one jitted step. Everything a run needs to continue exactly is in
 * {@link TrainState}: parameters, EMA, optimizer moments, the step count and the PRNG key; batches are
 * drawn from (dataSeed, step), so training N steps, saving, loading and training N more gives the same
 * weights as training 2N steps.
 */
import { np, random, type JArray } from "../backend/jax.js";
import { keyFromWords, keyToWords, keyToWordsAsync, split2, type Key } from "../backend/keys.js";
import { toHost, upload } from "../backend/ownership.js";
import { batchIndices } from "../data/batches.js";
import type { HostMatrix } from "../data/matrix.js";
import { denoisingLoss, type TimestepBand } from "../diffusion/loss.js";
import { noiseHookOf } from "../diffusion/noise-space.js";
import type { ModelConfig } from "../diffusion/model.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { initDenoiser, type ConditionInput, type DenoiserParams } from "../nn/denoiser.js";
import { namedLeaves, paramsFromHost, type Params } from "../nn/params.js";
import type { AdamState } from "../optim/adam.js";
import { defaultOptimizerConfig, optimizerFromConfig, optimizerStaticKey, type OptimizerConfig } from "../optim/config.js";
import { learningRate } from "../optim/lr-schedule.js";
import { runSteps } from "../optim/loop.js";
import { nextTask } from "../backend/event-loop.js";
import { describeDivergence } from "../optim/divergence.js";
import { disposeTrainStepState, makeTrainStep, type TrainStep, type TrainStepState } from "../optim/train-step.js";

/** A denoiser training run: the optimizer (../optim/config.ts) plus the number of steps and the batch size. */
export interface TrainConfig extends OptimizerConfig {
  steps: number;
  batchSize: number;
  /** A share of each batch with t from a band of the chain (../diffusion/loss.ts TimestepBand); absent: t uniform. */
  timestepBand?: TimestepBand;
}

export const defaultTrainConfig: TrainConfig = {
  ...defaultOptimizerConfig,
  steps: 4000,
  batchSize: 512,
};

/** Everything needed to continue a run exactly (../optim/train-step.ts). Arrays are owned by the state. */
export interface TrainState extends TrainStepState<DenoiserParams, AdamState<DenoiserParams>> {
  ema: DenoiserParams;
  key: Key;
  dataSeed: number;
}

/** A fresh state: initial weights, EMA = weights, zero moments. Consumes `key`. */
export function initTrainState(model: ModelConfig, key: Key): TrainState {
  const [k1, k2] = split2(key);
  const [initKey, dataKey] = split2(k1);
  const params = initDenoiser(initKey, model.network);
  const dataSeed = keyToWords(dataKey)[0];
  dataKey.dispose();
  // The optimizer's state does not depend on the schedule: any config of the standard shape builds it.
  return denoiserStep(model, defaultTrainConfig, false, false, 0).init(params, k2, dataSeed) as TrainState;
}

/** Releases every array of a state. */
export function disposeTrainState(s: TrainState): void {
  disposeTrainStepState(s as unknown as TrainStepState<Params>);
}

/** Optional extras of a training run. */
export interface TrainData {
  /** x_0 rows. */
  x: HostMatrix;
  /** Value conditions y per row (conditional models), with drop probability p_uncond. */
  cond?: { values: HostMatrix; dropout: number };
  /** Per-sample weights w_i (reward-weighted regression). */
  weights?: Float32Array;
}

export { batchIndices };

export interface ProgressInfo {
  step: number;
  total: number;
  loss: number;
  lr: number;
}


function gather(m: HostMatrix, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * m.cols);
  for (let i = 0; i < idx.length; i++) out.set(m.data.subarray(idx[i]! * m.cols, (idx[i]! + 1) * m.cols), i * m.cols);
  return out;
}

/**
 * The jitted update for one model/config (the compiled step is shared by every config with the same
 * static parts). The batch is [x0, ᾱ table, condValues?, weights?].
 */
export function denoiserStep(model: ModelConfig, cfg: TrainConfig, hasCond: boolean, hasWeights: boolean, dropout: number): TrainStep<DenoiserParams, AdamState<DenoiserParams>> {
  const noise = noiseHookOf(model.noise);
  const loss = (p: DenoiserParams, batch: JArray[], keys: JArray[]) => {
    const [x0, alphaBars, ...rest] = batch as [JArray, JArray, ...JArray[]];
    const condValues = hasCond ? rest.shift() : undefined;
    const weights = hasWeights ? rest.shift() : undefined;
    const [lossKey, dropKey] = keys as [JArray, JArray];
    let cond: ConditionInput | undefined;
    if (hasCond) {
      const keep = random.bernoulli(dropKey, 1 - dropout, [x0.shape[0]!]).astype(np.float32);
      cond = { kind: "value" as const, value: condValues!, keep };
    } else {
      dropKey.dispose();
    }
    return denoisingLoss(model, p, { x0, alphaBars, key: lossKey, weights, cond, noise, ...(cfg.timestepBand ? { timesteps: cfg.timestepBand } : {}) });
  };
  return makeTrainStep(loss, optimizerFromConfig(cfg, cfg.steps), {
    ema: cfg.ema,
    lossKeys: 2,
    cacheKey: JSON.stringify(["denoiser", model, optimizerStaticKey(cfg), hasCond, hasWeights, dropout, ...(cfg.timestepBand ? [cfg.timestepBand] : [])]),
  });
}

/** Options of {@link trainSteps}. */
export interface TrainStepsOptions {
  /** Train until `state.step` reaches this (default: the config's total). */
  untilStep?: number;
  /** Called for every step once its loss has been read back. */
  onProgress?: (p: ProgressInfo) => void;
  /** Read the losses back every this many steps (asynchronously; default 1). */
  logEvery?: number;
  /**
   * Cancellation: checked between steps; once aborted the run stops after the step in flight and
   * returns the state as it is (`state.step` < the target), ready to be saved and resumed exactly.
   */
  signal?: AbortSignal;
  /**
   * Periodic checkpoints: after every step k with k % checkpointEvery = 0 (the global step count, so a
   * resumed run checkpoints at the same steps) and k below the target, `onCheckpoint` is awaited with
   * the state borrowed and the losses of this call so far.
   */
  checkpointEvery?: number;
  onCheckpoint?: (state: TrainState, losses: readonly { step: number; loss: number }[]) => Promise<void>;
}

/**
 * Runs optimizer steps until `state.step` reaches `untilStep` (default: the config's total). Consumes
 * and returns the state. Losses are read back asynchronously every `logEvery` steps; a non-finite one
 * stops the run with an error.
 */
export async function trainSteps(
  model: ModelConfig,
  cfg: TrainConfig,
  state: TrainState,
  data: TrainData,
  opts: TrainStepsOptions = {},
): Promise<TrainState & { losses: { step: number; loss: number }[] }> {
  const { x } = data;
  if (x.cols !== model.network.dataDim) {
    throw new Error(`training data has ${x.cols} columns but the model's data dimension is ${model.network.dataDim}`);
  }
  if (data.cond && data.cond.values.rows !== x.rows) throw new Error(`conditions have ${data.cond.values.rows} rows but the data has ${x.rows}`);
  if (data.weights && data.weights.length !== x.rows) throw new Error(`weights have ${data.weights.length} values but the data has ${x.rows} rows`);
  const schedule = makeSchedule(model.schedule);
  const alphaBarsHost = Float32Array.from(schedule.alphaBars);
  const until = opts.untilStep ?? cfg.steps;
  const trainer = denoiserStep(model, cfg, !!data.cond, !!data.weights, data.cond?.dropout ?? 0);
  // The learning rate follows the PLANNED run (cfg.steps), whatever `untilStep` is: a run stopped and
  // resumed sees the same schedule as a straight one.
  const lrSched = { kind: cfg.lrSchedule, lr: cfg.learningRate, total: cfg.steps, warmup: cfg.warmupSteps };
  const B = cfg.batchSize;
  const every = opts.checkpointEvery ?? 0;
  if (!(Number.isInteger(every) && every >= 0)) throw new Error(`checkpointEvery must be a whole number ≥ 0, got ${every}`);
  const losses: { step: number; loss: number }[] = [];
  let s: TrainState = state;
  const stopped = () => opts.signal?.aborted === true;
  while (s.step < until && !stopped()) {
    // One chunk up to the next checkpoint (k·every) or the target; chunks give the same steps as one run.
    const chunkEnd = every > 0 ? Math.min(until, (Math.floor(s.step / every) + 1) * every) : until;
    const cur = s;
    const r = await runSteps(trainer, cur, {
      until: chunkEnd,
      logEvery: opts.logEvery,
      stop: stopped,
      batch: (k) => {
        const idx = batchIndices(cur.dataSeed, k, x.rows, B);
        const batch = [upload(gather(x, idx), B, x.cols), np.array(alphaBarsHost)];
        if (data.cond) batch.push(upload(gather(data.cond.values, idx), B, data.cond.values.cols));
        if (data.weights) batch.push(np.array(Float32Array.from(idx, (i) => data.weights![i]!)));
        return batch;
      },
      onLoss: (p) => opts.onProgress?.({ step: p.step, total: cfg.steps, loss: p.loss, lr: learningRate(lrSched, p.step - 1) }),
      diverged: (step, _loss, d) =>
        new Error(`training diverged at step ${step}: ${describeDivergence(d)}; the learning rate is likely too high (lower --lr, or model.train.learningRate in a config; gradClip helps too), or the data are badly scaled`),
    });
    s = r.state as TrainState;
    losses.push(...r.losses);
    if (every > 0 && s.step % every === 0 && s.step < until && opts.onCheckpoint) {
      try {
        await opts.onCheckpoint(s, losses);
      } catch (err) {
        disposeTrainState(s);
        throw err;
      }
      // Each chunk is a new runSteps (its own event-loop clock): give a pending Ctrl-C its turn here.
      await nextTask();
    }
  }
  return { ...s, losses };
}

/**
 * Names → host tensors for a checkpoint (params.*, ema.*, opt.m.*, opt.v.*, opt.count, key), read
 * asynchronously (any device). Borrows `s`.
 */
export async function trainStateTensors(s: TrainState): Promise<Map<string, { shape: number[]; data: Float32Array | Uint32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array | Uint32Array }>();
  for (const [prefix, t] of [["params", s.params], ["ema", s.ema], ["opt", s.opt]] as const) {
    for (const [name, leaf] of namedLeaves(t as unknown as Params, prefix)) {
      out.set(name, { shape: [...leaf.shape], data: await toHost(leaf.ref) });
    }
  }
  out.set("key", { shape: [2], data: Uint32Array.from(await keyToWordsAsync(s.key)) });
  return out;
}

/** Rebuilds a state from checkpoint tensors, checking names and shapes against a fresh model. */
export function trainStateFromTensors(
  model: ModelConfig,
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | Uint32Array }>,
  meta: { step: number; dataSeed: number },
  where: string,
): TrainState {
  const keyT = tensors.get("key");
  if (!keyT || keyT.data.length !== 2) throw new Error(`${where}: tensor "key" is missing or not two words`);
  const template = initTrainState(model, random.key(0));
  const asFloat = new Map([...tensors].map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]));
  try {
    return {
      params: paramsFromHost(template.params, asFloat, where, "params"),
      ema: paramsFromHost(template.ema, asFloat, where, "ema"),
      opt: paramsFromHost(template.opt as unknown as Params, asFloat, where, "opt") as unknown as AdamState<DenoiserParams>,
      step: meta.step,
      key: keyFromWords(Array.from(keyT.data)),
      dataSeed: meta.dataSeed,
    };
  } finally {
    disposeTrainState(template);
  }
}
