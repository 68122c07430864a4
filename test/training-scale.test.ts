/**
 * Training on data far from the unit scale (std ≈ 300) stays finite: the first Adam steps push hidden
 * pre-activations below −88, where a naive SiLU gradient is NaN (src/nn/activations.ts).
 */
import { describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { parseConfig } from "../src/runners/config.js";
import { modelFromConfig, trainFromConfig } from "../src/runners/model-config.js";
import { disposeTrainState, initTrainState, trainSteps } from "../src/training/trainer.js";

describe("training on large-scale data", () => {
  it("keeps every loss finite and falls over 30 steps (data std ≈ 300)", async () => {
    await ensureBackend();
    const cfg = parseConfig({ model: { train: { steps: 30, batchSize: 64 } } }, "test");
    const model = modelFromConfig(cfg.model, 2);
    const n = 200;
    const x = Float32Array.from({ length: 2 * n }, (_, i) => 300 * Math.sin(i * 1.7));
    const out = await trainSteps(model, trainFromConfig(cfg.model.train), initTrainState(model, keyFromSeed(1)), { x: hostMatrix(n, 2, x) }, { untilStep: 30 });
    const losses = out.losses.map((l) => l.loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    disposeTrainState(out);
  }, 60_000);
});
