/**
 * Isotropic Gaussian mixtures with a linear reward: the task whose reward-tilted optimum is known
 * exactly (fixtures.md §3).
 *   p(x) = Σ_k π_k N(m_k, s_k² I),  r(x) = bᵀx,
 *   p*(x) = p(x) e^{r(x)/α} / Z = Σ_k π'_k N(m_k + s_k² b/α, s_k² I),
 *   π'_k ∝ π_k exp(bᵀm_k/α + s_k²‖b‖²/(2α²)).
 * Under the DDPM forward process (a = ᾱ_t) the marginal p_t is again a mixture,
 *   p_t = Σ_k π_k N(√a m_k, σ_k² I),  σ_k² = a s_k² + 1 − a,
 * and the soft value v_t(x_t) = α log E[e^{r(x_0)/α} | x_t] is a log-sum-exp over components, so the
 * exact guided score ∇log p_t + ∇v_t/α = ∇log p*_t is available as an oracle for guidance code.
 *
 * Host-side laws (sampling, densities, tilting) run in float64; the ε / value oracles are jax ops
 * on a batch [n, D] and are differentiable.
 */
import { grad, jnn, np, split2, type JArray, type Key } from "../backend/index.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import type { EpsFn, StepTime } from "../diffusion/types.js";
import { assertAlphaBar } from "./gaussian.js";
import { logSumExp } from "./host-linalg.js";
import { hostNormal, hostUniform } from "./host-random.js";
import { assertRewardWeights, linearReward } from "./linear-reward.js";
import { assertDim, assertSampleCount, type RewardTask } from "./task.js";

/** One component as written in a config: weight π_k (any positive scale), mean m_k, std s_k. */
export interface MixtureComponent {
  readonly weight: number;
  readonly mean: readonly number[];
  readonly std: number;
}

/** p(x) = Σ_k π_k N(m_k, s_k² I): weights π_k (positive, summing to 1), means m_k ∈ R^D, stds s_k > 0. */
export interface GaussianMixture {
  readonly weights: readonly number[];
  readonly means: readonly (readonly number[])[];
  readonly stds: readonly number[];
}

/** Checks a mixture (π_k > 0 summing to 1 within 1e-6, equal-length finite means, s_k > 0); returns D. */
export function validateMixture(gm: GaussianMixture, where = "gaussian mixture"): number {
  const k = gm.weights.length;
  if (k === 0) throw new Error(`${where}: needs at least one component`);
  if (gm.means.length !== k || gm.stds.length !== k) {
    throw new Error(`${where}: ${k} weights but ${gm.means.length} means and ${gm.stds.length} stds`);
  }
  const d = gm.means[0]!.length;
  if (d === 0) throw new Error(`${where}: component means must have at least one coordinate`);
  let total = 0;
  for (let i = 0; i < k; i++) {
    const w = gm.weights[i]!;
    if (!(Number.isFinite(w) && w > 0)) throw new Error(`${where}: component ${i + 1} weight must be a finite number > 0, got ${w}`);
    total += w;
    const s = gm.stds[i]!;
    if (!(Number.isFinite(s) && s > 0)) throw new Error(`${where}: component ${i + 1} std must be a finite number > 0, got ${s}`);
    const m = gm.means[i]!;
    if (m.length !== d) throw new Error(`${where}: component ${i + 1} mean has ${m.length} coordinates, expected ${d}`);
    m.forEach((v, j) => {
      if (!Number.isFinite(v)) throw new Error(`${where}: component ${i + 1} mean coordinate ${j + 1} is not finite (${v})`);
    });
  }
  if (Math.abs(total - 1) > 1e-6) throw new Error(`${where}: weights sum to ${total}, expected 1`);
  return d;
}

/** Builds a validated mixture from config components, normalising the weights to sum to 1. */
export function gaussianMixture(components: readonly MixtureComponent[]): GaussianMixture {
  if (components.length === 0) throw new Error("gaussian mixture: needs at least one component");
  components.forEach((c, i) => {
    if (!(Number.isFinite(c.weight) && c.weight > 0)) {
      throw new Error(`gaussian mixture: component ${i + 1} weight must be a finite number > 0, got ${c.weight}`);
    }
  });
  const total = components.reduce((s, c) => s + c.weight, 0);
  const gm: GaussianMixture = {
    weights: components.map((c) => c.weight / total),
    means: components.map((c) => [...c.mean]),
    stds: components.map((c) => c.std),
  };
  validateMixture(gm);
  return gm;
}

/** Exact mean Σ π_k m_k and covariance Σ π_k (s_k² I + m_k m_kᵀ) − μμᵀ of the mixture. */
export function mixtureMoments(gm: GaussianMixture): { mean: number[]; cov: number[][] } {
  const d = validateMixture(gm);
  const mean = new Array<number>(d).fill(0);
  const second = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  gm.weights.forEach((w, k) => {
    const m = gm.means[k]!;
    const s2 = gm.stds[k]! ** 2;
    for (let i = 0; i < d; i++) {
      mean[i]! += w * m[i]!;
      for (let j = 0; j < d; j++) second[i]![j]! += w * (m[i]! * m[j]! + (i === j ? s2 : 0));
    }
  });
  return { mean, cov: second.map((row, i) => row.map((v, j) => v - mean[i]! * mean[j]!)) };
}

/** n draws: a component k ~ π by inverse CDF, then x = m_k + s_k z. Consumes `key`. */
export async function sampleMixture(key: Key, gm: GaussianMixture, n: number): Promise<HostMatrix> {
  const d = validateMixture(gm);
  assertSampleCount(n, "sampleMixture");
  const [kU, kZ] = split2(key);
  const u = hostUniform(kU, n, 1);
  const z = await hostNormal(kZ, n, d);
  const cdf: number[] = [];
  gm.weights.reduce((acc, w) => (cdf.push(acc + w), acc + w), 0);
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    let k = 0;
    while (k < cdf.length - 1 && u[r]! >= cdf[k]!) k++;
    const m = gm.means[k]!;
    const s = gm.stds[k]!;
    for (let i = 0; i < d; i++) out[r * d + i] = m[i]! + s * z[r * d + i]!;
  }
  return hostMatrix(n, d, out);
}

/** log p(x) per row, in float64: log Σ_k π_k N(x; m_k, s_k² I). */
export function mixtureLogDensity(gm: GaussianMixture, x: HostMatrix): Float64Array {
  const d = validateMixture(gm);
  assertDim(x, d, "mixtureLogDensity");
  const out = new Float64Array(x.rows);
  const terms = new Array<number>(gm.weights.length);
  for (let r = 0; r < x.rows; r++) {
    gm.weights.forEach((w, k) => {
      const m = gm.means[k]!;
      const s2 = gm.stds[k]! ** 2;
      let sq = 0;
      for (let i = 0; i < d; i++) sq += (x.data[r * d + i]! - m[i]!) ** 2;
      terms[k] = Math.log(w) - 0.5 * d * Math.log(2 * Math.PI * s2) - sq / (2 * s2);
    });
    out[r] = logSumExp(terms);
  }
  return out;
}

/** The forward marginal p_t = Σ_k π_k N(√a m_k, (a s_k² + 1 − a) I) at a = ᾱ_t. */
export function diffusedMixture(gm: GaussianMixture, alphaBar: number): GaussianMixture {
  validateMixture(gm);
  assertAlphaBar(alphaBar, "diffusedMixture");
  const sa = Math.sqrt(alphaBar);
  return {
    weights: [...gm.weights],
    means: gm.means.map((m) => m.map((v) => sa * v)),
    stds: gm.stds.map((s) => Math.sqrt(alphaBar * s * s + 1 - alphaBar)),
  };
}

function assertAlpha(alpha: number, where: string): void {
  if (!(Number.isFinite(alpha) && alpha > 0)) throw new Error(`${where}: alpha must be a finite number > 0, got ${alpha}`);
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Unnormalised log tilted weights log π_k + bᵀm_k/α + s_k²‖b‖²/(2α²). */
function tiltLogits(gm: GaussianMixture, b: readonly number[], alpha: number): number[] {
  const bb = dot(b, b);
  return gm.weights.map((w, k) => Math.log(w) + dot(b, gm.means[k]!) / alpha + (gm.stds[k]! ** 2 * bb) / (2 * alpha * alpha));
}

function checkTilt(gm: GaussianMixture, b: readonly number[], alpha: number, where: string): void {
  const d = validateMixture(gm, where);
  assertRewardWeights(b, d, where);
  assertAlpha(alpha, where);
}

/** The exact tilted law p* ∝ p e^{bᵀx/α}: weights π'_k, means m_k + s_k² b/α, stds s_k. */
export function tiltedMixture(gm: GaussianMixture, b: readonly number[], alpha: number): GaussianMixture {
  checkTilt(gm, b, alpha, "tiltedMixture");
  const logits = tiltLogits(gm, b, alpha);
  const lz = logSumExp(logits);
  return {
    weights: logits.map((l) => Math.exp(l - lz)),
    means: gm.means.map((m, k) => m.map((v, i) => v + (gm.stds[k]! ** 2 * b[i]!) / alpha)),
    stds: [...gm.stds],
  };
}

/** log Z = log E_p[e^{r(x)/α}] = log Σ_k π_k exp(bᵀm_k/α + s_k²‖b‖²/(2α²)). */
export function tiltLogPartition(gm: GaussianMixture, b: readonly number[], alpha: number): number {
  checkTilt(gm, b, alpha, "tiltLogPartition");
  return logSumExp(tiltLogits(gm, b, alpha));
}

/** E_{p*}[r] = Σ_k π'_k bᵀ(m_k + s_k² b/α): the mean reward of the optimum of E[r] − α KL(·‖p). */
export function exactTiltedRewardMean(gm: GaussianMixture, b: readonly number[], alpha: number): number {
  const t = tiltedMixture(gm, b, alpha);
  return t.weights.reduce((s, w, k) => s + w * dot(b, t.means[k]!), 0);
}

/** Per-ᾱ constants of p_t on the device side: component means √a m_k [K, D], 1/σ_k², log π_k − (D/2) log σ_k². */
function diffusedConstants(gm: GaussianMixture, alphaBar: number) {
  const d = gm.means[0]!.length;
  const pt = diffusedMixture(gm, alphaBar);
  const variances = pt.stds.map((s) => s * s);
  return {
    d,
    k: gm.weights.length,
    variances,
    means: Float32Array.from(pt.means.flat()),
    invVar: Float32Array.from(variances, (v) => 1 / v),
    logWeight: Float32Array.from(gm.weights, (w, k) => Math.log(w) - 0.5 * d * Math.log(variances[k]!)),
  };
}

/** log π_k N(x; √a m_k, σ_k² I) up to the shared constant −(D/2) log 2π: x [n, D] (consumed) → [n, K]. */
function componentLogits(x: JArray, c: ReturnType<typeof diffusedConstants>): JArray {
  const diff = np.expandDims(x, 1).sub(np.array(c.means, { shape: [1, c.k, c.d] }));
  const sq = diff.ref.mul(diff).sum(2);
  return np
    .array(c.logWeight, { shape: [1, c.k] })
    .sub(sq.mul(np.array(c.invVar, { shape: [1, c.k] }).mul(0.5)));
}

function checkBatch(x: JArray, d: number, where: string): void {
  if (x.ndim !== 2 || x.shape[1] !== d) {
    const shape = x.shape.join(", ");
    x.dispose();
    throw new Error(`${where}: expected x_t of shape [n, ${d}], got [${shape}]`);
  }
}

/**
 * The exact ε of the diffused mixture: ε(x_t, t) = −√(1−ᾱ_t) ∇log p_t(x_t) with
 * ∇log p_t(x) = Σ_k w_k(x) (√a m_k − x)/σ_k², w = softmax of the component log-likelihoods.
 * x_t [n, D] is consumed.
 */
export function mixtureEps(gm: GaussianMixture): EpsFn {
  validateMixture(gm, "mixtureEps");
  return (x: JArray, t: StepTime): JArray => {
    const c = diffusedConstants(gm, t.alphaBar);
    checkBatch(x, c.d, "mixtureEps");
    // softmax as exp(l − logsumexp(l)): jax-js 0.1.25's nn.softmax leaks ~50 KB per call under grad.
    const logits = componentLogits(x.ref, c);
    const w = np.exp(logits.ref.sub(jnn.logsumexp(logits, 1, { keepdims: true })));
    const wv = w.mul(np.array(c.invVar, { shape: [1, c.k] }));
    const pull = np.matmul(wv.ref, np.array(c.means, { shape: [c.k, c.d] }));
    const score = pull.sub(x.mul(wv.sum(1, { keepdims: true })));
    return score.mul(-Math.sqrt(1 - t.alphaBar));
  };
}

/** A value oracle at one ᾱ_t: x_t [n, D] (consumed) → [n] (soft value) or [n, D] (its gradient). */
export type SoftValueFn = (x: JArray, alphaBar: number) => JArray;

/**
 * The exact soft value v_t(x_t) = α log E[e^{r(x_0)/α} | x_t] of fixtures.md §3:
 *   v_t = α log Σ_k ρ_k(x_t) exp(bᵀμ_k/α + Σ_k‖b‖²/(2α²)),
 * ρ_k ∝ π_k N(x_t; √a m_k, σ_k² I), μ_k = m_k + √a s_k²(x_t − √a m_k)/σ_k², Σ_k = s_k²(1−a)/σ_k².
 * bᵀμ_k is affine in bᵀx_t, so v_t = α [lse_k(ℓ_k + c_k + g_k bᵀx_t) − lse_k(ℓ_k)] with ℓ_k the
 * component log-likelihoods. Built from differentiable jax ops. Limits: v_t → bᵀx as ᾱ → 1 and
 * v_t → α log Z as ᾱ → 0.
 */
export function softValue(gm: GaussianMixture, b: readonly number[], alpha: number): SoftValueFn {
  checkTilt(gm, b, alpha, "softValue");
  const bArr = [...b];
  const bb = dot(bArr, bArr);
  const bm = gm.means.map((m) => dot(bArr, m));
  return (x: JArray, alphaBar: number): JArray => {
    const c = diffusedConstants(gm, alphaBar);
    checkBatch(x, c.d, "softValue");
    const sa = Math.sqrt(alphaBar);
    const s2 = gm.stds.map((s) => s * s);
    // g_k = √a s_k² / (σ_k² α);  c_k = bᵀm_k/α + Σ_k‖b‖²/(2α²) − g_k √a bᵀm_k.
    const g = s2.map((v, k) => (sa * v) / (c.variances[k]! * alpha));
    const post = s2.map((v, k) => (v * (1 - alphaBar)) / c.variances[k]!);
    const offset = bm.map((v, k) => v / alpha + (post[k]! * bb) / (2 * alpha * alpha) - g[k]! * sa * v);
    const logits = componentLogits(x.ref, c);
    const bx = np.matmul(x, np.array(Float32Array.from(bArr), { shape: [c.d, 1] }));
    const tilt = bx
      .mul(np.array(Float32Array.from(g), { shape: [1, c.k] }))
      .add(np.array(Float32Array.from(offset), { shape: [1, c.k] }));
    const tilted = jnn.logsumexp(logits.ref.add(tilt), 1);
    return tilted.sub(jnn.logsumexp(logits, 1)).mul(alpha);
  };
}

/**
 * ∇_{x_t} v_t(x_t) [n, D] by jax grad of Σ_i v_t(x_i) (rows are independent, so row i of the
 * gradient is ∇v_t(x_i)). The exact guided score is ∇log p_t + ∇v_t/α. x_t is consumed.
 */
export function softValueGrad(gm: GaussianMixture, b: readonly number[], alpha: number): SoftValueFn {
  const v = softValue(gm, b, alpha);
  return (x: JArray, alphaBar: number): JArray => grad((xt: JArray) => v(xt, alphaBar).sum())(x);
}

/** Config of the gaussian-mixture task (contract.md): components and the reward weights b. */
export interface GaussianMixtureConfig {
  readonly components: readonly MixtureComponent[];
  readonly rewardWeights: readonly number[];
}

/** The gaussian-mixture data task with its ground-truth reward r(x) = bᵀx and exact tilted targets. */
export interface GaussianMixtureTask extends RewardTask {
  readonly mixture: GaussianMixture;
  /** b in r(x) = bᵀx. */
  readonly rewardWeights: readonly number[];
  /** p* ∝ p e^{r/α}. */
  tilted(alpha: number): GaussianMixture;
  /** E_{p*}[r]. */
  exactRewardMean(alpha: number): number;
}

/** Adapts a gaussian-mixture config to a {@link DataTask} with its oracles. */
export function gaussianMixtureTask(config: GaussianMixtureConfig): GaussianMixtureTask {
  const mixture = gaussianMixture(config.components);
  const d = mixture.means[0]!.length;
  assertRewardWeights(config.rewardWeights, d, "gaussian-mixture task");
  const b = [...config.rewardWeights];
  return {
    name: "gaussian-mixture",
    dim: d,
    mixture,
    rewardWeights: b,
    sample: (key, n) => sampleMixture(key, mixture, n),
    reward: (x) => linearReward(b, x),
    tilted: (alpha) => tiltedMixture(mixture, b, alpha),
    exactRewardMean: (alpha) => exactTiltedRewardMean(mixture, b, alpha),
  };
}
