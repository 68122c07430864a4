/**
 * The one place that imports @jax-js/jax. The polyfills and the heap observer are evaluated first
 * (ES modules evaluate imports in order), then jax-js is re-exported for the rest of rewardiff.
 */
import "./polyfills.js";
import "./heap.js";

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
} from "@jax-js/jax";
export type { Array as JArray, JsTree, OwnedFunction } from "@jax-js/jax";
