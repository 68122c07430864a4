import { describe, expect, it } from "vitest";
import { fromRows } from "../src/data/matrix.js";
import { columnMeans, covariance, mean, standardError, std, summary, variance } from "../src/eval/stats.js";

describe("stats", () => {
  it("mean, std (n − 1), standard error and summary of a known sample", () => {
    const v = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(v)).toBe(5);
    expect(variance(v)).toBeCloseTo(32 / 7, 12);
    expect(std(v)).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(standardError(v)).toBeCloseTo(Math.sqrt(32 / 7) / Math.sqrt(8), 12);
    expect(summary(Float32Array.from(v))).toEqual({ mean: 5, std: std(v) });
    expect(variance([3])).toBe(0);
    expect(() => mean([])).toThrow(/no values/);
  });

  it("columnMeans and covariance of a host matrix", () => {
    const m = fromRows([
      [1, 2],
      [3, 0],
      [5, 4],
    ]);
    expect(columnMeans(m)).toEqual([3, 2]);
    const c = covariance(m);
    expect(c[0]![0]).toBeCloseTo(4, 12); // ((−2)² + 0 + 2²)/2
    expect(c[1]![1]).toBeCloseTo(4, 12);
    expect(c[0]![1]).toBeCloseTo(2, 12); // ((−2)(0) + 0(−2) + 2·2)/2
    expect(c[1]![0]).toBe(c[0]![1]);
    expect(() => covariance(fromRows([[1, 2]]))).toThrow(/at least 2 rows/);
  });
});
