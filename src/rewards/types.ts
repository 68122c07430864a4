/**
 * Learned reward models f̂ (2307.07055, step 1: "reward learning" on the small labeled set).
 * Three kinds, all plain data (host arrays + JSON settings) so they serialise and move between the
 * library, the CLI and checkpoints:
 *  - "ridge":    f̂(x) = θ̂ᵀx + b, closed form (θ̂ = (X_cᵀX_c + λ n I)⁻¹ X_cᵀ y_c on centred data);
 *  - "mlp":      a small MLP regressor on standardised inputs and labels, trained with AdamW;
 *  - "ensemble": M independently initialised MLPs (a deep ensemble); prediction = their mean, and
 *                the spread (std across members) is reported as an uncertainty.
 */

/** Settings of a reward fit. */
export type RewardModelSpec = RidgeSpec | MlpRegressorSpec | EnsembleSpec;

export interface RidgeSpec {
  kind: "ridge";
  /** λ: the penalty is λ · n_train · ‖θ‖² (the intercept is not penalised). */
  l2: number;
}

export interface MlpRegressorSpec {
  kind: "mlp";
  hidden: number;
  /** Hidden layers (≥ 1). */
  layers: number;
  /** Decoupled weight decay (AdamW). */
  l2: number;
  steps: number;
  learningRate: number;
  batchSize: number;
}

export interface EnsembleSpec extends Omit<MlpRegressorSpec, "kind"> {
  kind: "ensemble";
  /** M: number of members. */
  members: number;
}

/** A named host tensor (row-major). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** f̂(x) = θ̂ᵀx + b. */
export interface RidgeModel {
  kind: "ridge";
  dim: number;
  spec: RidgeSpec;
  /** θ̂ ∈ R^D. */
  weights: number[];
  /** b (intercept). */
  bias: number;
}

/** An MLP regressor: f̂(x) = yMean + yStd · g((x − xMean)/xStd). */
export interface MlpModel {
  kind: "mlp";
  dim: number;
  spec: MlpRegressorSpec;
  xMean: number[];
  xStd: number[];
  yMean: number;
  yStd: number;
  /** Weights by name: layers.<i>.w/b, out.w/b. */
  tensors: Record<string, HostTensor>;
}

/** A deep ensemble: f̂ = mean of the members; spread = their std. */
export interface EnsembleModel {
  kind: "ensemble";
  dim: number;
  spec: EnsembleSpec;
  members: MlpModel[];
}

export type RewardModel = RidgeModel | MlpModel | EnsembleModel;

/** Fit quality on a set of rows: root-mean-square error, R² = 1 − SSE/SST (null if SST = 0), n. */
export interface FitQuality {
  n: number;
  rmse: number;
  r2: number | null;
  /** Deep ensembles: mean spread (std across members) of the predictions. */
  meanSpread?: number;
}

/** Fit quality on the training rows and on the held-out rows (absent when nothing was held out). */
export interface RewardFitReport {
  kind: RewardModel["kind"];
  train: FitQuality;
  heldOut?: FitQuality;
  seconds: number;
}

export const defaultRidge: RidgeSpec = { kind: "ridge", l2: 1e-3 };
export const defaultMlpRegressor: MlpRegressorSpec = {
  kind: "mlp",
  hidden: 64,
  layers: 2,
  l2: 1e-4,
  steps: 1500,
  learningRate: 3e-3,
  batchSize: 256,
};
export const defaultEnsemble: EnsembleSpec = { ...defaultMlpRegressor, kind: "ensemble", members: 5 };

/** Fewest rows each kind needs to fit on (after the held-out split has taken its share). */
export function minimumRows(spec: RewardModelSpec): number {
  return spec.kind === "ridge" ? 2 : 8;
}
