/**
 * mulberry32: a small, fast 32-bit host generator for cheap reproducible choices made on the host
 * (which points a plot draws, per-step (c, y) draws, random truncation points). Not for statistics
 * that tests check: those draw from jax keys (tasks/host-random.ts) or a 64-bit generator.
 * Returns uniforms in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
