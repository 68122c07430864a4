/**
 * A model's noise space travels with it: the trainer's forward noise, `generate`'s sampler draws and the
 * checkpoint all use `model.noise` (src/diffusion/noise-space.ts). Checked on symmetric 3×3 matrices
 * (fixtures.md §5): samples of a model trained and sampled through the library's own entry points are
 * exactly symmetric, and a model without the noise space is not.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed, splitKey } from "../src/backend/keys.js";
import { np, type JArray } from "../src/backend/jax.js";
import { generate, generateWithEps } from "../src/diffusion/generate.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { noiseHookOf } from "../src/diffusion/noise-space.js";
import { loadModel, saveModel } from "../src/io/checkpoints/model-files.js";
import { symmetricGaussianTask } from "../src/tasks/symmetric-gaussian.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainSteps } from "../src/training/trainer.js";

beforeAll(ensureBackend);

const task = symmetricGaussianTask([1, 0.5, 0, 2, 0.3, -1], [
  [1, 0.2, 0, 0, 0, 0],
  [0.2, 0.5, 0, 0, 0, 0],
  [0, 0, 0.3, 0, 0, 0],
  [0, 0, 0, 1, 0, 0],
  [0, 0, 0, 0, 0.4, 0],
  [0, 0, 0, 0, 0, 0.8],
]);

function modelWith(noise: ModelConfig["noise"]): ModelConfig {
  return {
    network: { kind: "mlp", dataDim: 9, eventShape: [3, 3], hidden: 64, layers: 2, timeEmbedding: 16, residual: true, norm: "none" } as ModelConfig["network"],
    prediction: "eps",
    schedule: { kind: "linear", steps: 1000 },
    ...(noise ? { noise } : {}),
  };
}

/** max |X − Xᵀ| over all samples (rows of 9 values). */
function asymmetry(rows: Float32Array): number {
  let worst = 0;
  for (let r = 0; r < rows.length / 9; r++) {
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) worst = Math.max(worst, Math.abs(rows[r * 9 + i * 3 + j]! - rows[r * 9 + j * 3 + i]!));
  }
  return worst;
}

async function trainAndSample(model: ModelConfig, seed: number) {
  const [kData, kInit, kSample] = splitKey(keyFromSeed(seed), 3);
  const data = await task.sample(kData!, 2000);
  const cfg = { ...defaultTrainConfig, steps: 60, batchSize: 128 };
  const state = await trainSteps(model, cfg, initTrainState(model, kInit!), { x: data }, { logEvery: 20 });
  const x = await generate(model, state.ema, { sampler: "ddpm", steps: 20, eta: 1 }, 200, kSample!);
  return { state, x };
}

describe("noise space of a model", () => {
  it("resolves to no hook for the full space and to projections otherwise", () => {
    expect(noiseHookOf(undefined)).toBeUndefined();
    expect(noiseHookOf({ kind: "full" })).toBeUndefined();
    expect(noiseHookOf({ kind: "symmetric" })).toBeTypeOf("function");
    expect(noiseHookOf({ kind: "graph", maxNodes: 9, nodeBlocks: [5, 3], edgeFeatures: 4 })).toBeTypeOf("function");
    expect(() => noiseHookOf({ kind: "spherical" } as never)).toThrow(/unknown noise space "spherical"/);
  });

  it("training, sampling and the checkpoint keep samples on the symmetric subspace", async () => {
    const model = modelWith({ kind: "symmetric" });
    const { state, x } = await trainAndSample(model, 1);
    expect(asymmetry(x.data)).toBe(0);
    const path = join(mkdtempSync(join(tmpdir(), "rewardiff-noise-")), "m.safetensors");
    await saveModel(path, { model, train: { ...defaultTrainConfig, steps: 60, batchSize: 128 }, columns: Array.from({ length: 9 }, (_, i) => `x${i}`), data: "symmetric" }, state);
    const loaded = loadModel(path);
    expect(loaded.meta.model.noise).toEqual({ kind: "symmetric" });
    const again = await generate(loaded.meta.model, loaded.ema, { sampler: "ddpm", steps: 20, eta: 1 }, 50, keyFromSeed(3));
    expect(asymmetry(again.data)).toBe(0);
    disposeTrainState(state);
  });

  it("without the noise space the same model's samples leave the subspace (the check can fail)", async () => {
    const { state, x } = await trainAndSample(modelWith(undefined), 1);
    expect(asymmetry(x.data)).toBeGreaterThan(1e-3);
    disposeTrainState(state);
  });
});

describe("noise hooks are shared", () => {
  it("the same space gives the same hook (compiled samplers and steps are cached by hook)", () => {
    const layout = { maxNodes: 9, nodeBlocks: [5, 3], edgeFeatures: 4 };
    expect(noiseHookOf({ kind: "graph", ...layout })).toBe(noiseHookOf({ kind: "graph", ...layout }));
    expect(noiseHookOf({ kind: "graph", ...layout })).not.toBe(noiseHookOf({ kind: "graph", ...layout, maxNodes: 8 }));
    expect(noiseHookOf({ kind: "symmetric" })).toBe(noiseHookOf({ kind: "symmetric" }));
  });
});

describe("graph rows: the data's fixed diagonal survives sampling", () => {
  // Two nodes with one-hot node blocks [2], 3 edge features; "no bond" (feature 0) on the diagonal, as every
  // graph row of docs/molecules.md holds it (never noised: x_t carries it as √ᾱ_t·"no bond").
  const layout = { maxNodes: 2, nodeBlocks: [2], edgeFeatures: 3 };
  const point = new Float32Array([1, 0, 0, 1, /* edges (0,0) (0,1) (1,0) (1,1) */ 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0]);
  const D = point.length;

  it("the noise hook zeroes the diagonal; its output projection keeps it and symmetrises", async () => {
    const hook = noiseHookOf({ kind: "graph", ...layout })!;
    const y = new Float32Array([0.3, 0.7, 0.2, 0.8, /* edges */ 0.9, 0.1, 0, 0.2, 0.6, 0.2, 0.4, 0.4, 0.2, 0.7, 0.2, 0.1]);
    const p = (await hook(np.array(y, { shape: [1, D] })).data()) as Float32Array;
    const q = (await hook.output!(np.array(y, { shape: [1, D] })).data()) as Float32Array;
    const sym = (i: number, j: number, k: number) => (y[4 + (i * 2 + j) * 3 + k]! + y[4 + (j * 2 + i) * 3 + k]!) / 2;
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        for (let k = 0; k < 3; k++) {
          const at = 4 + (i * 2 + j) * 3 + k;
          expect(p[at]).toBeCloseTo(i === j ? 0 : sym(i, j, k), 6);
          expect(q[at]).toBeCloseTo(sym(i, j, k), 6);
        }
      }
    }
    expect(Array.from(q.slice(0, 4))).toEqual(Array.from(y.slice(0, 4)));
  });

  it("a chain whose x̂₀ is always the data point ends on it, diagonal included (the exact denoiser of one point)", async () => {
    const model: ModelConfig = {
      network: { kind: "mlp", dataDim: D, hidden: 8, layers: 1, timeEmbedding: 4 } as ModelConfig["network"],
      prediction: "x0",
      schedule: { kind: "cosine", steps: 50 },
      noise: { kind: "graph", ...layout },
    };
    const exact = { prediction: "x0" as const, apply: (x: JArray) => np.broadcastTo(np.array(point, { shape: [1, D] }), [x.shape[0]!, D]).add(x.mul(0)) };
    const x = await generateWithEps(exact, model, { sampler: "ddpm", steps: 10, eta: 1 }, 3, keyFromSeed(1));
    for (let r = 0; r < 3; r++) for (let i = 0; i < D; i++) expect(x.data[r * D + i]).toBeCloseTo(point[i]!, 5);
  });
});
