/** Explicit PRNG keys: round trips through host words, splitting, and determinism of draws. */
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  bitsWord,
  ensureBackend,
  JArrayClass,
  jit,
  keyToWordsAsync,
  np,
  splitWords,
  threefry2x32,
  vmap,
  keyAt,
  keyFromSeed,
  keyFromWords,
  keyToSeed,
  keyToWords,
  random,
  split2,
  splitKey,
  splitKeyWords,
  toHostSync,
} from "../src/backend/index.js";

beforeAll(ensureBackend);

const words = (k: ReturnType<typeof keyFromSeed>) => {
  const w = keyToWords(k);
  k.dispose();
  return w;
};

describe("keyToWords / keyFromWords", () => {
  it("round-trip, including words ≥ 2^31 and 0", () => {
    for (const w of [
      [0, 0],
      [1, 2],
      [0xffffffff, 0x80000000],
      [123456789, 3141592653],
    ] as [number, number][]) {
      const k = keyFromWords(w);
      expect(k.shape).toEqual([2]);
      expect(keyToWords(k)).toEqual(w); // borrows
      expect(keyToWords(k)).toEqual(w);
      k.dispose();
    }
  });

  it("a key rebuilt from its words draws the same numbers", () => {
    const k = keyFromSeed(2024);
    const w = keyToWords(k);
    const a = toHostSync(random.normal(k, [5]));
    const b = toHostSync(random.normal(keyFromWords(w), [5]));
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it("rejects anything that is not two uint32 words", () => {
    expect(() => keyFromWords([1])).toThrow(/two uint32 words/);
    expect(() => keyFromWords([1, 2, 3])).toThrow(/two uint32 words/);
    expect(() => keyFromWords([1, -1])).toThrow(/two uint32 words/);
    expect(() => keyFromWords([1, 2 ** 32])).toThrow(/two uint32 words/);
    expect(() => keyFromWords([1.5, 2])).toThrow(/two uint32 words/);
  });

  it("keyFromSeed: same seed → same key, different seeds → different keys; non-integers rejected", () => {
    expect(words(keyFromSeed(7))).toEqual(words(keyFromSeed(7)));
    expect(words(keyFromSeed(7))).not.toEqual(words(keyFromSeed(8)));
    expect(() => keyFromSeed(0.5)).toThrow(/integer/);
  });
});

describe("splitting", () => {
  it("splitKey gives n distinct keys, different from the parent, deterministically", () => {
    const parent = words(keyFromSeed(11));
    const a = splitKey(keyFromSeed(11), 6).map(words);
    const b = splitKey(keyFromSeed(11), 6).map(words);
    expect(a).toEqual(b);
    const all = new Set([parent, ...a].map((w) => w.join(":")));
    expect(all.size).toBe(7);
  });

  it("splitKeyWords / keyAt agree with splitKey, and split2 with splitKey(·, 2)", () => {
    const w = splitKeyWords(keyFromSeed(5), 4);
    expect(w.length).toBe(8);
    const viaKeys = splitKey(keyFromSeed(5), 4).map(words);
    for (let i = 0; i < 4; i++) expect(words(keyAt(w, i))).toEqual(viaKeys[i]);
    const [c, d] = split2(keyFromSeed(5));
    expect([words(c), words(d)]).toEqual(splitKey(keyFromSeed(5), 2).map(words));
  });

  it("split keys draw (nearly) uncorrelated normals", () => {
    const [k1, k2] = split2(keyFromSeed(99));
    const n = 4000;
    const a = toHostSync(random.normal(k1, [n]));
    const b = toHostSync(random.normal(k2, [n]));
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < n; i++) {
      ab += a[i]! * b[i]!;
      aa += a[i]! ** 2;
      bb += b[i]! ** 2;
    }
    const corr = ab / Math.sqrt(aa * bb);
    expect(Math.abs(corr)).toBeLessThan(4 / Math.sqrt(n)); // 4 standard errors
    expect(aa / n).toBeGreaterThan(0.9);
    expect(aa / n).toBeLessThan(1.1);
  });
});

describe("determinism of draws", () => {
  it("the same key gives the same normal draws; a different key gives different ones", () => {
    const a = toHostSync(random.normal(keyFromSeed(3), [64]));
    const b = toHostSync(random.normal(keyFromSeed(3), [64]));
    const c = toHostSync(random.normal(keyFromSeed(4), [64]));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(new Set(a).size).toBe(64);
  });

  it("keyToSeed is deterministic, a uint32, and differs between keys", () => {
    const s1 = keyToSeed(keyFromSeed(1));
    expect(keyToSeed(keyFromSeed(1))).toBe(s1);
    expect(Number.isInteger(s1) && s1 >= 0 && s1 < 2 ** 32).toBe(true);
    expect(keyToSeed(keyFromSeed(2))).not.toBe(s1);
  });
});

/** Key i of a word table, as a pair. */
const keyOf = (table: Uint32Array, i: number): [number, number] => [table[2 * i]!, table[2 * i + 1]!];

/** A deterministic list of key words, including the edge words 0, 2³¹ and 2³² − 1. */
function testKeys(count: number): [number, number][] {
  const edges = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];
  const out: [number, number][] = [];
  for (const a of edges) for (const b of edges) out.push([a, b]);
  let s = 0x9e3779b9;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  while (out.length < count) out.push([next(), next()]);
  return out;
}

/** The device's `random.split(key, n)` words, through jax-js only (not rewardiff's key functions). */
function deviceSplit(w: [number, number], n: number): number[] {
  return Array.from(random.split(np.array(new Uint32Array(w), { dtype: np.uint32 }), n).dataSync() as Uint32Array);
}

describe("the host split is bit-identical to jax-js's device split", () => {
  it("threefry2x32 matches the Threefry-2x32 (20 rounds) known-answer vectors of Salmon et al. 2011", () => {
    // Random123's kat_vectors for threefry2x32_20: (counter, key) → output.
    expect(threefry2x32(0, 0, 0, 0)).toEqual([0x6b200159, 0x99ba4efe]);
    expect(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toEqual([0x1cb996fc, 0xbb002be7]);
    expect(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3)).toEqual([0xc4923a9c, 0x483df7a0]);
  });

  it("splitKeyWords = random.split on the device, for 60 keys and n = 1, 2, 3, 7, 64", () => {
    for (const w of testKeys(60)) {
      for (const n of [1, 2, 3, 7, 64]) {
        expect(Array.from(splitKeyWords(keyFromWords(w), n))).toEqual(deviceSplit(w, n));
      }
    }
  });

  it("the same under vmap on the device (1000 keys at once), and keyToSeed = random.bits(key, [1])", () => {
    const keys = testKeys(1000);
    const flat = new Uint32Array(keys.flat());
    const split = vmap((k: ReturnType<typeof keyFromSeed>) => random.split(k, 5));
    const dev = split(np.array(flat, { shape: [1000, 2], dtype: np.uint32 })).dataSync() as Uint32Array;
    const bitsDev = vmap((k: ReturnType<typeof keyFromSeed>) => random.bits(k, [1]))(np.array(flat, { shape: [1000, 2], dtype: np.uint32 })).dataSync() as Uint32Array;
    keys.forEach(([a, b], i) => {
      expect(Array.from(splitWords(a, b, 5))).toEqual(Array.from(dev.subarray(10 * i, 10 * i + 10)));
      expect(bitsWord(a, b)).toBe(bitsDev[i]);
    });
    for (const w of keys.slice(0, 40)) {
      const seedDev = Number(random.bits(np.array(new Uint32Array(w), { dtype: np.uint32 }), [1]).dataSync()[0]);
      expect(keyToSeed(keyFromWords(w))).toBe(seedDev);
    }
  });

  it("keyFromSeed = random.key, including seeds ≥ 2³¹ and negative seeds (taken mod 2³²)", () => {
    for (const seed of [0, 1, 42, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, -1, -123456]) {
      const viaJax = Array.from(random.key(seed >>> 0).dataSync() as Uint32Array);
      expect(words(keyFromSeed(seed))).toEqual(viaJax);
    }
  });

  it("keys made on the device (no host words) split the same, read once (sync on wasm, or async)", async () => {
    const onDevice = () => random.split(keyFromSeed(77), 3).slice(2);
    const expected = Array.from(splitWords(...keyOf(splitWords(0, 77, 3), 2), 4));
    expect(Array.from(splitKeyWords(onDevice(), 4))).toEqual(expected);
    const k = onDevice();
    const w = await keyToWordsAsync(k); // borrows
    expect(Array.from(splitKeyWords(k, 4))).toEqual(expected);
    expect(w).toEqual(keyOf(splitWords(0, 77, 3), 2));
  });
});

describe("keys need no device read", () => {
  it("seed → split → split2 → keyAt → keyToWords → keyToSeed reads nothing from the device", async () => {
    const proto = JArrayClass.prototype;
    const sync = vi.spyOn(proto, "dataSync");
    const async_ = vi.spyOn(proto, "data");
    try {
      const table = splitKeyWords(keyFromSeed(123), 5);
      const [a, b] = split2(keyAt(table, 3));
      const more = splitKey(a, 4);
      const wordsOfA = keyOf(splitWords(...keyOf(table, 3), 2), 0);
      expect(keyToWords(more[1]!)).toEqual(keyOf(splitWords(...wordsOfA, 4), 1));
      expect(await keyToWordsAsync(more[2]!)).toEqual(keyToWords(more[2]!));
      keyToSeed(b);
      keyToSeed(keyFromWords([5, 6]));
      for (const k of more) k.dispose();
      expect(sync).not.toHaveBeenCalled();
      expect(async_).not.toHaveBeenCalled();
    } finally {
      sync.mockRestore();
      async_.mockRestore();
    }
  });

  it("consuming and borrowing: split/keyToSeed consume the key, keyToWords borrows it, a used key is rejected", () => {
    const k = keyFromSeed(1);
    keyToWords(k);
    splitKey(k, 2).forEach((x) => x.dispose());
    expect(() => splitKey(k, 2)).toThrow();
    expect(() => keyToWords(k)).toThrow();
    const s = keyFromSeed(2);
    keyToSeed(s);
    expect(() => keyToSeed(s)).toThrow();
    expect(() => splitKeyWords(keyFromSeed(3), 0)).toThrow(/positive integer/);
    expect(() => keyAt(new Uint32Array(4), 2)).toThrow(/no key 2/);
  });

  it("a jitted function drawing from a host-split key gives the same draws as before splitting on the host", () => {
    // The draw depends only on the key's words: a key rebuilt from device-split words draws the same.
    const f = jit((k: ReturnType<typeof keyFromSeed>) => random.normal(k, [8]));
    const host = toHostSync(f(splitKey(keyFromSeed(9), 3)[1]!));
    const devWords = deviceSplit([0, 9], 3).slice(2, 4) as [number, number];
    const dev = toHostSync(f(keyFromWords(devWords)));
    expect(Array.from(host)).toEqual(Array.from(dev));
  });
});
