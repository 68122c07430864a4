/**
 * DDPO / DPOK: policy-gradient fine-tuning of a diffusion model on the denoising MDP (Black et al. 2023,
 * "DDPO"; Fan et al. 2023, "DPOK"; methods.md, "The neighbouring family").
 *
 * Every stochastic sampler step is a Gaussian policy π_θ(x_s | x_t) = N(μ_θ(x_t, t), σ_t² I) (src/diffusion/step.ts).
 * One round: sample B trajectories with the current weights θ_old, store (x_t, x_s, log π_θold(x_s|x_t)),
 * score the final x_0 with any reward r (non-differentiable is fine: only r's values are used), then take
 * `epochs` passes of PPO over the stored steps:
 *   ρ_k = exp(log π_θ(x_s | x_t) − log π_θold(x_s | x_t)),
 *   L = (1/S) mean_i Σ_k [ max(−A_ik ρ_ik, −A_ik clip(ρ_ik, 1 − ε, 1 + ε)) + (α/s) KL_ik(θ) ],
 *   KL_ik(θ) = ‖μ_θ(x_t) − μ_pre(x_t)‖² / (2σ_k²)   (DPOK's KL to the pretrained model; α = 0: plain DDPO).
 * The objective is J(θ) = E_τ[r(x_0) − α Σ_k KL_k(x_{t_k})] (the KL of the path measures), whose optimum
 * is p_pre(x_0) e^{r(x_0)/α} / Z. Its gradient has a score-function part, handled by PPO with the
 * reward-to-go G_ik = r(x_0^i) − α Σ_{k' > k} KL_ik' (action k changes only later states), and a direct
 * part ∇_θ KL_k at the stored states (the second term of L). Advantages are normalised per batch:
 * A_ik = (G_ik − mean_i G_ik) / s, s = std_i G_i0, and the KL term is divided by the same s so the
 * balance α between reward and KL is kept (DDPO's plain per-batch normalisation when α = 0).
 *
 * Deterministic steps have no log-probability: a plan with σ = 0 anywhere but its last step (into clean
 * data, where every DDPM/DDIM plan is deterministic) is refused with a clear error. That last step
 * x_0 = μ_pre(x_{t_1}) is taken with the frozen pretrained model, as part of the environment, so the
 * policy gradient stays exact and the optimum is still the tilt of the pretrained model's output law.
 */
import { np, tree, type JArray } from "../backend/jax.js";
import { keyToSeed, splitKey, type Key } from "../backend/keys.js";
import { scalar, settleAsync, toHost, upload } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { permutation } from "../data/permutation.js";
import { modelEps, type ModelConfig } from "../diffusion/model.js";
import { sample, type GuidanceHook, type StepInfo } from "../diffusion/sample.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { noiseHookOf } from "../diffusion/noise-space.js";
import { coefficientVector, coefficientRow, pathKl, requireStochastic, stepFromOutput, stepKl, stepLogProb, type EventReduce, type StepCoefficients } from "../diffusion/step.js";
import { outputProjection, type EpsFn, type NoiseHook } from "../diffusion/types.js";
import type { Params } from "../nn/params.js";
import { constantRateOptimizer, optimizerFromConfig, optimizerStaticKey, type OptimizerConfig } from "../optim/config.js";
import { disposeTrainStepState, makeTrainStep, type TrainStep, type TrainStepState } from "../optim/train-step.js";
import { applyDenoiser, type DenoiserParams } from "../nn/denoiser.js";

/** Settings of a DDPO / DPOK run. */
export interface DdpoConfig extends Pick<OptimizerConfig, "learningRate" | "gradClip"> {
  /** Rounds of (sample a batch, PPO epochs). */
  iterations: number;
  /** B: trajectories per round. */
  batch: number;
  /** PPO passes over each batch. */
  epochs: number;
  /** Minibatches per pass (over all (trajectory, step) pairs). */
  minibatches: number;
  /** ε of the clipped ratio. */
  clip: number;
  /** α of the KL penalty to the pretrained model (0 = DDPO without KL; > 0 = DPOK). */
  klWeight: number;
  /**
   * How a step's log-probability reduces over the event axes: "sum" (the theory: log N(x_s; μ, σ²I)) or "mean"
   * (ddpo-pytorch's convention). The ratio's clip ε then bounds a different trust region: with "mean" the
   * ratio of a D-dimensional step is the D-th root of the true one, so ε allows D times the log-ratio.
   */
  logProbReduce: EventReduce;
}

export const defaultDdpoConfig: DdpoConfig = {
  iterations: 40,
  batch: 256,
  epochs: 2,
  minibatches: 4,
  clip: 0.2,
  learningRate: 3e-4,
  gradClip: 1,
  klWeight: 0,
  logProbReduce: "sum",
};

/** A reward on final samples x_0 (host values, one per row; black-box rewards are fine). */
export type DdpoReward = (x0: HostMatrix) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** Smallest step σ with a usable float32 log-probability (‖x_s − μ‖²/σ² must stay finite). */
export const MIN_SIGMA = 1e-6;

/**
 * Checks that every step of `plan` but the last is stochastic (σ > 0); returns how many leading steps
 * are stochastic (the last one may be deterministic). `where` names the config in the error.
 */
export function stochasticSteps(plan: readonly StepCoefficients[], where = "ddpo"): number {
  if (plan.length === 0) throw new Error(`${where}: the sampler plan has no steps`);
  const S = plan.length;
  requireStochastic(plan, {
    what: `${where} needs a stochastic sampler`,
    active: (i, c) => !(i === S - 1 && c.s.index < 0 && c.sigma === 0),
    minSigma: MIN_SIGMA,
    showTimes: true,
    hint: `use sampling.sampler "ddpm", or "ddim" with eta > 0 (DDIM with eta = 0 has no step log-probabilities)`,
  });
  return plan[S - 1]!.sigma > 0 ? S : S - 1;
}

/** A batch of sampled trajectories (host copies), enough to recompute every step's log-probability. */
export interface Trajectories {
  n: number;
  dim: number;
  /** The stochastic steps, in order (their count S' = xt.length). */
  steps: StepCoefficients[];
  /** x_t before stochastic step k, [n·D] each. */
  xt: Float32Array[];
  /** x_s after stochastic step k, [n·D] each. */
  xs: Float32Array[];
  /** log π_θold(x_s | x_t) of step k, [n] each (stepLogProb with the rollout's reduce). */
  logProbs: Float32Array[];
  /** KL_k = ‖μ_θold − μ_pre‖²/(2σ_k²) at x_t, [n] each (absent without a reference model). */
  kl?: Float32Array[];
  /** μ_pre(x_t) of step k, [n·D] each (absent without a reference model). */
  preMeans?: Float32Array[];
  /** The final samples x_0. */
  x0: HostMatrix;
}

/** The step of an ε-predictor at x_t (borrowed): its mean (owned). */
function meanOf(eps: EpsFn, x: JArray, c: StepCoefficients): JArray {
  const st = stepFromOutput("eps", x.ref, eps(x.ref, c.t), coefficientVector(c));
  st.x0Hat.dispose();
  st.epsHat.dispose();
  return st.mean;
}

/**
 * Samples n trajectories with the policy ε̂_θ (`policy`) and records every stochastic step: the sampling
 * loop (src/diffusion/sample.ts, its key scheme) with a hook that records x_t, and the log-probability
 * of the x_s the loop drew (`reduce`: "sum", the theory, or "mean", ddpo-pytorch's). With `reference`
 * (ε̂_pre) it also records μ_pre and the per-step KL, and takes a deterministic last step with the
 * reference model (else with the policy). Consumes `key`.
 */
export async function rollout(o: {
  policy: EpsFn;
  reference?: EpsFn;
  plan: readonly StepCoefficients[];
  n: number;
  dim: number;
  key: Key;
  where?: string;
  reduce?: EventReduce;
  /** The event shape of a sample (default [dim]; its entries must number dim). */
  eventShape?: readonly number[];
  noise?: NoiseHook;
}): Promise<Trajectories> {
  let S: number;
  try {
    S = stochasticSteps(o.plan, o.where);
  } catch (e) {
    o.key.dispose();
    throw e;
  }
  // The reference's output through the noise hook's output projection too, as the sampling loop's policy
  // output; densities and KLs on the noise space V (P of the means and of x_s, src/diffusion/types.ts).
  const noise = o.noise;
  const ref = o.reference;
  const reference: EpsFn | undefined = ref && noise ? (x, t) => outputProjection(noise)(ref(x, t)) : ref;
  const onV = (a: JArray) => (noise ? noise(a) : a);
  const dev = { xt: [] as JArray[], xs: [] as JArray[], logProbs: [] as JArray[], kl: [] as JArray[], preMeans: [] as JArray[] };
  let policyMean: JArray | undefined;
  const hook: GuidanceHook = {
    async step(ctx, x, base) {
      const c = ctx.coefficients;
      base.x0Hat.dispose();
      base.epsHat.dispose();
      if (ctx.i >= S) {
        // The deterministic final step into clean data: x_0 = μ(x_{t_1}).
        if (!reference) return base.mean;
        base.mean.dispose();
        return meanOf(reference, x, c);
      }
      dev.xt.push(x.ref);
      if (reference) {
        const pre = onV(meanOf(reference, x, c));
        const kl = stepKl(onV(base.mean.ref), pre.ref, c.sigma);
        dev.kl.push(kl);
        dev.preMeans.push(pre);
        // μ_pre and the KL are off the chain the loop settles: left pending, each step's kernels (and every
        // intermediate buffer of the reference network's forward pass) would stay queued until the final read
        // (measured on QM9, 16 rows × 50 steps: the wasm heap grew ~18 MiB a step, to 937 MiB).
        await settleAsync(pre);
        await settleAsync(kl);
      }
      policyMean = base.mean.ref;
      return base.mean;
    },
  };
  const onStep = (info: StepInfo) => {
    if (info.i >= S) return;
    dev.xs.push(info.x.ref);
    dev.logProbs.push(stepLogProb(onV(policyMean!), info.coefficients.sigma, onV(info.x.ref), o.reduce));
    policyMean = undefined;
  };
  const hooks = { guidance: hook, onStep, ...(o.noise ? { noise: o.noise } : {}) };
  const x0 = await sample({ model: o.policy, plan: o.plan, n: o.n, eventShape: o.eventShape ?? [o.dim], key: o.key, hooks });
  const read = (a: JArray[]) => Promise.all(a.map((v) => toHost(v)));
  const out: Trajectories = {
    n: o.n,
    dim: o.dim,
    steps: o.plan.slice(0, S),
    xt: await read(dev.xt),
    xs: await read(dev.xs),
    logProbs: await read(dev.logProbs),
    x0: hostMatrix(o.n, o.dim, await toHost(x0)),
  };
  if (o.reference) {
    out.kl = await read(dev.kl);
    out.preMeans = await read(dev.preMeans);
  }
  return out;
}

/**
 * The PPO advantages of a batch of B trajectories with S stochastic steps, row k·B + i:
 *   G_ik = r_i − α Σ_{k' > k} KL_ik'   (the reward-to-go: action k changes only later states),
 *   A_ik = (G_ik − mean_{j ∈ g(i)} G_jk) / s,   s = the within-group standard deviation of G_i0 (pooled, B − #groups
 * degrees of freedom) + 1e−8,
 * with `groups` (e.g. CTRL's labels) a per-trajectory group id whose members share the baseline; without it, one
 * group (DDPO's per-batch normalisation). Returns A, s (the loss divides the KL term by it too) and the batch's
 * mean Σ_k KL_ik.
 */
export function advantages(r: ArrayLike<number>, kl: readonly Float32Array[], alpha: number, groups?: Int32Array): { adv: Float32Array; scale: number; klMean: number } {
  const S = kl.length;
  const B = r.length;
  const G = new Float64Array(S * B);
  let klMean = 0;
  for (let i = 0; i < B; i++) {
    let acc = r[i]!;
    for (let k = S - 1; k >= 0; k--) {
      G[k * B + i] = acc;
      const v = kl[k]![i]!;
      klMean += v / B;
      acc -= alpha * v;
    }
  }
  const g = groups ?? new Int32Array(B);
  const ids = new Set(g);
  /** Per trajectory, the mean of G_jk over its group. */
  const baseline = (k: number) => {
    const sum = new Map<number, number>();
    const count = new Map<number, number>();
    for (let i = 0; i < B; i++) {
      sum.set(g[i]!, (sum.get(g[i]!) ?? 0) + G[k * B + i]!);
      count.set(g[i]!, (count.get(g[i]!) ?? 0) + 1);
    }
    return Float64Array.from({ length: B }, (_, i) => sum.get(g[i]!)! / count.get(g[i]!)!);
  };
  const b0 = baseline(0);
  let v0 = 0;
  for (let i = 0; i < B; i++) v0 += (G[i]! - b0[i]!) ** 2;
  const s = Math.sqrt(v0 / Math.max(1, B - ids.size)) + 1e-8;
  const adv = new Float32Array(S * B);
  for (let k = 0; k < S; k++) {
    const bk = baseline(k);
    for (let i = 0; i < B; i++) adv[k * B + i] = (G[k * B + i]! - bk[i]!) / s;
  }
  return { adv, scale: s, klMean };
}

/**
 * The PPO minibatches of `rows` stored steps: for each of `epochs` passes a fresh permutation (seeded from `seed`)
 * cut into `minibatches` equal parts (the remainder of rows/minibatches is left out of that pass).
 */
export function* minibatchIndices(rows: number, epochs: number, minibatches: number, seed: number, where: string): Generator<Int32Array> {
  const mb = Math.floor(rows / minibatches);
  if (mb < 1) throw new Error(`${where}: ${rows} steps are too few for ${minibatches} minibatches`);
  for (let e = 0; e < epochs; e++) {
    const perm = permutation(rows, (seed + e * 0x9e3779b1) >>> 0);
    for (let b = 0; b < minibatches; b++) yield perm.subarray(b * mb, (b + 1) * mb);
  }
}

/** Rows `idx` of a row-major host array of width w. */
export function gatherRows(src: Float32Array, idx: ArrayLike<number>, w: number): Float32Array {
  const out = new Float32Array(idx.length * w);
  for (let q = 0; q < idx.length; q++) out.set(src.subarray(idx[q]! * w, (idx[q]! + 1) * w), q * w);
  return out;
}

/** Per-row inputs of the PPO loss, flattened over (step k, trajectory i): row k·n + i. */
export interface StepRows {
  rows: number;
  xt: Float32Array;
  xs: Float32Array;
  tNet: Float32Array;
  alphaBar: Float32Array;
  /** [rows, 6]: √ᾱ_t, √(1−ᾱ_t), c_x0, c_eps, c_xt, σ. */
  coef: Float32Array;
  oldLogProb: Float32Array;
  preMean: Float32Array;
  advantage: Float32Array;
}

/** The trajectories' stochastic steps as PPO rows (row k·n + i: step k of trajectory i), with their advantages. */
export function flattenSteps(tr: Trajectories, T: number, advantage: Float32Array): StepRows {
  const S = tr.steps.length;
  const n = tr.n;
  const D = tr.dim;
  const rows = S * n;
  const out: StepRows = {
    rows,
    xt: new Float32Array(rows * D),
    xs: new Float32Array(rows * D),
    tNet: new Float32Array(rows),
    alphaBar: new Float32Array(rows),
    coef: new Float32Array(rows * 6),
    oldLogProb: new Float32Array(rows),
    preMean: new Float32Array(rows * D),
    advantage,
  };
  tr.steps.forEach((c, k) => {
    out.xt.set(tr.xt[k]!, k * n * D);
    out.xs.set(tr.xs[k]!, k * n * D);
    if (tr.preMeans) out.preMean.set(tr.preMeans[k]!, k * n * D);
    out.oldLogProb.set(tr.logProbs[k]!, k * n);
    const cv = coefficientRow(c);
    for (let i = 0; i < n; i++) {
      out.tNet[k * n + i] = (1000 * c.t.index) / T;
      out.alphaBar[k * n + i] = c.t.alphaBar;
      out.coef.set(cv, (k * n + i) * 6);
    }
  });
  return out;
}

/**
 * log π_θ(x_s | x_t) per row and the step mean μ_θ, with per-row step coefficients [rows, 6]
 * (coefficientRow): the device side of the PPO ratio, the one step and log-probability of
 * src/diffusion/step.ts. `alphaBar` is unused (√ᾱ_t, √(1−ᾱ_t) come with the coefficients). Consumes
 * every argument.
 */
export function policyStepLogProb(
  model: ModelConfig,
  params: DenoiserParams,
  xt: JArray,
  xs: JArray,
  tNet: JArray,
  alphaBar: JArray,
  coef: JArray,
  reduce: EventReduce = "sum",
): { logProb: JArray; mean: JArray } {
  alphaBar.dispose();
  const sigma = coef.ref.slice([], 5);
  // The output through the noise hook's output projection, as the sampling loop's (src/diffusion/sample.ts),
  // else μ_θ differs from the rollout's (graph rows: the antisymmetric part) and the PPO ratio at θ = θ_old is
  // not 1; the density on the noise space V, as the rollout's (graph rows: without the edge diagonal, which
  // carries no noise), so the returned μ_θ is P(μ_θ), the rollout's pretrained means P(μ_pre).
  const hook = noiseHookOf(model.noise);
  const raw = applyDenoiser(model.network, params, xt.ref, tNet);
  const out = hook ? outputProjection(hook)(raw) : raw;
  const step = stepFromOutput(model.prediction, xt, out, coef);
  step.x0Hat.dispose();
  step.epsHat.dispose();
  const mean = hook ? hook(step.mean) : step.mean;
  return { logProb: stepLogProb(mean.ref, sigma, hook ? hook(xs) : xs, reduce), mean };
}

/**
 * The jitted PPO step on the batch [x_t, x_s, tNet, ᾱ, coef, old log-prob, advantage, pretrained mean,
 * KL weight]: the clipped surrogate plus the KL penalty, with the fraction of rows whose ratio is outside
 * the clip range (a PPO health figure, at the parameters before this update) as aux.
 */
function ppoStep(model: ModelConfig, cfg: DdpoConfig): TrainStep<DenoiserParams> {
  const clip = cfg.clip;
  const opt = constantRateOptimizer(cfg.learningRate, cfg.gradClip);
  const loss = (p: DenoiserParams, [xt, xs, tNet, alphaBar, coef, oldLogProb, adv, preMean, klWeight]: JArray[]): [JArray, JArray[]] => {
    const { logProb, mean } = policyStepLogProb(model, p, xt!, xs!, tNet!, alphaBar!, coef!.ref, cfg.logProbReduce);
    const ratio = np.exp(logProb.sub(oldLogProb!));
    const clipFrac = np.mean(np.abs(ratio.ref.sub(1)).greater(clip).astype(np.float32));
    const unclipped = adv!.ref.mul(ratio.ref).mul(-1);
    const clipped = adv!.mul(np.clip(ratio, 1 - clip, 1 + clip)).mul(-1);
    const pg = np.maximum(unclipped, clipped);
    const sigma = coef!.slice([], [5, 6]).reshape([-1]);
    const kl = pathKl(mean, preMean!, np.divide(0.5, np.square(sigma)));
    return [np.mean(pg.add(kl.mul(klWeight!))), [clipFrac]];
  };
  return makeTrainStep(loss, optimizerFromConfig(opt, 1), { hasAux: true, cacheKey: JSON.stringify(["ppo", model, clip, cfg.logProbReduce, optimizerStaticKey(opt)]) });
}

/** One round's figures. */
export interface DdpoRound {
  iteration: number;
  rewardMean: number;
  rewardStd: number;
  /** Mean Σ_k KL_k of the batch (nats; the path KL to the pretrained model, estimated at θ_old). */
  kl: number;
  loss: number;
  clipFraction: number;
}

export interface DdpoResult {
  /** The fine-tuned weights (owned by the caller). */
  params: DenoiserParams;
  history: DdpoRound[];
  seconds: number;
}

function rewardValues(values: ArrayLike<number>, n: number): Float64Array {
  if (values.length !== n) throw new Error(`ddpo: the reward returned ${values.length} values for ${n} samples`);
  const out = Float64Array.from(values);
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`ddpo: the reward returned a non-finite value (${out[bad]}) for sample ${bad + 1}`);
  return out;
}

/**
 * Fine-tunes a copy of `pretrained` (borrowed, unchanged) with DDPO (klWeight = 0) or DPOK (klWeight α > 0).
 * Consumes `key`. `onRound` reports each round.
 */
export async function trainDdpo(o: {
  model: ModelConfig;
  pretrained: DenoiserParams;
  plan: readonly StepCoefficients[];
  reward: DdpoReward;
  config?: Partial<DdpoConfig>;
  key: Key;
  where?: string;
  onRound?: (r: DdpoRound, total: number) => void;
}): Promise<DdpoResult> {
  const cfg: DdpoConfig = { ...defaultDdpoConfig, ...o.config };
  const where = o.where ?? "ddpo";
  try {
    stochasticSteps(o.plan, where);
    for (const k of ["iterations", "batch", "epochs", "minibatches"] as const) {
      if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new Error(`${where}: ${k} must be a whole number ≥ 1, got ${cfg[k]}`);
    }
    if (cfg.batch < 2) throw new Error(`${where}: batch must be ≥ 2 (advantages are normalised per batch)`);
    if (!(cfg.clip > 0)) throw new Error(`${where}: clip must be > 0, got ${cfg.clip}`);
    if (!(cfg.klWeight >= 0)) throw new Error(`${where}: the KL weight alpha must be ≥ 0, got ${cfg.klWeight}`);
  } catch (err) {
    o.key.dispose();
    throw err;
  }
  const t0 = performance.now();
  const D = o.model.network.dataDim;
  const T = makeSchedule(o.model.schedule).T;
  const trainer = ppoStep(o.model, cfg);
  let state = trainer.init(tree.map((a: JArray) => a.mul(1), tree.ref(o.pretrained)) as DenoiserParams);
  const reference = modelEps(o.model, o.pretrained);
  // The sampler's noise space (e.g. symmetric edges of graph rows): rollouts draw their steps in it.
  const hook = noiseHookOf(o.model.noise);
  const noise = hook ? { noise: hook } : {};
  const history: DdpoRound[] = [];
  const keys = splitKey(o.key, cfg.iterations);
  try {
    for (let it = 0; it < cfg.iterations; it++) {
      const [kRoll, kPerm] = splitKey(keys[it]!, 2);
      const tr = await rollout({ policy: modelEps(o.model, state.params), reference, plan: o.plan, n: cfg.batch, dim: D, key: kRoll!, where, reduce: cfg.logProbReduce, ...noise });
      const r = rewardValues(await o.reward(tr.x0), cfg.batch);
      const B = cfg.batch;
      const { adv, scale: s, klMean } = advantages(r, tr.kl!, cfg.klWeight);
      const rows = flattenSteps(tr, T, adv);
      const read: { loss: JArray; clipFrac: JArray }[] = [];
      for (const idx of minibatchIndices(rows.rows, cfg.epochs, cfg.minibatches, keyToSeed(kPerm!), where)) {
        const mb = idx.length;
        const g = (src: Float32Array, w: number) => gatherRows(src, idx, w);
        const r = trainer.step(state, [
          upload(g(rows.xt, D), mb, D),
          upload(g(rows.xs, D), mb, D),
          np.array(g(rows.tNet, 1)),
          np.array(g(rows.alphaBar, 1)),
          upload(g(rows.coef, 6), mb, 6),
          np.array(g(rows.oldLogProb, 1)),
          np.array(g(rows.advantage, 1)),
          upload(g(rows.preMean, D), mb, D),
          scalar(cfg.klWeight / s),
        ]);
        state = r.state;
        // Run this update before queueing the next: jax-js dispatches lazily, and unsettled minibatches keep
        // every one's kernels and activations pending until the round's read (QM9, 8 minibatches of 49 rows:
        // 1.6 GiB of wasm heap instead of 0.22 GiB).
        await settleAsync(r.loss);
        read.push({ loss: r.loss, clipFrac: r.aux[0]! });
      }
      // The round's losses and clip fractions, read back asynchronously once per round.
      const losses = await Promise.all(read.map((q) => q.loss.data()));
      const fracs = await Promise.all(read.map((q) => q.clipFrac.data()));
      const bad = losses.find((l: ArrayLike<number>) => !Number.isFinite(Number(l[0])));
      if (bad) throw new Error(`${where}: the PPO loss is ${Number(bad[0])} in round ${it + 1}; lower learningRate`);
      const count = read.length;
      let lossSum = 0;
      let clipSum = 0;
      for (let q = 0; q < count; q++) {
        lossSum += Number(losses[q]![0]);
        clipSum += Number(fracs[q]![0]);
      }
      let rm = 0;
      for (const v of r) rm += v / B;
      let rv = 0;
      for (const v of r) rv += (v - rm) ** 2 / B;
      const round: DdpoRound = { iteration: it + 1, rewardMean: rm, rewardStd: Math.sqrt(rv), kl: klMean, loss: lossSum / count, clipFraction: clipSum / count };
      history.push(round);
      o.onRound?.(round, cfg.iterations);
    }
  } catch (err) {
    disposeTrainStepState(state as unknown as TrainStepState<Params>);
    throw err;
  }
  tree.dispose(state.opt as Params);
  return { params: state.params, history, seconds: (performance.now() - t0) / 1000 };
}
