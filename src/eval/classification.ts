/**
 * Classification metrics of requested labels against true labels (CTRL's evaluation, 2406.12120: the
 * label a sample was generated for vs the class the ground-truth labeler gives it):
 *  - confusion matrix M[i][j] = #{true = i, predicted = j};
 *  - accuracy = Σ_i M[i][i] / n;
 *  - per class k: precision = M[k][k] / Σ_i M[i][k], recall = M[k][k] / Σ_j M[k][j],
 *    F1 = 2 · precision · recall / (precision + recall) (0 when both are 0);
 *  - macro-F1 = mean over classes of F1. A class with no true and no predicted rows has undefined
 *    precision/recall (null) and is left out of the macro average (sklearn's zero_division aside, this is
 *    the only reading that does not depend on a convention); a class that is predicted but never true
 *    (or the reverse) has F1 0.
 */

export interface ClassMetrics {
  /** Precision of class k (null when nothing was predicted as k). */
  precision: number | null;
  /** Recall of class k (null when no row is truly k). */
  recall: number | null;
  /** F1 of class k (null when the class is absent from both). */
  f1: number | null;
  /** Rows whose true class is k. */
  support: number;
}

export interface ClassificationReport {
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[i][j] = rows with true class i predicted as j. */
  confusion: number[][];
}

function checkLabels(v: ArrayLike<number>, classes: number, what: string): void {
  for (let i = 0; i < v.length; i++) {
    const y = v[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      throw new Error(`classification metrics: ${what}[${i}] = ${y} is not a class in 0..${classes - 1}`);
    }
  }
}

/** confusion[i][j] = #{truth = i, predicted = j}. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`classification metrics: classes must be a whole number ≥ 1, got ${classes}`);
  if (truth.length !== predicted.length) {
    throw new Error(`classification metrics: ${truth.length} true labels but ${predicted.length} predicted labels`);
  }
  checkLabels(truth, classes, "truth");
  checkLabels(predicted, classes, "predicted");
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]!]![predicted[i]!]!++;
  return m;
}

/** Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix. Needs at least one row. */
export function classificationReport(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): ClassificationReport {
  const confusion = confusionMatrix(truth, predicted, classes);
  const n = truth.length;
  if (n === 0) throw new Error("classification metrics: no rows to evaluate");
  let correct = 0;
  const perClass: ClassMetrics[] = [];
  for (let k = 0; k < classes; k++) {
    correct += confusion[k]![k]!;
    const tp = confusion[k]![k]!;
    let predictedK = 0;
    let trueK = 0;
    for (let i = 0; i < classes; i++) {
      predictedK += confusion[i]![k]!;
      trueK += confusion[k]![i]!;
    }
    const precision = predictedK > 0 ? tp / predictedK : null;
    const recall = trueK > 0 ? tp / trueK : null;
    let f1: number | null;
    if (predictedK === 0 && trueK === 0) f1 = null;
    else if (tp === 0) f1 = 0;
    else f1 = (2 * precision! * recall!) / (precision! + recall!);
    perClass.push({ precision, recall, f1, support: trueK });
  }
  const f1s = perClass.map((c) => c.f1).filter((f): f is number => f !== null);
  return { n, accuracy: correct / n, macroF1: f1s.reduce((a, b) => a + b, 0) / f1s.length, perClass, confusion };
}

/**
 * Expected calibration error with `bins` equal-width bins of the confidence max_k p̂_k:
 * ECE = Σ_b (n_b / n) |acc_b − conf_b|. `probs` is row-major [n, classes].
 */
export function expectedCalibrationError(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number, bins = 15): number {
  const n = labels.length;
  if (probs.length !== n * classes) throw new Error(`expected calibration error: ${probs.length} probabilities for ${n} rows × ${classes} classes`);
  if (n === 0) throw new Error("expected calibration error: no rows");
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`expected calibration error: bins must be a whole number ≥ 1, got ${bins}`);
  checkLabels(labels, classes, "labels");
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const hit = new Float64Array(bins);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probs[r * classes + k]! > probs[r * classes + best]!) best = k;
    const c = probs[r * classes + best]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(c * bins)));
    count[b]!++;
    conf[b]! += c;
    if (best === labels[r]) hit[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(hit[b]! - conf[b]!) / n;
  return ece;
}
