/**
 * rewardiff: reward-directed diffusion models in TypeScript on jax-js.
 * The public library API; see README.md for a tour and docs/ for the methods.
 */
export * from "./backend/index.js";
export * from "./data/matrix.js";
export * from "./nn/index.js";
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
export { generate } from "./pipeline/generate.js";
export { runExperiment } from "./pipeline/experiment.js";
export { saveModel, loadModel } from "./pipeline/model-checkpoint.js";
export { taskData, readDataFile } from "./pipeline/task-data.js";
export { parseConfig, readConfig, defaultConfig, type ExperimentConfig } from "./io/config.js";
export { readCsv, writeCsv } from "./io/csv.js";
export { readNpy, writeNpy } from "./io/npy.js";
export { saveCheckpoint, loadCheckpoint } from "./io/checkpoint.js";
