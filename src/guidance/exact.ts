/**
 * Exact guidance oracles for the Gaussian-mixture tilt benchmark (fixtures.md §3) and exact references
 * to score guidance methods against.
 *
 * With p = Σ_k π_k N(m_k, s_k² I) and r(x) = bᵀx, the tilted law p* ∝ p · exp(r/α) is again a mixture,
 * and its diffused score is ∇log p*_t = ∇log p_t + ∇v_t/α with the exact soft value
 * v_t(x_t) = α log E[exp(r(x_0)/α) | x_t]. So the gradient term log h_t = v_t/α at x_t, applied to ε
 * with s = 1 (ε̃ = ε̂ − √(1−ᾱ_t) ∇v_t/α), turns a sampler driven by the exact ε of p into the same
 * sampler driven by the exact ε of p*: {@link exactGuidanceTerm} reproduces p* up to the sampler's own
 * discretisation error, whatever the number of steps. SVDD with the exact value ({@link exactSoftValue})
 * approaches p* as M → ∞ (each step then draws from p(x_s | x_t) exp(v_s(x_s)/α), the tilted kernel).
 *
 * For a half-space indicator reward r(x) = 1[bᵀx > c] (non-differentiable) the tilt is also exact:
 * p*(A) = e^{1/α} p(A) / (e^{1/α} p(A) + 1 − p(A)) with p(A) = Σ_k π_k Φ((bᵀm_k − c)/(s_k ‖b‖)), and
 * p* is sampled exactly by rejection from p (accept with probability exp((r − 1)/α)).
 */
import { type Key, splitKey } from "../backend/keys.js";
import { toHost } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import type { DensityGrid } from "../data/grid.js";
import {
  exactTiltedRewardMean,
  mixtureLogDensity,
  sampleMixture,
  softValue,
  softValueGrad,
  tiltedMixture,
  type GaussianMixture,
} from "../tasks/gaussian-mixture.js";
import { hostUniform } from "../tasks/host-random.js";
import { definedOptions, gradientTerm, type TermOptions } from "./terms.js";
import type { GradientTerm, ValueFn } from "./types.js";

/**
 * The exact guidance term: log h_t = v_t(x_t)/α at x_t, applied to ε̂ (closed-form gradient). With
 * scale 1 the guided score is exactly ∇log p*_t. Counts one value evaluation per sample and step.
 */
export function exactGuidanceTerm(gm: GaussianMixture, b: readonly number[], alpha: number, o: TermOptions = {}): GradientTerm {
  const v = softValue(gm, b, alpha);
  const vg = softValueGrad(gm, b, alpha);
  return gradientTerm(
    (x, time, cost) => {
      cost.valueEvals += x.shape[0]!;
      return v(x, time.alphaBar).mul(1 / alpha);
    },
    {
      ...definedOptions(o),
      name: o.name ?? "exact-guidance",
      where: "xt",
      apply: "eps",
      gradLogH: (x, time, cost) => {
        cost.valueEvals += x.shape[0]!;
        return vg(x, time.alphaBar).mul(1 / alpha);
      },
    },
  );
}

/** The exact soft value v_s(x_s) as an SVDD value function (at clean time it is r(x) = bᵀx). */
export function exactSoftValue(gm: GaussianMixture, b: readonly number[], alpha: number): ValueFn {
  const v = softValue(gm, b, alpha);
  return (x, time, cost) => {
    cost.valueEvals += x.shape[0]!;
    return toHost(v(x, time.alphaBar));
  };
}

/** The exact target of a tilt: E_{p*}[r], a sampler of p* and log p* (up to nothing: normalised). */
export interface TiltReference {
  /** Name of the reward the tilt uses. */
  readonly reward: string;
  readonly alpha: number;
  /** E_{p*}[r]. */
  readonly rewardMean: number;
  /** n exact draws of p*. Consumes `key`. */
  sample(key: Key, n: number): Promise<HostMatrix>;
  /** log p*(x) per row. */
  logDensity(x: HostMatrix): Float64Array;
}

/** p* ∝ p · exp(bᵀx/α) for a Gaussian mixture p (fixtures.md §3). */
export function linearTiltReference(gm: GaussianMixture, b: readonly number[], alpha: number): TiltReference {
  const tilted = tiltedMixture(gm, b, alpha);
  return {
    reward: "linear",
    alpha,
    rewardMean: exactTiltedRewardMean(gm, b, alpha),
    sample: (key, n) => sampleMixture(key, tilted, n),
    logDensity: (x) => mixtureLogDensity(tilted, x),
  };
}

/** Φ, the standard normal CDF, via erfc (relative error < 1.2e-7, also in the tails). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
  // Numerical Recipes' erfcc (Chebyshev), fractional error < 1.2e-7 everywhere.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/**
 * p* ∝ p · exp(1[bᵀx > c]/α) for a Gaussian mixture p: E_{p*}[r] = p*(A) exactly, exact samples by
 * rejection from p (acceptance ≥ e^{−1/α}).
 */
export function indicatorTiltReference(gm: GaussianMixture, b: readonly number[], threshold: number, alpha: number): TiltReference {
  const nb = Math.sqrt(b.reduce((s, v) => s + v * v, 0));
  if (!(nb > 0)) throw new Error("indicatorTiltReference: the weights b must not be all zero");
  const pA = gm.weights.reduce((s, w, k) => s + w * normalCdf((gm.means[k]!.reduce((u, m, j) => u + m * b[j]!, 0) - threshold) / (gm.stds[k]! * nb)), 0);
  const e = Math.exp(1 / alpha);
  const rewardMean = (e * pA) / (e * pA + 1 - pA);
  const logZ = Math.log(e * pA + 1 - pA);
  const inA = (x: HostMatrix, i: number) => {
    let s = 0;
    for (let j = 0; j < x.cols; j++) s += b[j]! * x.data[i * x.cols + j]!;
    return s > threshold;
  };
  return {
    reward: "indicator",
    alpha,
    rewardMean,
    async sample(key, n) {
      const D = gm.means[0]!.length;
      const out = new Float32Array(n * D);
      let filled = 0;
      let round = 0;
      let k = key;
      while (filled < n) {
        if (round++ > 100) throw new Error("indicatorTiltReference: rejection sampling did not finish");
        const [kNext, kx, ku] = splitKey(k, 3);
        k = kNext!;
        const want = Math.ceil((n - filled) / Math.exp(-1 / alpha)) + 16;
        const x = await sampleMixture(kx!, gm, want);
        const u = hostUniform(ku!, want, 1);
        for (let i = 0; i < want && filled < n; i++) {
          if (inA(x, i) || u[i]! < Math.exp(-1 / alpha)) out.set(x.data.subarray(i * D, (i + 1) * D), D * filled++);
        }
      }
      k.dispose();
      return hostMatrix(n, D, out);
    },
    logDensity(x) {
      const lp = mixtureLogDensity(gm, x);
      for (let i = 0; i < x.rows; i++) lp[i] = lp[i]! + (inA(x, i) ? 1 / alpha : 0) - logZ;
      return lp;
    },
  };
}

/** A density on a grid over the first two coordinates (2-D laws only), for scatterPlot's background. */
export function densityGrid(
  logDensity: (x: HostMatrix) => Float64Array,
  xDomain: [number, number],
  yDomain: [number, number],
  cells = 60,
  label = "p* density",
): DensityGrid {
  const xs = Array.from({ length: cells }, (_, i) => xDomain[0] + ((i + 0.5) * (xDomain[1] - xDomain[0])) / cells);
  const ys = Array.from({ length: cells }, (_, j) => yDomain[0] + ((j + 0.5) * (yDomain[1] - yDomain[0])) / cells);
  const pts = new Float32Array(cells * cells * 2);
  ys.forEach((y, j) =>
    xs.forEach((x, i) => {
      pts[2 * (j * cells + i)] = x;
      pts[2 * (j * cells + i) + 1] = y;
    }),
  );
  const lp = logDensity(hostMatrix(cells * cells, 2, pts));
  const z = ys.map((_, j) => Array.from({ length: cells }, (_, i) => Math.exp(lp[j * cells + i]!)));
  return { x: xs, y: ys, z, label };
}
