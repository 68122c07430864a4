/**
 * Training a denoiser: Adam/AdamW on the denoising loss, gradient clipping, a learning-rate schedule
 * and an EMA of the weights, in one jitted step. Everything a run needs to continue exactly is in
 * {@link TrainState}: parameters, EMA, optimizer moments, the step count and the PRNG key; batches are
 * drawn from (dataSeed, step), so training N steps, saving, loading and training N more gives the same
 * weights as training 2N steps.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { jit, np, random, tree, valueAndGrad, type JArray } from "../backend/jax.js";
import { keyFromWords, keyToWords, split2, type Key } from "../backend/keys.js";
import { scalar, toHostSync, toNumber, upload } from "../backend/ownership.js";
import type { HostMatrix } from "../data/matrix.js";
import { denoisingLoss } from "../diffusion/loss.js";
import type { ModelConfig } from "../diffusion/model.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { adamInit, adamUpdate, defaultAdam, type AdamState } from "../nn/adam.js";
import { clipByGlobalNorm } from "../nn/clip.js";
import { initDenoiser, type ConditionInput, type DenoiserParams } from "../nn/denoiser.js";
import { namedLeaves, paramsFromHost, type Params } from "../nn/params.js";
import { emaDecay, emaUpdate } from "../nn/ema.js";
import { learningRate, type LrScheduleKind } from "../nn/lr-schedule.js";

export interface TrainConfig {
  steps: number;
  batchSize: number;
  learningRate: number;
  /** λ of AdamW; 0 = Adam. */
  weightDecay: number;
  /** Max global gradient norm; 0 = no clipping. */
  gradClip: number;
  lrSchedule: LrScheduleKind;
  warmupSteps: number;
  /** EMA decay δ in [0, 1). */
  ema: number;
}

export const defaultTrainConfig: TrainConfig = {
  steps: 4000,
  batchSize: 512,
  learningRate: 2e-3,
  weightDecay: 0,
  gradClip: 1,
  lrSchedule: "cosine",
  warmupSteps: 0,
  ema: 0.995,
};

/** Everything needed to continue a run exactly. Arrays are owned by the state. */
export interface TrainState {
  params: DenoiserParams;
  ema: DenoiserParams;
  opt: AdamState<DenoiserParams>;
  /** Optimizer steps taken so far. */
  step: number;
  /** The PRNG key carried from step to step. */
  key: Key;
  /** Seed of the host-side batch sampler (batch k uses (dataSeed, k)). */
  dataSeed: number;
}

/** A fresh state: initial weights, EMA = weights, zero moments. Consumes `key`. */
export function initTrainState(model: ModelConfig, key: Key): TrainState {
  const [k1, k2] = split2(key);
  const [initKey, dataKey] = split2(k1);
  const params = initDenoiser(initKey, model.network);
  const ema = tree.ref(params) as DenoiserParams;
  const copy = tree.map((a: JArray) => a.mul(1), ema) as DenoiserParams; // a distinct buffer per leaf
  const dataSeed = keyToWords(dataKey)[0];
  dataKey.dispose();
  return { params, ema: copy, opt: adamInit(params), step: 0, key: k2, dataSeed };
}

/** Releases every array of a state. */
export function disposeTrainState(s: TrainState): void {
  tree.dispose(s.params);
  tree.dispose(s.ema);
  tree.dispose(s.opt as unknown as DenoiserParams);
  s.key.dispose();
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

export interface ProgressInfo {
  step: number;
  total: number;
  loss: number;
  lr: number;
}

/** Batch k's row indices: uniform with replacement, from (dataSeed, k) only. */
export function batchIndices(dataSeed: number, step: number, rows: number, batch: number): Int32Array {
  const rng = xoroshiro128plus((dataSeed ^ Math.imul(step + 1, 0x9e3779b1)) | 0);
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) out[i] = uniformInt(rng, 0, rows - 1);
  return out;
}

function gather(m: HostMatrix, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * m.cols);
  for (let i = 0; i < idx.length; i++) out.set(m.data.subarray(idx[i]! * m.cols, (idx[i]! + 1) * m.cols), i * m.cols);
  return out;
}

type StepFn = (...args: any[]) => [DenoiserParams, DenoiserParams, AdamState<DenoiserParams>, JArray, JArray];

const stepCache = new Map<string, { model: ModelConfig; fn: StepFn }>();

/**
 * The jitted update for one model/config shape (cached: one compilation per run). Low-level: takes
 * (params, ema, opt, key, x0, alphaBars, lr, emaDecay[, condValues][, weights]) and returns
 * [params, ema, opt, key, loss]; `trainSteps` is the API. Exported for the benchmarks.
 */
export function trainStepFn(model: ModelConfig, cfg: TrainConfig, hasCond: boolean, hasWeights: boolean, dropout: number): StepFn {
  const id = JSON.stringify([model, cfg.weightDecay, cfg.gradClip, hasCond, hasWeights, dropout]);
  const hit = stepCache.get(id);
  if (hit) return hit.fn;
  const adam = { ...defaultAdam, weightDecay: cfg.weightDecay };
  const fn = jit(
    (
      params: DenoiserParams,
      ema: DenoiserParams,
      opt: AdamState<DenoiserParams>,
      key: JArray,
      x0: JArray,
      alphaBars: JArray,
      lr: JArray,
      decay: JArray,
      condValues?: JArray,
      weights?: JArray,
    ) => {
      if (!hasCond) condValues?.dispose();
      const keys = random.split(key, 3);
      const lossKey = keys.ref.slice(1);
      let cond: ConditionInput | undefined;
      if (hasCond) {
        const keep = random.bernoulli(keys.ref.slice(2), 1 - dropout, [x0.shape[0]!]).astype(np.float32);
        cond = { kind: "value" as const, value: condValues!, keep };
      }
      const nextKey = keys.slice(0);
      const lossOf = (p: DenoiserParams) => denoisingLoss(model, p, { x0, alphaBars, key: lossKey, weights, cond });
      const [loss, grads] = valueAndGrad(lossOf)(tree.ref(params));
      const { grads: clipped, norm } = clipByGlobalNorm(grads, cfg.gradClip);
      norm.dispose();
      const { params: newParams, state } = adamUpdate(adam, params, clipped, opt, lr);
      const newEma = emaUpdate(ema, tree.ref(newParams), decay);
      return [newParams, newEma, state, nextKey, loss];
    },
  ) as unknown as StepFn;
  stepCache.set(id, { model, fn });
  return fn;
}

/**
 * Runs optimizer steps until `state.step` reaches `untilStep` (default: the config's total). Consumes
 * and returns the state. `onProgress` is called after every step with the loss read back.
 */
export function trainSteps(
  model: ModelConfig,
  cfg: TrainConfig,
  state: TrainState,
  data: TrainData,
  opts: { untilStep?: number; onProgress?: (p: ProgressInfo) => void } = {},
): TrainState & { losses: { step: number; loss: number }[] } {
  const { x } = data;
  if (x.cols !== model.network.dataDim) {
    throw new Error(`training data has ${x.cols} columns but the model's data dimension is ${model.network.dataDim}`);
  }
  if (data.cond && data.cond.values.rows !== x.rows) throw new Error(`conditions have ${data.cond.values.rows} rows but the data has ${x.rows}`);
  if (data.weights && data.weights.length !== x.rows) throw new Error(`weights have ${data.weights.length} values but the data has ${x.rows} rows`);
  const schedule = makeSchedule(model.schedule);
  const alphaBarsHost = Float32Array.from(schedule.alphaBars);
  const until = opts.untilStep ?? cfg.steps;
  const fn = trainStepFn(model, cfg, !!data.cond, !!data.weights, data.cond?.dropout ?? 0);
  const lrSched = { kind: cfg.lrSchedule, lr: cfg.learningRate, total: cfg.steps, warmup: cfg.warmupSteps };
  const losses: { step: number; loss: number }[] = [];
  let { params, ema, opt, key, step } = state;
  const B = cfg.batchSize;
  while (step < until) {
    const idx = batchIndices(state.dataSeed, step, x.rows, B);
    const x0 = upload(gather(x, idx), B, x.cols);
    // Optional inputs always occupy their slots (jit takes no undefined arguments); a dummy array
    // stands in for an absent condition and is never read (hasCond is fixed at compile time).
    const extra: JArray[] = [];
    if (data.cond) extra.push(upload(gather(data.cond.values, idx), B, data.cond.values.cols));
    else if (data.weights) extra.push(np.zeros([1]));
    if (data.weights) extra.push(np.array(Float32Array.from(idx, (i) => data.weights![i]!)));
    const lr = learningRate(lrSched, step);
    let loss: JArray;
    [params, ema, opt, key, loss] = fn(
      params,
      ema,
      opt,
      key,
      x0,
      np.array(alphaBarsHost),
      scalar(lr),
      scalar(emaDecay(cfg.ema, step)),
      ...extra,
    );
    const lossValue = toNumber(loss);
    if (!Number.isFinite(lossValue)) {
      throw new Error(`training diverged at step ${step + 1}: the loss is ${lossValue} (try a lower learningRate or gradClip)`);
    }
    step++;
    losses.push({ step, loss: lossValue });
    opts.onProgress?.({ step, total: until, loss: lossValue, lr });
  }
  return { params, ema, opt, key, step, dataSeed: state.dataSeed, losses };
}

/** Names → host tensors for a checkpoint (params.*, ema.*, opt.m.*, opt.v.*, opt.count, key). Borrows `s`. */
export function trainStateTensors(s: TrainState): Map<string, { shape: number[]; data: Float32Array | Uint32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array | Uint32Array }>();
  for (const [prefix, t] of [["params", s.params], ["ema", s.ema], ["opt", s.opt]] as const) {
    for (const [name, leaf] of namedLeaves(t as unknown as Params, prefix)) {
      out.set(name, { shape: [...leaf.shape], data: toHostSync(leaf.ref) });
    }
  }
  out.set("key", { shape: [2], data: Uint32Array.from(keyToWords(s.key)) });
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
