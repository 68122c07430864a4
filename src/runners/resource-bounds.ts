/**
 * Upper bounds on the sizes a run may ask for, checked before anything is allocated (docs/config.md,
 * "Size limits"). The one place for them: the experiment schema (./config.ts, hence `run` and `train`)
 * and `sample --n` call these functions.
 *
 * Memory is estimated in float32 bytes (4 per value), as a lower bound of what jax-js will hold:
 *  - the denoiser's parameters P (input layer (D(1+2F) + time embedding)·h, h² per further layer, h·D
 *    output), held 5 times while training (parameters, EMA, Adam's m and v, the gradient);
 *  - activations: batch × (input width + layers × hidden) values, 4 times (forward, backward, jit temporaries);
 *  - samples: n × (input width + layers × hidden) values twice, plus n × D four times (x_t, x̂₀, ε̂, noise);
 *  - the task's data on the host: rows × D.
 * The limit is {@link memoryLimitBytes}: half the machine's memory, at most 2 GiB (jax-js's wasm
 * device addresses at most 4 GiB, and webgpu buffers are smaller still).
 */
import { totalmem } from "node:os";
import { simdTimeEmbedding } from "../nn/embeddings.js";

/** At most this many optimizer steps (the loss history keeps one entry per step). */
export const MAX_STEPS = 10_000_000;

const GIB = 1024 ** 3;

/** Bytes a run may plan to hold: min(½ × total memory, 2 GiB). */
export function memoryLimitBytes(): number {
  return Math.min(2 * GIB, Math.floor(totalmem() / 2));
}

/** "1.5 GB" (decimal units, as people read sizes). */
export function formatBytes(b: number): string {
  if (b >= 1e12) return `${(b / 1e12).toPrecision(3)} TB`;
  if (b >= 1e9) return `${(b / 1e9).toPrecision(3)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toPrecision(3)} MB`;
  return `${Math.ceil(b / 1e3)} kB`;
}

/** The denoiser's shape as far as memory is concerned (D = data dimension, F = Fourier features per coordinate). */
export interface NetworkSize {
  dim: number;
  hidden: number;
  layers: number;
  timeEmbedding: number;
  fourier: number;
}

function inputWidth(n: NetworkSize): number {
  return n.dim * (1 + 2 * n.fourier) + n.timeEmbedding;
}

/** Parameters of the residual MLP (src/nn/denoisers/mlp.ts). */
export function denoiserParams(n: NetworkSize): number {
  return (inputWidth(n) + 1) * n.hidden + (n.layers - 1) * (n.hidden + 1) * n.hidden + (n.hidden + 1) * n.dim;
}

/** Training's bytes: 5 copies of the parameters and 4 of a batch's activations. */
export function trainingBytes(n: NetworkSize, batchSize: number): number {
  return 4 * (5 * denoiserParams(n) + 4 * batchSize * (inputWidth(n) + n.layers * n.hidden));
}

/** Sampling's bytes for `samples` draws at once. */
export function samplingBytes(n: NetworkSize, samples: number): number {
  return 4 * (denoiserParams(n) + 2 * samples * (inputWidth(n) + n.layers * n.hidden) + 4 * samples * n.dim);
}

/**
 * One line when `bytes` exceed the limit, naming what asked for it (`what`, e.g. `model.hidden 100000
 * (--hidden)`) and the estimate vs the limit; undefined when it fits.
 */
export function overMemory(bytes: number, what: string, limit = memoryLimitBytes()): string | undefined {
  if (bytes <= limit) return undefined;
  return `${what} needs about ${formatBytes(bytes)} of memory, more than the limit of ${formatBytes(limit)} (half the machine's memory, capped at 2 GiB); choose a smaller value`;
}

/** The data dimension a task config implies, where it says (csv files: unknown before reading, so 1, a lower bound). */
export function taskDim(task: Record<string, unknown> | undefined): number {
  switch (task?.kind) {
    case "gaussian-mixture": {
      const c = task.components;
      const mean = Array.isArray(c) ? (c[0] as { mean?: unknown } | undefined)?.mean : undefined;
      return Array.isArray(mean) ? Math.max(1, mean.length) : 1;
    }
    case "linear-subspace":
      return typeof task.ambientDim === "number" ? task.ambientDim : 1;
    case "toy2d":
    case "classifier-tilt":
      return 2;
    default:
      return 1;
  }
}

/** Rows the task keeps in memory (its training set and offline/labeled sets). */
function taskRows(task: Record<string, unknown> | undefined): number {
  const num = (k: string) => (typeof task?.[k] === "number" ? (task[k] as number) : 0);
  return num("n") + num("unlabeled") + num("labeled") + num("offline");
}

type AddIssue = (path: (string | number)[], message: string, input: unknown) => void;

/** What the bound checks read from a (partially validated) experiment config. */
export interface SizedConfig {
  task?: Record<string, unknown>;
  model?: { hidden?: unknown; layers?: unknown; timeEmbedding?: unknown; fourierFeatures?: unknown; train?: { batchSize?: unknown } };
  sampling?: { samples?: unknown };
}

/** The experiment config's memory bounds, as issues on the key that asks for the most. */
export function checkConfigMemory(cfg: SizedConfig, add: AddIssue, limit = memoryLimitBytes()): void {
  const m = cfg.model;
  const whole = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 1;
  if (!m || !whole(m.hidden) || !whole(m.layers) || !(whole(m.timeEmbedding) || m.timeEmbedding === "auto")) return;
  const dim = taskDim(cfg.task);
  const fourier = typeof m.fourierFeatures === "number" ? m.fourierFeatures : dim <= 3 ? 4 : 0;
  // "auto": the width the network gets (src/nn/embeddings.ts).
  const timeEmbedding = m.timeEmbedding === "auto" ? simdTimeEmbedding(dim * (1 + 2 * fourier)) : (m.timeEmbedding as number);
  const net: NetworkSize = { dim, hidden: m.hidden as number, layers: m.layers as number, timeEmbedding, fourier };
  const hostData = 4 * taskRows(cfg.task) * dim;
  const network = `model.hidden ${net.hidden} × model.layers ${net.layers}`;
  // The parameters grow with both; the larger of the two is named.
  const byLayers = net.layers > net.hidden;
  const params = overMemory(
    4 * 5 * denoiserParams(net),
    byLayers ? `${net.layers} with model.hidden ${net.hidden}` : `${net.hidden} with model.layers ${net.layers}`,
    limit,
  );
  if (params) return add(["model", byLayers ? "layers" : "hidden"], params, byLayers ? net.layers : net.hidden);
  const rows = overMemory(hostData, `${taskRows(cfg.task)} rows × ${dim} dimensions of data`, limit);
  if (rows) return add(["task"], rows, cfg.task);
  const batch = m.train?.batchSize;
  if (whole(batch)) {
    const over = overMemory(trainingBytes(net, batch as number) + hostData, `${batch as number} with ${network}`, limit);
    if (over) return add(["model", "train", "batchSize"], over, batch);
  }
  const samples = cfg.sampling?.samples;
  if (whole(samples)) {
    const over = overMemory(samplingBytes(net, samples as number) + hostData, `${samples as number} with ${network}`, limit);
    if (over) return add(["sampling", "samples"], over, samples);
  }
}

/** The memory-relevant sizes of a denoiser spec (src/nn/denoisers/; fields it lacks count as the smallest). */
function sizeOf(network: { dataDim: number }): NetworkSize {
  const fields = network as unknown as Record<string, unknown>;
  const num = (k: string, fallback: number) => (typeof fields[k] === "number" ? (fields[k] as number) : fallback);
  return { dim: network.dataDim, hidden: num("hidden", 1), layers: num("layers", 1), timeEmbedding: num("timeEmbedding", 0), fourier: num("fourierFeatures", 0) };
}

/**
 * Command-line training that builds no experiment config (`train --unlabeled`): the problem with
 * `steps` and training this network at `batchSize`, naming the flags, if any.
 */
export function trainingSizeProblem(network: { dataDim: number }, batchSize: number, steps: number, limit = memoryLimitBytes()): string | undefined {
  if (steps > MAX_STEPS) return `--steps ${steps}: at most ${MAX_STEPS} steps`;
  const net = sizeOf(network);
  return overMemory(trainingBytes(net, batchSize), `--hidden ${net.hidden} × --layers ${net.layers} at --batch-size ${batchSize}`, limit);
}

/** `fit-reward --kind mlp|ensemble`: the problem with fitting these MLPs on `dim` features, naming the flags, if any. */
export function rewardMlpProblem(spec: { hidden: number; layers: number; batchSize: number; steps: number; members?: number }, dim: number, limit = memoryLimitBytes()): string | undefined {
  if (spec.steps > MAX_STEPS) return `--steps ${spec.steps}: at most ${MAX_STEPS} steps`;
  const members = spec.members ?? 1;
  const params = (dim + 1) * spec.hidden + (spec.layers - 1) * (spec.hidden + 1) * spec.hidden + spec.hidden + 1;
  const bytes = 4 * members * (5 * params + 4 * spec.batchSize * (dim + spec.layers * spec.hidden));
  const what = `--hidden ${spec.hidden} × --layers ${spec.layers}${members > 1 ? ` × --members ${members}` : ""}`;
  return overMemory(bytes, what, limit);
}

/** `sample --n`: the problem with drawing `n` samples at once from a model with this network spec, if any. */
export function sampleCountProblem(n: number, network: { dataDim: number }, limit = memoryLimitBytes()): string | undefined {
  const net = sizeOf(network);
  return overMemory(samplingBytes(net, n), `${n} samples of ${net.dim} dimensions (hidden width ${net.hidden}, ${net.layers} layer${net.layers === 1 ? "" : "s"})`, limit);
}
