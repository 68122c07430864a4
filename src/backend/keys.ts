/**
 * Explicit PRNG keys (JAX style). Randomness anywhere in rewardiff flows from a key that the caller
 * passes in; nothing reads a global seed. Keys are jax-js uint32[2] arrays and are consumed when used,
 * like any array: split a key to get fresh ones.
 *
 * A key never needs a synchronous device read: every key made here (from a seed, from words, by a
 * split) remembers its two words on the host, and splits and seeds are computed from those words in
 * plain JS (./threefry.ts, bit-identical to jax-js's `random.split` / `random.bits`). Only a key made
 * on the device by other code (e.g. split inside a jitted step) has no host words; read those with
 * {@link keyToWordsAsync}. The synchronous functions fall back to reading such a key on wasm, and
 * throw on webgpu.
 */
import { np, type JArray } from "./jax.js";
import { assertSyncReadable } from "./reads.js";
import { bitsWord, splitWords } from "./threefry.js";

/** A PRNG key: a jax-js uint32 array of shape [2]. */
export type Key = JArray;

/** The host words of every key made in this module (and of device keys read once). */
const hostWords = new WeakMap<JArray, readonly [number, number]>();

/** A device key holding (k0, k1), with its words remembered. */
function makeKey(k0: number, k1: number): Key {
  const key = np.array(new Uint32Array([k0, k1]), { dtype: np.uint32 });
  hostWords.set(key, [k0 >>> 0, k1 >>> 0]);
  return key;
}

/** Throws jax-js's use-after-free error if `key` was already consumed. Borrows `key`. */
function checkAlive(key: Key): void {
  key.ref.dispose();
}

/** The words of `key` (borrowed): remembered, or read synchronously (wasm only). */
function wordsOf(key: Key): readonly [number, number] {
  checkAlive(key);
  const known = hostWords.get(key);
  if (known) return known;
  assertSyncReadable(key);
  return remember(key, key.ref.dataSync());
}

function remember(key: Key, d: ArrayLike<number | bigint>): readonly [number, number] {
  if (d.length !== 2) throw new Error(`a PRNG key is two uint32 words, got ${d.length} values`);
  const w = [Number(d[0]) >>> 0, Number(d[1]) >>> 0] as const;
  hostWords.set(key, w);
  return w;
}

/** A key from an integer seed (jax-js's `random.key(seed)`: the words (0, seed mod 2³²)). */
export function keyFromSeed(seed: number): Key {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  return makeKey(0, seed >>> 0);
}

/** Splits `key` (consumed) into `n` independent keys, computed on the host (no device read). */
export function splitKey(key: Key, n: number): Key[] {
  const words = splitKeyWords(key, n);
  const out: Key[] = [];
  for (let i = 0; i < n; i++) out.push(keyAt(words, i));
  return out;
}

/**
 * The words of `n` keys split from `key` (consumed): key i is words[2i], words[2i + 1]. Equal, bit for
 * bit, to `random.split(key, n)` on the device.
 */
export function splitKeyWords(key: Key, n: number): Uint32Array {
  const [k0, k1] = wordsOf(key);
  const words = splitWords(k0, k1, n);
  key.dispose();
  return words;
}

/** Key i of a word table made by {@link splitKeyWords}. */
export function keyAt(words: Uint32Array, i: number): Key {
  if (!Number.isInteger(i) || i < 0 || 2 * i + 1 >= words.length) {
    throw new Error(`keyAt: no key ${i} in a table of ${words.length / 2}`);
  }
  return makeKey(words[2 * i]!, words[2 * i + 1]!);
}

/** Splits `key` (consumed) into two: the carry-on key and a key to use now. */
export function split2(key: Key): [Key, Key] {
  const [a, b] = splitKey(key, 2);
  return [a!, b!];
}

/**
 * The key's two uint32 words (for checkpoints). Borrows `key`. Needs no read for keys made in this
 * module; a key made on the device elsewhere is read synchronously (wasm only: on webgpu use
 * {@link keyToWordsAsync}).
 */
export function keyToWords(key: Key): [number, number] {
  const [a, b] = wordsOf(key);
  return [a, b];
}

/** {@link keyToWords} for any key on any device (reads the device when the words are not known). Borrows `key`. */
export async function keyToWordsAsync(key: Key): Promise<[number, number]> {
  checkAlive(key);
  const [a, b] = hostWords.get(key) ?? remember(key, await key.ref.data());
  return [a, b];
}

/** Rebuilds a key from its two uint32 words (inverse of {@link keyToWords}). */
export function keyFromWords(words: readonly number[]): Key {
  if (words.length !== 2 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
    throw new Error(`a PRNG key is two uint32 words, got [${words.join(", ")}]`);
  }
  return makeKey(words[0]!, words[1]!);
}

/**
 * A deterministic JS-side seed (uint32) drawn from a key (consumed), for host-side shuffles: the value
 * of jax-js's `random.bits(key, [1])`, computed on the host.
 */
export function keyToSeed(key: Key): number {
  const [k0, k1] = wordsOf(key);
  key.dispose();
  return bitsWord(k0, k1);
}
