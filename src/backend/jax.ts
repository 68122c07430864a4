/**
 * The one place that imports @jax-js/jax. The polyfills and the optional worker shim are evaluated first
 * (ES modules evaluate imports in order; jax-js builds its wasm backend when it is first imported), then
 * jax-js is re-exported for the rest of rewardiff. The wasm heap probe is opt-in and must be installed
 * before this module is evaluated (./heap.ts); this module only records that jax-js is now loaded.
 * Threads: off by default for the library; `REWARDIFF_THREADS=1` (or =N threads) turns on jax-js's wasm
 * worker pool in Node. The CLI sets it per command from measured size thresholds before loading this
 * module (src/cli/threads-policy.ts; measurements in bench/README.md).
 */
import "./polyfills.js";
import "./threads.js";
import { noteJaxEvaluated } from "./jax-loaded.js";

export {
  numpy as np,
  random,
  nn as jnn,
  lax,
  tree,
  jit,
  grad,
  valueAndGrad,
  vjp,
  jvp,
  vmap,
  init,
  defaultDevice,
  blockUntilReady,
  Array as JArrayClass,
} from "@jax-js/jax";
export type { Array as JArray, JsTree, OwnedFunction } from "@jax-js/jax";

noteJaxEvaluated();
