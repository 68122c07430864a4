/**
 * rewardiff: reward-directed diffusion models in TypeScript on jax-js.
 * The public library API; see README.md for a tour and docs/ for the methods.
 * This entry point runs in Node and in the browser (no Node built-ins). File I/O, checkpoints and the
 * experiment runner are in "rewardiff/node".
 */
export * from "./backend/index.js";
export * from "./data/matrix.js";
export * from "./data/transform.js";
export * from "./nn/index.js";
export * from "./optim/index.js";
export * from "./diffusion/types.js";
export * from "./diffusion/schedule.js";
export * from "./diffusion/parameterization.js";
export * from "./diffusion/respacing.js";
export * from "./diffusion/step.js";
export * from "./diffusion/loss.js";
export * from "./diffusion/model.js";
export * from "./diffusion/sample.js";
export * from "./diffusion/samplers/ddim.js";
export * from "./diffusion/samplers/ddpm.js";
export * from "./training/trainer.js";
export * from "./tasks/index.js";
export * from "./eval/index.js";
export * from "./rewards/reward.js";
export * from "./guidance/index.js";
export * from "./rewards/index.js";
export * from "./training/rcgdm.js";
export * from "./runners/rcgdm-metrics.js";
export * from "./training/rgdm.js";
export * from "./training/rgdm-shift.js";
export * from "./guidance/payoff-noise.js";
export * from "./training/rwr.js";
export * from "./finetune/ddpo.js";
export * from "./finetune/index.js";
export * from "./nn/low-rank-score.js";
export { generate } from "./diffusion/generate.js";
export { encodeSafetensors, decodeSafetensors } from "./io/safetensors.js";
export { decodeCheckpoint, sha256HexWeb, type Checkpoint } from "./io/sidecar.js";
export { loadModelFromBytes, checkModelMeta, disposeLoadedModel, trainingState, MODEL_KIND, type CheckpointKind, type LoadedModel, type ModelMeta } from "./io/checkpoints/model.js";
