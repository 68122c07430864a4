import { permutation } from "../data/permutation.js";
/**
 * One entry point for reward learning (2307.07055 step 1): validate the labeled rows, hold some out,
 * fit the chosen model on the rest, and report the fit quality on both parts. Plus prediction f̂(x),
 * the reward as a plug-in for guidance (src/rewards/reward.ts), and pseudo-labelling (step 2).
 */
import { np, type JArray } from "../backend/jax.js";
import { splitKey, keyToSeed, type Key } from "../backend/keys.js";
import { upload } from "../backend/ownership.js";
import { takeRows, type HostMatrix } from "../data/matrix.js";
import { noisyLabels } from "../tasks/linear-subspace.js";
import { ensembleRewardFn, fitEnsemble, predictEnsemble } from "./ensemble.js";
import { fitMlp, mlpRewardFn, predictMlp } from "./mlp.js";
import { deviceReward, type DifferentiableReward } from "./reward.js";
import { fitRidge, predictRidge } from "./ridge.js";
import { minimumRows, type FitQuality, type RewardFitReport, type RewardModel, type RewardModelSpec } from "./types.js";

/** Checks labeled data: matching row counts, finite values, enough rows for the model. */
export function checkLabeledData(x: HostMatrix, y: ArrayLike<number>, spec: RewardModelSpec, holdout: number, where = "labeled data"): void {
  if (y.length !== x.rows) throw new Error(`${where}: ${y.length} labels for ${x.rows} rows`);
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i]!)) {
      throw new Error(`${where}: non-finite value ${x.data[i]} at row ${Math.floor(i / x.cols) + 1}, column ${(i % x.cols) + 1}`);
    }
  }
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i]!)) throw new Error(`${where}: label of row ${i + 1} is not a finite number (${y[i]})`);
  }
  if (!(holdout >= 0 && holdout < 1)) throw new Error(`${where}: the held-out fraction must be in [0, 1), got ${holdout}`);
  const need = minimumRows(spec);
  const { train, heldOut } = splitSizes(x.rows, holdout);
  if (train < need) {
    const split = heldOut > 0 ? `: ${heldOut} held out to measure the fit leaves ${train} to fit on` : "";
    throw new Error(`${where}: ${x.rows} labeled row(s) are too few for a ${spec.kind} reward model${split} (it needs at least ${need} rows to fit on)`);
  }
  if (spec.kind === "ridge" && spec.l2 === 0 && train <= x.cols) {
    throw new Error(`${where}: ridge with l2 = 0 needs more training rows (${train}) than columns (${x.cols}); set l2 > 0 or add rows`);
  }
}

/** Rows held out for a fraction f: round(f·n), at least 1 when f > 0, leaving at least 2 to train on. */
export function splitSizes(n: number, holdout: number): { train: number; heldOut: number } {
  if (!(holdout > 0)) return { train: n, heldOut: 0 };
  const heldOut = Math.min(Math.max(1, Math.round(holdout * n)), Math.max(0, n - 2));
  return { train: n - heldOut, heldOut };
}

export { permutation } from "../data/permutation.js";

/** RMSE and R² of predictions against labels. */
export function fitQuality(pred: ArrayLike<number>, y: ArrayLike<number>): FitQuality {
  const n = y.length;
  let ym = 0;
  for (let i = 0; i < n; i++) ym += y[i]!;
  ym /= n;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    sse += (pred[i]! - y[i]!) ** 2;
    sst += (y[i]! - ym) ** 2;
  }
  return { n, rmse: Math.sqrt(sse / n), r2: sst > 0 ? 1 - sse / sst : null };
}

export interface FitRewardOptions {
  /** Fraction of rows held out to measure the fit (default 0.2; 0 = none). */
  holdout?: number;
  /** Called after each optimizer step (MLP/ensemble). */
  onStep?: (step: number, total: number, loss: number) => void;
  where?: string;
}

/**
 * Fits f̂ on labeled rows (x_i, y_i). A seeded random `holdout` fraction is kept out of the fit and
 * used to report its quality. Consumes `key`.
 */
export async function fitReward(
  x: HostMatrix,
  y: ArrayLike<number>,
  spec: RewardModelSpec,
  key: Key,
  opts: FitRewardOptions = {},
): Promise<{ model: RewardModel; report: RewardFitReport }> {
  const holdout = opts.holdout ?? 0.2;
  try {
    checkLabeledData(x, y, spec, holdout, opts.where);
  } catch (err) {
    key.dispose();
    throw err;
  }
  const t0 = performance.now();
  const [kSplit, kFit] = splitKey(key, 2);
  const { train, heldOut } = splitSizes(x.rows, holdout);
  const order = permutation(x.rows, keyToSeed(kSplit!));
  const trIdx = order.subarray(0, train);
  const teIdx = order.subarray(train);
  const xTr = takeRows(x, trIdx);
  const yTr = Float32Array.from(trIdx, (i) => y[i]!);
  let model: RewardModel;
  if (spec.kind === "ridge") {
    kFit!.dispose();
    model = fitRidge(xTr, yTr, spec);
  } else if (spec.kind === "mlp") {
    model = await fitMlp(xTr, yTr, spec, kFit!, { onStep: opts.onStep });
  } else {
    model = await fitEnsemble(xTr, yTr, spec, kFit!, { onStep: opts.onStep });
  }
  const quality = async (rows: HostMatrix, labels: Float32Array): Promise<FitQuality> => {
    const p = await predictReward(model, rows);
    const q = fitQuality(p.mean, labels);
    if (p.spread) q.meanSpread = p.spread.reduce((s, v) => s + v, 0) / p.spread.length;
    return q;
  };
  const report: RewardFitReport = { kind: model.kind, train: await quality(xTr, yTr), seconds: 0 };
  if (heldOut > 0) report.heldOut = await quality(takeRows(x, teIdx), Float32Array.from(teIdx, (i) => y[i]!));
  report.seconds = (performance.now() - t0) / 1000;
  return { model, report };
}

/** f̂(x) per row; deep ensembles also give the spread (std across members). */
export async function predictReward(m: RewardModel, x: HostMatrix): Promise<{ mean: Float32Array; spread?: Float32Array }> {
  if (x.cols !== m.dim) throw new Error(`reward model: expected ${m.dim} columns, got ${x.cols}`);
  if (m.kind === "ridge") return { mean: predictRidge(m, x) };
  if (m.kind === "mlp") return { mean: await predictMlp(m, x) };
  return predictEnsemble(m, x);
}

/** f̂ as a differentiable reward plug-in (for guidance): x [n, D] (consumed) → f̂(x) [n]. */
export function rewardModelPlugin(m: RewardModel, name = `learned ${m.kind} reward`): DifferentiableReward {
  let fn: (x: JArray) => JArray;
  if (m.kind === "ridge") {
    const w = Float32Array.from(m.weights);
    fn = (x) => np.matmul(x, upload(w, m.dim, 1)).reshape([x.shape[0]!]).add(m.bias);
  } else if (m.kind === "mlp") {
    fn = mlpRewardFn(m);
  } else {
    fn = ensembleRewardFn(m);
  }
  const checked = (x: JArray): JArray => {
    if (x.shape.length !== 2 || x.shape[1] !== m.dim) {
      const shape = x.shape.join(", ");
      x.dispose();
      throw new Error(`reward "${name}": expected samples of shape [n, ${m.dim}], got [${shape}]`);
    }
    return fn(x);
  };
  return deviceReward(name, checked, { differentiable: true }) as DifferentiableReward;
}

/**
 * Pseudo-labels (2307.07055 step 2): ŷ_j = f̂(x_j) + ν ξ_j, ξ_j ~ N(0, 1), for the unlabeled rows.
 * Consumes `key`.
 */
export async function pseudoLabel(m: RewardModel, x: HostMatrix, nu: number, key: Key): Promise<Float32Array> {
  if (!(Number.isFinite(nu) && nu >= 0)) {
    key.dispose();
    throw new Error(`pseudo-label noise ν must be a finite number ≥ 0, got ${nu}`);
  }
  let f: Float32Array;
  try {
    f = (await predictReward(m, x)).mean;
  } catch (err) {
    key.dispose();
    throw err;
  }
  return noisyLabels(key, f, nu);
}
