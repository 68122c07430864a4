/**
 * A classifier p̂(y | x) on clean x from an offline set of (x, y) pairs, calibrated by temperature
 * scaling (CTRL, 2406.12120, step 1; Guo et al. 2017):
 *   logits ℓ_φ(x) = W_out ∘ (SiLU ∘ W_L) ∘ … ∘ (SiLU ∘ W_1) ((x − x̄)/s_x)   (layers = 0: logistic / softmax regression),
 *   log p̂(y | x) = ℓ_y/T − logsumexp_k(ℓ_k/T).
 * The weights are trained with AdamW on the cross-entropy of the training split; then one scalar T > 0
 * is fitted by minimising the negative log-likelihood of a held-out split (the NLL is convex in β = 1/T,
 * so a golden-section search on log T finds it). The fit report gives held-out accuracy, NLL and the
 * expected calibration error (equal-width bins) before and after calibration.
 * `classifierLogProbs` is differentiable jax-js code (CTRL backpropagates γ log p̂(y | x_0) through it).
 * Files: src/io/checkpoints/classifier.ts (Node only).
 */
import { jit, jnn, np, tree, type JArray } from "../backend/jax.js";
import { keyToSeed, splitKey, type Key } from "../backend/keys.js";
import { toHost, upload } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { permutation } from "../data/permutation.js";
import { expectedCalibrationError } from "../eval/classification.js";
import { optimizerFromConfig, optimizerStaticKey, plainFitOptimizer } from "../optim/config.js";
import { runSteps } from "../optim/loop.js";
import { disposeTrainStepState, makeTrainStep, type TrainStep } from "../optim/train-step.js";
import { batchIndices } from "../data/batches.js";
import type { HostTensor } from "./types.js";
import { initMlp, mlpForward, mlpFromTensors, mlpInputWidth, mlpToTensors, mlpWidthOf, padColumns, standardiseInto, type MlpParams } from "../nn/mlp.js";

/** Settings of a classifier fit. */
export interface ClassifierSpec {
  /** K: number of classes (labels are 0..K−1). */
  classes: number;
  /** Hidden width of the MLP. */
  hidden: number;
  /** Hidden layers; 0 = a linear (logistic) head on the standardised x. */
  layers: number;
  /** Decoupled weight decay (AdamW). */
  l2: number;
  steps: number;
  learningRate: number;
  batchSize: number;
  /** Fraction of the rows held out for the temperature fit and the held-out metrics (0 = none, T = 1). */
  holdout: number;
  /** Equal-width confidence bins of the ECE. */
  eceBins: number;
}

export const defaultClassifierSpec: Omit<ClassifierSpec, "classes"> = {
  hidden: 64,
  layers: 2,
  l2: 0,
  steps: 800,
  learningRate: 3e-3,
  batchSize: 256,
  holdout: 0.2,
  eceBins: 15,
};

/** Quality of a classifier on a split. */
export interface ClassifierSplitReport {
  n: number;
  accuracy: number;
  /** Mean negative log-likelihood (nats), with the fitted temperature. */
  nll: number;
  /** ECE with the fitted temperature. */
  ece: number;
  /** The same before calibration (T = 1). */
  nllUncalibrated: number;
  eceUncalibrated: number;
}

export interface ClassifierFitReport {
  /** The fitted T (1 when nothing was held out). */
  temperature: number;
  train: ClassifierSplitReport;
  heldOut?: ClassifierSplitReport;
  steps: number;
  finalLoss: number;
}

/** A fitted classifier: plain data (host tensors + JSON settings). */
export interface ClassifierModel {
  kind: "classifier";
  dim: number;
  spec: ClassifierSpec;
  xMean: number[];
  xStd: number[];
  /** T of log p̂ = log softmax(ℓ/T). */
  temperature: number;
  /** layers.<i>.w/b, out.w/b. */
  tensors: Record<string, HostTensor>;
  fit?: ClassifierFitReport;
}

type ClassifierParams = MlpParams;

/** Logits ℓ_φ(u) [n, K] for standardised inputs u [n, W] (D padded with zero columns to the first weight's rows). Consumes `p` and `u`. */
function logitsForward(p: ClassifierParams, u: JArray): JArray {
  return mlpForward(p, u);
}

/** log softmax(ℓ) [n, K] as ℓ − logsumexp(ℓ) (jax-js's nn.softmax leaks under grad). Consumes `l`. */
function logSoftmax(l: JArray): JArray {
  return l.ref.sub(jnn.logsumexp(l, 1, { keepdims: true }));
}

function checkLabels(y: ArrayLike<number>, classes: number, where: string): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new Error(`${where}: label ${i} is ${v}; labels must be whole numbers in 0..${classes - 1} (classes = ${classes})`);
    }
  }
}

/** Throws `${where}: key must be …` for a bad setting. */
export function checkClassifierSpec(s: ClassifierSpec, where: string): void {
  const whole = (k: keyof ClassifierSpec, min: number) => {
    const v = s[k];
    if (!Number.isInteger(v) || v < min) throw new Error(`${where}: ${k} must be a whole number ≥ ${min}, got ${v}`);
  };
  whole("classes", 2);
  whole("hidden", 1);
  whole("layers", 0);
  whole("steps", 1);
  whole("batchSize", 1);
  whole("eceBins", 1);
  if (!(s.learningRate > 0)) throw new Error(`${where}: learningRate must be > 0, got ${s.learningRate}`);
  if (!(s.l2 >= 0)) throw new Error(`${where}: l2 must be ≥ 0, got ${s.l2}`);
  if (!(s.holdout >= 0 && s.holdout < 1)) throw new Error(`${where}: holdout must be in [0, 1), got ${s.holdout}`);
}

function deviceParams(m: ClassifierModel): ClassifierParams {
  return mlpFromTensors(m.tensors, m.spec.layers, "classifier");
}

function stats(x: HostMatrix): { mean: number[]; std: number[] } {
  const { rows: n, cols: D } = x;
  const mean = new Array<number>(D).fill(0);
  const sq = new Array<number>(D).fill(0);
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) mean[j]! += x.data[r * D + j]! / n;
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) sq[j]! += (x.data[r * D + j]! - mean[j]!) ** 2;
  return { mean, std: sq.map((s) => (Math.sqrt(s / Math.max(1, n - 1)) > 1e-6 ? Math.sqrt(s / Math.max(1, n - 1)) : 1)) };
}

function standardise(x: HostMatrix, mean: readonly number[], std: readonly number[]): Float32Array {
  const D = x.cols;
  return Float32Array.from(x.data, (v, i) => (v - mean[i % D]!) / std[i % D]!);
}

/** The jitted step on the cross-entropy −mean_i Σ_k 1{y_i = k} log p̂_k(x_i); the batch is [u [B, D], one-hot [B, K]]. */
function classifierTrainStep(s: ClassifierSpec): TrainStep<ClassifierParams> {
  const cfg = plainFitOptimizer(s.learningRate, s.l2);
  const loss = (q: ClassifierParams, [u, oneHot]: JArray[]) => np.mean(np.sum(logSoftmax(logitsForward(q, u!)).mul(oneHot!), 1)).mul(-1);
  return makeTrainStep(loss, optimizerFromConfig(cfg, s.steps), { cacheKey: JSON.stringify(["classifier", optimizerStaticKey(cfg)]) });
}

const logitsJit = jit((p: ClassifierParams, u: JArray) => logitsForward(p, u)) as unknown as (p: ClassifierParams, u: JArray) => JArray;

/** Raw logits ℓ_φ(x) per row [n·K] (T not applied), in batches of at most 4096 rows, read asynchronously. */
export async function classifierLogits(m: ClassifierModel, x: HostMatrix): Promise<Float32Array> {
  if (x.cols !== m.dim) throw new Error(`classifier: expected ${m.dim} columns, got ${x.cols}`);
  const K = m.spec.classes;
  const out = new Float32Array(x.rows * K);
  const p = deviceParams(m);
  const W = mlpWidthOf(p);
  const u = padColumns(standardise(x, m.xMean, m.xStd), m.dim, W);
  try {
    for (let s = 0; s < x.rows; s += 4096) {
      const rows = Math.min(4096, x.rows - s);
      out.set(await toHost(logitsJit(tree.ref(p), upload(u.subarray(s * W, (s + rows) * W), rows, W))), s * K);
    }
  } finally {
    tree.dispose(p);
  }
  return out;
}

/** Calibrated probabilities p̂(k | x) = softmax(ℓ/T), row-major [n·K], in float64. */
export async function classifierProbs(m: ClassifierModel, x: HostMatrix, temperature = m.temperature): Promise<Float64Array> {
  return softmaxRows(await classifierLogits(m, x), m.spec.classes, 1 / temperature);
}

/** argmax_k p̂(k | x) per row. */
export async function classifierPredict(m: ClassifierModel, x: HostMatrix): Promise<Int32Array> {
  const l = await classifierLogits(m, x);
  const K = m.spec.classes;
  return Int32Array.from({ length: x.rows }, (_, r) => {
    let best = 0;
    for (let k = 1; k < K; k++) if (l[r * K + k]! > l[r * K + best]!) best = k;
    return best;
  });
}

/**
 * log p̂(y | x) for every class as differentiable jax-js code: x [n, D] (consumed) → [n, K],
 * including the standardisation and the temperature. The weights are uploaded per call (small).
 */
export function classifierLogProbs(m: ClassifierModel): (x: JArray) => JArray {
  const invT = 1 / m.temperature;
  return (x) => {
    if (x.ndim !== 2 || x.shape[1] !== m.dim) {
      const shape = x.shape.join(", ");
      x.dispose();
      throw new Error(`classifier: expected x of shape [n, ${m.dim}], got [${shape}]`);
    }
    const p = deviceParams(m);
    return logSoftmax(logitsForward(p, standardiseInto(x, m.xMean, m.xStd, mlpWidthOf(p))).mul(invT));
  };
}

function softmaxRows(logits: ArrayLike<number>, K: number, beta: number): Float64Array {
  const n = logits.length / K;
  const out = new Float64Array(logits.length);
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, beta * logits[r * K + k]!);
    let s = 0;
    for (let k = 0; k < K; k++) s += out[r * K + k] = Math.exp(beta * logits[r * K + k]! - max);
    for (let k = 0; k < K; k++) out[r * K + k]! /= s;
  }
  return out;
}

/** Mean NLL of labels under softmax(β ℓ), in float64. */
export function temperatureNll(logits: ArrayLike<number>, labels: ArrayLike<number>, K: number, beta: number): number {
  const n = labels.length;
  let total = 0;
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, beta * logits[r * K + k]!);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(beta * logits[r * K + k]! - max);
    total += max + Math.log(s) - beta * logits[r * K + labels[r]!]!;
  }
  return total / n;
}

/**
 * Temperature scaling: T = argmin_T NLL(softmax(ℓ/T), y) on held-out logits. The NLL is convex in
 * β = 1/T, so a golden-section search over log T ∈ [log 0.01, log 100] is exact to ~1e-6 in log T.
 */
export function fitTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>, K: number): number {
  if (labels.length === 0) throw new Error("temperature scaling: no held-out rows");
  if (logits.length !== labels.length * K) throw new Error(`temperature scaling: ${logits.length} logits for ${labels.length} rows × ${K} classes`);
  checkLabels(labels, K, "temperature scaling");
  const f = (logT: number) => temperatureNll(logits, labels, K, Math.exp(-logT));
  let a = Math.log(0.01);
  let b = Math.log(100);
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > 1e-6) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}

function splitReport(logits: Float32Array, y: ArrayLike<number>, K: number, T: number, bins: number): ClassifierSplitReport {
  const n = y.length;
  let correct = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (logits[r * K + k]! > logits[r * K + best]!) best = k;
    if (best === y[r]) correct++;
  }
  return {
    n,
    accuracy: correct / n,
    nll: temperatureNll(logits, y, K, 1 / T),
    ece: expectedCalibrationError(softmaxRows(logits, K, 1 / T), y, K, bins),
    nllUncalibrated: temperatureNll(logits, y, K, 1),
    eceUncalibrated: expectedCalibrationError(softmaxRows(logits, K, 1), y, K, bins),
  };
}

/**
 * Fits p̂(y | x) on (x, y): a random `holdout` fraction of the rows is kept aside, the network is
 * trained on the rest, then T is fitted on the held-out rows. Consumes `key`.
 */
export async function fitClassifier(
  x: HostMatrix,
  y: ArrayLike<number>,
  spec: Partial<ClassifierSpec> & { classes: number },
  key: Key,
  opts: { onStep?: (step: number, total: number, loss: number) => void; logEvery?: number } = {},
): Promise<ClassifierModel> {
  const s: ClassifierSpec = { ...defaultClassifierSpec, ...spec };
  const where = "classifier";
  try {
    checkClassifierSpec(s, where);
    if (y.length !== x.rows) throw new Error(`${where}: ${y.length} labels for ${x.rows} rows`);
    checkLabels(y, s.classes, where);
  } catch (err) {
    key.dispose();
    throw err;
  }
  const [kSplit, kInit, kData] = splitKey(key, 3);
  const n = x.rows;
  const D = x.cols;
  const nHeld = Math.floor(n * s.holdout);
  if (n - nHeld < 2) {
    kSplit!.dispose();
    kInit!.dispose();
    kData!.dispose();
    throw new Error(`${where}: ${n} rows are too few to fit (need at least 2 training rows after the holdout)`);
  }
  const perm = permutation(n, keyToSeed(kSplit!));
  const take = (idx: Int32Array) => {
    const out = new Float32Array(idx.length * D);
    idx.forEach((r, i) => out.set(x.data.subarray(r * D, (r + 1) * D), i * D));
    return { x: hostMatrix(idx.length, D, out), y: Int32Array.from(idx, (r) => y[r]!) };
  };
  const held = take(perm.subarray(0, nHeld));
  const tr = take(perm.subarray(nHeld));
  const { mean: xMean, std: xStd } = stats(tr.x);
  const u = standardise(tr.x, xMean, xStd);
  const K = s.classes;

  const dataSeed = keyToSeed(kData!);
  const trainer = classifierTrainStep(s);
  const B = Math.min(s.batchSize, tr.x.rows);
  // Rows padded with zero columns to the first layer's width (nn/mlp.ts, mlpInputWidth).
  const W = mlpInputWidth(D);
  const r = await runSteps(trainer, trainer.init(initMlp(kInit!, D, s.hidden, s.layers, s.classes), undefined, dataSeed), {
    until: s.steps,
    logEvery: opts.logEvery,
    batch: (k) => {
      const idx = batchIndices(dataSeed, k, tr.x.rows, B);
      const ub = new Float32Array(B * W);
      const hot = new Float32Array(B * K);
      for (let i = 0; i < B; i++) {
        const row = idx[i]!;
        ub.set(u.subarray(row * D, (row + 1) * D), i * W);
        hot[i * K + tr.y[row]!] = 1;
      }
      return [upload(ub, B, W), upload(hot, B, K)];
    },
    onLoss: (p) => opts.onStep?.(p.step, s.steps, p.loss),
    diverged: (step, loss) => new Error(`${where}: training diverged at step ${step} (loss ${loss}); lower learningRate`),
  });
  const last = r.losses.at(-1)?.loss ?? NaN;
  const tensors = await mlpToTensors(r.state.params);
  disposeTrainStepState(r.state);
  const model: ClassifierModel = { kind: "classifier", dim: D, spec: s, xMean, xStd, temperature: 1, tensors };
  const heldLogits = nHeld > 0 ? await classifierLogits(model, held.x) : undefined;
  const T = heldLogits ? fitTemperature(heldLogits, held.y, K) : 1;
  model.temperature = T;
  model.fit = {
    temperature: T,
    train: splitReport(await classifierLogits(model, tr.x), tr.y, K, T, s.eceBins),
    ...(heldLogits ? { heldOut: splitReport(heldLogits, held.y, K, T, s.eceBins) } : {}),
    steps: s.steps,
    finalLoss: last,
  };
  return model;
}
