/**
 * When a training run has diverged (docs/config.md, "Divergence"): a loss that is not finite, or one whose
 * magnitude exceeds {@link DIVERGENCE_FACTOR} × max(|L₁|, 1), L₁ being the run's first loss read. L₁ is
 * computed at the starting parameters, before any update of this run, so the reference does not depend
 * on the learning rate that makes a run explode (with `--lr 1e6` the second loss is already ~1e12). The
 * floor of 1 keeps a run that starts near a perfect fit from tripping on ordinary noise; every loss of
 * the library is O(1) at initialisation (ε-MSE on standardised data, cross-entropy, standardised
 * regression). Used by the one loss reader, ./loss-log.ts, so every loop built on runSteps gets it.
 */

/** A loss this many times the reference stops the run. */
export const DIVERGENCE_FACTOR = 1e4;

/** What tripped the detector. */
export interface Divergence {
  /** The 1-based optimizer step whose loss tripped it. */
  step: number;
  loss: number;
  /** The run's first loss and its step (undefined when that very loss was non-finite). */
  reference?: { step: number; loss: number };
}

/** Watches a run's losses in step order; `observe` returns the first divergence (or undefined). */
export class DivergenceDetector {
  private reference: { step: number; loss: number } | undefined;

  observe(step: number, loss: number): Divergence | undefined {
    if (!Number.isFinite(loss)) return { step, loss, ...(this.reference ? { reference: this.reference } : {}) };
    if (this.reference === undefined) {
      this.reference = { step, loss };
      return undefined;
    }
    const limit = DIVERGENCE_FACTOR * Math.max(Math.abs(this.reference.loss), 1);
    return Math.abs(loss) > limit ? { step, loss, reference: this.reference } : undefined;
  }
}

/** "is NaN" / "grew from 0.98 (step 1) to 2.1e+29": the loss part of a divergence message. */
export function describeDivergence(d: Divergence): string {
  const show = (v: number) => (Number.isFinite(v) ? v.toPrecision(3) : String(v));
  if (!Number.isFinite(d.loss) || d.reference === undefined) return `the loss is ${show(d.loss)}`;
  return `the loss grew from ${show(d.reference.loss)} (step ${d.reference.step}) to ${show(d.loss)}`;
}
