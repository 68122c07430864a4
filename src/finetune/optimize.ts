/**
 * The fine-tuning loop shared by DRaFT and CTRL: Adam with global-norm gradient clipping
 * (src/optim, `applyGradients` of the train-step builder) over the trainable subset θ only, on the chain loss L(θ) = −ρ·mean obj(x_0) + λ·Σ_t KL_t
 * (./chain.ts), a fresh noise draw (and fresh side inputs, e.g. CTRL's labels y) at every step.
 */
import { tree, type JArray } from "../backend/jax.js";
import { keyToSeed, splitKey, type Key } from "../backend/keys.js";
import { mulberry32 } from "../data/host-rng.js";
import { heapProbeInstalled, wasmHeapBytes } from "../backend/heap.js";
import type { Params } from "../nn/params.js";
import { constantRateOptimizer, optimizerFromConfig, optimizerStaticKey, type OptimizerConfig } from "../optim/config.js";
import { makeTrainStep } from "../optim/train-step.js";
import type { Chain } from "./chain.js";

export interface FinetuneConfig extends Pick<OptimizerConfig, "learningRate" | "gradClip"> {
  /** "constant" (default) or "cosine": half-cosine decay from `learningRate` to 0 over `steps` (src/optim/lr-schedule.ts). */
  lrSchedule?: "constant" | "cosine";
  /** Optimisation steps (one chain batch each). */
  steps: number;
  /** Chains per micro-batch. */
  batchSize: number;
  /**
   * Micro-batches per step (default 1): their gradients, losses, objectives and KLs are averaged before the one
   * Adam update, so a step sees `accumulate · batchSize` chains with the memory of `batchSize`.
   */
  accumulate?: number;
}

/** One step's record. */
export interface FinetunePoint {
  step: number;
  loss: number;
  /** mean obj(x_0) (reward, or log p̂(y | x_0)). */
  objective: number;
  /** Σ_t mean KL_t. */
  kl: number;
  truncation: number;
}

/** The batch's side inputs and objective auxiliaries (owned by the loop, disposed after the step). */
export interface FinetuneBatch {
  side: JArray[];
  aux: JArray[];
}

/**
 * Runs Adam on θ. Consumes `p0` and `key`; borrows `f`. `batch(step)` builds the step's side inputs
 * (called with a host-side draw so the same seed gives the same run). Returns the trained θ, the
 * history and the wasm heap high-water mark seen (0 when the opt-in heap probe is not installed: src/backend/heap.ts).
 */
export async function finetune<P extends Params, F extends Params>(
  chain: Chain<P, F>,
  p0: P,
  f: F,
  cfg: FinetuneConfig,
  key: Key,
  batch: (step: number, key: Key) => FinetuneBatch,
  onStep?: (pt: FinetunePoint, total: number) => void,
): Promise<{ params: P; history: FinetunePoint[]; heapBytes: number; seconds: number }> {
  const t0 = performance.now();
  const opt = { ...constantRateOptimizer(cfg.learningRate, cfg.gradClip), lrSchedule: cfg.lrSchedule ?? "constant" };
  // Gradients come from the chain (./chain.ts), so only the builder's update is used; it has no loss.
  const trainer = makeTrainStep<P>(
    () => {
      throw new Error("finetune: the chain computes the gradients (applyGradients only)");
    },
    optimizerFromConfig(opt, cfg.steps),
    { cacheKey: JSON.stringify(["finetune", optimizerStaticKey(opt)]) },
  );
  let state = trainer.init(p0);
  const history: FinetunePoint[] = [];
  const keys = splitKey(key, 2 * cfg.steps + 1);
  // A host-side stream for the random truncation draws, reproducible from the key.
  const uniform = mulberry32(keyToSeed(keys[2 * cfg.steps]!));
  const A = cfg.accumulate ?? 1;
  if (!Number.isInteger(A) || A < 1) throw new Error(`finetune: accumulate must be a whole number ≥ 1, got ${A}`);
  /** One micro-batch's gradient at step `step` (one truncation draw per step, shared by its micro-batches). */
  const micro = async (step: number, params: P, batchKey: Key, chainKey: Key, draw: number) => {
    const b = batch(step, batchKey);
    try {
      return await chain.lossAndGrad(params, f, b.side, b.aux, cfg.batchSize, chainKey, draw);
    } finally {
      for (const a of [...b.side, ...b.aux]) a.dispose();
    }
  };
  for (let s = 0; s < cfg.steps; s++) {
    const draw = uniform();
    // A = 1 uses the step's keys as they are (the runs before accumulation existed are reproduced); A > 1 splits them.
    const batchKeys = A === 1 ? [keys[2 * s]!] : splitKey(keys[2 * s]!, A);
    const chainKeys = A === 1 ? [keys[2 * s + 1]!] : splitKey(keys[2 * s + 1]!, A);
    let r = await micro(s, state.params, batchKeys[0]!, chainKeys[0]!, draw);
    for (let m = 1; m < A; m++) {
      const q = await micro(s, state.params, batchKeys[m]!, chainKeys[m]!, draw);
      r = { grads: tree.map((a: JArray, b: JArray) => a.add(b), r.grads, q.grads) as P, loss: r.loss + q.loss, objective: r.objective + q.objective, kl: r.kl + q.kl, truncation: q.truncation };
    }
    if (A > 1) r = { ...r, grads: tree.map((a: JArray) => a.mul(1 / A), r.grads) as P, loss: r.loss / A, objective: r.objective / A, kl: r.kl / A };
    if (!Number.isFinite(r.loss)) {
      tree.dispose(r.grads);
      tree.dispose(state.opt as Params);
      throw new Error(`fine-tuning diverged at step ${s + 1}: the loss is ${r.loss} (lower learningRate, or raise alpha)`);
    }
    state = trainer.applyGradients(state, r.grads as P);
    const pt = { step: s + 1, loss: r.loss, objective: r.objective, kl: r.kl, truncation: r.truncation };
    history.push(pt);
    onStep?.(pt, cfg.steps);
  }
  tree.dispose(state.opt as Params);
  return { params: state.params, history, heapBytes: heapProbeInstalled() ? wasmHeapBytes() : 0, seconds: (performance.now() - t0) / 1000 };
}
