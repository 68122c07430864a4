/**
 * Reading a training loop's losses without a synchronous device read: the loop hands over each step's
 * device loss, and every `every` steps they are read back asynchronously together. A non-finite loss
 * among those read stops the run (divergence is caught at most `every − 1` steps late).
 */
import type { JArray } from "../backend/jax.js";

export interface StepLoss {
  /** The optimizer step (1-based: the loss of the k-th update). */
  step: number;
  loss: number;
}

export class LossLog {
  private pending: { step: number; loss: JArray }[] = [];

  /**
   * @param every read back after this many steps (≥ 1)
   * @param diverged the error to throw for the first non-finite loss read
   */
  constructor(
    private readonly every: number,
    private readonly diverged: (step: number, loss: number) => Error,
  ) {
    if (!(Number.isInteger(every) && every >= 1)) throw new Error(`logEvery must be a whole number ≥ 1, got ${every}`);
  }

  /** Records step `step`'s loss (consumed); reads the batch back when `every` are waiting (else returns []). */
  async push(step: number, loss: JArray): Promise<StepLoss[]> {
    this.pending.push({ step, loss });
    return this.pending.length >= this.every ? this.flush() : [];
  }

  /** Reads every waiting loss back (in step order). */
  async flush(): Promise<StepLoss[]> {
    const batch = this.pending;
    this.pending = [];
    const values = await Promise.all(batch.map((p) => p.loss.data()));
    const out = batch.map((p, i) => ({ step: p.step, loss: Number(values[i]![0]) }));
    const bad = out.find((p) => !Number.isFinite(p.loss));
    if (bad) throw this.diverged(bad.step, bad.loss);
    return out;
  }

  /** Releases the losses not read yet (a loop that stops early). */
  dispose(): void {
    for (const p of this.pending) p.loss.dispose();
    this.pending = [];
  }
}
