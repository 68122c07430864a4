/**
 * The exact answer a method aims at, for a toy task whose law p we can sample exactly (src/tasks/toy2d.ts):
 * the tilted law p*(x) ∝ p(x)·exp(r(x)/α) (docs/guidance.md), or p(x | A) for classifier guidance on a
 * painted region A (weights 1[x ∈ A]), or p itself for plain sampling. From N exact draws x_i ~ p with
 * weights w_i ∝ exp(r(x_i)/α), self-normalised importance sampling gives E_{p*}[r] = Σ w_i r_i / Σ w_i
 * (with its standard error and effective sample size), the heat map (the weighted histogram: the mass
 * p* gives each pixel) and draws of p* by resampling ∝ w (for the distance to p*). All host-side, float64.
 */
import { hostMatrix, keyFromSeed, splitKey, toy2dTask, hostUniform, type HostMatrix } from "../../src/index.js";
import { HEAT, VIEW } from "./grid.js";
import { hostValue, type RewardForm, type RewardSpec } from "./rewards.js";

/** What the exact reference weighs by: the tilt exp(r/α), the region itself (p(x | A)), or nothing (p). */
export type Target = { kind: "tilt"; alpha: number; form: RewardForm } | { kind: "conditional" } | { kind: "base" };

export interface ExactReference {
  /** E_{p*}[r] of the reward in the form the method uses, its standard error, and P_{p*}(A) for a region. */
  rewardMean: number;
  rewardSe: number;
  regionMass?: number;
  /** Effective sample size of the weights (how many exact draws the estimate is worth). */
  ess: number;
  draws: number;
  /** p*'s mass per heat-map pixel, [HEAT × HEAT] row-major from the bottom-left, summing to ≤ 1. */
  heat: Float32Array;
  /** Draws of p* (resampled ∝ w) for the sliced-Wasserstein distance, and a second set for its floor. */
  samples: HostMatrix;
  floorSamples: HostMatrix;
}

/** The exact reference of `target` for `task` with reward `spec` from `draws` exact draws (seeded). */
export async function exactReference(task: string, spec: RewardSpec, target: Target, o: { draws: number; resample: number; seed: number }): Promise<ExactReference> {
  const [kData, kPick] = splitKey(keyFromSeed(o.seed), 2);
  const x = await toy2dTask(task).sample(kData, o.draws);
  const form: RewardForm = target.kind === "tilt" ? target.form : "indicator";
  const r = hostValue(spec, form);
  const inRegion = spec.kind === "region" ? hostValue(spec, "indicator") : undefined;
  const N = o.draws;
  const rv = new Float64Array(N);
  const logw = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    rv[i] = r(x.data[2 * i]!, x.data[2 * i + 1]!);
    if (target.kind === "tilt") logw[i] = rv[i]! / target.alpha;
    else if (target.kind === "conditional") logw[i] = inRegion!(x.data[2 * i]!, x.data[2 * i + 1]!) > 0 ? 0 : -Infinity;
  }
  let max = -Infinity;
  for (const v of logw) max = Math.max(max, v);
  if (max === -Infinity) throw new Error("exact reference: no exact draw falls in the painted region (p gives it almost no mass); paint nearer the data");
  const w = Float64Array.from(logw, (v) => Math.exp(v - max));
  let sw = 0;
  let sw2 = 0;
  let swr = 0;
  let swa = 0;
  for (let i = 0; i < N; i++) {
    sw += w[i]!;
    sw2 += w[i]! ** 2;
    swr += w[i]! * rv[i]!;
    if (inRegion) swa += w[i]! * inRegion(x.data[2 * i]!, x.data[2 * i + 1]!);
  }
  const mean = swr / sw;
  let v = 0;
  for (let i = 0; i < N; i++) v += w[i]! ** 2 * (rv[i]! - mean) ** 2;
  const heat = new Float32Array(HEAT * HEAT);
  for (let i = 0; i < N; i++) {
    const px = Math.floor(((x.data[2 * i]! + VIEW) / (2 * VIEW)) * HEAT);
    const py = Math.floor(((x.data[2 * i + 1]! + VIEW) / (2 * VIEW)) * HEAT);
    if (px >= 0 && px < HEAT && py >= 0 && py < HEAT) heat[py * HEAT + px] += w[i]! / sw;
  }
  // Resampling ∝ w by inverting the cumulative weights at sorted uniforms.
  const cum = new Float64Array(N);
  let acc = 0;
  for (let i = 0; i < N; i++) cum[i] = acc += w[i]! / sw;
  const u = hostUniform(kPick, 2 * o.resample, 1);
  const pick = (start: number) => {
    const out = new Float32Array(2 * o.resample);
    for (let j = 0; j < o.resample; j++) {
      let lo = 0;
      let hi = N - 1;
      const t = u[start + j]!;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid]! < t) lo = mid + 1;
        else hi = mid;
      }
      out[2 * j] = x.data[2 * lo]!;
      out[2 * j + 1] = x.data[2 * lo + 1]!;
    }
    return hostMatrix(o.resample, 2, out);
  };
  return {
    rewardMean: mean,
    rewardSe: Math.sqrt(v) / sw,
    ...(inRegion ? { regionMass: swa / sw } : {}),
    ess: (sw * sw) / sw2,
    draws: N,
    heat,
    samples: pick(0),
    floorSamples: pick(o.resample),
  };
}
