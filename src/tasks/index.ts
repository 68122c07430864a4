/** Data sets with their ground-truth oracles (fixtures.md): the public surface of src/tasks. */
export * from "./task.js";
export * from "./toy2d.js";
export * from "./gaussian.js";
export * from "./symmetric-gaussian.js";
export * from "./gaussian-mixture.js";
export * from "./linear-subspace.js";
export * from "./linear-reward.js";
export * from "./classifier-tilt.js";
export { hostNormal, hostUniform } from "./host-random.js";
