/**
 * Deterministic row subsampling for the O(n²) metrics: at most `max` rows chosen without replacement
 * by a partial Fisher–Yates shuffle driven by a seeded pure-rand generator (no Math.random).
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { takeRows, type HostMatrix } from "../data/matrix.js";

/** `m` itself if it has ≤ max rows, otherwise `max` distinct rows chosen by `seed` (in random order). */
export function subsampleRows(m: HostMatrix, max: number, seed: number): HostMatrix {
  if (!Number.isInteger(max) || max < 1) throw new Error(`subsampleRows: max must be a whole number ≥ 1, got ${max}`);
  if (m.rows <= max) return m;
  const rng = xoroshiro128plus(seed | 0);
  const index = Int32Array.from({ length: m.rows }, (_, i) => i);
  for (let i = 0; i < max; i++) {
    const j = uniformInt(rng, i, m.rows - 1);
    const t = index[i]!;
    index[i] = index[j]!;
    index[j] = t;
  }
  return takeRows(m, index.subarray(0, max));
}
