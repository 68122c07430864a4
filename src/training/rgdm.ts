/**
 * Reward-guided training via a payoff distribution (RGDM, 2304.07132; methods.md). Per training step:
 *   x_0 ~ data, t ~ U{1..T}, ε ~ N(0, I), x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε,
 *   x̃ = μ̃_t(x_t, x_0) + σ_t z  (the forward posterior q(x_{t−1} | x_t, x_0); `center: "mean"` drops σ_t z),
 *   δ = the reward-directed shift in the ball ‖δ‖ ≤ ρ (ρ or ρ·σ_t) — projected ascent for a differentiable
 *       reward, K candidates chosen ∝ exp(r/τ) for a black-box one (rgdm-shift.ts),
 *   regress the model's step mean μ_θ(x_t, t) onto y = x̃ + δ.
 * The reward is read at x̃ + δ (`rewardAt: "x-tilde"`) or at its denoised estimate x̂_0(x̃ + δ, t−1) under a
 * reference model (`"x0-hat"`: the pretrained model, or the model being trained when there is none).
 *
 * The loss. methods.md writes ‖y − μ_θ‖²/(2σ_t²). For the DDPM step μ_θ = c_x0 x̂_0(ε̂) + c_xt x_t is
 * affine in ε̂, so y corresponds to one ε_y with μ(ε_y) = y, and ‖y − μ_θ‖² = κ_t ‖ε_y − ε̂‖². rewardiff
 * trains the network on ε_y (or the matching x_0 / v target) with the unweighted ("simple") loss, as DDPM
 * does: a per-t reweighting that leaves the minimiser at every t — E[y | x_t] — unchanged and avoids the
 * infinite weight of 1/σ_1² = 1/β̃_1 = ∞. With δ = 0 and `center: "mean"` it is exactly the DDPM loss.
 *
 * Noise spaces. Every normal draw (the noise of x_t, the σ_t z of x̃) and every candidate shift is projected
 * into the model's noise space (src/diffusion/noise-space.ts; e.g. symmetric, zero-diagonal edges of a graph
 * row), as the model's own training and sampling do; a projection only shortens δ, so it stays in the ball.
 *
 * Categorical models (cross-entropy loss on one-hot blocks, src/nn/categorical.ts; molecules). Their loss
 * needs a one-hot target, and the point y = x̃ + δ is none. The candidates variant then trains x̂_0(x_t, t)
 * toward the molecule the oracle rewarded: `snap` (the one-hot row of the argmax decoding) of the rewarded
 * row of the chosen candidate (x̂_0(x̃ + δ_k) under the reference for `rewardAt: "x0-hat"`, x̃ + δ_k for
 * "x-tilde"), with the model's cross-entropy. `select: "weighted"` uses the target Σ_k softmax(r/τ)_k
 * snap_k: the cross-entropy is linear in its target, so this is exactly the expected loss of the draw.
 */
import { np, tree, type JArray } from "../backend/jax.js";
import { grad } from "../backend/jax.js";
import { keyToWords, split2, type Key } from "../backend/keys.js";
import { toHost, upload } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import type { ModelConfig } from "../diffusion/model.js";
import { denoised, targetFor } from "../diffusion/parameterization.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { ddpmCoefficients } from "../diffusion/step.js";
import { noiseHookOf } from "../diffusion/noise-space.js";
import { categoricalCrossEntropy } from "../nn/categorical.js";
import { applyDenoiser, applyDenoiserLogits, denoiserCategories, initDenoiser, type DenoiserParams } from "../nn/denoiser.js";
import type { Params } from "../nn/params.js";
import type { AdamState } from "../optim/adam.js";
import { optimizerFromConfig, optimizerStaticKey } from "../optim/config.js";
import { LossLog, type StepLoss } from "../optim/loss-log.js";
import { learningRate } from "../optim/lr-schedule.js";
import { disposeTrainStepState, makeTrainStep, type TrainStep, type TrainStepState } from "../optim/train-step.js";
import { evaluateRewardHost, requireDifferentiable, type Reward } from "../rewards/reward.js";
import { batchIndices, type TrainConfig, type TrainState } from "./trainer.js";
import { ballCandidates, checkShiftParameters, gradientShift, hostRng, selectCandidates, weightedCandidates, type ShiftRule } from "./rgdm-shift.js";

/** The RGDM settings (config keys of method "rgdm", docs/rgdm.md). */
export interface RgdmSettings {
  /** τ, the payoff temperature (config `alpha`). */
  tau: number;
  /** ρ, the radius of the feasible ball. */
  rho: number;
  /** "absolute": radius ρ; "sigma": radius ρ·σ_t (σ_t = √β̃_t, the posterior std of the step). */
  rhoScale: "absolute" | "sigma";
  /** "gradient": projected ascent (differentiable reward); "candidates": K draws ∝ exp(r/τ) (any reward). */
  variant: "gradient" | "candidates";
  /** Update rule of the gradient variant (rgdm-shift.ts). */
  rule: ShiftRule;
  /** K, candidates per row (candidates variant). */
  candidates: number;
  /** Projected ascent steps (gradient variant). */
  ascentSteps: number;
  rewardAt: "x-tilde" | "x0-hat";
  /** "sample": x̃ = μ̃ + σ_t z (the paper); "mean": x̃ = μ̃ (same fixed point, far lower variance). */
  center: "sample" | "mean";
  /** Candidates variant: "draw" one candidate ∝ exp(r/τ) (the paper), or regress on the "weighted" mean Σ_k softmax(r/τ)_k δ_k. */
  select: "draw" | "weighted";
  /**
   * Candidates variant: the data row x₀ joins the K candidates as one more (δ = 0, so its target is the
   * pretraining one; scored with r(x₀), one more reward evaluation per row) — the payoff distribution over a
   * neighbourhood that contains its centre, as in reward-augmented maximum likelihood. Without it every target
   * is a candidate, however low all K score.
   */
  anchor: boolean;
}

/** Defaults for data of dimension D: ρ = √(D+2) scaled by σ_t (the uniform ball then has the posterior's covariance σ_t² I). */
export function defaultRgdmSettings(dim: number): RgdmSettings {
  return { tau: 1, rho: Math.sqrt(dim + 2), rhoScale: "sigma", variant: "gradient", rule: "proximal", candidates: 8, ascentSteps: 1, rewardAt: "x0-hat", center: "mean", select: "weighted", anchor: false };
}

/** Work counted per sample row. */
export interface RgdmCost {
  /** Reward values computed (candidates variant: K per row and step). */
  rewardEvals: number;
  /** Reward gradients computed (gradient variant: ascentSteps per row and step). */
  rewardGradEvals: number;
  /** Reference-network evaluations for x̂_0 (rewardAt "x0-hat"). */
  modelEvals: number;
  seconds: number;
}

export interface RgdmTrainOptions {
  model: ModelConfig;
  /** Steps, batch size, learning rate, … of the RGDM training. */
  train: TrainConfig;
  /** x_0 rows (the task's data). */
  data: HostMatrix;
  reward: Reward;
  settings: RgdmSettings;
  /** Start from these weights (fine-tuning; borrowed, copied). Omitted: fresh weights (training from scratch). */
  init?: DenoiserParams;
  /** Reference model for rewardAt "x0-hat" (borrowed). Omitted: the model being trained. */
  reference?: DenoiserParams;
  /** Consumed. */
  key: Key;
  onStep?: (p: { step: number; total: number; loss: number; shiftNorm: number; lr: number }) => void;
  /** Called every `every` steps (and after the last) with the EMA weights (borrowed). */
  monitor?: { every: number; run: (ema: DenoiserParams, step: number) => void | Promise<void> };
  /** Config path for errors (e.g. "method[2]"). */
  where?: string;
  /** Read the losses back every this many steps (default 1; always before a monitor call). */
  logEvery?: number;
  /**
   * Rows → their one-hot training targets (a categorical model's rewarded molecules; see the module doc).
   * Required when the model's loss is cross-entropy.
   */
  snap?: (x: HostMatrix) => HostMatrix;
}

export interface RgdmResult {
  state: TrainState;
  losses: { step: number; loss: number }[];
  /** Mean ‖δ‖ per logged step. */
  shiftNorms: { step: number; value: number }[];
  cost: RgdmCost;
}

/** The jitted regression step on the batch [x_t, tNet, ᾱ [B,1], x0_y, ε_y]: the unweighted loss on the target of (x0_y, ε_y). */
function regressionStep(model: ModelConfig, cfg: TrainConfig): TrainStep<DenoiserParams, AdamState<DenoiserParams>> {
  const loss = (p: DenoiserParams, [xt, tNet, ab, x0y, epsy]: JArray[]) => {
    const out = applyDenoiser(model.network, p, xt!, tNet!);
    const target = targetFor(model.prediction, x0y!, epsy!, ab!);
    return np.mean(np.square(out.sub(target)));
  };
  return makeTrainStep(loss, optimizerFromConfig(cfg, cfg.steps), { ema: cfg.ema, cacheKey: JSON.stringify(["rgdm", model, optimizerStaticKey(cfg)]) });
}

/** The jitted cross-entropy step of a categorical model on the batch [x_t, tNet, one-hot (or mixed) targets]. */
function categoricalStep(model: ModelConfig, cfg: TrainConfig): TrainStep<DenoiserParams, AdamState<DenoiserParams>> {
  const blocks = denoiserCategories(model.network)!;
  const weights = model.loss?.kind === "cross-entropy" ? model.loss.blockWeights : [];
  const loss = (p: DenoiserParams, [xt, tNet, target]: JArray[]) => np.mean(categoricalCrossEntropy(applyDenoiserLogits(model.network, p, xt!, tNet!), target!, blocks, weights));
  return makeTrainStep(loss, optimizerFromConfig(cfg, cfg.steps), { ema: cfg.ema, cacheKey: JSON.stringify(["rgdm-categorical", model, optimizerStaticKey(cfg)]) });
}

/** Projects host rows [rows, D] into the noise space of `hook` (a device round trip); the rows unchanged without one. */
async function projected(hook: ReturnType<typeof noiseHookOf>, z: Float64Array, rows: number, D: number): Promise<Float64Array> {
  if (!hook) return z;
  return Float64Array.from(await toHost(hook(upload(Float32Array.from(z), rows, D))));
}

/** Per training index t (0-based): ᾱ_t, the posterior coefficients of q(x_{t−1} | x_t, x_0) and σ_t = √β̃_t. */
export function posteriorTables(model: ModelConfig): { T: number; alphaBar: Float64Array; cX0: Float64Array; cXt: Float64Array; sigma: Float64Array } {
  const schedule = makeSchedule(model.schedule);
  const T = schedule.T;
  const alphaBar = Float64Array.from(schedule.alphaBars);
  const cX0 = new Float64Array(T);
  const cXt = new Float64Array(T);
  const sigma = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const c = ddpmCoefficients(schedule, t, t - 1, "small");
    cX0[t] = c.cX0;
    cXt[t] = c.cXt;
    sigma[t] = c.sigma;
  }
  return { T, alphaBar, cX0, cXt, sigma };
}

/**
 * x ↦ x̂_0(x, s_i) per row under `params` (rows with s_i = −1 are already clean: x̂_0 = x). Borrows
 * `params`; the returned function consumes its argument. Differentiable.
 */
export function denoisedAt(model: ModelConfig, params: DenoiserParams, s: Int32Array, alphaBar: Float64Array): (x: JArray) => JArray {
  const T = alphaBar.length;
  const n = s.length;
  const tNet = Float32Array.from(s, (v) => (1000 * Math.max(v, 0)) / T);
  // √ᾱ and √(1−ᾱ) per row in float64, rounded once (clean rows: 1 and 1, masked out below).
  const a = Float32Array.from(s, (v) => (v < 0 ? 1 : Math.sqrt(alphaBar[v]!)));
  const b = Float32Array.from(s, (v) => (v < 0 ? 1 : Math.sqrt(1 - alphaBar[v]!)));
  const clean = Float32Array.from(s, (v) => (v < 0 ? 1 : 0));
  return (x) => {
    const out = applyDenoiser(model.network, tree.ref(params), x.ref, np.array(tNet));
    const { x0Hat: x0, epsHat } = denoised(model.prediction, x.ref, out, upload(a, n, 1), upload(b, n, 1));
    epsHat.dispose();
    const m = upload(clean, n, 1);
    return x0.mul(np.subtract(1, m.ref)).add(x.mul(m));
  };
}

function copyParams(p: DenoiserParams): DenoiserParams {
  return tree.map((a: JArray) => a.mul(1), tree.ref(p)) as DenoiserParams;
}

/** RGDM training (see the module doc). Consumes `key`; returns a fresh state owned by the caller. */
export async function trainRgdm(o: RgdmTrainOptions): Promise<RgdmResult> {
  const where = o.where ?? "method";
  const s = o.settings;
  checkShiftParameters(s.tau, s.rho, where);
  if (s.variant === "gradient") requireDifferentiable(o.reward, `${where}: rgdm variant "gradient" (projected ascent)`);
  if (!(Number.isInteger(s.candidates) && s.candidates >= 1)) throw new Error(`${where}.candidates (K) must be a whole number ≥ 1, got ${s.candidates}`);
  if (!(Number.isInteger(s.ascentSteps) && s.ascentSteps >= 1)) throw new Error(`${where}.ascentSteps must be a whole number ≥ 1, got ${s.ascentSteps}`);
  const { model, train, data } = o;
  const D = model.network.dataDim;
  if (data.cols !== D) throw new Error(`${where}: the data has ${data.cols} columns but the model's data dimension is ${D}`);
  const categorical = model.loss?.kind === "cross-entropy";
  if (categorical && (s.variant !== "candidates" || !o.snap || !denoiserCategories(model.network))) {
    throw new Error(`${where}: rgdm on a categorical model (cross-entropy loss) needs the "candidates" variant and one-hot targets of its rows (snap)`);
  }
  const hook = noiseHookOf(model.noise);
  const tab = posteriorTables(model);
  const [kInit, kSeed] = split2(o.key);
  const seed = keyToWords(kSeed)[0];
  kSeed.dispose();
  let params: DenoiserParams;
  if (o.init) {
    kInit.dispose();
    params = copyParams(o.init);
  } else {
    params = initDenoiser(kInit, model.network);
  }
  // The state's key and data seed are those of a fresh run from `seed` (nothing here draws from them).
  const [stateKey, kData] = split2(np.array(new Uint32Array([seed >>> 0, 0x52474d]), { dtype: np.uint32 }));
  const dataSeed = keyToWords(kData)[0];
  kData.dispose();
  const trainer = categorical ? categoricalStep(model, train) : regressionStep(model, train);
  let state = trainer.init(params, stateKey, dataSeed);
  const lrSched = { kind: train.lrSchedule, lr: train.learningRate, total: train.steps, warmup: train.warmupSteps };
  const log = new LossLog(o.logEvery ?? 1, (step, loss) => new Error(`${where}: rgdm training diverged at step ${step} (loss ${loss}); lower the learning rate or ρ`));
  const stepShift = new Float64Array(train.steps + 1);
  const record = (points: StepLoss[]) => {
    for (const p of points) {
      losses.push(p);
      shiftNorms.push({ step: p.step, value: stepShift[p.step]! });
      o.onStep?.({ step: p.step, total: train.steps, loss: p.loss, shiftNorm: stepShift[p.step]!, lr: learningRate(lrSched, p.step - 1) });
    }
  };
  const cost: RgdmCost = { rewardEvals: 0, rewardGradEvals: 0, modelEvals: 0, seconds: 0 };
  const losses: { step: number; loss: number }[] = [];
  const shiftNorms: { step: number; value: number }[] = [];
  const B = train.batchSize;
  const t0 = performance.now();
  try {
    for (let step = 0; step < train.steps; step++) {
      const rng = hostRng((seed ^ Math.imul(step + 1, 0x85ebca6b)) | 0);
      const idx = batchIndices(seed, step, data.rows, B);
      const tIdx = new Int32Array(B);
      const xt = new Float64Array(B * D);
      const center = new Float32Array(B * D);
      const radius = new Float64Array(B);
      const sigma = new Float64Array(B);
      // The normal draws first (x_t's noise, then x̃'s σ_t z), projected into the model's noise space.
      let zx: Float64Array = new Float64Array(B * D);
      let zc: Float64Array = new Float64Array(s.center === "sample" ? B * D : 0);
      for (let i = 0; i < B; i++) {
        const t = Math.min(tab.T - 1, Math.floor(rng.uniform() * tab.T));
        tIdx[i] = t;
        sigma[i] = tab.sigma[t]!;
        radius[i] = s.rhoScale === "sigma" ? s.rho * sigma[i]! : s.rho;
        for (let j = 0; j < D; j++) {
          zx[i * D + j] = rng.normal();
          if (s.center === "sample") zc[i * D + j] = rng.normal();
        }
      }
      zx = await projected(hook, zx, B, D);
      if (s.center === "sample") zc = await projected(hook, zc, B, D);
      for (let i = 0; i < B; i++) {
        const t = tIdx[i]!;
        const a = tab.alphaBar[t]!;
        for (let j = 0; j < D; j++) {
          const x0 = data.data[idx[i]! * D + j]!;
          const v = Math.sqrt(a) * x0 + Math.sqrt(1 - a) * zx[i * D + j]!;
          xt[i * D + j] = v;
          const mu = tab.cX0[t]! * x0 + tab.cXt[t]! * v;
          center[i * D + j] = s.center === "sample" ? mu + sigma[i]! * zc[i * D + j]! : mu;
        }
      }
      const ref = o.reference ?? state.params;
      const sIdx = Int32Array.from(tIdx, (t) => t - 1);
      let delta: Float64Array;
      let target: Float32Array | undefined;
      if (s.variant === "gradient") {
        const z = s.rewardAt === "x0-hat" ? denoisedAt(model, ref, sIdx, tab.alphaBar) : (x: JArray) => x;
        const f = (x: JArray) => (o.reward as { fn: (x: JArray) => JArray }).fn(z(x)).sum();
        delta = await gradientShift({
          center,
          dim: D,
          radius,
          sigma,
          tau: s.tau,
          rule: s.rule,
          steps: s.ascentSteps,
          gradAt: (x) => toHost(grad(f)(upload(x, B, D))),
        });
        cost.rewardGradEvals += B * s.ascentSteps;
        if (s.rewardAt === "x0-hat") cost.modelEvals += B * s.ascentSteps;
      } else {
        const K = s.candidates;
        let cand = await projected(hook, ballCandidates(rng, B, K, D, radius), K * B, D);
        const pts = new Float32Array(K * B * D);
        for (let r = 0; r < K * B; r++) for (let j = 0; j < D; j++) pts[r * D + j] = center[(r % B) * D + j]! + cand[r * D + j]!;
        let at = hostMatrix(K * B, D, pts);
        if (s.rewardAt === "x0-hat") {
          const sRep = new Int32Array(K * B);
          for (let r = 0; r < K * B; r++) sRep[r] = sIdx[r % B]!;
          at = hostMatrix(K * B, D, await toHost(denoisedAt(model, ref, sRep, tab.alphaBar)(upload(pts, K * B, D))));
          cost.modelEvals += K * B;
        }
        let r: ArrayLike<number> = await evaluateRewardHost(o.reward, at);
        cost.rewardEvals += K * B;
        let snapped = categorical ? Float64Array.from(o.snap!(at).data) : undefined;
        let Kc = K;
        if (s.anchor) {
          // Candidate K (rows K·B + i): the data row x₀ itself, δ = 0.
          const x0 = new Float32Array(B * D);
          for (let i = 0; i < B; i++) x0.set(data.data.subarray(idx[i]! * D, (idx[i]! + 1) * D), i * D);
          const x0m = hostMatrix(B, D, x0);
          const r0 = await evaluateRewardHost(o.reward, x0m);
          cost.rewardEvals += B;
          const rAll = new Float64Array((K + 1) * B);
          rAll.set(r);
          rAll.set(r0, K * B);
          r = rAll;
          const candAll = new Float64Array((K + 1) * B * D);
          candAll.set(cand);
          cand = candAll;
          if (snapped) {
            const sAll = new Float64Array((K + 1) * B * D);
            sAll.set(snapped);
            sAll.set(o.snap!(x0m).data, K * B * D);
            snapped = sAll;
          }
          Kc = K + 1;
        }
        if (s.select === "weighted") {
          delta = weightedCandidates(cand, r, B, Kc, D, s.tau);
          if (snapped) target = Float32Array.from(weightedCandidates(snapped, r, B, Kc, D, s.tau));
        } else {
          const pick = selectCandidates(rng, r, B, Kc, s.tau);
          delta = new Float64Array(B * D);
          for (let i = 0; i < B; i++) for (let j = 0; j < D; j++) delta[i * D + j] = cand[(pick[i]! * B + i) * D + j]!;
          if (snapped) {
            target = new Float32Array(B * D);
            for (let i = 0; i < B; i++) target.set(snapped.subarray((pick[i]! * B + i) * D, (pick[i]! * B + i + 1) * D), i * D);
          }
        }
      }
      // y = x̃ + δ → the ε (and x_0) whose step mean is y: μ(ε) = (c_x0/√ᾱ + c_xt) x_t − c_x0 √(1−ᾱ)/√ᾱ · ε.
      const epsY = new Float32Array(B * D);
      const x0Y = new Float32Array(B * D);
      const tNet = new Float32Array(B);
      const ab = new Float32Array(B);
      let shiftSum = 0;
      for (let i = 0; i < B; i++) {
        const t = tIdx[i]!;
        const a = tab.alphaBar[t]!;
        const sa = Math.sqrt(a);
        const s1 = Math.sqrt(1 - a);
        const cx0 = tab.cX0[t]!;
        const lin = cx0 / sa + tab.cXt[t]!;
        tNet[i] = (1000 * t) / tab.T;
        ab[i] = a;
        let sq = 0;
        for (let j = 0; j < D; j++) {
          const d = delta[i * D + j]!;
          sq += d * d;
          const y = center[i * D + j]! + d;
          const x = xt[i * D + j]!;
          const e = ((lin * x - y) * sa) / (cx0 * s1);
          epsY[i * D + j] = e;
          x0Y[i * D + j] = (x - s1 * e) / sa;
        }
        shiftSum += Math.sqrt(sq);
      }
      const batch = target
        ? [upload(Float32Array.from(xt), B, D), np.array(tNet), upload(target, B, D)]
        : [upload(Float32Array.from(xt), B, D), np.array(tNet), upload(ab, B, 1), upload(x0Y, B, D), upload(epsY, B, D)];
      const r = trainer.step(state, batch);
      state = r.state;
      stepShift[step + 1] = shiftSum / B;
      record(await log.push(step + 1, r.loss));
      if (o.monitor && ((step + 1) % o.monitor.every === 0 || step + 1 === train.steps)) {
        record(await log.flush());
        await o.monitor.run(state.ema!, step + 1);
      }
    }
    record(await log.flush());
  } catch (err) {
    log.dispose();
    disposeTrainStepState(state as unknown as TrainStepState<Params>);
    throw err;
  }
  cost.seconds = (performance.now() - t0) / 1000;
  return { state: state as TrainState, losses, shiftNorms, cost };
}
