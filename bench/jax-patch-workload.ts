/**
 * One measurement process for bench/jax-patch.ts: times the kernels patches/@jax-js+jax+0.1.25.patch
 * changes (exp, division, SiLU, the SiLU derivative fused into a matmul operand in the backward pass)
 * and rewardiff's training step and DDIM sampling, and prints one JSON line of medians (ms). The driver
 * bundles this file twice, with @jax-js/jax resolved to the patched install and to a pristine copy.
 */
import "../src/backend/heap-probe.js"; // before jax-js: the chain workload reads the wasm heap (src/backend/heap.ts)
import "../src/backend/jax.js";
import { blockUntilReady, grad, jit, np, type JArray } from "../src/backend/jax.js";
import { enableRelaxedSimd } from "../src/cli/relaxed-simd.js";
import { DEFAULT_FINETUNE_CONFIG, rewardiffChainGrad } from "./finetune.js";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { generate } from "../src/diffusion/generate.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { silu } from "../src/nn/activations.js";
import { defaultTrainConfig, denoiserStep, disposeTrainState, initTrainState, type TrainConfig, type TrainState } from "../src/training/trainer.js";
import { DEFAULT_BENCH_CONFIG, timeIt } from "./lib.js";

/**
 * Times `fn`: the wall-clock median (lib.ts `timeIt`) and this process's CPU time per call (user +
 * system over all timed calls ÷ calls). jax-js runs on one thread here, so CPU time is the work done,
 * which other processes on a busy machine change far less than they change wall time.
 */
async function measure(out: Record<string, number>, name: string, fn: () => unknown, warmup: number, repeats: number): Promise<void> {
  for (let i = 0; i < warmup; i++) await fn();
  const c0 = process.cpuUsage();
  const t = await timeIt(fn, { warmup: 0, repeats });
  const c = process.cpuUsage(c0);
  out[`${name}Ms`] = t.median;
  out[`${name}CpuMs`] = (c.user + c.system) / 1000 / repeats;
}

const N = 1 << 20;
const cfg = DEFAULT_BENCH_CONFIG;

function filled(n: number, seed: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * scale);
}

/** Times `f(...xs)` jitted (inputs kept), waiting for the result each time. */
async function kernel(out: Record<string, number>, name: string, f: (...a: JArray[]) => JArray, xs: JArray[], repeats: number): Promise<void> {
  const jf = jit(f);
  const call = async () => {
    const y = jf(...xs.map((x) => x.ref));
    await blockUntilReady(y);
    y.dispose();
  };
  await measure(out, name, call, 3, repeats);
}

/** `--only a,b`: run only the named groups (kernels, matmul, train, sample, chain); all but chain by default. */
function groups(): Set<string> {
  const i = process.argv.indexOf("--only");
  return new Set(i < 0 ? ["kernels", "matmul", "train", "sample"] : (process.argv[i + 1] ?? "").split(","));
}

async function main() {
  // As the CLI does (src/cli/relaxed-simd.ts); REWARDIFF_RELAXED_SIMD=0 in the environment keeps it off.
  const relaxed = enableRelaxedSimd();
  await ensureBackend();
  const only = groups();
  const out: Record<string, number> = { relaxedSimd: relaxed === "native" || relaxed === "enabled" ? 1 : 0 };
  if (only.has("kernels")) await kernels(out);
  if (only.has("matmul")) await matmuls(out);
  if (only.has("train") || only.has("sample")) await trainAndSample(out, only);
  if (only.has("chain")) await chain(out);
  process.stdout.write(JSON.stringify(out) + "\n");
}

async function kernels(out: Record<string, number>) {  const x = np.array(filled(N, 1, 6));
  const y = np.array(filled(N, 2, 3).map((v) => v + 4));
  await kernel(out, "exp", (a) => np.exp(a), [x], 30);
  await kernel(out, "divide", (a, b) => a.div(b), [x, y], 30);
  await kernel(out, "silu", (a) => silu(a), [x], 30);
  x.dispose();
  y.dispose();

  const h = cfg.hidden;
  const xb = np.array(filled(cfg.batch * h, 3, 1), { shape: [cfg.batch, h] });
  const w = np.array(filled(h * h, 4, 1 / 16), { shape: [h, h] });
  const w2 = np.array(filled(h * h, 5, 1 / 16), { shape: [h, h] });
  // d/dW Σ silu(x W) W2: the backward pass multiplies by silu'(x W), which jax-js fuses into a matmul operand.
  await kernel(out, "siluBackward", (xx, ww, vv) => grad((p: JArray) => np.sum(np.matmul(silu(np.matmul(xx, p)), vv)))(ww), [xb, w, w2], 20);
  xb.dispose();
  w.dispose();
  w2.dispose();
}

/** The bench MLP's three matmul shapes at batch 512, width 256: forward x W, backward g Wᵀ and xᵀ g. */
async function matmuls(out: Record<string, number>) {
  const h = cfg.hidden;
  const x = np.array(filled(cfg.batch * h, 3, 1), { shape: [cfg.batch, h] });
  const g = np.array(filled(cfg.batch * h, 7, 1), { shape: [cfg.batch, h] });
  const w = np.array(filled(h * h, 4, 1 / 16), { shape: [h, h] });
  await kernel(out, "matmulNN", (a, b) => np.matmul(a, b), [x, w], 40);
  await kernel(out, "matmulNT", (a, b) => np.matmul(a, b.transpose()), [g, w], 40);
  await kernel(out, "matmulTN", (a, b) => np.matmul(a.transpose(), b), [x, g], 40);
  x.dispose();
  g.dispose();
  w.dispose();
}

/** Reward backpropagation through 50 DDPM steps, 128 chains (bench/finetune.ts), single pass. */
async function chain(out: Record<string, number>) {
  const c0 = process.cpuUsage();
  const r = await rewardiffChainGrad(cfg, { ...DEFAULT_FINETUNE_CONFIG, warmup: 1, repeats: 3 });
  const c = process.cpuUsage(c0);
  out.chainGradMs = r.full.gradMs.median;
  // CPU over both variants' calls (segmented and single pass, 1 + 3 each), per call.
  out.chainGradCpuMs = (c.user + c.system) / 1000 / 8;
}

async function trainAndSample(out: Record<string, number>, only: Set<string>) {
  const model: ModelConfig = {
    network: { kind: "mlp", dataDim: cfg.outDim, hidden: cfg.hidden, layers: cfg.depth, timeEmbedding: cfg.inDim - cfg.outDim, residual: false, norm: "none" },
    prediction: "eps",
    schedule: { kind: "linear", steps: cfg.T ?? 1000 },
  };
  const train: TrainConfig = { ...defaultTrainConfig, steps: 1000, batchSize: cfg.batch, learningRate: 1e-3, lrSchedule: "constant" };
  const step = denoiserStep(model, train, false, false, 0);
  let s: TrainState = initTrainState(model, keyFromSeed(0));
  const x0 = filled(cfg.batch * 2, 6, 1.5);
  const alphaBars = Float32Array.from(makeSchedule(model.schedule).alphaBars);
  const trainStep = async () => {
    const r = step.step(s, [np.array(x0, { shape: [cfg.batch, 2] }), np.array(alphaBars)]);
    s = r.state as TrainState;
    return Number((await r.loss.data())[0]);
  };
  if (only.has("train")) await measure(out, "trainStep", trainStep, 10, 60);
  let k = 0;
  if (only.has("sample")) await measure(out, "sample", () => generate(model, s.ema, { sampler: "ddim", steps: cfg.steps, eta: 0 }, cfg.samples, keyFromSeed(100 + k++)), 1, 3);
  disposeTrainState(s);
}

await main();
