/**
 * The standardised 8-Gaussians law of src/tasks/toy2d.ts in closed form, restated here as the tests'
 * independent reference: centres at radius R = 4/1.414 at angles kπ/4, isotropic σ = 0.5/1.414, every
 * coordinate divided by √(R²/2 + σ²).
 */
const R = 4 / 1.414;
const S = 0.5 / 1.414;
const SCALE = Math.sqrt((R * R) / 2 + S * S);

/** The standardised components: equal weights, means, common standard deviation. */
export const EIGHT_GAUSSIANS = {
  weights: Array.from({ length: 8 }, () => 1 / 8),
  means: Array.from({ length: 8 }, (_, k) => [(R * Math.cos((k * Math.PI) / 4)) / SCALE, (R * Math.sin((k * Math.PI) / 4)) / SCALE]),
  std: S / SCALE,
};

/** Φ(z) through erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** p(A) of the standardised 8-Gaussians law for a union A of disjoint axis-aligned boxes [x0, x1] × [y0, y1]. */
export function eightGaussiansMass(boxes: readonly (readonly [number, number, number, number])[]): number {
  const { means, std } = EIGHT_GAUSSIANS;
  let p = 0;
  for (const [mx, my] of means) {
    for (const [x0, x1, y0, y1] of boxes) {
      p += ((normalCdf((x1 - mx!) / std) - normalCdf((x0 - mx!) / std)) * (normalCdf((y1 - my!) / std) - normalCdf((y0 - my!) / std))) / 8;
    }
  }
  return p;
}
