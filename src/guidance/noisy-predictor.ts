/**
 * Time-conditioned predictors trained on noised inputs, for classifier / regressor guidance and as
 * learned value networks for SVDD: f_φ(x_t, t) with x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε.
 *  - regression head: f_φ(x_t, t) ≈ E[y | x_t], trained by ‖f_φ(x_t, t) − y‖² (targets standardised
 *    internally; predictions are returned in the targets' units);
 *  - classification head: logits of p_φ(y | x_t, t) over K classes, trained by cross-entropy.
 * t is drawn uniformly from {clean, 1..T} (clean = ᾱ 1, index −1), so the same network also predicts
 * on clean x (x̂_0-point guidance). The network is a small MLP on [x_t, sinusoidal(t)] (src/nn layers).
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { jit, jnn, np, random, tree, type JArray } from "../backend/jax.js";
import { keyToSeed, split2, splitKey, type Key } from "../backend/keys.js";
import { disposeTree, upload } from "../backend/ownership.js";
import type { HostMatrix } from "../data/matrix.js";
import { networkTime } from "../diffusion/model.js";
import { makeSchedule, type ScheduleConfig } from "../diffusion/schedule.js";
import type { NoiseHook, StepTime } from "../diffusion/types.js";
import { optimizerFromConfig, plainFitOptimizer } from "../optim/config.js";
import { runSteps } from "../optim/loop.js";
import { disposeTrainStepState, makeTrainStep } from "../optim/train-step.js";
import { dense, initDense, type DenseParams } from "../nn/dense.js";
import { sinusoidalEmbedding } from "../nn/embeddings.js";
import { silu } from "../nn/activations.js";

/** Everything needed to rebuild a predictor (plain JSON). */
export interface NoisyPredictorSpec {
  kind: "noisy-mlp";
  head: "regression" | "classification";
  inputDim: number;
  /** 1 for regression, K for classification. */
  outputs: number;
  hidden: number;
  layers: number;
  timeEmbedding: number;
  schedule: ScheduleConfig;
  /** Regression: the targets' mean and std (the network predicts standardised targets). */
  yMean: number;
  yStd: number;
}

export type NoisyPredictorParams = { input: DenseParams; blocks: DenseParams[]; output: DenseParams };

/** A trained predictor. `predict` consumes x [n, D] and returns [n] (regression) or [n, K] logits. */
export interface NoisyPredictor {
  readonly spec: NoisyPredictorSpec;
  readonly params: NoisyPredictorParams;
  predict(x: JArray, time: StepTime): JArray;
  /** log p_φ(y = label | x, t) per sample [n] (classification only). Consumes x. */
  logProb(x: JArray, time: StepTime, label: number): JArray;
  /** Training losses per step. */
  readonly losses: { step: number; loss: number }[];
  readonly trainSeconds: number;
  dispose(): void;
}

export interface TrainNoisyPredictorOptions {
  head: "regression" | "classification";
  /** Clean inputs x_0. */
  x: HostMatrix;
  /** Regression targets y, or class labels 0..K−1 (one per row). */
  y: ArrayLike<number>;
  /** K (classification). */
  classes?: number;
  schedule: ScheduleConfig;
  key: Key;
  hidden?: number;
  layers?: number;
  timeEmbedding?: number;
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  onProgress?: (step: number, total: number, loss: number) => void;
  /** Read the losses back every this many steps (default 1). */
  logEvery?: number;
  /** The model's noise space (src/diffusion/noise-space.ts; e.g. graphs: symmetric edge noise), so x_t is noised as the sampler's. */
  noise?: NoiseHook;
}

/** The network output [n, outputs] at DDPM-scale times t [n]. Consumes p, x, t. */
export function applyNoisyPredictor(spec: NoisyPredictorSpec, p: NoisyPredictorParams, x: JArray, t: JArray): JArray {
  let h = silu(dense(p.input, np.concatenate([x, sinusoidalEmbedding(t, spec.timeEmbedding)], -1)));
  for (const b of p.blocks) h = h.ref.add(silu(dense(b, h)));
  return dense(p.output, h);
}

function initParams(key: Key, spec: NoisyPredictorSpec): NoisyPredictorParams {
  const keys = splitKey(key, spec.layers + 1);
  const blocks: DenseParams[] = [];
  for (let i = 1; i < spec.layers; i++) blocks.push(initDense(keys[i + 1]!, spec.hidden, spec.hidden));
  return {
    input: initDense(keys[0]!, spec.inputDim + spec.timeEmbedding, spec.hidden),
    blocks,
    output: initDense(keys[1]!, spec.hidden, spec.outputs, 0.1),
  };
}

const applyJit = new WeakMap<NoisyPredictorSpec, (p: NoisyPredictorParams, x: JArray, t: JArray) => JArray>();

function jitted(spec: NoisyPredictorSpec) {
  let f = applyJit.get(spec);
  if (!f) {
    f = jit((p: NoisyPredictorParams, x: JArray, t: JArray) => {
      const n = x.shape[0]!;
      return applyNoisyPredictor(spec, p, x, np.broadcastTo(t, [n]));
    }) as unknown as (p: NoisyPredictorParams, x: JArray, t: JArray) => JArray;
    applyJit.set(spec, f);
  }
  return f;
}

/** Wraps trained parameters as a {@link NoisyPredictor} (takes ownership of `params`). */
export function noisyPredictor(
  spec: NoisyPredictorSpec,
  params: NoisyPredictorParams,
  extra: { losses?: { step: number; loss: number }[]; trainSeconds?: number } = {},
): NoisyPredictor {
  const T = makeSchedule(spec.schedule).T;
  const f = jitted(spec);
  const raw = (x: JArray, time: StepTime) => f(tree.ref(params) as NoisyPredictorParams, x, networkTime(time.index, T));
  return {
    spec,
    params,
    losses: extra.losses ?? [],
    trainSeconds: extra.trainSeconds ?? 0,
    predict(x, time) {
      const out = raw(x, time);
      if (spec.head === "classification") return out;
      return out.reshape([-1]).mul(spec.yStd).add(spec.yMean);
    },
    logProb(x, time, label) {
      if (spec.head !== "classification") throw new Error("logProb needs a classification predictor");
      if (!(Number.isInteger(label) && label >= 0 && label < spec.outputs)) {
        x.dispose();
        throw new Error(`class label must be a whole number in 0..${spec.outputs - 1}, got ${label}`);
      }
      const logits = raw(x, time);
      const onehot = new Float32Array(spec.outputs);
      onehot[label] = 1;
      return jnn.logSoftmax(logits, -1).mul(np.array(onehot, { shape: [1, spec.outputs] })).sum(-1);
    },
    dispose() {
      disposeTree(params);
    },
  };
}

/** Trains a predictor on noised inputs (see the module doc). Consumes `key`. */
export async function trainNoisyPredictor(o: TrainNoisyPredictorOptions): Promise<NoisyPredictor> {
  const started = performance.now();
  const n = o.x.rows;
  const D = o.x.cols;
  if (o.y.length !== n) throw new Error(`noisy predictor: ${o.y.length} targets for ${n} inputs`);
  if (n < 2) throw new Error("noisy predictor: needs at least 2 training rows");
  const K = o.head === "classification" ? (o.classes ?? 2) : 1;
  let yMean = 0;
  let yStd = 1;
  if (o.head === "regression") {
    for (let i = 0; i < n; i++) yMean += o.y[i]! / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (o.y[i]! - yMean) ** 2 / n;
    yStd = Math.sqrt(v) > 1e-8 ? Math.sqrt(v) : 1;
  } else {
    for (let i = 0; i < n; i++) {
      const c = o.y[i]!;
      if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`noisy predictor: label ${c} at row ${i + 1} is not in 0..${K - 1}`);
    }
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(o.y[i]!)) throw new Error(`noisy predictor: target at row ${i + 1} is not finite (${o.y[i]})`);
  }
  const spec: NoisyPredictorSpec = {
    kind: "noisy-mlp",
    head: o.head,
    inputDim: D,
    outputs: K,
    hidden: o.hidden ?? 64,
    layers: o.layers ?? 2,
    timeEmbedding: o.timeEmbedding ?? 16,
    schedule: { ...o.schedule },
    yMean,
    yStd,
  };
  const schedule = makeSchedule(spec.schedule);
  const T = schedule.T;
  const steps = o.steps ?? 1500;
  const B = o.batchSize ?? 512;
  const [kInit, kRest] = split2(o.key);
  const [kData, kNoise] = split2(kRest);
  const rng = xoroshiro128plus(keyToSeed(kData) | 0);
  const head = o.head;
  // x_t = √ᾱ x_0 + √(1−ᾱ) ε with ε from the step's key; the batch is [x_0, y (or one-hot), ᾱ, t].
  const loss = (q: NoisyPredictorParams, [x0, y, ab, tNet]: JArray[], [k]: JArray[]) => {
    const eps = o.noise ? o.noise(random.normal(k!, x0!.shape)) : random.normal(k!, x0!.shape);
    const a = ab!.reshape([-1, 1]);
    const xt = x0!.mul(np.sqrt(a.ref)).add(eps.mul(np.sqrt(np.subtract(1, a))));
    const out = applyNoisyPredictor(spec, q, xt, tNet!);
    if (head === "regression") return np.mean(np.square(out.reshape([-1]).sub(y!)));
    return np.negative(np.mean(jnn.logSoftmax(out, -1).mul(y!).sum(-1)));
  };
  const cfg = plainFitOptimizer(o.learningRate ?? 3e-3);
  const trainer = makeTrainStep(loss, optimizerFromConfig(cfg, steps), { lossKeys: 1 });
  const ext = new Float32Array(T + 1);
  ext[0] = 1;
  for (let i = 0; i < T; i++) ext[i + 1] = schedule.alphaBars[i]!;
  const xb = new Float32Array(B * D);
  const yb = new Float32Array(B * (head === "regression" ? 1 : K));
  const abb = new Float32Array(B);
  const tb = new Float32Array(B);
  // Batches come from one sequential host stream (called once per step, in order).
  const batch = () => {
    yb.fill(0);
    for (let i = 0; i < B; i++) {
      const r = uniformInt(rng, 0, n - 1);
      xb.set(o.x.data.subarray(r * D, (r + 1) * D), i * D);
      if (head === "regression") yb[i] = (o.y[r]! - yMean) / yStd;
      else yb[i * K + o.y[r]!] = 1;
      const ti = uniformInt(rng, 0, T); // 0 = clean, i = training index i − 1
      abb[i] = ext[ti]!;
      tb[i] = (1000 * (ti - 1)) / T;
    }
    return [upload(xb, B, D), head === "regression" ? np.array(yb) : upload(yb, B, K), np.array(abb), np.array(tb)];
  };
  const r = await runSteps(trainer, trainer.init(initParams(kInit, spec), kNoise, 0), {
    until: steps,
    logEvery: o.logEvery,
    batch,
    onLoss: (p) => o.onProgress?.(p.step, steps, p.loss),
    diverged: (step, l) => new Error(`noisy predictor training diverged at step ${step} (loss ${l})`),
  });
  const { params } = r.state;
  disposeTrainStepState({ ...r.state, params: {} as NoisyPredictorParams });
  const losses = r.losses;
  return noisyPredictor(spec, params, { losses, trainSeconds: (performance.now() - started) / 1000 });
}
