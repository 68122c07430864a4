/**
 * `npm run bench`: the foundation benchmarks, written to bench/results/latest.json.
 *  (a) one training step of the MLP 2(+16 time features) → 256 → 256 → 256 → 2 (SiLU), batch 512, Adam;
 *  (b) sampling 1,000 points × 50 DDIM steps with that network.
 * Measured in one run, on one machine:
 *  - rewardiff: `trainSteps` (host batch gather + upload, the jitted diffusion step with Adam, gradient
 *    clipping and EMA, loss read back every step) and `generate` (the DDIM sampler);
 *  - "same jitted computation": rewardiff's own jitted step called in a bare loop with pre-uploaded
 *    inputs — what jax-js itself needs for exactly this computation; the ratio is our overhead;
 *  - raw jax-js: the plain MLP + Adam step and DDIM loop written directly in jax-js (bench/raw-jax.ts);
 *  - PyTorch (bench/torch_reference.py) with the fair set-up of design.md, when the system Python has torch.
 * Other processes' CPU use during each measurement is recorded beside it (the machine has 2 cores).
 */
import "../src/backend/jax.js";
import { join } from "node:path";
import { np, tree } from "../src/backend/jax.js";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { scalar, toNumber } from "../src/backend/ownership.js";
import { hostMatrix } from "../src/data/matrix.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { generate } from "../src/pipeline/generate.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainStepFn, trainSteps, type TrainConfig } from "../src/training/trainer.js";
import { DEFAULT_BENCH_CONFIG, machineInfo, runTorchReference, startLoadMonitor, summarize, timeIt, waitForQuiet, writeResults } from "./lib.js";
import { rawJaxSample, rawJaxTrainStep } from "./raw-jax.js";

const here = new URL(".", import.meta.url).pathname;
const cfg = { ...DEFAULT_BENCH_CONFIG };
const WARMUP = 20;
const STEPS = 200;

const model: ModelConfig = {
  network: { kind: "mlp", dataDim: cfg.outDim, hidden: cfg.hidden, layers: cfg.depth, timeEmbedding: cfg.inDim - cfg.outDim, residual: false, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: cfg.T ?? 1000 },
};
const train: TrainConfig = { ...defaultTrainConfig, steps: WARMUP + STEPS, batchSize: cfg.batch, learningRate: 1e-3, lrSchedule: "constant" };

async function rewardiffTrain() {
  const data = hostMatrix(8192, 2, Float32Array.from({ length: 8192 * 2 }, (_, i) => Math.sin(i * 12.9898) * 1.5));
  let state = initTrainState(model, keyFromSeed(0));
  state = trainSteps(model, train, state, { x: data }, { untilStep: WARMUP });
  const times: number[] = [];
  let last = performance.now();
  const mon = startLoadMonitor();
  state = trainSteps(model, train, state, { x: data }, {
    onProgress: () => {
      const now = performance.now();
      times.push(now - last);
      last = now;
    },
  });
  const load = mon.stop();
  disposeTrainState(state);
  return { trainStep: summarize(times), load };
}

async function sameJitted() {
  const fn = trainStepFn(model, train, false, false, 0);
  const s = initTrainState(model, keyFromSeed(0));
  let { params, ema, opt, key } = s;
  const x0 = Float32Array.from({ length: cfg.batch * 2 }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  const alphaBars = Float32Array.from(makeSchedule(model.schedule).alphaBars);
  const mon = startLoadMonitor();
  const trainStep = await timeIt(
    () => {
      let loss;
      [params, ema, opt, key, loss] = fn(params, ema, opt, key, np.array(x0, { shape: [cfg.batch, 2] }), np.array(alphaBars), scalar(1e-3), scalar(0.995));
      return toNumber(loss!);
    },
    { warmup: WARMUP, repeats: STEPS },
  );
  const load = mon.stop();
  tree.dispose([params, ema, opt as unknown as typeof params, key]);
  return { trainStep, load };
}

async function rewardiffSample() {
  const state = initTrainState(model, keyFromSeed(1));
  let k = 0;
  const mon = startLoadMonitor();
  const sample = await timeIt(
    () => generate(model, state.ema, { sampler: "ddim", steps: cfg.steps, eta: 0 }, cfg.samples, keyFromSeed(100 + k++)),
    { warmup: 1, repeats: 5 },
  );
  const load = mon.stop();
  disposeTrainState(state);
  return { sample, load };
}

async function main() {
  await ensureBackend();
  const quiet = await waitForQuiet({ timeoutMs: 20_000 });
  const results: Record<string, unknown> = { when: new Date().toISOString(), machine: machineInfo(), machineLoadAtStart: quiet, config: cfg };
  process.stderr.write("rewardiff training step…\n");
  const ours = await rewardiffTrain();
  process.stderr.write("same jitted computation, bare loop…\n");
  const bare = await sameJitted();
  process.stderr.write("rewardiff sampling…\n");
  const oursSample = await rewardiffSample();
  process.stderr.write("raw jax-js baselines…\n");
  const rawTrain = await rawJaxTrainStep(cfg);
  const rawSample = await rawJaxSample(cfg);
  process.stderr.write("PyTorch reference…\n");
  const torch = runTorchReference(cfg);
  const t = torch.available ? torch : undefined;
  results.rewardiff = { trainStepMs: ours.trainStep, trainLoad: ours.load, sampleMs: oursSample.sample, sampleLoad: oursSample.load };
  results.sameJittedComputation = { trainStepMs: bare.trainStep, load: bare.load };
  results.rawJax = { trainStepMs: rawTrain.trainStep, trainLoad: rawTrain.load, sampleMs: rawSample.sample, sampleLoad: rawSample.load };
  results.torch = torch;
  const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  results.ratios = {
    "rewardiff train / same jitted computation (goal ≤ 1.5)": r(ours.trainStep.median, bare.trainStep.median),
    "rewardiff train / raw jax-js MLP step": r(ours.trainStep.median, rawTrain.trainStep.median),
    "rewardiff sample / raw jax-js sample": r(oursSample.sample.median, rawSample.sample.median),
    ...(t
      ? {
          "rewardiff train / PyTorch": r(ours.trainStep.median, t.trainStepMs),
          "raw jax-js train / PyTorch": r(rawTrain.trainStep.median, t.trainStepMs),
          "rewardiff sample / PyTorch": r(oursSample.sample.median, t.sampleMs),
        }
      : {}),
  };
  const path = join(here, "results", "latest.json");
  writeResults(path, results);
  const line = (name: string, ms: number) => process.stdout.write(`${name.padEnd(44)} ${ms.toFixed(2)} ms\n`);
  line("rewardiff train step (median)", ours.trainStep.median);
  line("same jitted computation, bare loop", bare.trainStep.median);
  line("raw jax-js MLP + Adam step", rawTrain.trainStep.median);
  if (t) line("PyTorch train step", t.trainStepMs);
  line("rewardiff sample 1000 × 50 DDIM", oursSample.sample.median);
  line("raw jax-js sample 1000 × 50 DDIM", rawSample.sample.median);
  if (t) line("PyTorch sample 1000 × 50 DDIM", t.sampleMs);
  else process.stdout.write(`PyTorch: ${torch.available ? "" : torch.reason}\n`);
  process.stdout.write(`${JSON.stringify(results.ratios, null, 2)}\nwrote ${path}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
