/**
 * DDPO on the pretrained QM9 graph transformer (models/qm9.safetensors, graph rows with a "graph" noise
 * space): one small round (8 molecules × 49 stochastic DDPM steps, 8 PPO minibatches of 49 rows)
 *  - keeps jax-js's wasm heap below 400 MiB. The bound: one gradient step of this network costs ≈ 3.7 MiB of
 *    heap per row (measured at 24, 49, 98 and 196 rows: 129, 214, 393 and 736 MiB, linear), so a 49-row
 *    minibatch needs ≈ 200 MiB, and the rollout of 8 molecules (settled per step) ≈ 50 MiB; 400 MiB leaves
 *    room for allocator slack. Before the fix the rollout kept every step's reference forward pass pending
 *    (≈ 18 MiB a step for 16 molecules) and the minibatches were queued unsettled: 1.6 GiB for this round.
 *  - recomputes the rollout's log-probabilities exactly at θ = θ_old: with a learning rate too small to move
 *    the weights every PPO ratio is 1, so no row is clipped and the round's mean loss, −mean A over rows
 *    whose advantages have mean zero per step, is 0. (Without the noise-space projection of the network
 *    output in the PPO loss, 57% of the rows were clipped.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, tree, wasmHeapBytes } from "../src/backend/index.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { trainDdpo } from "../src/finetune/ddpo.js";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { resolveModelPath } from "../src/runners/molecule-sampling.js";

beforeAll(async () => {
  await ensureBackend();
});

const MiB = 2 ** 20;

describe("ddpo on the QM9 graph transformer", () => {
  it("keeps the wasm heap bounded and the PPO ratio at 1 for θ = θ_old", async () => {
    const loaded = loadModel(resolveModelPath("qm9", "test"));
    try {
      const model = loaded.meta.model;
      expect(model.noise?.kind).toBe("graph");
      const plan = samplerPlan(makeSchedule(model.schedule), { sampler: "ddpm", steps: 50, eta: 1 });
      // Any host reward will do: the first value of each row.
      const reward = (x: { rows: number; cols: number; data: Float32Array }) => Float32Array.from({ length: x.rows }, (_, i) => x.data[i * x.cols]!);
      const res = await trainDdpo({
        model,
        pretrained: loaded.ema,
        plan,
        reward,
        config: { iterations: 1, batch: 8, epochs: 1, minibatches: 8, learningRate: 1e-12 },
        key: keyFromSeed(3),
      });
      tree.dispose(res.params);
      const heap = wasmHeapBytes();
      expect(heap / MiB, `wasm heap ${(heap / MiB).toFixed(1)} MiB`).toBeLessThan(400);
      const round = res.history[0]!;
      expect(round.clipFraction).toBe(0);
      expect(Math.abs(round.loss)).toBeLessThan(1e-4);
    } finally {
      disposeLoadedModel(loaded);
    }
  }, 120_000);
});
