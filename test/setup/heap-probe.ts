/**
 * Vitest setup file (vitest.config.ts `setupFiles`): runs before each test file imports anything, so the
 * opt-in wasm heap probe (src/backend/heap.ts) sees jax-js create its memory and the leak tests can read
 * `wasmHeapBytes()`.
 */
import "../../src/backend/heap-probe.js";
