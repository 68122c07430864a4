/**
 * The one softmax / categorical selection ∝ exp(v/α) on the host (methods.md: SVDD's candidate pick,
 * best-of-N "softmax", RGDM's payoff draw, reward-weighted regression's weights). Float64, max-shifted.
 */

/**
 * softmax(v/α) of `count` values v_k = values[offset + k·stride] (max-shifted, float64), written into
 * `out` (length ≥ count). Returns the normaliser Σ_k exp((v_k − max)/α) so callers may skip dividing.
 */
function shiftedExp(values: ArrayLike<number>, count: number, alpha: number, out: Float64Array, offset = 0, stride = 1): number {
  let max = -Infinity;
  for (let k = 0; k < count; k++) max = Math.max(max, values[offset + k * stride]!);
  let total = 0;
  for (let k = 0; k < count; k++) total += out[k] = Math.exp((values[offset + k * stride]! - max) / alpha);
  return total;
}

/** softmax(v/α): weights summing to 1 (max-shifted, in float64). */
export function softmaxWeights(values: ArrayLike<number>, alpha: number): Float64Array {
  const w = new Float64Array(values.length);
  const total = shiftedExp(values, values.length, alpha, w);
  for (let i = 0; i < w.length; i++) w[i]! /= total;
  return w;
}

/**
 * For each of n rows, one of M candidates with probability ∝ exp(v/α), v[m·n + i] being candidate m of
 * row i; α = 0 keeps the arg-max (the first on ties). `uniform(i)` ∈ [0, 1) drives row i's inverse-CDF
 * draw (called once per row, in order, only when α > 0).
 */
export function selectCandidateRows(values: ArrayLike<number>, n: number, M: number, alpha: number, uniform: (row: number) => number): Int32Array {
  if (values.length !== n * M) throw new Error(`selection: ${values.length} values for ${n} rows × ${M} candidates`);
  const pick = new Int32Array(n);
  const w = new Float64Array(M);
  for (let i = 0; i < n; i++) {
    if (!(alpha > 0)) {
      let best = 0;
      for (let m = 1; m < M; m++) if (values[m * n + i]! > values[best * n + i]!) best = m;
      pick[i] = best;
      continue;
    }
    const total = shiftedExp(values, M, alpha, w, i, n);
    const target = uniform(i) * total;
    let acc = 0;
    let chosen = M - 1;
    for (let m = 0; m < M; m++) {
      acc += w[m]!;
      if (target < acc) {
        chosen = m;
        break;
      }
    }
    pick[i] = chosen;
  }
  return pick;
}

/** Σ_m softmax(v/α)_m · c_m per row: the expected selected candidate (`cand` is [M·n, dim], row m·n + i). */
export function softmaxAverageRows(cand: ArrayLike<number>, values: ArrayLike<number>, n: number, M: number, dim: number, alpha: number): Float64Array {
  if (values.length !== n * M) throw new Error(`selection: ${values.length} values for ${n} rows × ${M} candidates`);
  const out = new Float64Array(n * dim);
  const w = new Float64Array(M);
  for (let i = 0; i < n; i++) {
    const total = shiftedExp(values, M, alpha, w, i, n);
    for (let m = 0; m < M; m++) for (let j = 0; j < dim; j++) out[i * dim + j]! += (w[m]! / total) * cand[(m * n + i) * dim + j]!;
  }
  return out;
}
