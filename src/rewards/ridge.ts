/**
 * Ridge regression in closed form, on the host in float64:
 *   x̄, ȳ = means of the training rows;  X_c = X − x̄,  y_c = y − ȳ;
 *   θ̂ = (X_cᵀX_c + λ n I)⁻¹ X_cᵀ y_c,   b = ȳ − θ̂ᵀx̄.
 * On the linear-subspace task (data of rank d in R^D) any λ > 0 makes θ̂ lie in the span of the data,
 * θ̂ ≈ A w (fixtures.md §2); with λ = 0 the normal matrix is singular there and the fit is refused.
 */
import type { HostMatrix } from "../data/matrix.js";
import { cholesky } from "../tasks/host-linalg.js";
import type { RidgeModel, RidgeSpec } from "./types.js";

/** Fits θ̂, b. Throws a one-line error when the system is singular (λ = 0 and too few or collinear rows). */
export function fitRidge(x: HostMatrix, y: ArrayLike<number>, spec: RidgeSpec): RidgeModel {
  const n = x.rows;
  const D = x.cols;
  if (y.length !== n) throw new Error(`ridge: ${y.length} labels for ${n} rows`);
  if (n < 2) throw new Error(`ridge: ${n} training row(s) are too few (need at least 2)`);
  if (!(spec.l2 >= 0) || !Number.isFinite(spec.l2)) throw new Error(`ridge: l2 must be a finite number ≥ 0, got ${spec.l2}`);
  const xm = new Float64Array(D);
  let ym = 0;
  for (let r = 0; r < n; r++) {
    ym += y[r]!;
    for (let j = 0; j < D; j++) xm[j]! += x.data[r * D + j]!;
  }
  ym /= n;
  for (let j = 0; j < D; j++) xm[j]! /= n;
  const G: number[][] = Array.from({ length: D }, () => new Array<number>(D).fill(0));
  const rhs = new Array<number>(D).fill(0);
  const row = new Float64Array(D);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < D; j++) row[j] = x.data[r * D + j]! - xm[j]!;
    const yc = y[r]! - ym;
    for (let i = 0; i < D; i++) {
      const ri = row[i]!;
      if (ri === 0) continue;
      rhs[i]! += ri * yc;
      const gi = G[i]!;
      for (let j = i; j < D; j++) gi[j]! += ri * row[j]!;
    }
  }
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < i; j++) G[i]![j] = G[j]![i]!;
    G[i]![i]! += spec.l2 * n;
  }
  let L: number[][];
  try {
    L = cholesky(G, "XᵀX + λnI");
  } catch {
    throw new Error(
      `ridge: the normal equations are singular (${n} rows, ${D} columns, l2 = ${spec.l2}); use l2 > 0 or more rows than columns`,
    );
  }
  // Solve L Lᵀ θ = rhs.
  const z = new Array<number>(D);
  for (let i = 0; i < D; i++) {
    let s = rhs[i]!;
    for (let k = 0; k < i; k++) s -= L[i]![k]! * z[k]!;
    z[i] = s / L[i]![i]!;
  }
  const theta = new Array<number>(D);
  for (let i = D - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < D; k++) s -= L[k]![i]! * theta[k]!;
    theta[i] = s / L[i]![i]!;
  }
  const bias = ym - theta.reduce((s, t, j) => s + t * xm[j]!, 0);
  return { kind: "ridge", dim: D, spec: { ...spec }, weights: theta, bias };
}

/** f̂(x) = θ̂ᵀx + b per row (float64 accumulation). */
export function predictRidge(m: RidgeModel, x: HostMatrix): Float32Array {
  if (x.cols !== m.dim) throw new Error(`ridge reward: expected ${m.dim} columns, got ${x.cols}`);
  const out = new Float32Array(x.rows);
  for (let r = 0; r < x.rows; r++) {
    let s = m.bias;
    for (let j = 0; j < m.dim; j++) s += m.weights[j]! * x.data[r * m.dim + j]!;
    out[r] = s;
  }
  return out;
}
