/**
 * What 2307.07055 measures on the linear-subspace simulation (fixtures.md §2), per target a:
 *  - the ground-truth reward f*(x̂) = θ*ᵀx̂ of the samples (mean, sd) and its ratio to a;
 *  - the learned reward f̂(x̂) on the same samples and the gap f̂ − f* (reward over-optimisation);
 *  - the off-support deviation ‖(I − AAᵀ)x̂‖ and, for scale, the on-support norm ‖Aᵀx̂‖;
 *  - the exact reference for a linear f̂(x) = θ̂ᵀx + b: with w = Aᵀθ̂ and c = ‖w‖² + ν², the pseudo-label
 *    ŷ = a means θ̂ᵀx + νξ = a − b, so f*(x) | ŷ = a ~ N((a − b) βᵀw/c, 1 − (βᵀw)²/c);
 *  - the paper's approximation a/(1 + ν²) of that mean (exact when θ̂ = θ*, b = 0).
 */
import type { HostMatrix } from "../data/matrix.js";
import { summary } from "../eval/stats.js";
import type { ResultRow } from "../report/types.js";
import { exactConditional, offSupportDeviation, oracleReward, type LinearSubspace } from "../tasks/linear-subspace.js";

/** A linear reward model f̂(x) = θ̂ᵀx + b. */
export interface LinearRewardCoefficients {
  weights: readonly number[];
  bias: number;
}

/** Mean and sd of f*(x) given ŷ = a, for pseudo-labels ŷ = θ̂ᵀx + b + νξ on the subspace data. */
export function exactConditionalReward(sub: LinearSubspace, f: LinearRewardCoefficients, nu: number, a: number): { mean: number; std: number } {
  const ex = exactConditional(sub, f.weights, nu, a - f.bias);
  const d = sub.latentDim;
  const A = sub.A.data;
  const w = Array.from({ length: d }, (_, k) => f.weights.reduce((s, t, i) => s + A[i * d + k]! * t, 0));
  const c = w.reduce((s, v) => s + v * v, 0) + nu * nu;
  const betaW = sub.beta.reduce((s, b, k) => s + b * w[k]!, 0);
  return { mean: ex.rewardMean, std: Math.sqrt(Math.max(0, 1 - (betaW * betaW) / c)) };
}

/** ‖Aᵀx‖ per row: the norm of the on-support component AAᵀx. */
export function onSupportNorm(sub: LinearSubspace, x: HostMatrix): Float32Array {
  const { ambientDim: D, latentDim: d } = sub;
  if (x.cols !== D) throw new Error(`onSupportNorm: expected ${D} columns, got ${x.cols}`);
  const A = sub.A.data;
  const out = new Float32Array(x.rows);
  const z = new Float64Array(d);
  for (let r = 0; r < x.rows; r++) {
    z.fill(0);
    for (let i = 0; i < D; i++) {
      const xi = x.data[r * D + i]!;
      for (let k = 0; k < d; k++) z[k]! += A[i * d + k]! * xi;
    }
    let s = 0;
    for (let k = 0; k < d; k++) s += z[k]! * z[k]!;
    out[r] = Math.sqrt(s);
  }
  return out;
}

export interface SubspaceRowOptions {
  method: string;
  /** f̂ on the samples (absent when the run uses the oracle reward only). */
  proxy?: Float32Array;
  /** f̂ when it is linear: gives the exact reference. */
  linear?: LinearRewardCoefficients;
  /** ν of the pseudo-labels. */
  nu: number;
}

/** The report.json row of one target on the linear-subspace task (contract.md field names). */
export function subspaceTargetRow(sub: LinearSubspace, samples: HostMatrix, target: number, o: SubspaceRowOptions): ResultRow {
  const reward = summary(oracleReward(sub, samples));
  const off = summary(offSupportDeviation(sub, samples));
  const on = summary(onSupportNorm(sub, samples));
  const row: ResultRow = { method: o.method, target, alpha: null, samples: samples.rows, reward };
  if (o.proxy) {
    row.proxyReward = summary(o.proxy);
    row.proxyGap = row.proxyReward.mean - reward.mean;
  }
  row.offSupport = off;
  row.onSupport = on;
  row.offSupportRatio = off.mean / on.mean;
  if (target !== 0) row.rewardRatio = reward.mean / target;
  if (o.linear) {
    const ref = exactConditionalReward(sub, o.linear, o.nu, target);
    row.reference = { rewardMean: ref.mean, rewardStd: ref.std, offSupport: 0 };
    row.rewardError = reward.mean - ref.mean;
  }
  row.idealReward = target / (1 + o.nu * o.nu);
  return row;
}
