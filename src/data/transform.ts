/**
 * Per-feature data transforms (docs/config.md, "Your own data: the data transform"): a map fitted on the
 * training rows, column by column, that puts every feature on a unit scale before training; sampling
 * inverts it, so samples, rewards and evaluations are in data units. Fits run on the host in float64;
 * results are float32 (HostMatrix). A fitted transform is plain JSON, stored in the model checkpoint.
 *
 *  - `none`: the identity (built-in tasks are unit-scale already).
 *  - `standardize`: z = (x − mean) / std (population std). A constant column (std = 0) takes std = 1, so
 *    it maps to 0 and back to its constant.
 *  - `minmax`: z = 2 (x − min) / (max − min) − 1, the data's range onto [−1, 1]. A constant column maps to
 *    0 and back (half-range 1).
 *  - `quantile` (Gaussianising, as scikit-learn's QuantileTransformer with a normal output): the column's
 *    empirical quantiles v_k at K = min(n, 1000) Hazen levels p_k from 0.5/n to 1 − 0.5/n (the data's
 *    minimum to its maximum) are paired with z_k = Φ⁻¹(p_k); the map is the monotone piecewise-linear
 *    interpolation between the knots (v_k, z_k), its inverse the same with the roles swapped. Tied knots
 *    (repeated values) map to the middle of their z-range. Tails: beyond the extreme knots the map
 *    continues linearly with the slope from the end knot to the nearest distinct value, for at most
 *    {@link QUANTILE_TAIL} units of z (model space); further out it is clamped, so a stray sample maps to
 *    at most that far beyond the data's range instead of anywhere.
 */
import { hostMatrix, type HostMatrix } from "./matrix.js";

export const TRANSFORM_KINDS = ["none", "standardize", "minmax", "quantile"] as const;
export type TransformKind = (typeof TRANSFORM_KINDS)[number];

/** Knots per column of a quantile transform (at most; fewer when there are fewer rows). */
export const QUANTILE_KNOTS = 1000;
/** How far (in z) a quantile transform extends linearly beyond its extreme knots before clamping. */
export const QUANTILE_TAIL = 1;

/** A fitted transform (serialisable JSON); arrays have one entry per column. */
export type DataTransform =
  | { kind: "none" }
  | { kind: "standardize"; mean: number[]; std: number[] }
  | { kind: "minmax"; min: number[]; max: number[] }
  | { kind: "quantile"; normal: number[]; values: number[][] };

export const IDENTITY_TRANSFORM: DataTransform = { kind: "none" };

/** Names column c (1-based, with its name when known) in messages. */
function columnName(c: number, columns?: readonly string[]): string {
  return columns?.[c] !== undefined ? `column ${JSON.stringify(columns[c])}` : `column ${c + 1}`;
}

/**
 * Fits a transform of `kind` on the rows of `m`. Non-finite values are refused naming the column and
 * row (`where` prefixes the message: the file or option); `columns` names the columns.
 */
export function fitTransform(kind: TransformKind, m: HostMatrix, opts: { where?: string; columns?: readonly string[] } = {}): DataTransform {
  const where = opts.where ?? "data";
  if (!(TRANSFORM_KINDS as readonly string[]).includes(kind)) throw new Error(`${where}: unknown transform "${String(kind)}" (${TRANSFORM_KINDS.join(", ")})`);
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i]!;
    if (!Number.isFinite(v)) {
      throw new Error(`${where}: ${columnName(i % m.cols, opts.columns)}, row ${Math.floor(i / m.cols) + 1}: non-finite value ${v} cannot be transformed`);
    }
  }
  if (kind === "none") return { kind };
  if (m.rows < 1) throw new Error(`${where}: no rows to fit the ${kind} transform on`);
  const cols = Array.from({ length: m.cols }, (_, c) => column(m, c));
  switch (kind) {
    case "standardize": {
      const mean = cols.map((x) => x.reduce((s, v) => s + v, 0) / x.length);
      const std = cols.map((x, c) => {
        const sd = Math.sqrt(x.reduce((s, v) => s + (v - mean[c]!) ** 2, 0) / x.length);
        return sd > 0 ? sd : 1;
      });
      return { kind, mean, std };
    }
    case "minmax":
      return { kind, min: cols.map((x) => x.reduce((a, v) => Math.min(a, v), Infinity)), max: cols.map((x) => x.reduce((a, v) => Math.max(a, v), -Infinity)) };
    case "quantile": {
      const n = m.rows;
      const K = Math.min(n, QUANTILE_KNOTS);
      // Hazen levels p_k = 0.5/n + k (1 − 1/n)/(K − 1): the first and last are the data's min and max.
      const levels = K === 1 ? [0.5] : Array.from({ length: K }, (_, k) => 0.5 / n + (k * (1 - 1 / n)) / (K - 1));
      const normal = levels.map(normalQuantile);
      const values = cols.map((x) => {
        const s = Float64Array.from(x).sort();
        return levels.map((p) => hazenQuantile(s, p));
      });
      return { kind, normal, values };
    }
  }
}

/** Column c of `m` as float64. */
function column(m: HostMatrix, c: number): Float64Array {
  const out = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) out[r] = m.data[r * m.cols + c]!;
  return out;
}

/** The Hazen quantile of sorted values at level p: x_(i) sits at (i − 0.5)/n, linear in between. */
function hazenQuantile(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  const h = Math.min(Math.max(n * p + 0.5, 1), n) - 1;
  const i = Math.floor(h);
  const f = h - i;
  return i + 1 < n ? sorted[i]! + f * (sorted[i + 1]! - sorted[i]!) : sorted[i]!;
}

/** Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, relative error < 1.2e−9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** The number of columns a fitted transform is for (undefined for `none`, which fits any width). */
export function transformColumns(t: DataTransform): number | undefined {
  switch (t.kind) {
    case "none":
      return undefined;
    case "standardize":
      return t.mean.length;
    case "minmax":
      return t.min.length;
    case "quantile":
      return t.values.length;
  }
}

/**
 * Checks a transform read from a file (its JSON shape is checked by the caller's schema): lengths,
 * finiteness, positive scales, ordered knots. Throws `where: at.key: …` naming the key.
 */
export function checkTransform(t: DataTransform, cols: number, where: string, at = "transform"): void {
  const fail = (key: string, what: string): never => {
    throw new Error(`${where}: ${at}.${key}: ${what}`);
  };
  const finite = (key: string, xs: readonly number[]): void => {
    if (xs.length !== cols) fail(key, `${xs.length} entries for ${cols} columns`);
    const i = xs.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) fail(`${key}[${i}]`, `not a finite number`);
  };
  switch (t.kind) {
    case "none":
      return;
    case "standardize": {
      finite("mean", t.mean);
      finite("std", t.std);
      const i = t.std.findIndex((s) => !(s > 0));
      if (i >= 0) fail(`std[${i}]`, `must be > 0, got ${t.std[i]}`);
      return;
    }
    case "minmax": {
      finite("min", t.min);
      finite("max", t.max);
      const i = t.min.findIndex((v, c) => !(v <= t.max[c]!));
      if (i >= 0) fail(`min[${i}]`, `${t.min[i]} exceeds max[${i}] ${t.max[i]}`);
      return;
    }
    case "quantile": {
      const K = t.normal.length;
      if (K < 1) fail("normal", "no knots");
      if (t.normal.some((v, k) => !Number.isFinite(v) || (k > 0 && !(v > t.normal[k - 1]!)))) fail("normal", "must be finite and strictly increasing");
      if (t.values.length !== cols) fail("values", `${t.values.length} columns for ${cols}`);
      t.values.forEach((vs, c) => {
        if (vs.length !== K) fail(`values[${c}]`, `${vs.length} knots, but normal has ${K}`);
        if (vs.some((v, k) => !Number.isFinite(v) || (k > 0 && !(v >= vs[k - 1]!)))) fail(`values[${c}]`, "must be finite and non-decreasing");
      });
      return;
    }
  }
}

/** Applies `t` to every row of `m` (data units → model space). Returns a new matrix. */
export function applyTransform(t: DataTransform, m: HostMatrix): HostMatrix {
  return mapColumns(t, m, "apply");
}

/** Inverts `t` on every row of `m` (model space → data units). Returns a new matrix. */
export function invertTransform(t: DataTransform, m: HostMatrix): HostMatrix {
  return mapColumns(t, m, "invert");
}

function mapColumns(t: DataTransform, m: HostMatrix, dir: "apply" | "invert"): HostMatrix {
  const want = transformColumns(t);
  if (want !== undefined && want !== m.cols) throw new Error(`the data transform (${t.kind}) is for ${want} columns, but the data has ${m.cols}`);
  if (t.kind === "none") return hostMatrix(m.rows, m.cols, Float32Array.from(m.data));
  const f = Array.from({ length: m.cols }, (_, c) => columnMap(t, c, dir));
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f[i % m.cols]!(m.data[i]!);
  return hostMatrix(m.rows, m.cols, out);
}

/** The float64 map of column c in direction `dir`. */
function columnMap(t: Exclude<DataTransform, { kind: "none" }>, c: number, dir: "apply" | "invert"): (v: number) => number {
  switch (t.kind) {
    case "standardize": {
      const mu = t.mean[c]!;
      const sd = t.std[c]!;
      return dir === "apply" ? (v) => (v - mu) / sd : (v) => v * sd + mu;
    }
    case "minmax": {
      const lo = t.min[c]!;
      const half = t.max[c]! > lo ? (t.max[c]! - lo) / 2 : 1;
      const mid = t.max[c]! > lo ? lo + half : lo;
      return dir === "apply" ? (v) => (v - mid) / half : (v) => v * half + mid;
    }
    case "quantile": {
      const z = t.normal;
      const x = t.values[c]!;
      const tails = tailSlopes(x, z);
      return dir === "apply" ? (v) => quantileForward(x, z, tails, v) : (v) => quantileInverse(x, z, tails, v);
    }
  }
}

/**
 * The tail slopes dx/dz at both ends: from the end knot to the nearest knot with a different value
 * (0 for a constant column).
 */
function tailSlopes(x: readonly number[], z: readonly number[]): [number, number] {
  const K = x.length;
  let i = 0;
  while (i < K - 1 && x[i] === x[0]) i++;
  let j = K - 1;
  while (j > 0 && x[j] === x[K - 1]) j--;
  const lo = x[i]! > x[0]! ? (x[i]! - x[0]!) / (z[i]! - z[0]!) : 0;
  const hi = x[K - 1]! > x[j]! ? (x[K - 1]! - x[j]!) / (z[K - 1]! - z[j]!) : 0;
  return [lo, hi];
}

/** Data value → z: interpolation between knots (ties: the middle of their z-range), linear tails, clamped. */
function quantileForward(x: readonly number[], z: readonly number[], [sLo, sHi]: [number, number], v: number): number {
  const K = x.length;
  if (v < x[0]!) return sLo > 0 ? Math.max(z[0]! - (x[0]! - v) / sLo, z[0]! - QUANTILE_TAIL) : (z[0]! + z[K - 1]!) / 2;
  if (v > x[K - 1]!) return sHi > 0 ? Math.min(z[K - 1]! + (v - x[K - 1]!) / sHi, z[K - 1]! + QUANTILE_TAIL) : (z[0]! + z[K - 1]!) / 2;
  // lo = first knot ≥ v, hi = last knot ≤ v.
  let a = 0, b = K;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (x[mid]! < v) a = mid + 1;
    else b = mid;
  }
  const lo = a;
  a = 0;
  b = K;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (x[mid]! <= v) a = mid + 1;
    else b = mid;
  }
  const hi = a - 1;
  if (lo <= hi) return (z[lo]! + z[hi]!) / 2;
  // x[hi] < v < x[lo] with lo = hi + 1.
  return z[hi]! + ((v - x[hi]!) / (x[lo]! - x[hi]!)) * (z[lo]! - z[hi]!);
}

/** z → data value: interpolation between knots, linear tails up to QUANTILE_TAIL, clamped beyond. */
function quantileInverse(x: readonly number[], z: readonly number[], [sLo, sHi]: [number, number], w: number): number {
  const K = x.length;
  if (w <= z[0]!) return x[0]! - sLo * Math.min(z[0]! - w, QUANTILE_TAIL);
  if (w >= z[K - 1]!) return x[K - 1]! + sHi * Math.min(w - z[K - 1]!, QUANTILE_TAIL);
  let a = 0, b = K - 1;
  while (b - a > 1) {
    const mid = (a + b) >> 1;
    if (z[mid]! <= w) a = mid;
    else b = mid;
  }
  return x[a]! + ((w - z[a]!) / (z[b]! - z[a]!)) * (x[b]! - x[a]!);
}
