/**
 * jax-js's PRNG on the host, in plain JS: the Threefry-2x32 block cipher (20 rounds, Salmon et al.
 * 2011) and the three uses rewardiff makes of it, computed exactly as @jax-js/jax 0.1.25 computes them
 * on a device, so a key can be split or turned into a seed without reading the device:
 *  - `random.key(s)`      = (0, s);
 *  - `random.split(k, n)` : key i = threefry(k, (0, i)), both output words;
 *  - `random.bits(k, [1])`: threefry(k, (0, 0)), its two words XORed.
 * Bit identity with the device is checked in test/backend-keys.test.ts.
 */

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;

/** The rotation constants of the four rounds between key injections (alternating groups). */
const ROTATIONS: readonly (readonly number[])[] = [
  [13, 15, 26, 6],
  [17, 29, 16, 24],
];

/** Threefry-2x32 of the counter (c0, c1) under the key (k0, k1): two uint32 words. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  let x0 = (c0 + ks[0]!) >>> 0;
  let x1 = (c1 + ks[1]!) >>> 0;
  for (let s = 1; s <= 5; s++) {
    for (const r of ROTATIONS[(s - 1) % 2]!) {
      x0 = (x0 + x1) >>> 0;
      x1 = (rotl(x1, r) ^ x0) >>> 0;
    }
    x0 = (x0 + ks[s % 3]!) >>> 0;
    x1 = (x1 + ks[(s + 1) % 3]! + s) >>> 0;
  }
  return [x0, x1];
}

/** The words of `random.split(key, n)`: key i is out[2i], out[2i + 1]. */
export function splitWords(k0: number, k1: number, n: number): Uint32Array {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`Invalid split length: ${n}. Must be a positive integer.`);
  const out = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [a, b] = threefry2x32(k0, k1, 0, i);
    out[2 * i] = a;
    out[2 * i + 1] = b;
  }
  return out;
}

/** The single uint32 of `random.bits(key, [1])`. */
export function bitsWord(k0: number, k1: number): number {
  const [a, b] = threefry2x32(k0, k1, 0, 0);
  return (a ^ b) >>> 0;
}
