import { describe, expect, it } from "vitest";
import { cholesky, inverseSpd, logSumExp, orthonormalColumns, psdFactor, symmetricEigen } from "../src/tasks/host-linalg.js";

const S = [
  [4, 1, 0.5],
  [1, 3, -0.2],
  [0.5, -0.2, 2],
];

const mul = (a: number[][], b: number[][]) => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const tr = (a: number[][]) => a[0]!.map((_, j) => a.map((row) => row[j]!));

describe("host linear algebra", () => {
  it("cholesky and inverseSpd: L Lᵀ = S and S S⁻¹ = I", () => {
    const l = cholesky(S);
    mul(l, tr(l)).forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(S[i]![j]!, 12)));
    mul(S, inverseSpd(S)).forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 12)));
    expect(() => cholesky([
      [1, 2],
      [2, 1],
    ])).toThrow(/not positive definite/);
  });

  it("symmetricEigen: S v = λ v, orthonormal vectors, eigenvalues of a known matrix", () => {
    const { values, vectors } = symmetricEigen(S);
    for (let k = 0; k < 3; k++) {
      const v = vectors.map((row) => row[k]!);
      const sv = S.map((row) => row.reduce((s, x, j) => s + x * v[j]!, 0));
      sv.forEach((x, i) => expect(x).toBeCloseTo(values[k]! * v[i]!, 10));
    }
    mul(tr(vectors), vectors).forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 12)));
    // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
    const two = symmetricEigen([
      [2, 1],
      [1, 2],
    ]).values.sort();
    expect(two[0]).toBeCloseTo(1, 12);
    expect(two[1]).toBeCloseTo(3, 12);
  });

  it("psdFactor: F Fᵀ = S, also for a singular S", () => {
    const sing = [
      [1, 2],
      [2, 4],
    ];
    for (const m of [S, sing]) {
      const f = psdFactor(m);
      mul(f, tr(f)).forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(m[i]![j]!, 10)));
    }
  });

  it("orthonormalColumns: QᵀQ = I and span preserved", () => {
    const g = [1, 2, 0, 1, 3, -1, 2, 0.5]; // 4×2
    const q = orthonormalColumns(g, 4, 2);
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) {
        let s = 0;
        for (let i = 0; i < 4; i++) s += q[i * 2 + a]! * q[i * 2 + b]!;
        expect(s).toBeCloseTo(a === b ? 1 : 0, 12);
      }
    }
    // The first column is g's first column normalised.
    const n0 = Math.hypot(1, 0, 3, 2);
    [1, 0, 3, 2].forEach((v, i) => expect(q[i * 2]!).toBeCloseTo(v / n0, 12));
    expect(() => orthonormalColumns([1, 2, 2, 4], 2, 2)).toThrow(/linearly dependent/);
  });

  it("logSumExp is stable", () => {
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 10);
    expect(logSumExp([-Infinity])).toBe(-Infinity);
  });
});
