/**
 * Guidance at sampling time (docs/guidance.md): composable terms applied by the guided sampler, the
 * best-of-N baseline, noisy predictors for classifier / regressor guidance, exact oracles for the
 * Gaussian-mixture tilt, and the scoring helpers of the tilt benchmark.
 */
export * from "./types.js";
export * from "./terms.js";
export * from "./sampler.js";
export * from "./best-of-n.js";
export * from "./noisy-predictor.js";
export * from "./exact.js";
export * from "./benchmark.js";
