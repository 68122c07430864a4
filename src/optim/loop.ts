/**
 * The plain training loop around a built step: batch k from the caller, one jitted step, the loss read
 * back asynchronously every `logEvery` steps (./loss-log.ts), which stops a diverged run (./divergence.ts). Continues from `state.step`, so a loop
 * stopped at N and resumed runs exactly the steps of an uninterrupted one.
 */
import type { JArray } from "../backend/jax.js";
import type { Params } from "../nn/params.js";
import type { Divergence } from "./divergence.js";
import { LossLog, type StepLoss } from "./loss-log.js";
import { disposeTrainStepState, type TrainStep, type TrainStepState } from "./train-step.js";
import type { OptState } from "./transform.js";
import { nextTask, YIELD_MS } from "../backend/event-loop.js";

export interface RunStepsOptions {
  /** Run until `state.step` reaches this. */
  until: number;
  /** The arrays of batch k (0-based optimizer step), consumed by the step. */
  batch: (step: number) => JArray[];
  /** Read the losses back every this many steps (default 1). */
  logEvery?: number;
  /** Called for every step once its loss has been read. */
  onLoss?: (p: StepLoss) => void;
  /** The error for a diverged loss (non-finite or exploding, ./divergence.ts) at (1-based) step `step`. */
  diverged: (step: number, loss: number, d: Divergence) => Error;
  /** Checked before every step: true stops the loop there (the state is returned as it is). */
  stop?: () => boolean;
}

/** Runs the steps; consumes `state` (released if the run fails) and returns the new one with every loss. */
export async function runSteps<P extends Params, O extends OptState>(
  trainer: TrainStep<P, O>,
  state: TrainStepState<P, O>,
  o: RunStepsOptions,
): Promise<{ state: TrainStepState<P, O>; losses: StepLoss[] }> {
  const log = new LossLog(o.logEvery ?? 1, o.diverged);
  const losses: StepLoss[] = [];
  const record = (points: StepLoss[]) => {
    for (const p of points) {
      losses.push(p);
      o.onLoss?.(p);
    }
  };
  let s = state;
  let turn = performance.now();
  try {
    while (s.step < o.until) {
      // Device reads resolve as microtasks: without a macrotask now and then, a Ctrl-C handler never runs.
      if (performance.now() - turn >= YIELD_MS) {
        await nextTask();
        turn = performance.now();
      }
      if (o.stop?.()) break;
      const r = trainer.step(s, o.batch(s.step));
      s = r.state;
      for (const a of r.aux) a.dispose();
      record(await log.push(s.step, r.loss));
    }
    record(await log.flush());
  } catch (err) {
    log.dispose();
    disposeTrainStepState(s as unknown as TrainStepState<Params>);
    throw err;
  }
  return { state: s, losses };
}
