/**
 * Explicit PRNG keys (JAX style). Randomness anywhere in rewardiff flows from a key that the caller
 * passes in; nothing reads a global seed. Keys are jax-js uint32[2] arrays and are consumed when used,
 * like any array: split a key to get fresh ones.
 */
import { np, random, type JArray } from "./jax.js";

/** A PRNG key: a jax-js uint32 array of shape [2]. */
export type Key = JArray;

/** A key from an integer seed. */
export function keyFromSeed(seed: number): Key {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  return random.key(seed >>> 0);
}

/**
 * Splits `key` (consumed) into `n` independent keys. The split runs once on the device; the keys are
 * then rebuilt from their host words, because slicing a device array at n different offsets would
 * compile n different kernels in jax-js.
 */
export function splitKey(key: Key, n: number): Key[] {
  const words = splitKeyWords(key, n);
  const out: Key[] = [];
  for (let i = 0; i < n; i++) out.push(np.array(words.slice(2 * i, 2 * i + 2), { dtype: np.uint32 }));
  return out;
}

/** The words of `n` keys split from `key` (consumed): key i is words[2i], words[2i + 1]. */
export function splitKeyWords(key: Key, n: number): Uint32Array {
  const d = random.split(key, n).dataSync();
  return d instanceof Uint32Array ? d : Uint32Array.from(d as ArrayLike<number>);
}

/** Key i of a word table made by {@link splitKeyWords}. */
export function keyAt(words: Uint32Array, i: number): Key {
  return np.array(words.slice(2 * i, 2 * i + 2), { dtype: np.uint32 });
}

/** Splits `key` (consumed) into two: the carry-on key and a key to use now. */
export function split2(key: Key): [Key, Key] {
  const [a, b] = splitKey(key, 2);
  return [a!, b!];
}

/** The key's two uint32 words (for checkpoints). Borrows `key`. */
export function keyToWords(key: Key): [number, number] {
  const d = key.ref.dataSync();
  return [Number(d[0]) >>> 0, Number(d[1]) >>> 0];
}

/** Rebuilds a key from its two uint32 words (inverse of {@link keyToWords}). */
export function keyFromWords(words: readonly number[]): Key {
  if (words.length !== 2 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
    throw new Error(`a PRNG key is two uint32 words, got [${words.join(", ")}]`);
  }
  return np.array(new Uint32Array(words), { dtype: np.uint32 });
}

/** A deterministic JS-side seed (uint32) drawn from a key (consumed), for host-side shuffles. */
export function keyToSeed(key: Key): number {
  const bits = random.bits(key, [1]);
  const d = bits.dataSync();
  return Number(d[0]) >>> 0;
}
