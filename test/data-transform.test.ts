/**
 * The per-feature data transforms (src/data/transform.ts), checked against float64 recomputations written
 * here independently: mean/std by Welford's update, the range by sorting, and the quantile knots by
 * sorting and a normal quantile found by bisection on Φ from its Taylor series (not the library's
 * rational approximation).
 */
import { describe, expect, it } from "vitest";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import {
  applyTransform,
  checkTransform,
  fitTransform,
  invertTransform,
  normalQuantile,
  QUANTILE_KNOTS,
  QUANTILE_TAIL,
  type DataTransform,
} from "../src/data/transform.js";
import { uniforms } from "./helpers/uniforms.js";

function normals(seed: number): () => number {
  const u = uniforms(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/**
 * Φ(z) in float64: the Taylor series of erf for |z| ≤ 3, and for z < −3 the continued fraction of erfc,
 * erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from its 200th term back.
 */
function phi(z: number): number {
  if (z > 3) return 1 - phi(-z);
  if (z < -3) {
    const x = -z / Math.SQRT2;
    let f = x;
    for (let k = 200; k >= 1; k--) f = x + k / 2 / f;
    return (0.5 * Math.exp(-x * x)) / Math.sqrt(Math.PI) / f;
  }
  const x = z / Math.SQRT2;
  let term = x;
  let sum = x;
  for (let k = 1; k < 200; k++) {
    term *= (-x * x) / k;
    const add = term / (2 * k + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return 0.5 + sum / Math.sqrt(Math.PI);
}

/** Φ⁻¹(p) by bisection on the series. */
function probit(p: number): number {
  let lo = -8, hi = 8;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (phi(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A 500×4 matrix: scales 1e-3 … 1e5, offsets, a log-normal and a discrete column. */
function mixedData(rows = 500): HostMatrix {
  const g = normals(7);
  const out = new Float32Array(rows * 4);
  for (let r = 0; r < rows; r++) {
    out[r * 4] = 1e-3 * g() + 0.05;
    out[r * 4 + 1] = 1e5 * g() + 250_000;
    out[r * 4 + 2] = Math.exp(g());
    out[r * 4 + 3] = Math.floor(6 * uniforms(r + 1)()) + 1;
  }
  return hostMatrix(rows, 4, out);
}

const col = (m: HostMatrix, c: number): number[] => Array.from({ length: m.rows }, (_, r) => m.data[r * m.cols + c]!);

/** Every value of `b` equals `a` to float32 rounding (relative 2⁻²³ of the column's magnitude, a few ulps). */
function expectRoundTrip(a: HostMatrix, b: HostMatrix): void {
  for (let c = 0; c < a.cols; c++) {
    const xs = col(a, c);
    const scale = Math.max(...xs.map(Math.abs));
    const ys = col(b, c);
    const worst = Math.max(...xs.map((x, i) => Math.abs(x - ys[i]!)));
    expect(worst, `column ${c + 1}`).toBeLessThanOrEqual(4 * 2 ** -23 * scale);
  }
}

describe("normalQuantile", () => {
  it("agrees with a bisection on Φ (erf series, erfc continued fraction) to 1e-8", () => {
    for (const p of [1e-6, 0.001, 0.02, 0.0243, 0.1, 0.3, 0.5, 0.77, 0.975, 0.999, 1 - 1e-6]) {
      expect(Math.abs(normalQuantile(p) - probit(p)), `p = ${p}`).toBeLessThan(1e-8);
    }
  });
});

describe("standardize", () => {
  it("stores each column's mean and population std (Welford, float64) and round-trips to float32 rounding", () => {
    const m = mixedData();
    const t = fitTransform("standardize", m);
    if (t.kind !== "standardize") throw new Error("kind");
    for (let c = 0; c < m.cols; c++) {
      let mean = 0, m2 = 0;
      col(m, c).forEach((x, i) => {
        const d = x - mean;
        mean += d / (i + 1);
        m2 += d * (x - mean);
      });
      expect(Math.abs(t.mean[c]! - mean)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(mean)));
      expect(Math.abs(t.std[c]! / Math.sqrt(m2 / m.rows) - 1)).toBeLessThan(1e-10);
    }
    const z = applyTransform(t, m);
    for (let c = 0; c < m.cols; c++) {
      const zs = col(z, c);
      const mu = zs.reduce((s, v) => s + v, 0) / zs.length;
      const sd = Math.sqrt(zs.reduce((s, v) => s + (v - mu) ** 2, 0) / zs.length);
      expect(Math.abs(mu)).toBeLessThan(1e-5);
      expect(Math.abs(sd - 1)).toBeLessThan(1e-5);
    }
    expectRoundTrip(m, invertTransform(t, z));
  });

  it("maps a constant column to 0 and back to its constant", () => {
    const m = hostMatrix(4, 2, Float32Array.from([3, 1, 3, 2, 3, 5, 3, 9]));
    const t = fitTransform("standardize", m);
    const z = applyTransform(t, m);
    expect(col(z, 0)).toEqual([0, 0, 0, 0]);
    expect(col(invertTransform(t, hostMatrix(2, 2, Float32Array.from([0, 0, 0.5, 1]))), 0)).toEqual([3, 3.5]);
  });
});

describe("minmax", () => {
  it("maps each column's range onto [−1, 1] exactly at the ends and round-trips", () => {
    const m = mixedData();
    const t = fitTransform("minmax", m);
    const z = applyTransform(t, m);
    for (let c = 0; c < m.cols; c++) {
      const xs = col(m, c).sort((a, b) => a - b);
      const zs = col(z, c);
      expect(Math.min(...zs)).toBeCloseTo(-1, 6);
      expect(Math.max(...zs)).toBeCloseTo(1, 6);
      // An interior point, recomputed: 2 (x − min)/(max − min) − 1.
      const x = col(m, c)[17]!;
      expect(zs[17]!).toBeCloseTo((2 * (x - xs[0]!)) / (xs.at(-1)! - xs[0]!) - 1, 5);
    }
    expectRoundTrip(m, invertTransform(t, z));
  });

  it("maps a constant column to 0 and back", () => {
    const m = hostMatrix(3, 1, Float32Array.from([-2, -2, -2]));
    const t = fitTransform("minmax", m);
    expect(Array.from(applyTransform(t, m).data)).toEqual([0, 0, 0]);
    expect(Array.from(invertTransform(t, hostMatrix(1, 1, Float32Array.from([0]))).data)).toEqual([-2]);
  });
});

describe("quantile", () => {
  it("puts the knots at the Hazen quantiles (min … max) paired with Φ⁻¹ of their levels", () => {
    const m = mixedData();
    const t = fitTransform("quantile", m);
    if (t.kind !== "quantile") throw new Error("kind");
    const n = m.rows;
    const K = Math.min(n, QUANTILE_KNOTS);
    expect(t.normal).toHaveLength(K);
    for (const k of [0, 1, 99, 250, K - 1]) {
      const p = 0.5 / n + (k * (1 - 1 / n)) / (K - 1);
      expect(Math.abs(t.normal[k]! - probit(p))).toBeLessThan(1e-8);
      // K = n here: knot k is the (k+1)-th order statistic.
      const sorted = col(m, 2).sort((a, b) => a - b);
      expect(t.values[2]![k]).toBeCloseTo(sorted[k]!, 10);
    }
  });

  it("Gaussianises a log-normal column: mean, std, skewness of the output within stated tolerances", () => {
    const g = normals(11);
    const n = 4000;
    const m = hostMatrix(n, 1, Float32Array.from({ length: n }, () => Math.exp(1.5 * g())));
    const rawSkew = skew(col(m, 0));
    expect(rawSkew).toBeGreaterThan(5);
    const t = fitTransform("quantile", m);
    const z = col(applyTransform(t, m), 0);
    const mu = z.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(z.reduce((s, v) => s + (v - mu) ** 2, 0) / n);
    // Sample-size noise of a N(0,1) sample of 4000: mean ±0.016, std ±0.011, skew ±0.04 (1σ).
    expect(Math.abs(mu)).toBeLessThan(0.01);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    expect(Math.abs(skew(z))).toBeLessThan(0.05);
    expectRoundTrip(m, invertTransform(t, hostMatrix(n, 1, Float32Array.from(z))));
  });

  it("interpolates linearly between knots (forward and inverse), and maps ties to the middle of their z-range", () => {
    // Four rows: knots at levels 1/8, 3/8, 5/8, 7/8 with values 0, 1, 1, 4.
    const m = hostMatrix(4, 1, Float32Array.from([1, 4, 0, 1]));
    const t = fitTransform("quantile", m);
    if (t.kind !== "quantile") throw new Error("kind");
    const z = [1, 3, 5, 7].map((k) => probit(k / 8));
    expect(t.values[0]).toEqual([0, 1, 1, 4]);
    const fwd = (v: number) => applyTransform(t, hostMatrix(1, 1, Float32Array.from([v]))).data[0]!;
    const inv = (w: number) => invertTransform(t, hostMatrix(1, 1, Float32Array.from([w]))).data[0]!;
    expect(fwd(0.5)).toBeCloseTo((z[0]! + z[1]!) / 2, 6);
    expect(fwd(1)).toBeCloseTo((z[1]! + z[2]!) / 2, 6);
    expect(fwd(2.5)).toBeCloseTo(z[2]! + 0.5 * (z[3]! - z[2]!), 6);
    expect(inv(z[2]! + 0.25 * (z[3]! - z[2]!))).toBeCloseTo(1.75, 5);
    expect(inv(0)).toBeCloseTo(1, 6);
  });

  it("continues the tails linearly for QUANTILE_TAIL units of z, then clamps", () => {
    const m = hostMatrix(4, 1, Float32Array.from([1, 4, 0, 1]));
    const t = fitTransform("quantile", m);
    const z = [1, 3, 5, 7].map((k) => probit(k / 8));
    const inv = (w: number) => invertTransform(t, hostMatrix(1, 1, Float32Array.from([w]))).data[0]!;
    const fwd = (v: number) => applyTransform(t, hostMatrix(1, 1, Float32Array.from([v]))).data[0]!;
    const sHi = 3 / (z[3]! - z[2]!);
    const sLo = 1 / (z[1]! - z[0]!);
    expect(inv(z[3]! + 0.5)).toBeCloseTo(4 + 0.5 * sHi, 4);
    expect(inv(z[3]! + 50)).toBeCloseTo(4 + QUANTILE_TAIL * sHi, 4);
    expect(inv(z[0]! - 0.25)).toBeCloseTo(-0.25 * sLo, 4);
    expect(inv(-50)).toBeCloseTo(-QUANTILE_TAIL * sLo, 4);
    expect(fwd(4 + 0.5 * sHi)).toBeCloseTo(z[3]! + 0.5, 5);
    expect(fwd(1e9)).toBeCloseTo(z[3]! + QUANTILE_TAIL, 5);
  });

  it("maps a constant column to 0 and back", () => {
    const m = hostMatrix(5, 1, Float32Array.from([7, 7, 7, 7, 7]));
    const t = fitTransform("quantile", m);
    expect(Array.from(applyTransform(t, m).data)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(invertTransform(t, hostMatrix(2, 1, Float32Array.from([-3, 2]))).data)).toEqual([7, 7]);
  });

  it("round-trips mixed columns (discrete, tiny and huge scales) to float32 rounding", () => {
    const m = mixedData(2500);
    const t = fitTransform("quantile", m);
    if (t.kind !== "quantile") throw new Error("kind");
    expect(t.normal).toHaveLength(QUANTILE_KNOTS);
    const z = applyTransform(t, m);
    const back = invertTransform(t, z);
    // Continuous columns round-trip; the discrete column (ties) does too, since its values are knots.
    expectRoundTrip(m, back);
  });
});

describe("none and errors", () => {
  it("none is the identity", () => {
    const m = mixedData(20);
    const t = fitTransform("none", m);
    expect(t).toEqual({ kind: "none" });
    expect(Array.from(applyTransform(t, m).data)).toEqual(Array.from(m.data));
    expect(Array.from(invertTransform(t, m).data)).toEqual(Array.from(m.data));
  });

  it("refuses a non-finite value naming the column and row, for every kind", () => {
    const m = hostMatrix(3, 2, Float32Array.from([1, 2, 3, NaN, 5, 6]));
    for (const kind of ["none", "standardize", "minmax", "quantile"] as const) {
      expect(() => fitTransform(kind, m, { where: "houses.csv", columns: ["price", "rooms"] })).toThrow(
        'houses.csv: column "rooms", row 2: non-finite value NaN cannot be transformed',
      );
    }
    expect(() => fitTransform("standardize", hostMatrix(1, 1, Float32Array.from([Infinity])))).toThrow("data: column 1, row 1: non-finite value Infinity");
  });

  it("refuses a width mismatch and a malformed stored transform, naming the key", () => {
    const t = fitTransform("standardize", mixedData(10));
    expect(() => applyTransform(t, hostMatrix(1, 3))).toThrow("the data transform (standardize) is for 4 columns, but the data has 3");
    const bad: DataTransform = { kind: "standardize", mean: [0, 0], std: [1, 0] };
    expect(() => checkTransform(bad, 2, "m.json")).toThrow("m.json: transform.std[1]: must be > 0, got 0");
    expect(() => checkTransform({ kind: "minmax", min: [0], max: [1] }, 2, "m.json")).toThrow("m.json: transform.min: 1 entries for 2 columns");
    expect(() => checkTransform({ kind: "quantile", normal: [0, -1], values: [[0, 1]] }, 1, "m.json")).toThrow("transform.normal: must be finite and strictly increasing");
    expect(() => checkTransform({ kind: "quantile", normal: [-1, 1], values: [[2, 1]] }, 1, "m.json")).toThrow("transform.values[0]: must be finite and non-decreasing");
  });
});

function skew(xs: readonly number[]): number {
  const n = xs.length;
  const mu = xs.reduce((s, v) => s + v, 0) / n;
  const m2 = xs.reduce((s, v) => s + (v - mu) ** 2, 0) / n;
  const m3 = xs.reduce((s, v) => s + (v - mu) ** 3, 0) / n;
  return m3 / m2 ** 1.5;
}
