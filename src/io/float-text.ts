/** Decimal text for float32 values: the shortest string that reads back to exactly the same float32. */

/** Shortest decimal for a float32 value (at most 9 significant digits); non-float32 inputs print in full. */
export function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(v.toPrecision(p));
    if (Math.fround(candidate) === v) return String(candidate);
  }
  return String(v);
}
