/**
 * The wasm heap probe (opt-in): observes the WebAssembly memories that jax-js creates, so that the wasm
 * heap's size can be read. jax-js's wasm allocator is a bump allocator with free lists: its memory only
 * grows, so the memory's byte length *is* the heap's high-water mark. A leak shows up as this number
 * growing over steps.
 *
 * Importing rewardiff does not install it (a page keeps its own `WebAssembly.Memory`). jax-js creates its
 * memory when `@jax-js/jax` is *evaluated*, so the probe must be installed before that: import
 * "./heap-probe.js" (which calls {@link installHeapProbe}) before anything that imports ./jax.js — the
 * CLI, the benchmarks and the tests' setup file (test/setup/heap-probe.ts) do. See docs/architecture.md,
 * "Entry points".
 */

import { jaxEvaluated } from "./jax-loaded.js";

const memories: WebAssembly.Memory[] = [];
let installed = false;

/**
 * Replaces `WebAssembly.Memory` by a wrapper (same prototype) that records every memory created from now on.
 * Idempotent. Throws when rewardiff's jax-js bootstrap (./jax.ts) was already evaluated: jax-js's memory
 * would then go unseen and {@link wasmHeapBytes} would under-report.
 */
export function installHeapProbe(): void {
  if (installed) return;
  if (jaxEvaluated()) {
    throw new Error("installHeapProbe(): jax-js is already loaded, so its wasm memory cannot be observed; import rewardiff's heap-probe module before anything that imports jax-js");
  }
  const Original = WebAssembly.Memory;
  const Observed = function (this: unknown, descriptor: WebAssembly.MemoryDescriptor) {
    const memory = new Original(descriptor);
    memories.push(memory);
    return memory;
  } as unknown as typeof WebAssembly.Memory;
  Observed.prototype = Original.prototype;
  (WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = Observed;
  installed = true;
}

/** Whether {@link installHeapProbe} has run (so that {@link wasmHeapBytes} can be read). */
export function heapProbeInstalled(): boolean {
  return installed;
}

/**
 * The wasm heap high-water mark in bytes (the largest memory jax-js has created), or 0 before init.
 * Throws when the probe is not installed, so that a leak check can never pass by reading nothing.
 */
export function wasmHeapBytes(): number {
  if (!installed) throw new Error("wasmHeapBytes(): the heap probe is not installed; import rewardiff's heap-probe module (or call installHeapProbe()) before jax-js is loaded");
  let max = 0;
  for (const m of memories) max = Math.max(max, m.buffer.byteLength);
  return max;
}
