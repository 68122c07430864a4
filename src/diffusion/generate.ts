/** Sampling from a trained model into host memory (the step shared by `sample`, `run` and `demo`). */
import { toHost } from "../backend/ownership.js";
import { splitKey, type Key } from "../backend/keys.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { modelOutput, type ModelConfig } from "./model.js";
import { sample, samplerPlan, type SamplerConfig } from "./sample.js";
import { noiseHookOf } from "./noise-space.js";
import { makeSchedule } from "./schedule.js";
import type { EpsFn, ModelFn } from "./types.js";
import { eventShapeOf } from "../nn/denoisers/types.js";
import type { DenoiserParams, DenoiserSpec } from "../nn/denoiser.js";

/** Rows per sampling batch of a vector network (an MLP's activations are a few KB per row). */
export const SAMPLE_BATCH = 4096;
/**
 * Edge activations (rows × maxNodes² × edgeHidden) per sampling batch of a graph transformer: jax-js's wasm
 * heap is capped at 4 GiB (memory32), and QM9's model (9 nodes, edgeHidden 48) measured: 1,000 molecules per
 * batch fit, 4,096 raise "Allocation exceeds the 4 GiB memory32 limit". This budget is 1,024 such molecules.
 */
export const GRAPH_SAMPLE_EDGE_BUDGET = 1024 * 81 * 48;

/** Default rows per sampling batch: {@link SAMPLE_BATCH}, fewer for a graph transformer (its edge stream grows with maxNodes²). */
export function defaultSampleBatch(network: DenoiserSpec): number {
  if (network.kind !== "graph-transformer") return SAMPLE_BATCH;
  return Math.max(1, Math.min(SAMPLE_BATCH, Math.floor(GRAPH_SAMPLE_EDGE_BUDGET / (network.maxNodes * network.maxNodes * network.edgeHidden))));
}

export interface GenerateOptions {
  /** Rows per batch (default {@link defaultSampleBatch}: 4,096; 1,024 QM9 molecules). */
  batch?: number;
  /** After each step; awaited when it returns a promise. */
  onStep?: (done: number, total: number) => void | Promise<void>;
}

/** Draws n samples (in batches of at most `batch`). Borrows `params`; consumes `key`. */
export function generate(
  model: ModelConfig,
  params: DenoiserParams,
  sampler: SamplerConfig,
  n: number,
  key: Key,
  opts: GenerateOptions = {},
): Promise<HostMatrix> {
  return generateWithEps(modelOutput(model, params), model, sampler, n, key, opts);
}

/** Draws n samples with any ε-predictor (e.g. a CFG combination) or network output on the model's schedule. Consumes `key`. */
export async function generateWithEps(
  eps: EpsFn | ModelFn,
  model: ModelConfig,
  sampler: SamplerConfig,
  n: number,
  key: Key,
  opts: GenerateOptions = {},
): Promise<HostMatrix> {
  const D = model.network.dataDim;
  const plan = samplerPlan(makeSchedule(model.schedule), sampler);
  const batch = opts.batch ?? defaultSampleBatch(model.network);
  const out = new Float32Array(n * D);
  const batches = Math.ceil(n / batch);
  const noise = noiseHookOf(model.noise);
  const keys = batches > 0 ? splitKeys(key, batches) : (key.dispose(), []);
  for (let b = 0; b < batches; b++) {
    const rows = Math.min(batch, n - b * batch);
    const x = await sample({
      model: eps,
      plan,
      n: rows,
      eventShape: eventShapeOf(model.network),
      key: keys[b]!,
      hooks: {
        ...(noise ? { noise } : {}),
        ...(opts.onStep ? { onStep: (info: { i: number }) => opts.onStep!(b * plan.length + info.i + 1, batches * plan.length) } : {}),
      },
    });
    out.set(await toHost(x.reshape([rows, D])), b * batch * D);
  }
  return hostMatrix(n, D, out);
}

function splitKeys(key: Key, n: number): Key[] {
  return n === 1 ? [key] : splitKey(key, n);
}
