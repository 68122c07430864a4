/**
 * The graph-transformer training step that bench/graph-step.ts (against PyTorch) and bench/webgpu-device.ts
 * (webgpu against wasm) time: the network with its defaults on QM9 rows of 396 values, t ~ U{0..T−1}, the graph
 * noise hook (src/diffusion/graph-noise.ts), the ε-prediction loss and Adam(1e-3), one jitted step of the
 * train-step builder (src/optim/train-step.ts). No side effects on import (a bundle may import it).
 */
import { np } from "../src/backend/jax.js";
import { QM9_GRAPH_LAYOUT } from "../src/data/graph-layout.js";
import { graphNoise } from "../src/diffusion/graph-noise.js";
import { denoisingLossOf } from "../src/diffusion/loss.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { applyDenoiser, parseDenoiserSpec, type DenoiserParams, type DenoiserSpec } from "../src/nn/denoiser.js";
import { adam, makeTrainStep, type TrainStep } from "../src/optim/index.js";

/** Diffusion steps of the benchmarked schedule (linear β). */
export const GRAPH_STEP_T = 1000;

/** The benchmarked network: the graph transformer with its defaults (QM9 layout). */
export function graphStepSpec(): DenoiserSpec {
  return parseDenoiserSpec({ kind: "graph-transformer", dataDim: 396 });
}

/** The jitted training step (its batch: [x_0 [B, D], ᾱ [T]]; one PRNG key per step). */
export function graphStepTrainer(spec: DenoiserSpec): TrainStep<DenoiserParams> {
  const hook = graphNoise(QM9_GRAPH_LAYOUT);
  const D = spec.dataDim;
  return makeTrainStep<DenoiserParams>(
    (q, [x0, ab], [key]) => denoisingLossOf((xt, t) => applyDenoiser(spec, q, xt, t.astype(np.float32).mul(1000 / GRAPH_STEP_T)), "eps", [D], { x0: x0!, alphaBars: ab!, key: key!, noise: hook }),
    adam(1e-3),
    { lossKeys: 1 },
  );
}

/** The step's host inputs at batch B: a fixed pseudo-random 0/1 x_0 (20% ones) and the schedule's ᾱ. */
export function graphStepInputs(spec: DenoiserSpec, B: number): { x0: Float32Array; alphaBars: Float32Array } {
  const D = spec.dataDim;
  return {
    x0: Float32Array.from({ length: B * D }, (_, i) => ((Math.sin(i * 12.9898) * 43758.5453) % 1 < 0.2 ? 1 : 0)),
    alphaBars: Float32Array.from(makeSchedule({ kind: "linear", steps: GRAPH_STEP_T }).alphaBars),
  };
}
