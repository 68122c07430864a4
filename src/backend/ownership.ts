/**
 * Helpers for jax-js's ownership rules (every op consumes its array arguments; `x.ref` keeps one).
 * The rule of thumb in rewardiff: a function that takes an `JArray` consumes it, unless its doc says
 * "borrows". These helpers make the common patterns short and hard to get wrong.
 */
import { np, tree, type JArray, type JsTree } from "./jax.js";

// The read helpers (toHost, toHostSync, settle, …) live in ./reads.ts, beside the webgpu read rules.
export * from "./reads.js";

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
