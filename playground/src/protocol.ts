/** Messages between the page (main thread: draws only) and the worker (everything else). */
import type { Frame, RunSettings } from "./engine.js";

export type Device = "wasm" | "webgpu";

export type ToWorker =
  | { type: "load"; task: string; device: Device }
  | { type: "run"; id: number; device: Device; settings: RunSettings };

/** The numbers of a finished run, beside the exact reference. */
export interface RunNumbers {
  device: Device;
  rewardMean: number;
  exactRewardMean: number;
  exactRewardSe: number;
  regionFraction?: number;
  exactRegionMass?: number;
  exactEss: number;
  sw: number;
  swFloor: number;
  pathKl?: number;
  modelEvals: number;
  rewardEvals: number;
  gradEvals: number;
  valueEvals: number;
  seconds: number;
  predictorSeconds?: number;
}

export type FromWorker =
  | { type: "loaded"; task: string; device: Device; step: number; bytes: number; seconds: number }
  | { type: "reference"; id: number; heat: Float32Array }
  | ({ type: "frame"; id: number } & Frame)
  | { type: "progress"; id: number; step: number; total: number; objective: number; kl: number }
  | { type: "result"; id: number; numbers: RunNumbers; samples: Float32Array }
  | { type: "error"; id?: number; message: string };
