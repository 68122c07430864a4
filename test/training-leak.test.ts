/**
 * Leak test: the wasm heap's high-water mark must stay flat over thousands of training steps and over
 * repeated sampling. jax-js's allocator only ever grows its WebAssembly.Memory (design.md), so an array
 * leaked per step shows up as steady growth of `wasmHeapBytes()`: with batch 64 × D 2 a leaked x_0
 * batch alone is 512 B/step, i.e. ≥ 1.5 MB over 3,000 steps, and a leaked gradient tree (≈ 2.7k
 * parameters) is ≈ 11 KB/step, ≈ 32 MB. Either dwarfs the slack allowed below. (Checked by hand: the
 * heap sits at 320 KiB from step 300 to 3,300; leaking one 512 B array per step from `onProgress`
 * grows it to 1.8 MiB.) Sampling uses n = 1024 so that even one leaked [n, 2] array per run (8 KiB)
 * would exceed the slack within the 20 runs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, toHostSync, wasmHeapBytes } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { modelEps, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainSteps, type TrainConfig, type TrainState } from "../src/training/trainer.js";

beforeAll(ensureBackend);

const model: ModelConfig = {
  network: { kind: "mlp", dataDim: 2, hidden: 32, layers: 2, timeEmbedding: 16, residual: true, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 100 },
};
const cfg: TrainConfig = { ...defaultTrainConfig, steps: 3300, batchSize: 64, learningRate: 1e-3, lrSchedule: "warmup-cosine", warmupSteps: 50 };

/** Two-moons-ish 2-D data in a host matrix (data sets stay out of the wasm heap). */
function data(rows: number): ReturnType<typeof hostMatrix> {
  const d = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    const a = (Math.PI * i) / rows;
    const flip = i % 2 === 0 ? 1 : -1;
    d[2 * i] = Math.cos(a) * flip + (flip < 0 ? 1 : 0) + 0.05 * Math.sin(17 * i);
    d[2 * i + 1] = Math.sin(a) * flip + 0.05 * Math.cos(13 * i);
  }
  return hostMatrix(rows, 2, d);
}

/**
 * Slack: one extra 64 KiB wasm page or 2 % of the warm-up level, whichever is larger. A bump allocator
 * with free lists can need one more page for fragmentation when the order of frees shifts (e.g. a
 * batch whose loss read-back lands at a different time), which is not a per-step leak; any real
 * per-step leak (sizes above) exceeds this by orders of magnitude.
 */
const slack = (base: number) => Math.max(64 * 1024, 0.02 * base);

describe("wasm heap stays flat", () => {
  let state: TrainState | undefined;

  it("over 3,000 training steps after a 300-step warm-up", async () => {
    const x = data(2048);
    state = await trainSteps(model, cfg, initTrainState(model, keyFromSeed(0)), { x }, { untilStep: 300 });
    const warm = wasmHeapBytes();
    expect(warm).toBeGreaterThan(0);
    const trace: number[] = [];
    let lastLoss = Infinity;
    for (let until = 800; until <= 3300; until += 500) {
      const next = await trainSteps(model, cfg, state, { x }, { untilStep: until });
      lastLoss = next.losses.at(-1)!.loss;
      state = next;
      trace.push(wasmHeapBytes());
    }
    expect(state.step).toBe(3300);
    expect(Number.isFinite(lastLoss)).toBe(true);
    const peak = Math.max(...trace);
    expect(peak - warm, `heap ${warm} B after warm-up, then ${trace.join(", ")}`).toBeLessThanOrEqual(slack(warm));
  });

  it("over 20 repeated sampling runs (modelEps + sample)", async () => {
    expect(state).toBeDefined();
    const schedule = makeSchedule(model.schedule);
    const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 50, eta: 1 });
    const eps = modelEps(model, state!.ema);
    const run = async (seed: number) => toHostSync(await sample({ model: eps, plan, n: 1024, eventShape: [2], key: keyFromSeed(seed) }));
    const first = await run(1000); // compiles the step kernels
    expect(first.every(Number.isFinite)).toBe(true);
    await run(1001);
    const warm = wasmHeapBytes();
    const trace: number[] = [];
    for (let r = 0; r < 20; r++) {
      await run(2000 + r);
      trace.push(wasmHeapBytes());
    }
    expect(Math.max(...trace) - warm, `heap ${warm} B after warm-up, then ${trace.join(", ")}`).toBeLessThanOrEqual(slack(warm));
    disposeTrainState(state!);
  });

  /** Weighted training (reward-weighted regression) runs and keeps the heap flat. */
  it("with per-sample weights (reward-weighted regression) over 1,000 steps", async () => {
    const x = data(512);
    const weights = Float32Array.from({ length: 512 }, (_, i) => (i % 4 === 0 ? 0 : 1 + (i % 3)));
    const wcfg = { ...cfg, steps: 1100 };
    let s = await trainSteps(model, wcfg, initTrainState(model, keyFromSeed(1)), { x, weights }, { untilStep: 100 });
    const warm = wasmHeapBytes();
    s = await trainSteps(model, wcfg, s, { x, weights }, { untilStep: 1100 });
    expect(s.step).toBe(1100);
    expect(wasmHeapBytes() - warm).toBeLessThanOrEqual(slack(warm));
    disposeTrainState(s);
  });
});
