/** Sample-based metrics: summary statistics, MMD, sliced Wasserstein, and distances with their noise floor. */
export * from "./stats.js";
export * from "./mmd.js";
export * from "./sliced-wasserstein.js";
export * from "./floor.js";
export * from "./subsample.js";
export * from "./classification.js";
export * from "./pseudo-label-floor.js";
