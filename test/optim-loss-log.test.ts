/**
 * Losses read back every `logEvery` steps must not leave steps unexecuted: jax-js defers work until a result
 * is needed, so a loop that neither reads nor awaits a step's loss piles up every step's buffers (before the
 * fix: logEvery 200 made a small MLP's step 62× slower and its process 2.6 GB). The wasm heap's high-water mark
 * (src/backend/heap.ts; it only grows) after steps with logEvery 150 must stay at the level of logEvery 1.
 */
import { beforeAll, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, wasmHeapBytes } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainSteps, type TrainConfig } from "../src/training/trainer.js";

beforeAll(ensureBackend);

const model: ModelConfig = {
  network: { kind: "mlp", dataDim: 2, hidden: 64, layers: 2, timeEmbedding: 30, residual: true, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 100 },
};
const cfg: TrainConfig = { ...defaultTrainConfig, steps: 700, batchSize: 256 };

it("training with logEvery 150 keeps the wasm heap where logEvery 1 leaves it, and reads every loss", async () => {
  const x = hostMatrix(512, 2, Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * 1.7)));
  const warm = await trainSteps(model, cfg, initTrainState(model, keyFromSeed(0)), { x }, { untilStep: 300 });
  const level = wasmHeapBytes();
  expect(level).toBeGreaterThan(0);
  // One step's buffers at batch 256 × width 64 are ~0.5 MB, so 150 steps left pending would add ~75 MB.
  const next = await trainSteps(model, cfg, warm, { x }, { untilStep: 600, logEvery: 150 });
  expect(next.losses.map((l) => l.step)).toEqual(Array.from({ length: 300 }, (_, i) => 301 + i));
  expect(wasmHeapBytes() - level, `heap grew from ${level} to ${wasmHeapBytes()} bytes`).toBeLessThanOrEqual(Math.max(64 * 1024, 0.02 * level));
  disposeTrainState(next);
}, 60_000);
