/** Explicit PRNG keys: round trips through host words, splitting, and determinism of draws. */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ensureBackend,
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
