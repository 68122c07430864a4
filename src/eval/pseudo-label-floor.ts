/**
 * The error a conditional model trained on pseudo-labels would still make if it sampled its training law exactly
 * (RCGDM, 2307.07055): with pseudo-labels ŷ = f̂(x) + ν ξ on a pool of molecules x, the law at condition a is
 * p(x | ŷ = a) ∝ p(x) φ((a − f̂(x)) / ν), so over the pool, with weights w(x) = φ((a − f̂(x)) / ν) and the oracle
 * property y(x), the target error E_w|y − a| of a perfect model is its floor (f̂'s error and ν put it above 0).
 */

/** The target error of the pseudo-label law at a (weighted over the pool), beside what it rests on. */
export interface PseudoLabelFloor {
  /** E_w|y − a|: the mean absolute error to a of a model that samples p(x | ŷ = a) exactly. */
  mae: number;
  /** E_w[y] − a. */
  bias: number;
  /** sd_w(y). */
  std: number;
  /** (Σw)² / Σw²: how many pool molecules the law at a effectively rests on (≈ 1 outside the data's range). */
  effectiveN: number;
}

/**
 * The effective pool size below which a floor is not shown (tables print "—"): beyond the labels' range the law
 * at a rests on the few molecules whose f̂ lies nearest to a, and their |y − a| says nothing about a model.
 */
export const MIN_FLOOR_SUPPORT = 10;

/** Whether a floor rests on enough of the pool to be shown ({@link MIN_FLOOR_SUPPORT}). */
export const floorIsSupported = (floor: Pick<PseudoLabelFloor, "effectiveN">): boolean => floor.effectiveN >= MIN_FLOOR_SUPPORT;

/**
 * The floor at target a over a pool with oracle values `y` and reward-model values `fHat` (same length, ≥ 1),
 * for pseudo-label noise ν > 0. Weights are taken relative to the largest, so a target far outside the pool's
 * range still gives finite numbers (resting on the nearest molecules: effectiveN ≈ 1).
 */
export function pseudoLabelFloor(y: ArrayLike<number>, fHat: ArrayLike<number>, nu: number, a: number): PseudoLabelFloor {
  const n = y.length;
  if (n === 0 || fHat.length !== n) throw new Error(`pseudoLabelFloor: y has ${n} values and fHat ${fHat.length}; need the same number, at least 1`);
  if (!(nu > 0)) throw new Error(`pseudoLabelFloor: ν must be > 0, got ${nu}`);
  // w(x) = φ((a − f̂(x)) / ν) relative to the largest: log-weights first, then the weights in place.
  const w = Float64Array.from({ length: n }, (_, i) => -0.5 * ((a - fHat[i]!) / nu) ** 2);
  const top = w.reduce((m, v) => Math.max(m, v), -Infinity);
  let sw = 0;
  let sw2 = 0;
  let absErr = 0;
  let m1 = 0;
  for (let i = 0; i < n; i++) {
    w[i] = Math.exp(w[i]! - top);
    sw += w[i]!;
    sw2 += w[i]! * w[i]!;
    absErr += w[i]! * Math.abs(y[i]! - a);
    m1 += w[i]! * y[i]!;
  }
  const meanY = m1 / sw;
  let m2 = 0;
  for (let i = 0; i < n; i++) m2 += w[i]! * (y[i]! - meanY) ** 2;
  return { mae: absErr / sw, bias: meanY - a, std: Math.sqrt(m2 / sw), effectiveN: (sw * sw) / sw2 };
}
