/**
 * CTRL (2406.12120) with the score-function (policy-gradient) estimator instead of backpropagation through
 * the sampler: the same augmented network and the same objective as ./ctrl.ts,
 *   J(θ) = E_{y, x_{0:T} ~ p_θ(·|y)} [ γ log p̂(y | x_0) − Σ_t KL_t ],   KL_t = ‖μ_θ(x_t, y) − μ_pre(x_t)‖² / (2σ_t²),
 * whose optimum is p*(x | y) ∝ p̂(y | x)^γ p_pre(x), optimised as DPOK optimises E[r] − α Σ_t KL_t (./ddpo.ts)
 * with r = γ log p̂(y | x_0) and α = 1, on a policy that reads the control y:
 *  - a round samples B chains with the current θ_old, half of them asking for each label in turn
 *    (y_i = i mod K), and records every stochastic step (x_t, x_s, log π_θold(x_s | x_t, y), μ_pre, KL_t);
 *  - r_i = γ log p̂(y_i | x_0^i) is read by `reward` on the host (black-box: it may read the argmax decoding of
 *    x_0, the molecule the oracle judges, which the pathwise gradient cannot);
 *  - the reward-to-go G_ik = r_i − Σ_{k' > k} KL_ik' gets a per-label, per-step baseline (the mean of G_jk over
 *    the chains j with y_j = y_i) and the pooled within-label spread s of G_i0 as its scale (./ddpo.ts
 *    `advantages`): A_ik = (G_ik − mean_{j: y_j = y_i} G_jk) / s;
 *  - `epochs` passes of PPO over the stored steps in `minibatches`, each minimising
 *    mean_ik [ max(−A_ik ρ_ik, −A_ik clip(ρ_ik, 1 ± ε)) + KL_ik(θ)/s ],  ρ_ik = π_θ(x_s | x_t, y_i) / π_θold(…).
 * Why: on QM9 the pathwise gradient is exact for each noise key but describes the expected loss only over
 * ≈ 2·10⁻³ of parameter space, and its per-chain values are heavy-tailed (docs/molecules.md, "CTRL"); the
 * score-function gradient is that of the expected objective itself and never differentiates the reward.
 * Only `θ` (./policy.ts: "embedding", "control", "adapters" or "all") trains; the pretrained weights are the
 * frozen reference. The last, deterministic step into x_0 is the reference's (./ddpo.ts `rollout`).
 */
import { jit, np, tree, valueAndGrad, type JArray } from "../backend/jax.js";
import { keyToSeed, split2, splitKey, type Key } from "../backend/keys.js";
import { scalar, settleAsync, upload } from "../backend/ownership.js";
import type { HostMatrix } from "../data/matrix.js";
import type { ModelConfig } from "../diffusion/model.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { pathKl, stepFromOutput, stepLogProb, type StepCoefficients } from "../diffusion/step.js";
import { outputProjection, type EpsFn, type NoiseHook } from "../diffusion/types.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import type { Params } from "../nn/params.js";
import { constantRateOptimizer, optimizerFromConfig, optimizerStaticKey } from "../optim/config.js";
import { makeTrainStep } from "../optim/train-step.js";
import type { ChainModel } from "./chain.js";
import { advantages, flattenSteps, gatherRows, minibatchIndices, rollout, stochasticSteps } from "./ddpo.js";
import type { FinetunedModel } from "./finetuned.js";
import { denoiserChainModel, initTrainable, oneHot, type FrozenParams, type PolicySpec, type TrainableMode, type TrainableParams } from "./policy.js";

/** Settings of the policy-gradient estimator. */
export interface CtrlPgConfig {
  /** Rounds of (sample B chains, PPO epochs). */
  rounds: number;
  /** B: chains per round (y_i = i mod K, so a multiple of K asks for every label equally often). */
  batch: number;
  epochs: number;
  minibatches: number;
  /** ε of the clipped ratio. */
  clip: number;
  learningRate: number;
  gradClip: number;
  /** "constant" or "cosine" (over all rounds × epochs × minibatches updates). */
  lrSchedule?: "constant" | "cosine";
}

export interface CtrlPgOptions {
  model: ModelConfig;
  /** The pretrained weights (borrowed). */
  pretrained: DenoiserParams;
  /** K: classes of the control. */
  classes: number;
  /** log p̂(y_i | x_0^i) per chain, on the host (any function of x_0: it is never differentiated). */
  reward: (x0: HostMatrix, y: Int32Array) => Promise<ArrayLike<number>> | ArrayLike<number>;
  /** γ: weight of log p̂(y | x_0) (the KL weight is 1). */
  gamma: number;
  plan: readonly StepCoefficients[];
  trainable: TrainableMode;
  rank: number;
  config: CtrlPgConfig;
  noise?: NoiseHook;
  onRound?: (r: CtrlPgRound, total: number) => void;
}

/** One round's figures. */
export interface CtrlPgRound {
  round: number;
  /** Mean log p̂(y | x_0) of the round's chains (before the update), and per label. */
  objective: number;
  objectiveByLabel: number[];
  /** Mean Σ_t KL_t of the round's chains (nats, at θ_old). */
  kl: number;
  loss: number;
  /** Share of PPO rows whose ratio left [1 − ε, 1 + ε] (at the parameters before each update). */
  clipFraction: number;
}

export interface CtrlPgResult {
  model: FinetunedModel;
  history: CtrlPgRound[];
  seconds: number;
}

type Jitted = ((...a: any[]) => any) & { dispose(): void };

/**
 * log π_θ(x_s | x_t, y) per row and the step mean μ_θ on the noise space, for per-row step coefficients
 * `coef` [rows, 6], network times `time` [rows] and ᾱ_t `alphaBar` [rows, 1] (traced-friendly): the PPO
 * side of the rollout's step, through the same ChainModel ε̂ and output projection as the rollout's policy.
 * Consumes every array argument but `f`.
 */
export function controlStepLogProb<P extends Params, F extends Params>(
  m: ChainModel<P, F>,
  p: P,
  f: F,
  xt: JArray,
  xs: JArray,
  time: JArray,
  alphaBar: JArray,
  coef: JArray,
  side: JArray[],
  noise?: NoiseHook,
): { logProb: JArray; mean: JArray } {
  const proj = (e: JArray) => (noise ? outputProjection(noise)(e) : e);
  const onV = (a: JArray) => (noise ? noise(a) : a);
  const eps = proj(m.eps(p, tree.ref(f) as F, xt.ref, time, alphaBar, side));
  const sigma = coef.ref.slice([], 5);
  const st = stepFromOutput("eps", xt, eps, coef);
  st.x0Hat.dispose();
  st.epsHat.dispose();
  const mean = onV(st.mean);
  return { logProb: stepLogProb(mean.ref, sigma, onV(xs)), mean };
}

/** The policy ε̂_θ(x_t, t, y) of the augmented network for fixed per-chain controls (borrows p, f, control). */
function policyEps<P extends Params, F extends Params>(epsJit: Jitted, p: P, f: F, control: JArray, T: number): EpsFn {
  return (x, t) => epsJit(tree.ref(p), tree.ref(f), x, scalar((1000 * t.index) / T), scalar(t.alphaBar), control.ref);
}

/** Fine-tunes the control with the policy-gradient estimator. Consumes `key`. */
export async function ctrlPolicyGradient(o: CtrlPgOptions, key: Key): Promise<CtrlPgResult> {
  const c = o.config;
  const K = o.classes;
  try {
    if (!(o.gamma > 0) || !Number.isFinite(o.gamma)) throw new Error(`ctrl: gamma must be a finite number > 0, got ${o.gamma}`);
    if (!Number.isInteger(K) || K < 2) throw new Error(`ctrl: the control needs at least 2 classes, got ${K}`);
    for (const k of ["rounds", "batch", "epochs", "minibatches"] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`ctrl: policyGradient ${k} must be a whole number ≥ 1, got ${c[k]}`);
    }
    if (c.batch < 2 * K) throw new Error(`ctrl: policyGradient needs at least ${2 * K} chains a round (two per label, for the per-label baseline), got ${c.batch}`);
    if (!(c.clip > 0)) throw new Error(`ctrl: policyGradient clip must be > 0, got ${c.clip}`);
    stochasticSteps(o.plan, "ctrl");
  } catch (e) {
    key.dispose();
    throw e;
  }
  const t0 = performance.now();
  const spec: PolicySpec = { model: o.model, mode: o.trainable, rank: o.rank, controlClasses: K };
  const m = denoiserChainModel(spec);
  const T = makeSchedule(o.model.schedule).T;
  const D = o.model.network.dataDim;
  const noise = o.noise;
  const [kInit, kRun] = split2(key);
  const f: FrozenParams = { base: tree.ref(o.pretrained) as DenoiserParams };
  const updates = c.rounds * c.epochs * c.minibatches;
  const opt = { ...constantRateOptimizer(c.learningRate, c.gradClip), lrSchedule: c.lrSchedule ?? "constant" };
  const trainer = makeTrainStep<TrainableParams>(
    () => {
      throw new Error("ctrl: the PPO loss computes the gradients (applyGradients only)");
    },
    optimizerFromConfig(opt, updates),
    { cacheKey: JSON.stringify(["ctrl-pg", optimizerStaticKey(opt)]) },
  );
  let state = trainer.init(initTrainable(spec, o.pretrained, kInit));
  const epsJit = jit((p: TrainableParams, ff: FrozenParams, x: JArray, time: JArray, ab: JArray, control: JArray) => m.eps(p, ff, x, time, ab, [control])) as unknown as Jitted;
  const clip = c.clip;
  // ∇_θ of the PPO minibatch loss and [loss, clip fraction].
  const ppoGrad = jit((p: TrainableParams, ff: FrozenParams, xt: JArray, xs: JArray, time: JArray, ab: JArray, coef: JArray, oldLogProb: JArray, adv: JArray, preMean: JArray, control: JArray, klWeight: JArray) => {
    const loss = (pp: TrainableParams): [JArray, JArray[]] => {
      const { logProb, mean } = controlStepLogProb(m, pp, ff, xt.ref, xs.ref, time.ref, ab.ref, coef.ref, [control.ref], noise);
      const ratio = np.exp(logProb.sub(oldLogProb.ref));
      const clipFrac = np.mean(np.abs(ratio.ref.sub(1)).greater(clip).astype(np.float32));
      const unclipped = adv.ref.mul(ratio.ref).mul(-1);
      const clipped = adv.ref.mul(np.clip(ratio, 1 - clip, 1 + clip)).mul(-1);
      const sigma = coef.ref.slice([], [5, 6]).reshape([-1]);
      const kl = pathKl(mean, preMean.ref, np.divide(0.5, np.square(sigma)));
      const value = np.mean(np.maximum(unclipped, clipped).add(kl.mul(klWeight.ref)));
      return [value.ref, [value, clipFrac]];
    };
    const [[value, aux], g] = valueAndGrad(loss, { hasAux: true })(p as never) as unknown as [[JArray, JArray[]], TrainableParams];
    value.dispose();
    tree.dispose(ff);
    for (const a of [xt, xs, time, ab, coef, oldLogProb, adv, preMean, control, klWeight]) a.dispose();
    return [g, aux[0]!, aux[1]!];
  }) as unknown as Jitted;
  // The reference through the same ChainModel as the policy, so that at θ = 0 the two steps agree exactly.
  const refJit = jit((ff: FrozenParams, x: JArray, time: JArray, ab: JArray) => m.refEps(ff, x, time, ab, [])) as unknown as Jitted;
  const reference: EpsFn = (x, t) => refJit(tree.ref(f), x, scalar((1000 * t.index) / T), scalar(t.alphaBar));
  const history: CtrlPgRound[] = [];
  const keys = splitKey(kRun, c.rounds);
  const B = c.batch;
  const y = Int32Array.from({ length: B }, (_, i) => i % K);
  const control = oneHot(y, K);
  try {
    for (let r = 0; r < c.rounds; r++) {
      const [kRoll, kPerm] = split2(keys[r]!);
      const tr = await rollout({
        policy: policyEps(epsJit, state.params, f, control, T),
        reference,
        plan: o.plan,
        n: B,
        dim: D,
        key: kRoll,
        where: "ctrl",
        ...(noise ? { noise } : {}),
      });
      const logP = Float64Array.from(await o.reward(tr.x0, y));
      if (logP.length !== B) throw new Error(`ctrl: the reward returned ${logP.length} values for ${B} chains`);
      const bad = logP.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`ctrl: the reward returned a non-finite value (${logP[bad]}) for chain ${bad + 1}`);
      const { adv, scale, klMean } = advantages(
        logP.map((v) => o.gamma * v),
        tr.kl!,
        1,
        y,
      );
      const rows = flattenSteps(tr, T, adv);
      const S = tr.steps.length;
      const labels = Int32Array.from({ length: S * B }, (_, q) => y[q % B]!);
      const reads: { loss: JArray; clipFrac: JArray }[] = [];
      for (const idx of minibatchIndices(rows.rows, c.epochs, c.minibatches, keyToSeed(kPerm), "ctrl")) {
        const mb = idx.length;
        const g = (src: Float32Array, w: number) => gatherRows(src, idx, w);
        const [grads, loss, clipFrac] = ppoGrad(
          tree.ref(state.params),
          tree.ref(f),
          upload(g(rows.xt, D), mb, D),
          upload(g(rows.xs, D), mb, D),
          np.array(g(rows.tNet, 1)),
          upload(g(rows.alphaBar, 1), mb, 1),
          upload(g(rows.coef, 6), mb, 6),
          np.array(g(rows.oldLogProb, 1)),
          np.array(g(rows.advantage, 1)),
          upload(g(rows.preMean, D), mb, D),
          oneHot(Array.from(idx, (q) => labels[q]!), K),
          scalar(1 / scale),
        ) as [TrainableParams, JArray, JArray];
        state = trainer.applyGradients(state, grads);
        // Settle this update before queueing the next (./ddpo.ts: unsettled minibatches keep their activations).
        await settleAsync(loss);
        reads.push({ loss, clipFrac });
      }
      const losses = await Promise.all(reads.map((q) => q.loss.data()));
      const fracs = await Promise.all(reads.map((q) => q.clipFrac.data()));
      const lossMean = losses.reduce((a: number, l: ArrayLike<number>) => a + Number(l[0]), 0) / losses.length;
      if (!Number.isFinite(lossMean)) throw new Error(`ctrl: the PPO loss is ${lossMean} in round ${r + 1}; lower learningRate`);
      const byLabel = Array.from({ length: K }, (_, k) => {
        let s = 0;
        let n = 0;
        y.forEach((v, i) => {
          if (v === k) {
            s += logP[i]!;
            n++;
          }
        });
        return s / n;
      });
      const round: CtrlPgRound = {
        round: r + 1,
        objective: logP.reduce((a, v) => a + v, 0) / B,
        objectiveByLabel: byLabel,
        kl: klMean,
        loss: lossMean,
        clipFraction: fracs.reduce((a: number, v: ArrayLike<number>) => a + Number(v[0]), 0) / fracs.length,
      };
      history.push(round);
      o.onRound?.(round, c.rounds);
    }
  } catch (e) {
    tree.dispose(state.params);
    tree.dispose(state.opt as Params);
    tree.dispose(f);
    throw e;
  } finally {
    control.dispose();
    epsJit.dispose();
    refJit.dispose();
    ppoGrad.dispose();
  }
  tree.dispose(state.opt as Params);
  return { model: { spec, p: state.params, f, plan: o.plan, T, dim: D }, history, seconds: (performance.now() - t0) / 1000 };
}
