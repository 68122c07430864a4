/** Reward learning for reward-directed diffusion: ridge, MLP and deep-ensemble regressors, pseudo-labels. */
export * from "./types.js";
export { fitRidge, predictRidge } from "./ridge.js";
export { fitMlp, predictMlp, mlpRewardFn } from "./mlp.js";
export { fitEnsemble, predictEnsemble, ensembleRewardFn } from "./ensemble.js";
export * from "./classifier.js";
export { fitReward, predictReward, rewardModelPlugin, pseudoLabel, fitQuality, checkLabeledData, splitSizes, permutation, type FitRewardOptions } from "./fit.js";
// Files (Node only): saveRewardModel / loadRewardModel in src/io/checkpoints/reward.ts, exported from "rewardiff/node".
