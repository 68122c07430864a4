/**
 * The one-dimensional KL divergences of the GuacaMol distribution-learning benchmark (Brown et al.,
 * "GuacaMol: benchmarking models for de novo molecular design", J. Chem. Inf. Model. 59, 1096, 2019):
 * KL(P‖Q) of a reference sample P against a generated sample Q,
 * - continuous: both estimated by a Gaussian KDE (Scott's bandwidth h = σ̂ · n^(−1/5), σ̂ the sample
 *   standard deviation, as scipy's gaussian_kde), evaluated on 1000 evenly spaced points spanning both
 *   samples, 1e−10 added to each density, both normalised to sum 1;
 * - discrete: a 10-bin histogram over the reference's range (numpy.histogram, density), the generated
 *   sample binned the same way (values outside the range dropped), 1e−10 added, normalised.
 * KL = Σ p_i ln(p_i / q_i). A sample with zero spread gets h = 1e−6 · max(1, |x|) so the KDE stays defined.
 */

function normalise(v: Float64Array): Float64Array {
  const total = v.reduce((s, x) => s + x, 0);
  return v.map((x) => x / total);
}

/** Σ p ln(p/q) of two non-negative vectors, each normalised to sum 1 first (scipy.stats.entropy). */
export function klOfCounts(p: Float64Array, q: Float64Array): number {
  const pn = normalise(p);
  const qn = normalise(q);
  let kl = 0;
  for (let i = 0; i < pn.length; i++) if (pn[i]! > 0) kl += pn[i]! * Math.log(pn[i]! / qn[i]!);
  return kl;
}

function std(x: readonly number[]): number {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  return Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, x.length - 1));
}

/** The Gaussian KDE of `x` (Scott's rule) evaluated at `at`. */
export function gaussianKde(x: readonly number[], at: Float64Array): Float64Array {
  const mean = Math.abs(x.reduce((s, v) => s + v, 0) / x.length);
  const h = std(x) * x.length ** -0.2 || 1e-6 * Math.max(1, mean);
  const norm = 1 / (x.length * h * Math.sqrt(2 * Math.PI));
  return at.map((t) => {
    let s = 0;
    for (const xi of x) s += Math.exp(-0.5 * ((t - xi) / h) ** 2);
    return s * norm;
  });
}

/** KL(P‖Q) of continuous samples through Gaussian KDEs on a 1000-point grid (GuacaMol's continuous_kldiv). */
export function continuousKl(reference: readonly number[], generated: readonly number[]): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of [...reference, ...generated]) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const grid = Float64Array.from({ length: 1000 }, (_, i) => lo + ((hi - lo) * i) / 999);
  return klOfCounts(
    gaussianKde(reference, grid).map((v) => v + 1e-10),
    gaussianKde(generated, grid).map((v) => v + 1e-10),
  );
}

/** numpy.histogram(x, bins = 10, range = [lo, hi], density = True) counts (density up to a common factor). */
function histogram(x: readonly number[], lo: number, hi: number): Float64Array {
  const counts = new Float64Array(10);
  const width = (hi - lo) / 10;
  const edges = Array.from({ length: 11 }, (_, i) => (i === 10 ? hi : lo + i * width));
  let inside = 0;
  for (const v of x) {
    if (v < lo || v > hi) continue;
    // numpy's uniform-bin path: scale, truncate, then correct against the linspace edges
    let k = Math.min(9, Math.trunc((v - lo) * (10 / (hi - lo))));
    if (v < edges[k]!) k--;
    else if (k < 9 && v >= edges[k + 1]!) k++;
    counts[k]!++;
    inside++;
  }
  return counts.map((c) => (inside === 0 ? 0 : c / (inside * width)));
}

/** KL(P‖Q) of discrete samples through 10-bin histograms on the reference's range (GuacaMol's discrete_kldiv). */
export function discreteKl(reference: readonly number[], generated: readonly number[]): number {
  let lo = Math.min(...reference);
  let hi = Math.max(...reference);
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  return klOfCounts(
    histogram(reference, lo, hi).map((v) => v + 1e-10),
    histogram(generated, lo, hi).map((v) => v + 1e-10),
  );
}
