/**
 * Small dense linear algebra on the host in float64 (JS numbers), for the closed-form oracles of
 * fixtures.md: covariances and precisions are formed here exactly and only the results are uploaded.
 * Matrices are row arrays (`number[][]`); sizes are small (D ≤ a few hundred).
 */

/** A dense matrix as rows of JS numbers. */
export type Mat = number[][];

/** Checks that `a` is a finite n×n matrix; `what` names it in the error. Returns n. */
export function assertSquare(a: readonly (readonly number[])[], what: string): number {
  const n = a.length;
  if (n === 0) throw new Error(`${what} is empty`);
  a.forEach((row, i) => {
    if (row.length !== n) throw new Error(`${what} is not square: row ${i + 1} has ${row.length} values, expected ${n}`);
    row.forEach((v, j) => {
      if (!Number.isFinite(v)) throw new Error(`${what} has a non-finite value ${v} at (${i + 1}, ${j + 1})`);
    });
  });
  return n;
}

/** Checks that `a` is symmetric to a relative tolerance. */
export function assertSymmetric(a: readonly (readonly number[])[], what: string, rtol = 1e-6): void {
  const n = assertSquare(a, what);
  let scale = 0;
  for (const row of a) for (const v of row) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (Math.abs(a[i]![j]! - a[j]![i]!) > rtol * Math.max(scale, 1e-300)) {
        throw new Error(`${what} is not symmetric: (${i + 1}, ${j + 1}) = ${a[i]![j]} but (${j + 1}, ${i + 1}) = ${a[j]![i]}`);
      }
    }
  }
}

/** The n×n identity. */
export function identity(n: number): Mat {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

/** Lower-triangular L with L Lᵀ = a, for a symmetric positive-definite `a`; throws otherwise. */
export function cholesky(a: readonly (readonly number[])[], what = "matrix"): Mat {
  const n = assertSquare(a, what);
  const l: Mat = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let d = a[j]![j]!;
    for (let k = 0; k < j; k++) d -= l[j]![k]! * l[j]![k]!;
    if (!(d > 0)) throw new Error(`${what} is not positive definite (pivot ${j + 1} is ${d})`);
    const ljj = Math.sqrt(d);
    l[j]![j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = s / ljj;
    }
  }
  return l;
}

/** a⁻¹ for a symmetric positive-definite `a`, via its Cholesky factor (the result is symmetrised). */
export function inverseSpd(a: readonly (readonly number[])[], what = "matrix"): Mat {
  const l = cholesky(a, what);
  const n = l.length;
  // Solve L Lᵀ X = I column by column.
  const inv: Mat = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const y = new Array<number>(n);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i]![k]! * y[k]!;
      y[i] = s / l[i]![i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let k = i + 1; k < n; k++) s -= l[k]![i]! * inv[k]![c]!;
      inv[i]![c] = s / l[i]![i]!;
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (inv[i]![j]! + inv[j]![i]!);
      inv[i]![j] = v;
      inv[j]![i] = v;
    }
  }
  return inv;
}

/**
 * Eigen-decomposition a = V diag(λ) Vᵀ of a symmetric matrix by cyclic Jacobi rotations.
 * `vectors[i][k]` is component i of eigenvector k.
 */
export function symmetricEigen(a: readonly (readonly number[])[], what = "matrix"): { values: number[]; vectors: Mat } {
  assertSymmetric(a, what);
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v = identity(n);
  let scale = 0;
  for (const row of m) for (const x of row) scale += x * x;
  const tol = 1e-24 * Math.max(scale, 1e-300);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p]![q]! * m[p]![q]!;
    if (off <= tol) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p]![q]!;
        if (apq === 0) continue;
        const theta = (m[q]![q]! - m[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k]![p]!;
          const mkq = m[k]![q]!;
          m[k]![p] = c * mkp - s * mkq;
          m[k]![q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p]![k]!;
          const mqk = m[q]![k]!;
          m[p]![k] = c * mpk - s * mqk;
          m[q]![k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((row, i) => row[i]!), vectors: v };
}

/**
 * A factor F with F Fᵀ = a for a symmetric positive *semi*-definite `a` (F = V diag(√λ₊)); unlike
 * Cholesky it accepts singular covariances such as the subspace conditional A(I − wwᵀ/c)Aᵀ.
 * Throws if an eigenvalue is clearly negative.
 */
export function psdFactor(a: readonly (readonly number[])[], what = "covariance"): Mat {
  const { values, vectors } = symmetricEigen(a, what);
  const n = values.length;
  const top = Math.max(...values.map(Math.abs), 0);
  const f: Mat = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let k = 0; k < n; k++) {
    const lam = values[k]!;
    if (lam < -1e-8 * Math.max(top, 1)) {
      throw new Error(`${what} is not positive semi-definite (eigenvalue ${lam})`);
    }
    const r = Math.sqrt(Math.max(lam, 0));
    for (let i = 0; i < n; i++) f[i]![k] = vectors[i]![k]! * r;
  }
  return f;
}

export { orthonormalColumns } from "../data/orthonormal.js";

/** log Σ exp(v), stable. */
export function logSumExp(v: readonly number[]): number {
  const m = Math.max(...v);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of v) s += Math.exp(x - m);
  return m + Math.log(s);
}
