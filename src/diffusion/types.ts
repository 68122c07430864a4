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
 * Maps a standard-normal draw z [N, ...event] (consumed) into the model's noise space, e.g. the
 * symmetric part of a matrix, or zero on padded entries. Must be a linear projection (idempotent).
 */
export type NoiseHook = (z: JArray) => JArray;
