/**
 * Helpers for jax-js's ownership rules (every op consumes its array arguments; `x.ref` keeps one).
 * The rule of thumb in rewardiff: a function that takes an `JArray` consumes it, unless its doc says
 * "borrows". These helpers make the common patterns short and hard to get wrong.
 */
import { np, tree, type JArray, type JsTree } from "./jax.js";

/** A pytree of arrays: nested plain objects / arrays with `JArray` leaves. */
export type Tree = JsTree<JArray>;

/** Adds one reference to every leaf (the tree stays usable after being passed on). Borrows `t`. */
export function refTree<T extends Tree>(t: T): T {
  return tree.ref(t) as T;
}

/** Releases one reference of every leaf. Accepts undefined for convenience. */
export function disposeTree(t: Tree | undefined | null): void {
  if (t) tree.dispose(t);
}

/** Reads a float array back to the host as Float32Array, consuming `x`. */
export async function toHost(x: JArray): Promise<Float32Array> {
  const d = await x.data();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/** Synchronous variant of {@link toHost}; consumes `x`. */
export function toHostSync(x: JArray): Float32Array {
  const d = x.dataSync();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/**
 * Runs the work queued behind `x` now (borrows `x`). jax-js dispatches lazily and carries a list of
 * pending kernels along each new array; in a long loop of steps that list grows and each step gets
 * slower (measured: 15 ms per sampling step instead of 3). Settle the loop's carried array once per
 * step. (A synchronous read: in Node the wasm work is synchronous anyway.)
 */
export function settle(x: JArray): void {
  x.ref.dataSync();
}

/** Reads a scalar (or single-element) array as a JS number, consuming it. */
export function toNumber(x: JArray): number {
  const d = x.dataSync();
  if (d.length !== 1) throw new Error(`expected one element, got shape [${x.shape.join(", ")}]`);
  return Number(d[0]);
}

/** Reads an array without consuming it (adds a reference first). */
export function peekHost(x: JArray): Float32Array {
  return toHostSync(x.ref);
}

/**
 * Runs `fn` with a `keep` function; every array passed to `keep` is disposed when `fn` returns
 * (or throws). Use it for temporaries that are read several times with `.ref`.
 */
export function scoped<T>(fn: (keep: <A extends JArray>(a: A) => A) => T): T {
  const held: JArray[] = [];
  try {
    return fn((a) => {
      held.push(a);
      return a;
    });
  } finally {
    for (const a of held) a.dispose();
  }
}

/** Host matrix → device array of shape [rows, cols] (float32). */
export function upload(data: Float32Array, rows: number, cols: number): JArray {
  if (data.length !== rows * cols) {
    throw new Error(`upload: ${data.length} values do not fill a ${rows}×${cols} matrix`);
  }
  return np.array(data, { shape: [rows, cols] });
}

/**
 * A float32 scalar on the device, for coefficients such as ᾱ_t or a learning rate passed into jitted
 * functions. Built from a typed array on purpose: jax-js treats `np.array(aNumber)` as a constant that
 * `jit` specialises on, so a different value each step would compile a new kernel each step
 * (measured: 15 ms per step instead of 3).
 */
export function scalar(v: number): JArray {
  return np.array(new Float32Array([v]), { shape: [] });
}
