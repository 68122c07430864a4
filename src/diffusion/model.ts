/**
 * A diffusion model = a network spec, what it predicts, and its noise schedule: plain JSON that is
 * saved beside the weights. `modelEps` turns (model, parameters) into the ε-predictor samplers use.
 */
import { backendDevice } from "../backend/init.js";
import { jit, np, tree, type JArray } from "../backend/jax.js";
import { scalar } from "../backend/ownership.js";
import { applyDenoiser, type ConditionInput, type DenoiserParams, type DenoiserSpec } from "../nn/denoiser.js";
import { denoised, type Prediction } from "./parameterization.js";
import { makeSchedule, type Schedule, type ScheduleConfig } from "./schedule.js";
import type { NoiseSpace } from "./noise-space.js";
import type { EpsFn, ModelFn, StepTime } from "./types.js";

export interface ModelConfig {
  network: DenoiserSpec;
  prediction: Prediction;
  schedule: ScheduleConfig;
  /** The noise space (./noise-space.ts); absent = all of R^D. */
  noise?: NoiseSpace;
  /** The training loss (./loss.ts); absent = squared error on the prediction. */
  loss?: LossConfig;
}

/**
 * The training loss: squared error on ε/x_0/v ("mse"), or for one-hot data with a categorical network and
 * x̂_0 prediction the weighted cross-entropy Σ_b w_b · CE_b over the network's categorical blocks
 * (src/nn/categorical.ts; one weight per block, e.g. [1, 1, 5] for a molecule's atoms, charges and bonds).
 */
export type LossConfig = { kind: "mse" } | { kind: "cross-entropy"; blockWeights: number[] };

/** The network's time input for training index i: t = 1000 · i / T (the DDPM scale whatever T is). */
export function networkTime(index: JArray | number, T: number): JArray {
  return typeof index === "number" ? scalar((1000 * index) / T) : index.astype(np.float32).mul(1000 / T);
}

/** The batch's condition as the network wants it (value conditions: keep = 1 means "use y"). */
export type BatchCondition = ConditionInput;

// Compiled functions per spec, by device and prediction: a jitted function keeps the device it was
// first traced on.
const epsCache = new WeakMap<DenoiserSpec, Map<string, (...a: any[]) => JArray>>();

function jittedEps(spec: DenoiserSpec, prediction: Prediction) {
  let bySpec = epsCache.get(spec);
  if (!bySpec) epsCache.set(spec, (bySpec = new Map()));
  const id = `${backendDevice()} ${prediction}`;
  let f = bySpec.get(id);
  if (!f) {
    // jit takes arrays only: the condition crosses as its arrays ([value, keep] or [oneHot]) and its
    // kind (fixed by the spec) is put back inside.
    // a = √ᾱ_t and s = √(1−ᾱ_t) arrive as traced scalars computed in float64 on the host.
    f = jit((p: DenoiserParams, x: JArray, t: JArray, a: JArray, s: JArray, condArrays?: JArray[]) => {
      const n = x.shape[0]!;
      const cond = condArrays ? conditionFromArrays(spec, condArrays) : undefined;
      const out = applyDenoiser(spec, p, x.ref, np.broadcastTo(t, [n]), cond);
      if (prediction === "eps") {
        a.dispose();
        s.dispose();
        x.dispose();
        return out;
      }
      const { x0Hat, epsHat } = denoised(prediction, x, out, a, s);
      x0Hat.dispose();
      return epsHat;
    }) as (...a: any[]) => JArray;
    bySpec.set(id, f);
  }
  return f;
}

/**
 * ε̂(x_t, t) of a trained network (x̂_0 and v predictions converted exactly). Borrows `params` (they
 * must stay alive while the returned function is used) and `cond` (built per call by `condFor`).
 */
export function modelEps(
  model: ModelConfig,
  params: DenoiserParams,
  condFor?: (n: number) => ConditionInput,
): EpsFn {
  const schedule = makeSchedule(model.schedule);
  const f = jittedEps(model.network, model.prediction);
  return (x, t) => {
    const args: unknown[] = [tree.ref(params), x, networkTime(t.index, schedule.T), scalar(Math.sqrt(t.alphaBar)), scalar(Math.sqrt(1 - t.alphaBar))];
    if (condFor) args.push(conditionArrays(condFor(x.shape[0]!)));
    return f(...args);
  };
}

const outputCache = new WeakMap<DenoiserSpec, Map<string, (...a: any[]) => JArray>>();

/**
 * The raw network output of a trained model with its prediction kind (what the sampling loop uses:
 * x̂_0 comes straight from x̂_0- and v-outputs). Borrows `params` and `cond` as {@link modelEps}.
 */
export function modelOutput(model: ModelConfig, params: DenoiserParams, condFor?: (n: number) => ConditionInput): ModelFn {
  const schedule = makeSchedule(model.schedule);
  const spec = model.network;
  let byDevice = outputCache.get(spec);
  if (!byDevice) outputCache.set(spec, (byDevice = new Map()));
  const device = backendDevice();
  let f = byDevice.get(device);
  if (!f) {
    f = jit((p: DenoiserParams, x: JArray, t: JArray, condArrays?: JArray[]) => {
      const cond = condArrays ? conditionFromArrays(spec, condArrays) : undefined;
      return applyDenoiser(spec, p, x, np.broadcastTo(t, [x.shape[0]!]), cond);
    }) as (...a: any[]) => JArray;
    byDevice.set(device, f);
  }
  const g = f;
  return {
    prediction: model.prediction,
    apply: (x: JArray, t: StepTime) => {
      const args: unknown[] = [tree.ref(params), x, networkTime(t.index, schedule.T)];
      if (condFor) args.push(conditionArrays(condFor(x.shape[0]!)));
      return g(...args);
    },
  };
}

/** The arrays of a condition input (what crosses a jit boundary). */
function conditionArrays(c: ConditionInput): JArray[] {
  return c.kind === "value" ? [c.value, c.keep] : [c.oneHot];
}

/** A condition input rebuilt from its arrays; the kind comes from the network spec. */
function conditionFromArrays(spec: DenoiserSpec, a: JArray[]): ConditionInput {
  if (spec.condition?.kind === "class") return { kind: "class", oneHot: a[0]! };
  return { kind: "value", value: a[0]!, keep: a[1]! };
}

/** The schedule of a model. */
export function modelSchedule(model: ModelConfig): Schedule {
  return makeSchedule(model.schedule);
}
