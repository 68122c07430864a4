/**
 * Reading a training loop's losses without a synchronous device read: the loop hands over each step's
 * device loss, and every `every` steps they are read back asynchronously together. A diverged loss
 * among those read (non-finite or exploding: ./divergence.ts) stops the run, at most `every − 1` steps late.
 * Every step is still awaited (`blockUntilReady`, no copy to the host): jax-js defers work until a result is
 * needed, so steps left unawaited pile up with all their buffers (measured: logEvery 200 made a small MLP's
 * step 62× slower and grew the process to 2.6 GB, until the 4 GiB wasm limit; test/optim-loss-log.test.ts).
 */
import type { JArray } from "../backend/jax.js";
import { DivergenceDetector, type Divergence } from "./divergence.js";

export interface StepLoss {
  /** The optimizer step (1-based: the loss of the k-th update). */
  step: number;
  loss: number;
}

export class LossLog {
  private pending: { step: number; loss: JArray }[] = [];
  private readonly detector = new DivergenceDetector();

  /**
   * @param every read back after this many steps (≥ 1)
   * @param diverged the error to throw for the first diverged loss read (see ./divergence.ts)
   */
  constructor(
    private readonly every: number,
    private readonly diverged: (step: number, loss: number, d: Divergence) => Error,
  ) {
    if (!(Number.isInteger(every) && every >= 1)) throw new Error(`logEvery must be a whole number ≥ 1, got ${every}`);
  }

  /** Records step `step`'s loss (consumed); reads the batch back when `every` are waiting (else returns []). */
  async push(step: number, loss: JArray): Promise<StepLoss[]> {
    this.pending.push({ step, loss });
    if (this.pending.length >= this.every) return this.flush();
    await loss.blockUntilReady();
    return [];
  }

  /** Reads every waiting loss back (in step order). */
  async flush(): Promise<StepLoss[]> {
    const batch = this.pending;
    this.pending = [];
    const values = await Promise.all(batch.map((p) => p.loss.data()));
    const out = batch.map((p, i) => ({ step: p.step, loss: Number(values[i]![0]) }));
    for (const p of out) {
      const d = this.detector.observe(p.step, p.loss);
      if (d) throw this.diverged(d.step, d.loss, d);
    }
    return out;
  }

  /** Releases the losses not read yet (a loop that stops early). */
  dispose(): void {
    for (const p of this.pending) p.loss.dispose();
    this.pending = [];
  }
}
