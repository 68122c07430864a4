export * from "./params.js";
export * from "./dense.js";
export * from "./norm.js";
export * from "./embeddings.js";
export * from "./denoiser.js";
