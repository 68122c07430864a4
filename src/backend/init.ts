import { defaultDevice, init } from "./jax.js";

let ready: Promise<void> | undefined;

/**
 * Starts the numeric backend once: `init("wasm")` (never a bare `init()`, which probes WebGPU and
 * throws in Node) and makes wasm the default device. Every entry point awaits this before any array op.
 * Worker threads are not used: measured on 2 cores they pay off only for kernels far larger than
 * rewardiff's (design.md), so jax-js runs single-threaded, which also keeps results deterministic.
 */
export function ensureBackend(): Promise<void> {
  ready ??= (async () => {
    const devices = await init("wasm");
    if (!devices.includes("wasm")) throw new Error("the jax-js wasm backend could not start");
    defaultDevice("wasm");
  })();
  return ready;
}
