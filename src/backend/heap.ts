/**
 * Observes the WebAssembly memories that jax-js creates, so that the wasm heap's size can be read.
 * jax-js's wasm allocator is a bump allocator with free lists: its memory only grows, so the memory's
 * byte length *is* the heap's high-water mark. A leak shows up as this number growing over steps.
 * Installed before `init("wasm")` by ./jax.ts.
 */

const memories: WebAssembly.Memory[] = [];

const Original = WebAssembly.Memory;
if (!(Original as unknown as { __rewardiffObserved?: boolean }).__rewardiffObserved) {
  const Observed = function (this: unknown, descriptor: WebAssembly.MemoryDescriptor) {
    const memory = new Original(descriptor);
    memories.push(memory);
    return memory;
  } as unknown as typeof WebAssembly.Memory;
  Observed.prototype = Original.prototype;
  (Observed as unknown as { __rewardiffObserved: boolean }).__rewardiffObserved = true;
  (WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = Observed;
}

/** The wasm heap high-water mark in bytes (the largest memory jax-js has created), or 0 before init. */
export function wasmHeapBytes(): number {
  let max = 0;
  for (const m of memories) max = Math.max(max, m.buffer.byteLength);
  return max;
}
