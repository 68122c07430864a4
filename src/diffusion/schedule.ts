/**
 * Noise schedules (methods.md, "Notation"): betas β_1..β_T, α_t = 1 − β_t, ᾱ_t = ∏_{s≤t} α_s.
 * Computed in float64 on the host; they enter jitted code only as traced scalars or as an array
 * argument, never as parameters.
 *  - linear:        β_t evenly spaced from betaStart to betaEnd (Ho et al. 2020).
 *  - scaled-linear: √β_t evenly spaced (diffusers' "scaled_linear", Stable Diffusion).
 *  - cosine:        ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2), s = 0.008, and
 *                   β_t = min(1 − ᾱ(t)/ᾱ(t−1), 0.999) (Nichol & Dhariwal 2021).
 *  - custom:        user-given betas, each in (0, 1).
 */

export type ScheduleKind = "linear" | "cosine" | "scaled-linear" | "custom";

export interface ScheduleConfig {
  kind: ScheduleKind;
  /** T, the number of training timesteps. */
  steps: number;
  betaStart?: number;
  betaEnd?: number;
  /** For kind = "custom": β_1..β_T. */
  betas?: readonly number[];
}

/** A discrete VP schedule; index i holds the paper's t = i + 1. */
export interface Schedule {
  readonly config: ScheduleConfig;
  readonly T: number;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  /** ᾱ_t. */
  readonly alphaBars: Float64Array;
}

function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = n === 1 ? a : a + ((b - a) * i) / (n - 1);
  return out;
}

/** β for each kind (see the module comment). */
export function makeBetas(cfg: ScheduleConfig): Float64Array {
  const T = cfg.steps;
  if (!Number.isInteger(T) || T < 1) throw new Error(`schedule: steps must be a whole number ≥ 1, got ${T}`);
  const b0 = cfg.betaStart ?? 1e-4;
  const b1 = cfg.betaEnd ?? 0.02;
  switch (cfg.kind) {
    case "linear":
      return linspace(b0, b1, T);
    case "scaled-linear":
      return linspace(Math.sqrt(b0), Math.sqrt(b1), T).map((x) => x * x);
    case "cosine": {
      const s = 0.008;
      const f = (t: number) => Math.cos((((t / T) + s) / (1 + s)) * (Math.PI / 2)) ** 2;
      const out = new Float64Array(T);
      for (let i = 0; i < T; i++) out[i] = Math.min(1 - f(i + 1) / f(i), 0.999);
      return out;
    }
    case "custom": {
      const betas = cfg.betas;
      if (!betas || betas.length !== T) {
        throw new Error(`schedule: custom needs ${T} betas, got ${betas ? betas.length : "none"}`);
      }
      betas.forEach((b, i) => {
        if (!(b > 0 && b < 1)) throw new Error(`schedule: betas[${i}] = ${b} is not in (0, 1)`);
      });
      return Float64Array.from(betas);
    }
    default:
      throw new Error(`schedule: unknown kind "${String(cfg.kind)}" (linear, cosine, scaled-linear, custom)`);
  }
}

/** Builds the schedule and checks that every β is in (0, 1). */
export function makeSchedule(cfg: ScheduleConfig): Schedule {
  const betas = makeBetas(cfg);
  betas.forEach((b, i) => {
    if (!(b > 0 && b < 1)) throw new Error(`schedule: β_${i + 1} = ${b} is not in (0, 1); check betaStart/betaEnd`);
  });
  const alphas = betas.map((b) => 1 - b);
  const alphaBars = new Float64Array(betas.length);
  let prod = 1;
  for (let i = 0; i < betas.length; i++) alphaBars[i] = prod *= alphas[i]!;
  return { config: { ...cfg }, T: betas.length, betas, alphas, alphaBars };
}

/** ᾱ at training index i; index −1 means "before the first step" (ᾱ = 1, clean data). */
export function alphaBarAt(s: Schedule, index: number): number {
  return index < 0 ? 1 : s.alphaBars[index]!;
}
