/**
 * The denoising network's entry points, re-exported from the registry (./denoisers/index.ts): callers
 * import `applyDenoiser`, `initDenoiser`, `DenoiserSpec` and `DenoiserParams` from here whatever the
 * network's kind (the residual MLP ./denoisers/mlp.ts, the low-rank score network ./denoisers/low-rank.ts).
 */
export * from "./denoisers/index.js";
