/**
 * Descriptive statistics in float64 for metric reports: mean, standard deviation (n − 1 denominator),
 * standard error of the mean, and per-column mean / covariance of a host matrix.
 */
import type { HostMatrix } from "../data/matrix.js";

/** The {mean, std} pair report.json uses for a metric. */
export interface Summary {
  readonly mean: number;
  readonly std: number;
}

function nonEmpty(v: ArrayLike<number>, where: string): void {
  if (v.length === 0) throw new Error(`${where}: no values`);
}

/** Arithmetic mean. */
export function mean(v: ArrayLike<number>): number {
  nonEmpty(v, "mean");
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return s / v.length;
}

/** Sample variance with the n − 1 denominator (0 for a single value). */
export function variance(v: ArrayLike<number>): number {
  nonEmpty(v, "variance");
  if (v.length === 1) return 0;
  const m = mean(v);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i]! - m) ** 2;
  return s / (v.length - 1);
}

/** Sample standard deviation (n − 1 denominator). */
export function std(v: ArrayLike<number>): number {
  return Math.sqrt(variance(v));
}

/** Standard error of the mean, std / √n. */
export function standardError(v: ArrayLike<number>): number {
  return std(v) / Math.sqrt(v.length);
}

/** {mean, std} of the values. */
export function summary(v: ArrayLike<number>): Summary {
  return { mean: mean(v), std: std(v) };
}

/** Per-column means of an n×D matrix. */
export function columnMeans(m: HostMatrix): number[] {
  if (m.rows === 0) throw new Error("columnMeans: no rows");
  const out = new Array<number>(m.cols).fill(0);
  for (let r = 0; r < m.rows; r++) for (let j = 0; j < m.cols; j++) out[j]! += m.data[r * m.cols + j]!;
  return out.map((s) => s / m.rows);
}

/** Sample covariance (n − 1 denominator) of the columns of an n×D matrix (n ≥ 2). */
export function covariance(m: HostMatrix): number[][] {
  if (m.rows < 2) throw new Error(`covariance: needs at least 2 rows, got ${m.rows}`);
  const mu = columnMeans(m);
  const d = m.cols;
  const out = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const c = new Float64Array(d);
  for (let r = 0; r < m.rows; r++) {
    for (let j = 0; j < d; j++) c[j] = m.data[r * d + j]! - mu[j]!;
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) out[i]![j]! += c[i]! * c[j]!;
  }
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      out[i]![j]! /= m.rows - 1;
      out[j]![i] = out[i]![j]!;
    }
  }
  return out;
}
