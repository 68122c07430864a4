/**
 * The evaluation protocol of EDM's conditional generation (Hoogeboom et al. 2022, "E(3) Equivariant Diffusion
 * for Molecule Generation in 3D", §5 "Conditional generation"; docs/molecules.md "RCGDM on a DFT property"):
 * the labelled molecules are split into two halves; one trains the models that generate (here: the reward
 * model f̂ of the pseudo-labels), the other an independent property evaluator φ. A generator is scored by the
 * MAE between φ of its samples and the targets they were conditioned on, between two bounds:
 *  - lower bound: φ's MAE on real molecules it never saw, against their true labels (EDM's "QM9 (lower bound)");
 *  - upper bound: the same MAE with the labels shuffled, |φ(x_i) − y_π(i)| for a seeded permutation π (EDM's
 *    "Naive (upper bound)": no information between molecule and label).
 */
import { permutation } from "../data/permutation.js";

/** Index sets of {@link labelHalves}: each half, its part that fits a model and its held-out part. */
export interface LabelHalves {
  /** Half A (fits f̂): indices into the labelled set, fit part and held-out part. */
  a: Int32Array;
  aHeld: Int32Array;
  /** Half B (fits the evaluator φ). */
  b: Int32Array;
  bHeld: Int32Array;
}

/**
 * A seeded split of n labelled items into halves A (the first ⌊n/2⌋ of a random permutation) and B (the
 * rest), each cut into a fit part and a held-out part of round(heldOut · size) items (its last ones).
 */
export function labelHalves(n: number, seed: number, heldOut: number): LabelHalves {
  if (!(Number.isInteger(n) && n >= 8)) throw new Error(`label halves: need a whole number ≥ 8 of labelled items, got ${n}`);
  if (!(heldOut > 0 && heldOut < 1)) throw new Error(`label halves: heldOut must lie strictly between 0 and 1, got ${heldOut}`);
  const order = permutation(n, seed);
  const half = Math.floor(n / 2);
  const cut = (part: Int32Array) => {
    const keep = part.length - Math.round(heldOut * part.length);
    return [part.slice(0, keep), part.slice(keep)] as const;
  };
  const [a, aHeld] = cut(order.subarray(0, half));
  const [b, bHeld] = cut(order.subarray(half));
  return { a, aHeld, b, bHeld };
}

/** Mean absolute error, mean_i |p_i − y_i|. */
export function meanAbsoluteError(pred: ArrayLike<number>, y: ArrayLike<number>): number {
  if (pred.length !== y.length) throw new Error(`mean absolute error: ${pred.length} predictions for ${y.length} labels`);
  if (pred.length === 0) throw new Error("mean absolute error: no values");
  let s = 0;
  for (let i = 0; i < y.length; i++) s += Math.abs(pred[i]! - y[i]!);
  return s / y.length;
}

/** The upper bound: mean_i |p_i − y_π(i)| for the permutation π = permutation(n, seed). */
export function shuffledMae(pred: ArrayLike<number>, y: ArrayLike<number>, seed: number): number {
  if (pred.length !== y.length) throw new Error(`shuffled MAE: ${pred.length} predictions for ${y.length} labels`);
  const pi = permutation(y.length, seed);
  return meanAbsoluteError(pred, Array.from(pi, (j) => y[j]!));
}
