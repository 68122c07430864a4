/**
 * Whether rewardiff's jax-js bootstrap (./jax.ts) has been evaluated, i.e. jax-js has created its wasm
 * backend and memory. Whatever must happen before that (the heap probe, ./heap.ts; the worker shim,
 * ./threads.ts) checks this flag to refuse coming too late, without wrapping `WebAssembly.Memory`.
 */
let evaluated = false;

/** Called once by ./jax.ts, after its jax-js import has been evaluated. */
export function noteJaxEvaluated(): void {
  evaluated = true;
}

/** True once ./jax.ts has been evaluated (jax-js imported directly, bypassing it, goes unnoticed). */
export function jaxEvaluated(): boolean {
  return evaluated;
}
