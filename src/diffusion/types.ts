/**
 * The small vocabulary shared by schedules, samplers and guidance (methods.md, "Notation").
 * Timesteps are 0-based indices into the training schedule: index i is the paper's t = i + 1.
 */
import type { JArray } from "../backend/jax.js";
import type { Prediction } from "./parameterization.js";

/** Where a sampler is in the chain: the training-schedule index of t and its ᾱ_t. */
export interface StepTime {
  /** 0-based index into the training schedule (paper's t = index + 1). */
  readonly index: number;
  /** ᾱ_t = ∏_{s≤t} (1 − β_s). */
  readonly alphaBar: number;
}

/**
 * An ε-predictor at one timestep: x_t [N, ...event] (consumed) → ε̂(x_t, t) [N, ...event].
 * A trained network, an exact closed-form denoiser (fixtures.md §1) and guided variants all fit it.
 */
export type EpsFn = (x: JArray, t: StepTime) => JArray;

/**
 * A network at one timestep with what it predicts: x_t (consumed) → its raw output (ε̂, x̂_0 or v̂).
 * The sampler takes x̂_0 straight from an x̂_0- or v-output (no round trip through a float32 ε̂).
 */
export interface ModelFn {
  readonly prediction: Prediction;
  readonly apply: (x: JArray, t: StepTime) => JArray;
}

/**
 * Maps a standard-normal draw z [N, ...event] (consumed) into the model's noise space V, e.g. the
 * symmetric part of a matrix, or zero on padded entries. Must be a linear projection P (idempotent).
 * Step densities and KLs of a chain with a hook are taken on V (P of the means and of x_s).
 */
export type NoiseHook = ((z: JArray) => JArray) & {
  /**
   * The projection of a network's output (x̂_0, ε̂ or v̂), where it differs from P: onto the span of the data
   * rather than of the noise, when every data row holds a fixed component outside V that x_t carries as
   * √ᾱ_t times it (graph rows: "no bond" on the edge diagonal, never noised, src/diffusion/graph-noise.ts).
   * Projecting x̂_0 with P there would zero what the network saw in training. Absent: P itself.
   */
  readonly output?: (y: JArray) => JArray;
};

/** The projection of network outputs under a noise hook (its `output`, else the hook itself). */
export function outputProjection(noise: NoiseHook): (y: JArray) => JArray {
  return noise.output ?? noise;
}
