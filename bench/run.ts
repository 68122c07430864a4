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
 *  (c) "finetune": one value-and-gradient of reward backpropagation through the 50-step DDPM chain
 *    (src/finetune/chain.ts, bench/finetune.ts) against torch autograd (torch_reference.py --mode finetune),
 *    stored under the key `finetuneChain`.
 * Other processes' CPU use during each measurement is recorded beside it (the machine has 2 cores).
 * `npm run bench -- --only finetune` runs (c) alone and merges its key into the existing latest.json.
 */
import "../src/backend/heap-probe.js"; // before jax-js: the finetune bench reads the wasm heap (src/backend/heap.ts)
import "../src/backend/jax.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { np } from "../src/backend/jax.js";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { hostMatrix } from "../src/data/matrix.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { generate } from "../src/diffusion/generate.js";
import { defaultTrainConfig, denoiserStep, disposeTrainState, initTrainState, trainSteps, type TrainConfig, type TrainState } from "../src/training/trainer.js";
import { DEFAULT_FINETUNE_CONFIG, rewardiffChainGrad } from "./finetune.js";
import { DEFAULT_BENCH_CONFIG, machineInfo, runTorchFinetuneReference, runTorchReference, startLoadMonitor, summarize, timeIt, waitForQuiet, writeResults } from "./lib.js";
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
  state = await trainSteps(model, train, state, { x: data }, { untilStep: WARMUP });
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

async function sameJitted() {
  const step = denoiserStep(model, train, false, false, 0);
  let s: TrainState = initTrainState(model, keyFromSeed(0));
  const x0 = Float32Array.from({ length: cfg.batch * 2 }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  const alphaBars = Float32Array.from(makeSchedule(model.schedule).alphaBars);
  const mon = startLoadMonitor();
  const trainStep = await timeIt(
    async () => {
      const r = step.step(s, [np.array(x0, { shape: [cfg.batch, 2] }), np.array(alphaBars)]);
      s = r.state as TrainState;
      return Number((await r.loss.data())[0]);
    },
    { warmup: WARMUP, repeats: STEPS },
  );
  const load = mon.stop();
  disposeTrainState(s);
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

/** (c): rewardiff's chain gradient (segmented and not) and the PyTorch reference, as the `finetuneChain` key. */
async function finetuneSection() {
  const fc = DEFAULT_FINETUNE_CONFIG;
  process.stderr.write(`reward backpropagation, ${fc.chains} chains × ${fc.steps} DDPM steps (rewardiff)…\n`);
  const ours = await rewardiffChainGrad(cfg, fc);
  process.stderr.write("reward backpropagation (PyTorch reference)…\n");
  const torch = runTorchFinetuneReference({ ...cfg, steps: fc.steps, chains: fc.chains, finetuneWarmup: fc.warmup, finetuneRepeats: fc.repeats });
  const t = torch.available ? torch : undefined;
  const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const same = t ? t.timesteps.length === ours.timesteps.length && t.timesteps.every((v, i) => v === ours.timesteps[i]) : undefined;
  const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  const section = {
    when: new Date().toISOString(),
    workload: "value-and-gradient of -mean r(x_0) + Σ_t mean KL_t through DDPM (trailing, β̃), all weights trainable, frozen reference; see bench/README.md",
    rewardiff: {
      ...ours,
      heapMiB: { segmented: mib(ours.segmented.heapBytes), full: mib(ours.full.heapBytes) },
    },
    torch,
    ...(same === undefined ? {} : { sameTimesteps: same }),
    ratios: {
      "rewardiff segmented / unsegmented": r(ours.segmented.gradMs.median, ours.full.gradMs.median),
      ...(t
        ? {
            "rewardiff (no segmentation) / PyTorch": r(ours.full.gradMs.median, t.gradMs),
            [`rewardiff (segments of ${fc.segment}) / PyTorch`]: r(ours.segmented.gradMs.median, t.gradMs),
          }
        : {}),
    },
  };
  const line = (name: string, ms: number, p10: number, p90: number) =>
    process.stdout.write(`${name.padEnd(44)} ${ms.toFixed(1)} ms (p10 ${p10.toFixed(1)}, p90 ${p90.toFixed(1)})\n`);
  line("rewardiff chain grad, no segmentation", ours.full.gradMs.median, ours.full.gradMs.p10, ours.full.gradMs.p90);
  line(`rewardiff chain grad, segments of ${fc.segment}`, ours.segmented.gradMs.median, ours.segmented.gradMs.p10, ours.segmented.gradMs.p90);
  if (t) line("PyTorch chain grad (autograd)", t.gradMs, t.gradMsP10, t.gradMsP90);
  else if (!torch.available) process.stdout.write(`PyTorch: ${torch.reason}\n`);
  process.stdout.write(`wasm heap high-water mark: ${section.rewardiff.heapMiB.segmented} MiB after the segmented run, ${section.rewardiff.heapMiB.full} MiB after the unsegmented one\n`);
  return section;
}

/** `--only finetune`: the section alone, merged into the existing results file (other keys kept). */
async function onlyFinetune(path: string) {
  const previous: Record<string, unknown> = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : {};
  const quiet = await waitForQuiet({ timeoutMs: 20_000 });
  const section = await finetuneSection();
  writeResults(path, { ...previous, finetuneChain: { ...section, machine: machineInfo(), machineLoadAtStart: quiet, config: cfg } });
  process.stdout.write(`${JSON.stringify(section.ratios, null, 2)}\nwrote finetuneChain into ${path}\n`);
}

function parseOnly(argv: readonly string[]): "finetune" | undefined {
  const i = argv.indexOf("--only");
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v !== "finetune") throw new Error(`--only: expected "finetune" (the only section that runs alone), got ${v === undefined ? "nothing" : `"${v}"`}`);
  return v;
}

async function main() {
  const only = parseOnly(process.argv.slice(2));
  await ensureBackend();
  if (only === "finetune") return onlyFinetune(join(here, "results", "latest.json"));
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
  const finetuneChain = await finetuneSection();
  results.rewardiff = { trainStepMs: ours.trainStep, trainLoad: ours.load, sampleMs: oursSample.sample, sampleLoad: oursSample.load };
  results.sameJittedComputation = { trainStepMs: bare.trainStep, load: bare.load };
  results.rawJax = { trainStepMs: rawTrain.trainStep, trainLoad: rawTrain.load, sampleMs: rawSample.sample, sampleLoad: rawSample.load };
  results.torch = torch;
  results.finetuneChain = finetuneChain;
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
