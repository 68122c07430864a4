/**
 * Draws from a jax PRNG key straight to host memory: the task samplers use jax's counter-based
 * generator (so every draw is reproducible from a key) and do the rest of their arithmetic on the host.
 */
import { random, toHostSync, type Key } from "../backend/index.js";

/** rows×cols standard normal draws, row-major. Consumes `key`. */
export function hostNormal(key: Key, rows: number, cols: number): Float32Array {
  if (rows * cols === 0) {
    key.dispose();
    return new Float32Array(0);
  }
  return toHostSync(random.normal(key, [rows, cols]));
}

/** rows×cols uniform draws in [0, 1), row-major. Consumes `key`. */
export function hostUniform(key: Key, rows: number, cols: number): Float32Array {
  if (rows * cols === 0) {
    key.dispose();
    return new Float32Array(0);
  }
  return toHostSync(random.uniform(key, [rows, cols]));
}
