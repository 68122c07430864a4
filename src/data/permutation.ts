/** Seeded random permutations (host side, no Math.random). */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** A seeded random permutation of 0..n−1 (Fisher–Yates with pure-rand's xoroshiro128+). */
export function permutation(n: number, seed: number): Int32Array {
  const rng = xoroshiro128plus(seed | 0);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(rng, 0, i);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx;
}
