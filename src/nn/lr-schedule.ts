/** Learning-rate schedules: the rate for optimizer step k (0-based) out of `total`. Host-side numbers. */

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
