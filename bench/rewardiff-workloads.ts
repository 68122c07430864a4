/**
 * rewardiff's side of the MLP benchmarks (bench/README.md, "The workload"), for any width and sample count:
 *  - `rewardiffTrain`: `trainSteps` (host batch gather + upload, the jitted diffusion step with Adam,
 *    gradient clipping and EMA, loss read back every step), ms per step;
 *  - `sameJittedTrain`: rewardiff's own jitted step in a bare loop with pre-uploaded inputs;
 *  - `rewardiffSample`: `generate` with DDIM (η = 0), from the initial noise to the samples on the host.
 * Each returns its timing with the load during it (lib.ts `startLoadMonitor`).
 *
 * Run directly, it is the fresh process of the threads section (threads are decided when jax-js is
 * evaluated: `REWARDIFF_THREADS=0` or `=2` in its environment; src/backend/threads.ts):
 *   npx tsx bench/rewardiff-workloads.ts --only train|sample [--config '{"hidden":512}'] [--wait-quiet]
 * prints one JSON line with the timing, its load and whether jax-js really started workers.
 */
import "../src/backend/jax.js";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { np } from "../src/backend/jax.js";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { shimWorkersStarted } from "../src/backend/threads.js";
import { hostMatrix } from "../src/data/matrix.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { generate } from "../src/diffusion/generate.js";
import { enableRelaxedSimd } from "../src/cli/relaxed-simd.js";
import { defaultTrainConfig, denoiserStep, disposeTrainState, initTrainState, trainSteps, type TrainConfig, type TrainState } from "../src/training/trainer.js";
import { DEFAULT_BENCH_CONFIG, startLoadMonitor, summarize, timeIt, waitForQuiet, type BenchConfig, type LoadReport, type Timing } from "./lib.js";

/** rewardiff's model for a bench config: the MLP inDim → hidden × depth → outDim, ε-prediction, linear β. */
export function benchModel(cfg: BenchConfig): ModelConfig {
  return {
    network: { kind: "mlp", dataDim: cfg.outDim, hidden: cfg.hidden, layers: cfg.depth, timeEmbedding: cfg.inDim - cfg.outDim, residual: false, norm: "none" },
    prediction: "eps",
    schedule: { kind: "linear", steps: cfg.T ?? 1000 },
  };
}

function benchTrain(cfg: BenchConfig, warmup: number, steps: number): TrainConfig {
  return { ...defaultTrainConfig, steps: warmup + steps, batchSize: cfg.batch, learningRate: 1e-3, lrSchedule: "constant" };
}

/** `trainSteps`: `warmup` untimed steps, then `steps` timed ones (time between progress callbacks). */
export async function rewardiffTrain(cfg: BenchConfig, warmup: number, steps: number): Promise<{ trainStep: Timing; load: LoadReport }> {
  const model = benchModel(cfg);
  const train = benchTrain(cfg, warmup, steps);
  const data = hostMatrix(8192, cfg.outDim, Float32Array.from({ length: 8192 * cfg.outDim }, (_, i) => Math.sin(i * 12.9898) * 1.5));
  let state = initTrainState(model, keyFromSeed(0));
  state = await trainSteps(model, train, state, { x: data }, { untilStep: warmup });
  const times: number[] = [];
  let last = performance.now();
  const mon = startLoadMonitor();
  state = await trainSteps(model, train, state, { x: data }, {
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

/** rewardiff's own jitted step (`denoiserStep`) in a bare loop, inputs uploaded each step, loss read each step. */
export async function sameJittedTrain(cfg: BenchConfig, warmup: number, steps: number): Promise<{ trainStep: Timing; load: LoadReport }> {
  const model = benchModel(cfg);
  const step = denoiserStep(model, benchTrain(cfg, warmup, steps), false, false, 0);
  let s: TrainState = initTrainState(model, keyFromSeed(0));
  const x0 = Float32Array.from({ length: cfg.batch * cfg.outDim }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  const alphaBars = Float32Array.from(makeSchedule(model.schedule).alphaBars);
  const mon = startLoadMonitor();
  const trainStep = await timeIt(
    async () => {
      const r = step.step(s, [np.array(x0, { shape: [cfg.batch, cfg.outDim] }), np.array(alphaBars)]);
      s = r.state as TrainState;
      return Number((await r.loss.data())[0]);
    },
    { warmup, repeats: steps },
  );
  const load = mon.stop();
  disposeTrainState(s);
  return { trainStep, load };
}

/** `generate` (DDIM, η = 0, cfg.steps steps) of `cfg.samples` points with its default batching; mean of the last draw as a sanity figure. */
export async function rewardiffSample(cfg: BenchConfig, warmup: number, repeats: number): Promise<{ sample: Timing; load: LoadReport; meanSample: number }> {
  const model = benchModel(cfg);
  const state = initTrainState(model, keyFromSeed(1));
  let k = 0;
  let meanSample = Number.NaN;
  const mon = startLoadMonitor();
  const sample = await timeIt(
    async () => {
      const m = await generate(model, state.ema, { sampler: "ddim", steps: cfg.steps, eta: 0 }, cfg.samples, keyFromSeed(100 + k++));
      let sum = 0;
      for (const v of m.data) sum += v;
      meanSample = sum / m.data.length;
    },
    { warmup, repeats },
  );
  const load = mon.stop();
  disposeTrainState(state);
  return { sample, load, meanSample };
}

// ---------------------------------------------------------------- CLI (the threads section's child)

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const only = arg("--only");
  if (only !== "train" && only !== "sample") {
    process.stderr.write(`rewardiff: bench/rewardiff-workloads.ts: --only must be "train" or "sample", got ${only === undefined ? "nothing" : `"${only}"`}\n`);
    process.exit(2);
  }
  const cfg: BenchConfig = { ...DEFAULT_BENCH_CONFIG, ...(JSON.parse(arg("--config") ?? "{}") as Partial<BenchConfig>) };
  // As the CLI runs (src/cli/relaxed-simd.ts; REWARDIFF_RELAXED_SIMD=0 keeps it off), before any kernel compiles.
  const relaxedSimd = enableRelaxedSimd();
  await ensureBackend();
  if (process.argv.includes("--wait-quiet")) await waitForQuiet();
  const out: Record<string, unknown> = { config: cfg, relaxedSimd };
  if (only === "train") {
    const r = await rewardiffTrain(cfg, cfg.trainWarmup ?? 10, cfg.trainRepeats ?? 40);
    Object.assign(out, { ms: r.trainStep, load: r.load });
  } else {
    const r = await rewardiffSample(cfg, cfg.sampleWarmup ?? 1, cfg.sampleRepeats ?? 3);
    Object.assign(out, { ms: r.sample, load: r.load, meanSample: r.meanSample });
  }
  // True only if jax-js really ran a worker pool (REWARDIFF_THREADS set and the shim installed in time).
  out.workersStarted = shimWorkersStarted();
  process.stdout.write(JSON.stringify(out) + "\n");
}
