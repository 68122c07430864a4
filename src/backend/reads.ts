/**
 * Reading device arrays back to the host, on any device.
 *
 * jax-js's webgpu device cannot be read synchronously: `dataSync()` there returns zeros with no error
 * in a browser and throws an unrelated error in Node. So:
 *  - Library loops (training, sampling, fine-tuning) read ASYNCHRONOUSLY: `await toHost(x)`,
 *    `await toNumberAsync(x)`, and `await settleAsync(x)` once per step to bound jax-js's pending-op
 *    list. These work on every device.
 *  - The synchronous helpers (`toHostSync`, `toNumber`, `settle`, `peekHost`) stay for code that only
 *    ever runs on wasm; on a webgpu array they throw {@link SyncReadError} instead of returning zeros.
 *  - Once the webgpu device is chosen (`ensureBackend({ device: "webgpu" })`), a direct `x.dataSync()`
 *    (or `.item()`, `.js()`, `Number(x)`) of a webgpu array throws the same error: see
 *    {@link guardSyncReads}.
 */
import { JArrayClass, type JArray } from "./jax.js";

/** The error a synchronous read of a webgpu array raises. */
export class SyncReadError extends Error {
  constructor(what: string, options?: { cause?: unknown }) {
    super(
      `synchronous read of a webgpu array (${what}): use await toHost(x) (or toNumberAsync, settleAsync, ` +
        `keyToWordsAsync) instead; the webgpu device can only be read asynchronously`,
      options,
    );
    this.name = "SyncReadError";
  }
}

/** Throws {@link SyncReadError} when `x` lives on the webgpu device. Borrows `x`. */
export function assertSyncReadable(x: JArray): void {
  if (x.device === "webgpu") throw new SyncReadError(describe(x));
}

function describe(x: JArray): string {
  return `${x.dtype}[${x.shape.join(", ")}]`;
}

/** Reads a float array back to the host as Float32Array, consuming `x`. Works on every device. */
export async function toHost(x: JArray): Promise<Float32Array> {
  const d = await x.data();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/** Reads a scalar (or single-element) array as a JS number, consuming it. Works on every device. */
export async function toNumberAsync(x: JArray): Promise<number> {
  const shape = x.shape;
  const d = await x.data();
  if (d.length !== 1) throw new Error(`expected one element, got shape [${shape.join(", ")}]`);
  return Number(d[0]);
}

/**
 * Runs the work queued behind `x` and waits for it (borrows `x`), without reading it: jax-js
 * dispatches lazily and carries a list of pending kernels along each new array, and in a long loop
 * that list grows and each step gets slower (measured: 15 ms per sampling step instead of 3). Await
 * this once per step on the loop's carried array. Works on every device.
 */
export async function settleAsync(x: JArray): Promise<void> {
  await x.blockUntilReady();
}

/** Synchronous variant of {@link toHost} (wasm only: throws on a webgpu array); consumes `x`. */
export function toHostSync(x: JArray): Float32Array {
  assertSyncReadable(x);
  const d = x.dataSync();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/**
 * Synchronous variant of {@link settleAsync} (wasm only: throws on a webgpu array); borrows `x`.
 * It reads `x` (in Node the wasm work is synchronous anyway).
 */
export function settle(x: JArray): void {
  assertSyncReadable(x);
  x.ref.dataSync();
}

/** Synchronous variant of {@link toNumberAsync} (wasm only: throws on a webgpu array); consumes `x`. */
export function toNumber(x: JArray): number {
  assertSyncReadable(x);
  const d = x.dataSync();
  if (d.length !== 1) throw new Error(`expected one element, got shape [${x.shape.join(", ")}]`);
  return Number(d[0]);
}

/** Reads an array without consuming it (adds a reference first); wasm only, like {@link toHostSync}. */
export function peekHost(x: JArray): Float32Array {
  return toHostSync(x.ref);
}

let guarded = false;

/**
 * Makes `dataSync()` of a webgpu array throw {@link SyncReadError} (installed once by
 * `ensureBackend({ device: "webgpu" })`; wasm arrays are untouched). jax-js itself reads small constant
 * arrays synchronously (it inlines scalar constants into jitted kernels); those are computed on its
 * host backend, never read from the GPU, and still work: the guard only fails a read that reached the
 * GPU, which it recognises by the absence of that nested host read. During the read it hides
 * `OffscreenCanvas`, so jax-js's canvas-based synchronous reader never runs (in Chromium it returns
 * zeros and can lose the GPU device for the asynchronous reads that follow).
 */
export function guardSyncReads(): void {
  if (guarded) return;
  guarded = true;
  const proto = JArrayClass.prototype as { dataSync: (this: JArray) => ReturnType<JArray["dataSync"]> };
  const original = proto.dataSync;
  // > 0 while a guarded webgpu read runs; set when it delegated to a host (non-webgpu) read.
  let depth = 0;
  let delegated = false;
  proto.dataSync = function (this: JArray) {
    if (this.device !== "webgpu") {
      if (depth > 0) delegated = true;
      return original.call(this);
    }
    const what = describe(this);
    const outer = delegated;
    delegated = false;
    depth++;
    // jax-js reads webgpu synchronously through an OffscreenCanvas; hidden, that reader fails before
    // it touches the GPU (where it exists it returns zeros, and on some adapters loses the device).
    const g = globalThis as { OffscreenCanvas?: unknown };
    const canvas = g.OffscreenCanvas;
    if (canvas !== undefined) g.OffscreenCanvas = undefined;
    let result: ReturnType<JArray["dataSync"]> | undefined;
    let error: unknown;
    let failed = false;
    try {
      result = original.call(this);
    } catch (e) {
      failed = true;
      error = e;
    } finally {
      depth--;
      if (canvas !== undefined) g.OffscreenCanvas = canvas;
    }
    const onHost = delegated;
    delegated = outer;
    if (!onHost) throw new SyncReadError(what, failed ? { cause: error } : undefined);
    if (failed) throw error;
    return result!;
  };
}
