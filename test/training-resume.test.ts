/**
 * Resume: training 2N steps equals training N steps, checkpointing to disk, loading and training N
 * more (same seed). The state holds weights, EMA, Adam moments, the step and the PRNG key, and batches
 * are drawn from (dataSeed, step), so the two runs must agree bit for bit.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, keyToWords } from "../src/backend/index.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { trainingDataSha256, trainingState } from "../src/io/checkpoints/model.js";
import { loadModel, saveModel } from "../src/io/checkpoints/model-files.js";
import { toy2dTask } from "../src/tasks/toy2d.js";
import { defaultTrainConfig, initTrainState, trainStateTensors, trainSteps, type TrainState } from "../src/training/trainer.js";
import { hostMatrix } from "../src/data/matrix.js";

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

async function expectSameState(a: TrainState, b: TrainState): Promise<void> {
  expect(b.step).toBe(a.step);
  const ta = await trainStateTensors(a);
  const tb = await trainStateTensors(b);
  expect([...tb.keys()].sort()).toEqual([...ta.keys()].sort());
  for (const [name, t] of ta) expect(Array.from(tb.get(name)!.data), name).toEqual(Array.from(t.data));
}

it("200 planned, stopped by the signal at 100, checkpointed, resumed: bit-identical to 200 straight (warm-up cosine)", async () => {
  const data = await toy2dTask("moons").sample(keyFromSeed(2), 300);
  const plan = { ...defaultTrainConfig, steps: 200, batchSize: 32, lrSchedule: "warmup-cosine" as const, warmupSteps: 20 };
  const straight = await trainSteps(model, plan, initTrainState(model, keyFromSeed(7)), { x: data });

  // Stop from inside the loop, as Ctrl-C does: the signal is aborted while step 100 is reported.
  const ctl = new AbortController();
  const saved: number[] = [];
  const path = join(dir, "stopped.safetensors");
  const lrs: number[] = [];
  const first = await trainSteps(model, plan, initTrainState(model, keyFromSeed(7)), { x: data }, {
    signal: ctl.signal,
    checkpointEvery: 30,
    onCheckpoint: async (s) => {
      saved.push(s.step);
      await saveModel(path, { model, train: plan, columns: ["x1", "x2"], data: "moons" }, s);
    },
    onProgress: (p) => {
      lrs.push(p.lr);
      expect(p.total).toBe(200); // the bar's total is the planned run, not the chunk's end
      if (p.step === 100) ctl.abort();
    },
  });
  expect(first.step).toBe(100);
  expect(saved).toEqual([30, 60, 90]);
  // The periodic checkpoint at 90 resumes too: it holds step 90.
  const at90 = trainingState(loadModel(path), path);
  expect(at90.step).toBe(90);
  await saveModel(path, { model, train: plan, columns: ["x1", "x2"], data: "moons" }, first);
  const loaded = trainingState(loadModel(path), path);
  const resumed = await trainSteps(model, plan, loaded, { x: data }, { onProgress: (p) => lrs.push(p.lr) });
  await expectSameState(straight, resumed);
  expect(first.losses.map((l) => l.loss)).toEqual(straight.losses.slice(0, 100).map((l) => l.loss));
  expect(resumed.losses.map((l) => l.loss)).toEqual(straight.losses.slice(100).map((l) => l.loss));
  // The schedule is warm-up then cosine over the PLANNED 200 steps: lr_k = lr·(k+1)/20 for k < 20, then
  // lr·½(1 + cos(π(k − 20)/180)) (closed form, float64): the resumed half did not restart it.
  const lr = plan.learningRate;
  for (const k of [0, 9, 19, 20, 99, 100, 150, 199]) {
    const want = k < 20 ? (lr * (k + 1)) / 20 : lr * 0.5 * (1 + Math.cos((Math.PI * (k - 20)) / 180));
    expect(lrs[k], `lr at step ${k}`).toBeCloseTo(want, 12);
  }
  const from90 = await trainSteps(model, plan, at90, { x: data });
  await expectSameState(straight, from90);
}, 60_000);

it("a different planned total gives a different schedule, so different weights (re-planning is visible)", async () => {
  const data = await toy2dTask("moons").sample(keyFromSeed(2), 300);
  const plan = { ...defaultTrainConfig, steps: 40, batchSize: 32, lrSchedule: "cosine" as const, warmupSteps: 0 };
  const a = await trainSteps(model, plan, initTrainState(model, keyFromSeed(7)), { x: data }, { untilStep: 20 });
  const b = await trainSteps(model, { ...plan, steps: 80 }, initTrainState(model, keyFromSeed(7)), { x: data }, { untilStep: 20 });
  expect(Array.from((await trainStateTensors(a)).get("ema.input.w")!.data)).not.toEqual(Array.from((await trainStateTensors(b)).get("ema.input.w")!.data));
});

it("the data hash is SHA-256 of the shape and the float32 rows (independent recomputation with node:crypto)", async () => {
  const m = hostMatrix(3, 2, Float32Array.from([1, -2.5, 3e6, 1e-3, 0, 7]));
  const bytes = Buffer.alloc(8 + 24);
  bytes.writeUInt32LE(3, 0);
  bytes.writeUInt32LE(2, 4);
  for (let i = 0; i < 6; i++) bytes.writeFloatLE(m.data[i]!, 8 + 4 * i);
  expect(await trainingDataSha256(m)).toBe(createHash("sha256").update(bytes).digest("hex"));
  const other = hostMatrix(3, 2, Float32Array.from([1, -2.5, 3e6, 1e-3, 0, 7.000001]));
  expect(await trainingDataSha256(other)).not.toBe(await trainingDataSha256(m));
  expect(await trainingDataSha256(hostMatrix(2, 3, m.data))).not.toBe(await trainingDataSha256(m));
});
