/**
 * An MLP regressor for the reward (2307.07055 step 1 with a non-linear f̂), and the members of a deep
 * ensemble. Inputs and labels are standardised with the training rows' statistics, so one learning rate
 * serves any data scale:
 *   f̂(x) = ȳ + s_y · g_φ((x − x̄)/s_x),   g_φ = W_out ∘ (SiLU ∘ W_L) ∘ … ∘ (SiLU ∘ W_1),
 * trained on the mean squared error with AdamW (weight decay = l2) on minibatches drawn from a seed.
 */
import { jit, np, tree, type JArray } from "../backend/jax.js";
import { keyToSeed, splitKey, type Key } from "../backend/keys.js";
import { toHost, upload } from "../backend/ownership.js";
import type { HostMatrix } from "../data/matrix.js";
import { optimizerFromConfig, optimizerStaticKey, plainFitOptimizer } from "../optim/config.js";
import { runSteps } from "../optim/loop.js";
import { describeDivergence } from "../optim/divergence.js";
import { disposeTrainStepState, makeTrainStep, type TrainStep } from "../optim/train-step.js";
import { batchIndices } from "../data/batches.js";
import type { MlpModel, MlpRegressorSpec } from "./types.js";
import { initMlp, mlpForward, mlpFromTensors, mlpInputWidth, mlpToTensors, mlpWidthOf, padColumns, standardiseInto, type MlpParams } from "../nn/mlp.js";

/** Device parameters of the regressor g_φ. */
export type RegressorParams = MlpParams;

/** g_φ(u) for standardised inputs u [n, W] (W = the first weight's rows: D padded with zero columns) → [n]. Consumes `p` and `u`. */
export function regressorForward(p: RegressorParams, u: JArray): JArray {
  const y = mlpForward(p, u);
  return y.reshape([y.shape[0]!]);
}

/** Host tensors → device parameters (fresh arrays, owned by the caller). */
export function regressorParams(m: MlpModel): RegressorParams {
  return mlpFromTensors(m.tensors, m.spec.layers, "mlp reward");
}

function columnStats(x: HostMatrix): { mean: number[]; std: number[] } {
  const { rows: n, cols: D } = x;
  const mean = new Array<number>(D).fill(0);
  const sq = new Array<number>(D).fill(0);
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) mean[j]! += x.data[r * D + j]!;
  for (let j = 0; j < D; j++) mean[j]! /= n;
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) sq[j]! += (x.data[r * D + j]! - mean[j]!) ** 2;
  // A constant column (std 0, or numerically ~0 as off-subspace coordinates are) is only centred.
  const std = sq.map((s) => {
    const v = Math.sqrt(s / Math.max(1, n - 1));
    return v > 1e-6 ? v : 1;
  });
  return { mean, std };
}

function standardise(x: HostMatrix, mean: readonly number[], std: readonly number[]): Float32Array {
  const out = new Float32Array(x.data.length);
  const D = x.cols;
  for (let i = 0; i < out.length; i++) out[i] = (x.data[i]! - mean[i % D]!) / std[i % D]!;
  return out;
}

/** The jitted step on the mean squared error of g_φ; the batch is [u [B, D], v [B]] (standardised). */
export function regressorTrainStep(spec: Pick<MlpRegressorSpec, "learningRate" | "l2" | "steps">): TrainStep<RegressorParams> {
  const cfg = plainFitOptimizer(spec.learningRate, spec.l2);
  const loss = (q: RegressorParams, [u, y]: JArray[]) => np.mean(np.square(regressorForward(q, u!).sub(y!)));
  return makeTrainStep(loss, optimizerFromConfig(cfg, spec.steps), { cacheKey: JSON.stringify(["mlp reward", optimizerStaticKey(cfg)]) });
}

/**
 * Batch k of the standardised rows u [n, D]: B rows drawn with replacement from (dataSeed, k), padded
 * with zero columns to the width of {@link initMlp}'s first layer.
 */
export function regressorBatch(u: Float32Array, v: Float32Array, D: number, B: number, dataSeed: number): (k: number) => JArray[] {
  const n = v.length;
  const W = mlpInputWidth(D);
  return (k) => {
    const idx = batchIndices(dataSeed, k, n, B);
    const ub = new Float32Array(B * W);
    const vb = new Float32Array(B);
    for (let i = 0; i < B; i++) {
      const r = idx[i]!;
      ub.set(u.subarray(r * D, (r + 1) * D), i * W);
      vb[i] = v[r]!;
    }
    return [upload(ub, B, W), np.array(vb)];
  };
}

/**
 * Fits one MLP regressor on (x, y). Consumes `key` (initialisation and the minibatch seed).
 * `onStep` is called after each optimizer step with the training loss (standardised units), read back
 * asynchronously every `logEvery` steps (default 1).
 */
export async function fitMlp(
  x: HostMatrix,
  y: ArrayLike<number>,
  spec: MlpRegressorSpec,
  key: Key,
  opts: { onStep?: (step: number, total: number, loss: number) => void; logEvery?: number } = {},
): Promise<MlpModel> {
  const n = x.rows;
  const D = x.cols;
  if (y.length !== n) {
    key.dispose();
    throw new Error(`mlp reward: ${y.length} labels for ${n} rows`);
  }
  const { mean: xMean, std: xStd } = columnStats(x);
  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += y[i]!;
  yMean /= n;
  let yVar = 0;
  for (let i = 0; i < n; i++) yVar += (y[i]! - yMean) ** 2;
  const ySd = Math.sqrt(yVar / Math.max(1, n - 1));
  const yStd = ySd > 1e-12 ? ySd : 1;
  const u = standardise(x, xMean, xStd);
  const v = Float32Array.from({ length: n }, (_, i) => (y[i]! - yMean) / yStd);

  const [kInit, kData] = splitKey(key, 2);
  const dataSeed = keyToSeed(kData!);
  const trainer = regressorTrainStep(spec);
  const state = trainer.init(initMlp(kInit!, D, spec.hidden, spec.layers, 1), undefined, dataSeed);
  const r = await runSteps(trainer, state, {
    until: spec.steps,
    logEvery: opts.logEvery,
    batch: regressorBatch(u, v, D, Math.min(spec.batchSize, n), dataSeed),
    onLoss: (p) => opts.onStep?.(p.step, spec.steps, p.loss),
    diverged: (step, _loss, d) => new Error(`mlp reward: training diverged at step ${step}: ${describeDivergence(d)}; the learning rate is likely too high (lower --lr / learningRate)`),
  });
  const tensors = await mlpToTensors(r.state.params);
  disposeTrainStepState(r.state);
  return { kind: "mlp", dim: D, spec: { ...spec }, xMean, xStd, yMean, yStd, tensors };
}

const forward = jit((p: RegressorParams, u: JArray) => regressorForward(p, u)) as unknown as (p: RegressorParams, u: JArray) => JArray;

/** f̂(x) per row (device forward pass in batches of at most 4096 rows, read asynchronously). */
export async function predictMlp(m: MlpModel, x: HostMatrix): Promise<Float32Array> {
  if (x.cols !== m.dim) throw new Error(`mlp reward: expected ${m.dim} columns, got ${x.cols}`);
  const out = new Float32Array(x.rows);
  const p = regressorParams(m);
  const W = mlpWidthOf(p);
  const u = padColumns(standardise(x, m.xMean, m.xStd), m.dim, W);
  try {
    const batch = 4096;
    for (let s = 0; s < x.rows; s += batch) {
      const rows = Math.min(batch, x.rows - s);
      const g = await toHost(forward(tree.ref(p), upload(u.subarray(s * W, (s + rows) * W), rows, W)));
      for (let i = 0; i < rows; i++) out[s + i] = m.yMean + m.yStd * g[i]!;
    }
  } finally {
    tree.dispose(p);
  }
  return out;
}

/** f̂(x) as differentiable jax-js code: x [n, D] (consumed) → [n]. */
export function mlpRewardFn(m: MlpModel): (x: JArray) => JArray {
  return (x) => {
    const p = regressorParams(m);
    return regressorForward(p, standardiseInto(x, m.xMean, m.xStd, mlpWidthOf(p))).mul(m.yStd).add(m.yMean);
  };
}
