/**
 * The reward-directed shift of RGDM (2304.07132; methods.md "Reward-guided training via a payoff
 * distribution"): given the forward-posterior point x̃ ≈ x_{t−1} of each row, find δ in the feasible ball
 * F = {‖δ‖ ≤ ρ} and train towards x̃ + δ. Host-side (float64) arithmetic on row-major batches [B, D];
 * the reward (or its gradient) is the only outside call.
 *
 * Symbols: x̃ (`center`), δ (`delta`), ρ (`radius`, per row: ρ or ρ·σ_t), σ_t (`sigma`, the forward
 * posterior std √β̃_t of the row's step), τ (`tau`, the payoff temperature; method.alpha).
 *
 * Differentiable reward r, `ascentSteps` projected steps from δ = 0 (g = ∇r at x̃ + δ):
 *  - "argmax" (the paper's rule): δ ← Π_F(δ + ρ g/‖g‖), the arg-max of r over the ball; for a linear
 *    reward r = bᵀx it is δ = ρ b/‖b‖ after one step, and τ plays no part.
 *  - "proximal": δ ← Π_F(σ_t² g/τ), the fixed point of the stationarity condition of
 *    max_δ r(x̃+δ)/τ − ‖δ‖²/(2σ_t²): the mode of the payoff exp(r/τ) times the posterior step
 *    N(x̃, σ_t² I). For a linear reward δ = σ_t² b/τ (clipped to the ball) after one step: the mean
 *    shift of the exactly tilted Gaussian step, so the fixed point tracks p·exp(r/τ) (rewardiff's
 *    variant; it makes τ matter for differentiable rewards).
 * Black-box reward: K candidates δ_k uniform in the ball; row i keeps candidate k with probability
 * ∝ exp(r(x̃_i + δ_k)/τ) (a draw from the payoff distribution restricted to the K candidates).
 */
import { selectCandidateRows, softmaxAverageRows } from "../data/selection.js";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

export type ShiftRule = "argmax" | "proximal";

/** A seeded host generator: uniforms in [0, 1) and standard normals (Box–Muller). */
export interface HostRng {
  uniform(): number;
  normal(): number;
}

export function hostRng(seed: number): HostRng {
  const rng = xoroshiro128plus(seed | 0);
  let spare: number | null = null;
  return {
    uniform: () => uniformFloat64(rng),
    normal: () => {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      const u1 = 1 - uniformFloat64(rng);
      const u2 = uniformFloat64(rng);
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return r * Math.cos(2 * Math.PI * u2);
    },
  };
}

/** Row-wise projection onto ‖δ_i‖ ≤ ρ_i, in place. */
export function projectBall(delta: Float64Array, dim: number, radius: ArrayLike<number>): Float64Array {
  const B = delta.length / dim;
  for (let i = 0; i < B; i++) {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += delta[i * dim + j]! ** 2;
    const n = Math.sqrt(sq);
    const r = radius[i]!;
    if (n > r) {
      const f = n > 0 ? r / n : 0;
      for (let j = 0; j < dim; j++) delta[i * dim + j]! *= f;
    }
  }
  return delta;
}

/** One projected ascent update of δ (in place) from the reward gradient g at x̃ + δ. See the module doc. */
export function ascentUpdate(
  rule: ShiftRule,
  delta: Float64Array,
  g: ArrayLike<number>,
  dim: number,
  radius: ArrayLike<number>,
  sigma: ArrayLike<number>,
  tau: number,
): Float64Array {
  const B = delta.length / dim;
  for (let i = 0; i < B; i++) {
    if (rule === "argmax") {
      let sq = 0;
      for (let j = 0; j < dim; j++) sq += g[i * dim + j]! ** 2;
      const n = Math.sqrt(sq);
      if (n > 0) for (let j = 0; j < dim; j++) delta[i * dim + j]! += (radius[i]! * g[i * dim + j]!) / n;
    } else {
      const c = sigma[i]! ** 2 / tau;
      for (let j = 0; j < dim; j++) delta[i * dim + j] = c * g[i * dim + j]!;
    }
  }
  return projectBall(delta, dim, radius);
}

/**
 * δ by `steps` projected ascent updates from δ = 0. `gradAt(x)` returns ∇r at the rows of x
 * (x = x̃ + δ, float32 [B, D]). Checks that every gradient is finite.
 */
export async function gradientShift(o: {
  center: Float32Array;
  dim: number;
  radius: ArrayLike<number>;
  sigma: ArrayLike<number>;
  tau: number;
  rule: ShiftRule;
  steps: number;
  gradAt: (x: Float32Array) => Float32Array | Promise<Float32Array>;
}): Promise<Float64Array> {
  const delta = new Float64Array(o.center.length);
  const x = new Float32Array(o.center.length);
  for (let k = 0; k < o.steps; k++) {
    for (let j = 0; j < x.length; j++) x[j] = o.center[j]! + delta[j]!;
    const g = await o.gradAt(x);
    if (g.length !== x.length) throw new Error(`rgdm: the reward gradient has ${g.length} values for ${x.length}`);
    const bad = g.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`rgdm: the reward gradient is not finite (${g[bad]}) at sample ${Math.floor(bad / o.dim) + 1}`);
    ascentUpdate(o.rule, delta, g, o.dim, o.radius, o.sigma, o.tau);
  }
  return delta;
}

/**
 * K candidate shifts per row, uniform in the row's ball: δ = ρ U^{1/D} u, u uniform on the sphere.
 * Candidate k of row i is row k·B + i of the result [K·B, D].
 */
export function ballCandidates(rng: HostRng, B: number, K: number, dim: number, radius: ArrayLike<number>): Float64Array {
  const out = new Float64Array(K * B * dim);
  const u = new Float64Array(dim);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < B; i++) {
      let sq = 0;
      for (let j = 0; j < dim; j++) sq += (u[j] = rng.normal()) ** 2;
      const n = Math.sqrt(sq) || 1;
      const r = radius[i]! * Math.pow(rng.uniform(), 1 / dim);
      for (let j = 0; j < dim; j++) out[(k * B + i) * dim + j] = (r * u[j]!) / n;
    }
  }
  return out;
}

/**
 * For each of B rows, one of K candidates drawn with probability ∝ exp(r_k/τ) (inverse CDF of the
 * max-shifted weights). `rewards[k·B + i]` is candidate k of row i.
 */
export function selectCandidates(rng: HostRng, rewards: ArrayLike<number>, B: number, K: number, tau: number): Int32Array {
  if (rewards.length !== B * K) throw new Error(`rgdm: ${rewards.length} candidate rewards for ${B} rows × ${K} candidates`);
  return selectCandidateRows(rewards, B, K, tau, () => rng.uniform());
}

/**
 * The expected selected shift Σ_k softmax(r/τ)_k δ_k per row (the Rao–Blackwellised payoff draw: the
 * same conditional mean as {@link selectCandidates}, hence the same regression fixed point, with far
 * less target noise). `cand` is [K·B, D] as made by {@link ballCandidates}.
 */
export function weightedCandidates(cand: Float64Array, rewards: ArrayLike<number>, B: number, K: number, dim: number, tau: number): Float64Array {
  if (rewards.length !== B * K) throw new Error(`rgdm: ${rewards.length} candidate rewards for ${B} rows × ${K} candidates`);
  return softmaxAverageRows(cand, rewards, B, K, dim, tau);
}

/** Checks τ (method.alpha) and ρ; `where` names the config path. */
export function checkShiftParameters(tau: number, rho: number, where = "method"): void {
  if (!(Number.isFinite(tau) && tau > 0)) throw new Error(`${where}.alpha (τ) must be > 0, got ${tau}`);
  if (!(Number.isFinite(rho) && rho >= 0)) throw new Error(`${where}.rho (ρ) must be ≥ 0, got ${rho}`);
}
