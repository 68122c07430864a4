/**
 * Learning-rate schedules (host-side numbers: the rate for optimizer step k, 0-based, out of `total`)
 * and the transform that scales the updates by it as a traced scalar.
 */
import { stateless, type GradientTransformation } from "./transform.js";

export type LrScheduleKind = "constant" | "cosine" | "warmup-cosine";

export interface LrSchedule {
  kind: LrScheduleKind;
  /** Peak learning rate. */
  lr: number;
  total: number;
  /** Linear warm-up steps (warmup-cosine; also honoured by the others when > 0). */
  warmup: number;
  /** Final rate as a fraction of the peak (cosine schedules). */
  finalFraction?: number;
}

/** lr(k): linear warm-up to the peak over `warmup` steps, then constant or half-cosine decay. */
export function learningRate(s: LrSchedule, k: number): number {
  if (s.warmup > 0 && k < s.warmup) return (s.lr * (k + 1)) / s.warmup;
  if (s.kind === "constant") return s.lr;
  const span = Math.max(1, s.total - s.warmup);
  const progress = Math.min(1, Math.max(0, (k - s.warmup) / span));
  const floor = s.finalFraction ?? 0;
  return s.lr * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** A learning rate as a function of the optimizer step k (0-based). */
export type RateFn = (step: number) => number;

/** k ↦ lr. */
export function constantRate(lr: number): RateFn {
  return () => lr;
}

/** k ↦ learningRate(s, k). */
export function scheduleRate(s: LrSchedule): RateFn {
  return (k) => learningRate(s, k);
}

/** The name of the traced learning-rate scalar in a step's scalars. */
export const LR_SCALAR = "lr";

/**
 * u ← −lr_k · u, with lr_k = rate(k) computed on the host and passed in as a traced scalar (a schedule
 * never recompiles the step).
 */
export function scaleByLearningRate(rate: RateFn): GradientTransformation {
  return stateless(
    (u, _p, sc) => u.mul(sc[LR_SCALAR]!.ref.mul(-1)),
    (k) => ({ [LR_SCALAR]: rate(k) }),
  );
}
