/**
 * Data on a linear subspace with a linear reward: the simulation of 2307.07055 (fixtures.md §2).
 *   A ∈ R^{D×d} with orthonormal columns (AᵀA = I_d), z ~ N(0, I_d), x = A z;
 *   f*(x) = θ*ᵀx with θ* = A β, ‖β‖ = 1, so f*(x) ~ N(0, 1) on the data;
 *   labels y = f*(x) + σ ξ; pseudo-labels ŷ = θ̂ᵀx + ν ξ.
 * With w = Aᵀθ̂ and c = ‖w‖² + ν²: x | ŷ = a ~ N(A w a/c, A(I − wwᵀ/c)Aᵀ), E[f*(x) | ŷ = a] = a βᵀw/c.
 */
import { split2, type Key } from "../backend/index.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { orthonormalColumns } from "./host-linalg.js";
import { hostNormal } from "./host-random.js";
import { assertDim, assertSampleCount, type RewardTask } from "./task.js";

/** Sizes of the subspace task: ambient dimension D and latent dimension d ≤ D. */
export interface LinearSubspaceSpec {
  readonly ambientDim: number;
  readonly latentDim: number;
}

/** A drawn instance: the basis A (D×d, orthonormal columns), β ∈ R^d (unit) and θ* = Aβ ∈ R^D. */
export interface LinearSubspace extends LinearSubspaceSpec {
  readonly A: HostMatrix;
  readonly beta: readonly number[];
  readonly theta: readonly number[];
}

function assertSpec(spec: LinearSubspaceSpec): void {
  const { ambientDim: D, latentDim: d } = spec;
  if (!Number.isInteger(D) || !Number.isInteger(d) || d < 1 || D < d) {
    throw new Error(`linear subspace: need whole numbers 1 ≤ latentDim ≤ ambientDim, got latentDim ${d}, ambientDim ${D}`);
  }
}

/**
 * Draws A (Gram–Schmidt QR of a Gaussian D×d matrix, in float64, stored as float32) and a unit β
 * (a normalised Gaussian vector); θ* = Aβ. Consumes `key`.
 */
export async function makeLinearSubspace(key: Key, spec: LinearSubspaceSpec): Promise<LinearSubspace> {
  assertSpec(spec);
  const { ambientDim: D, latentDim: d } = spec;
  const [kA, kB] = split2(key);
  const a = Float32Array.from(orthonormalColumns(await hostNormal(kA, D, d), D, d));
  const g = Array.from(await hostNormal(kB, 1, d), Number);
  const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
  const beta = g.map((v) => v / norm);
  const theta = Array.from({ length: D }, (_, i) => beta.reduce((s, bk, k) => s + a[i * d + k]! * bk, 0));
  return { ambientDim: D, latentDim: d, A: hostMatrix(D, d, a), beta, theta };
}

/** n draws x = A z, z ~ N(0, I_d). Consumes `key`. */
export async function sampleLinearSubspace(key: Key, sub: LinearSubspace, n: number): Promise<HostMatrix> {
  assertSampleCount(n, "sampleLinearSubspace");
  const { ambientDim: D, latentDim: d } = sub;
  const z = await hostNormal(key, n, d);
  const a = sub.A.data;
  const out = new Float32Array(n * D);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += a[i * d + k]! * z[r * d + k]!;
      out[r * D + i] = s;
    }
  }
  return hostMatrix(n, D, out);
}

/** The ground-truth reward f*(x) = θ*ᵀx per row. */
export function oracleReward(sub: LinearSubspace, x: HostMatrix): Float32Array {
  assertDim(x, sub.ambientDim, "oracleReward");
  const out = new Float32Array(x.rows);
  for (let r = 0; r < x.rows; r++) {
    let s = 0;
    for (let i = 0; i < x.cols; i++) s += sub.theta[i]! * x.data[r * x.cols + i]!;
    out[r] = s;
  }
  return out;
}

/** values + σ ξ with ξ ~ N(0, 1) i.i.d. (labels y = f*(x) + σ ξ, or pseudo-labels with σ = ν). Consumes `key`. */
export async function noisyLabels(key: Key, values: ArrayLike<number>, sigma: number): Promise<Float32Array> {
  if (!(Number.isFinite(sigma) && sigma >= 0)) {
    key.dispose();
    throw new Error(`noisyLabels: sigma must be a finite number ≥ 0, got ${sigma}`);
  }
  const xi = await hostNormal(key, values.length, 1);
  return Float32Array.from(values, (v, i) => v + sigma * xi[i]!);
}

/** ‖(I − AAᵀ) x‖₂ per row: the off-support deviation of 2307.07055. */
export function offSupportDeviation(sub: LinearSubspace, x: HostMatrix): Float32Array {
  assertDim(x, sub.ambientDim, "offSupportDeviation");
  const { ambientDim: D, latentDim: d } = sub;
  const a = sub.A.data;
  const z = new Float64Array(d);
  const out = new Float32Array(x.rows);
  for (let r = 0; r < x.rows; r++) {
    const row = x.data.subarray(r * D, (r + 1) * D);
    z.fill(0);
    for (let i = 0; i < D; i++) for (let k = 0; k < d; k++) z[k]! += a[i * d + k]! * row[i]!;
    let sq = 0;
    for (let i = 0; i < D; i++) {
      let proj = 0;
      for (let k = 0; k < d; k++) proj += a[i * d + k]! * z[k]!;
      sq += (row[i]! - proj) ** 2;
    }
    out[r] = Math.sqrt(sq);
  }
  return out;
}

/** The exact law of x given a pseudo-label ŷ = θ̂ᵀx + νξ equal to a, and its mean reward. */
export interface ExactConditional {
  /** E[x | ŷ = a] = A w a / c. */
  readonly mean: number[];
  /** Cov[x | ŷ = a] = A (I − wwᵀ/c) Aᵀ (rank d; singular when d < D). */
  readonly cov: number[][];
  /** E[f*(x) | ŷ = a] = a βᵀw / c. */
  readonly rewardMean: number;
}

/** x | ŷ = a for pseudo-labels ŷ = θ̂ᵀx + ν ξ (w = Aᵀθ̂, c = ‖w‖² + ν²). */
export function exactConditional(sub: LinearSubspace, thetaHat: readonly number[], nu: number, a: number): ExactConditional {
  const { ambientDim: D, latentDim: d } = sub;
  if (thetaHat.length !== D) throw new Error(`exactConditional: θ̂ has length ${thetaHat.length}, expected ${D}`);
  if (!thetaHat.every(Number.isFinite)) throw new Error("exactConditional: θ̂ has a non-finite value");
  if (!(Number.isFinite(nu) && nu >= 0)) throw new Error(`exactConditional: ν must be a finite number ≥ 0, got ${nu}`);
  if (!Number.isFinite(a)) throw new Error(`exactConditional: target a must be finite, got ${a}`);
  const A = sub.A.data;
  const w = Array.from({ length: d }, (_, k) => thetaHat.reduce((s, t, i) => s + A[i * d + k]! * t, 0));
  const c = w.reduce((s, v) => s + v * v, 0) + nu * nu;
  if (!(c > 0)) throw new Error("exactConditional: θ̂ has no component in the subspace and ν = 0, so ŷ carries no information");
  const aw = Array.from({ length: D }, (_, i) => w.reduce((s, wk, k) => s + A[i * d + k]! * wk, 0));
  const cov = Array.from({ length: D }, (_, i) =>
    Array.from({ length: D }, (_, j) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += A[i * d + k]! * A[j * d + k]!;
      return s - (aw[i]! * aw[j]!) / c;
    }),
  );
  const betaW = sub.beta.reduce((s, b, k) => s + b * w[k]!, 0);
  return { mean: aw.map((v) => (v * a) / c), cov, rewardMean: (a * betaW) / c };
}

/**
 * ‖V̂V̂ᵀ − AAᵀ‖_F for V̂ (D×k) and A (D×d), computed as
 * √(‖V̂ᵀV̂‖_F² + ‖AᵀA‖_F² − 2‖V̂ᵀA‖_F²) (equal for any V̂, A; √(k + d − 2‖V̂ᵀA‖_F²) if orthonormal).
 */
export function subspaceAngle(vHat: HostMatrix, A: HostMatrix): number {
  if (vHat.rows !== A.rows) throw new Error(`subspaceAngle: V̂ has ${vHat.rows} rows but A has ${A.rows}`);
  const gramSq = (p: HostMatrix, q: HostMatrix) => {
    let total = 0;
    for (let i = 0; i < p.cols; i++) {
      for (let j = 0; j < q.cols; j++) {
        let s = 0;
        for (let r = 0; r < p.rows; r++) s += p.data[r * p.cols + i]! * q.data[r * q.cols + j]!;
        total += s * s;
      }
    }
    return total;
  };
  return Math.sqrt(Math.max(0, gramSq(vHat, vHat) + gramSq(A, A) - 2 * gramSq(vHat, A)));
}

/** Adapts a drawn subspace to a {@link RewardTask} with the oracle reward f*. */
export function linearSubspaceTask(sub: LinearSubspace): RewardTask & { readonly subspace: LinearSubspace } {
  return {
    name: "linear-subspace",
    dim: sub.ambientDim,
    subspace: sub,
    sample: (key, n) => sampleLinearSubspace(key, sub, n),
    reward: (x) => oracleReward(sub, x),
  };
}
