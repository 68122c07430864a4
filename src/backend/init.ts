import { defaultDevice, init } from "./jax.js";

let ready: Promise<void> | undefined;

/**
 * Starts the numeric backend once: `init("wasm")` (never a bare `init()`, which probes WebGPU and
 * throws in Node) and makes wasm the default device. Every entry point awaits this before any array op.
 * Worker threads are off unless REWARDIFF_THREADS is set (see ./jax.ts and ./threads.ts): measured on
 * 2 cores they pay off only for large kernels (batch ≥ 4096), not for rewardiff's usual sizes.
 */
export function ensureBackend(): Promise<void> {
  ready ??= (async () => {
    const devices = await init("wasm");
    if (!devices.includes("wasm")) throw new Error("the jax-js wasm backend could not start");
    defaultDevice("wasm");
  })();
  return ready;
}
