/**
 * Resume: training 2N steps equals training N steps, checkpointing to disk, loading and training N
 * more (same seed). The state holds weights, EMA, Adam moments, the step and the PRNG key, and batches
 * are drawn from (dataSeed, step), so the two runs must agree bit for bit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, keyToWords } from "../src/backend/index.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { trainingState } from "../src/io/checkpoints/model.js";
import { loadModel, saveModel } from "../src/io/checkpoints/model-files.js";
import { toy2dTask } from "../src/tasks/toy2d.js";
import { defaultTrainConfig, initTrainState, trainStateTensors, trainSteps } from "../src/training/trainer.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-resume-"));
beforeAll(ensureBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model: ModelConfig = {
  network: { kind: "mlp", dataDim: 2, hidden: 32, layers: 2, timeEmbedding: 8, residual: true, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 100 },
};
const train = { ...defaultTrainConfig, steps: 80, batchSize: 64, lrSchedule: "cosine" as const, warmupSteps: 10 };

it("train 2N = train N, save, load, train N more (bit-identical)", async () => {
  const data = await toy2dTask("moons").sample(keyFromSeed(1), 500);
  const full = await trainSteps(model, train, initTrainState(model, keyFromSeed(5)), { x: data });

  const half = await trainSteps(model, train, initTrainState(model, keyFromSeed(5)), { x: data }, { untilStep: 40 });
  const path = join(dir, "half.safetensors");
  await saveModel(path, { model, train, columns: ["x1", "x2"], data: "moons" }, half);
  const loaded = trainingState(loadModel(path), path);
  expect(loaded.step).toBe(40);
  const resumed = await trainSteps(model, train, loaded, { x: data });

  expect(resumed.step).toBe(full.step);
  expect(keyToWords(resumed.key)).toEqual(keyToWords(full.key));
  const a = await trainStateTensors(full);
  const b = await trainStateTensors(resumed);
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [name, t] of a) {
    expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
  }
  // the second half's losses are the same numbers too
  expect(resumed.losses.map((l) => l.loss)).toEqual(full.losses.slice(40).map((l) => l.loss));
});

it("a different seed gives different weights (the comparison can fail)", async () => {
  const data = await toy2dTask("moons").sample(keyFromSeed(1), 500);
  const a = await trainSteps(model, { ...train, steps: 5 }, initTrainState(model, keyFromSeed(5)), { x: data });
  const b = await trainSteps(model, { ...train, steps: 5 }, initTrainState(model, keyFromSeed(6)), { x: data });
  expect(Array.from((await trainStateTensors(a)).get("params.input.w")!.data)).not.toEqual(Array.from((await trainStateTensors(b)).get("params.input.w")!.data));
});
