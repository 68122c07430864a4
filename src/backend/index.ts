/** The numeric backend: the only module tree that touches @jax-js/jax directly. */
export * from "./jax.js";
export * from "./init.js";
export * from "./ownership.js";
export * from "./keys.js";
export { installHeapProbe, heapProbeInstalled, wasmHeapBytes } from "./heap.js";
export * from "./threefry.js";
