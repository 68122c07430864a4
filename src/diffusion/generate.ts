/** Sampling from a trained model into host memory (the step shared by `sample`, `run` and `demo`). */
import { toHost } from "../backend/ownership.js";
import { splitKey, type Key } from "../backend/keys.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { modelOutput, type ModelConfig } from "./model.js";
import { sample, samplerPlan, type SamplerConfig } from "./sample.js";
import { noiseHookOf } from "./noise-space.js";
import { makeSchedule } from "./schedule.js";
import type { EpsFn, ModelFn } from "./types.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { eventShapeOf } from "../nn/denoisers/types.js";

export interface GenerateOptions {
  batch?: number;
  onStep?: (done: number, total: number) => void;
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
  const batch = opts.batch ?? 4096;
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
