/**
 * Draws from a jax PRNG key straight to host memory: the task samplers use jax's counter-based
 * generator (so every draw is reproducible from a key) and do the rest of their arithmetic on the host.
 *
 * Uniforms are computed on the host from the key's words (no device, no read): jax-js's
 * `random.uniform(key, shape)` is, for flat index i, u_i = (b_i >>> 9)·2⁻²³ with b_i the XOR of the two
 * words of threefry(key, (0, i)) — exact in float32, so the host values are the device's bit for bit.
 * Normals go through the device's Box–Muller (its float32 log/cos cannot be reproduced bit for bit on
 * the host) and are read back asynchronously.
 */
import { keyToWords, random, threefry2x32, toHost, type Key } from "../backend/index.js";

/** rows×cols standard normal draws (jax-js's `random.normal`), row-major. Consumes `key`. */
export async function hostNormal(key: Key, rows: number, cols: number): Promise<Float32Array> {
  if (rows * cols === 0) {
    key.dispose();
    return new Float32Array(0);
  }
  return toHost(random.normal(key, [rows, cols]));
}

/** rows×cols uniform draws in [0, 1), row-major: jax-js's `random.uniform`, computed on the host. Consumes `key`. */
export function hostUniform(key: Key, rows: number, cols: number): Float32Array {
  const [k0, k1] = keyToWords(key);
  key.dispose();
  const n = rows * cols;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [a, b] = threefry2x32(k0, k1, 0, i);
    out[i] = ((a ^ b) >>> 9) * 2 ** -23;
  }
  return out;
}
