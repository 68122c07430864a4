/**
 * Method "ddpo" (docs/ddpo.md): DDPO / DPOK fine-tuning (src/methods/ddpo.ts) of the run's base model
 * (the pretrained model) on the task's reward — the ground truth ("task") or the non-differentiable
 * indicator 1[r > threshold] ("indicator"). alpha > 0 adds DPOK's KL penalty to the pretrained model,
 * whose optimum is the exact tilt p · e^{r/alpha}: on a gaussian-mixture task the row carries the exact
 * E_p*[r] and the distance to exact p* draws (as the guidance rows do). Without alpha (plain DDPO) the
 * objective has no finite-temperature optimum and no reference is reported.
 * The fine-tuned network is saved as `model-<label>.safetensors` (./tuned-model.ts; its rollout is the
 * plain sampler, so `rewardiff sample` draws from it).
 * Row fields: reward after (reward) and before (rewardBefore), KL to the pretrained model (path KL,
 * Σ_k E‖μ_θ − μ_pre‖²/(2σ_k²), estimated on the final samples), distance to the data, the PPO settings,
 * the reward / KL over training (report section and plot), and with alpha the optimum reachable from the
 * pretrained sampler's own law (`pretrainedTilt`, by self-normalised importance weights).
 */
import { splitKey } from "../../backend/keys.js";
import { tree } from "../../backend/jax.js";
import { modelEps } from "../../diffusion/model.js";
import { noiseHookOf } from "../../diffusion/noise-space.js";
import { summary } from "../../eval/stats.js";
import { newCost } from "../../guidance/types.js";
import { defaultDdpoConfig, rollout, stochasticSteps, trainDdpo, type DdpoConfig } from "../../finetune/ddpo.js";
import { lineChart } from "../../report/plots.js";
import { evaluateRewardHost } from "../../rewards/reward.js";
import * as z from "zod";
import { int, nonNegative, positive, strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { exactTiltKl } from "./draft.js";
import { guidanceOutput, guidanceSetup } from "./guidance-common.js";
import { guidanceReward, labelField, optionalAlpha } from "./schema-parts.js";
import { sampleDistances } from "../metrics.js";
import { tunedModelCheckpoint } from "./tuned-model.js";

const D = defaultDdpoConfig;

export const ddpoMethod = defineMethod({
  kind: "ddpo",
  summary: "DDPO / DPOK: PPO on the denoising MDP; alpha = KL weight to the pretrained model (docs/ddpo.md)",
  schema: strict({
    kind: z.literal("ddpo"),
    alpha: optionalAlpha().describe("KL weight (DPOK); absent: plain DDPO"),
    iterations: int(1).default(D.iterations),
    batch: int(2).default(D.batch),
    epochs: int(1).default(D.epochs),
    minibatches: int(1).default(D.minibatches),
    clip: positive().default(D.clip),
    learningRate: positive().default(D.learningRate),
    gradClip: nonNegative().default(D.gradClip),
    logProbReduce: z.enum(["sum", "mean"]).default(D.logProbReduce).describe("log-probability over the event axes: sum (the theory) or mean (ddpo-pytorch's; a wider trust region for the same clip)"),
    ...guidanceReward,
    label: labelField(),
  }),
  requires: { taskReward: true, stochasticSampler: { why: "their log-probabilities" } },
  run: async (ctx) => {
  const m = ctx.method;
  const where = Array.isArray(ctx.cfg.method) ? `method[${ctx.index}]` : "method";
  const klWeight = m.alpha ?? 0;
  const setup = guidanceSetup(ctx);
  if (klWeight === 0) delete setup.reference; // plain DDPO: no finite-temperature optimum to compare with
  stochasticSteps(setup.plan, `${where} ("ddpo")`);
  const config: DdpoConfig = {
    iterations: m.iterations,
    batch: m.batch,
    epochs: m.epochs,
    minibatches: m.minibatches,
    clip: m.clip,
    learningRate: m.learningRate,
    gradClip: m.gradClip,
    klWeight,
    logProbReduce: m.logProbReduce,
  };
  const base = await ctx.base();
  const pre = base.state.ema;
  const reward = (x: Parameters<typeof evaluateRewardHost>[1]) => evaluateRewardHost(setup.reward, x);
  const [kBefore, kTrain, kAfter] = splitKey(ctx.key, 3);
  const preEps = modelEps(ctx.model, pre);
  // Rollouts draw their noise in the model's noise space (symmetric edges of graph rows), as sampling does.
  const hook = noiseHookOf(ctx.model.noise);
  const noise = hook ? { noise: hook } : {};
  ctx.hooks.onStage?.(`${setup.label}: sampling the pretrained model (${setup.n} points)`);
  const before = await rollout({ policy: preEps, reference: preEps, plan: setup.plan, n: setup.n, dim: setup.dim, key: kBefore!, where, ...noise });
  const rBefore = await reward(before.x0);
  ctx.hooks.onStage?.(`${setup.label}: ${config.iterations} rounds of PPO (batch ${config.batch}, ${config.epochs} epochs)`);
  const res = await trainDdpo({
    model: ctx.model,
    pretrained: pre,
    plan: setup.plan,
    reward,
    config,
    key: kTrain!,
    where: `${where} ("ddpo")`,
    onRound: (r, total) => ctx.hooks.onTrain?.({ step: r.iteration, total, loss: r.loss, lr: config.learningRate }, setup.label),
  });
  try {
    ctx.hooks.onStage?.(`${setup.label}: sampling the fine-tuned model (${setup.n} points)`);
    const t0 = performance.now();
    const after = await rollout({ policy: modelEps(ctx.model, res.params), reference: preEps, plan: setup.plan, n: setup.n, dim: setup.dim, key: kAfter!, where, ...noise });
    const kl = after.kl!.reduce((s, k) => s + k.reduce((a, v) => a + v, 0) / setup.n, 0);
    const cost = newCost();
    cost.rewardEvals = config.iterations * config.batch;
    cost.modelEvals = config.iterations * config.batch * setup.plan.length * (2 + config.epochs);
    cost.seconds = (performance.now() - t0) / 1000;
    const out = await guidanceOutput(ctx, setup, after.x0, cost, {
      trainSeconds: res.seconds,
      fields: {
        rewardBefore: summary(rBefore),
        klToPretrained: kl,
        ...(klWeight > 0 ? { pretrainedTilt: selfNormalisedTilt(rBefore, klWeight) } : {}),
        ...(await sampleDistances(ctx, after.x0)),
        ddpo: {
          iterations: config.iterations,
          batch: config.batch,
          epochs: config.epochs,
          minibatches: config.minibatches,
          clip: config.clip,
          learningRate: config.learningRate,
          klWeight,
          finalClipFraction: res.history[res.history.length - 1]!.clipFraction,
        },
      },
      note: klWeight > 0 ? `DPOK, KL weight α = ${klWeight}` : undefined,
    });
    const row = out.rows[0]!;
    if (klWeight === 0) row.alpha = null;
    // The exact KL(p* ‖ p) of DPOK's optimum beside the path-KL estimate `klToPretrained`.
    const exactKl = exactTiltKl(setup);
    if (row.reference && exactKl !== null) row.reference = { ...row.reference, kl: exactKl };
    const steps = config.iterations * config.epochs * config.minibatches;
    const train = { ...ctx.train, steps, learningRate: config.learningRate, gradClip: config.gradClip, lrSchedule: "constant" as const, warmupSteps: 0, ema: 0 };
    out.checkpoints = [await tunedModelCheckpoint(ctx, setup.label, res.params, { train, step: steps })];
    out.sections = { [`ddpo${ctx.index}`]: { label: setup.label, loss: res.history.map((r) => ({ step: r.iteration, loss: r.loss })), rounds: res.history } };
    out.plots.push({
      title: `${setup.label}: reward over training`,
      svg: await lineChart({
        title: `${setup.label}: batch mean reward and KL to the pretrained model`,
        xLabel: "round",
        yLabel: "value",
        series: [
          { name: "reward", points: res.history.map((r) => ({ x: r.iteration, y: r.rewardMean })) },
          { name: "KL (nats)", points: res.history.map((r) => ({ x: r.iteration, y: r.kl })) },
          ...(setup.reference ? [{ name: "exact E_p*[r]", points: res.history.map((r) => ({ x: r.iteration, y: setup.reference!.rewardMean })) }] : []),
        ],
      }),
      caption: `Mean reward of each round's batch of ${config.batch} trajectories (before its update) and the path KL Σ_k ‖μ_θ − μ_pre‖²/(2σ_k²).`,
    });
    return out;
  } finally {
    tree.dispose(res.params);
  }
  },
});

/**
 * The optimum DPOK can reach is the tilt of the pretrained *sampler's* output law p_pre,0 (not of the
 * data law, when the base model or a coarse sampler is imperfect). With draws x_i ~ p_pre,0 and
 * w_i ∝ e^{r_i/α} (self-normalised importance weights): E*[r] = Σ w_i r_i / Σ w_i,
 * log Z = log mean_i e^{r_i/α}, KL* = E*[r]/α − log Z, and the effective sample size (Σw)²/Σw² says how
 * far to trust them.
 */
export function selfNormalisedTilt(r: ArrayLike<number>, alpha: number): { rewardMean: number; kl: number; ess: number } {
  let max = -Infinity;
  for (let i = 0; i < r.length; i++) max = Math.max(max, r[i]! / alpha);
  let sw = 0, sw2 = 0, swr = 0;
  for (let i = 0; i < r.length; i++) {
    const w = Math.exp(r[i]! / alpha - max);
    sw += w;
    sw2 += w * w;
    swr += w * r[i]!;
  }
  const rewardMean = swr / sw;
  const logZ = max + Math.log(sw / r.length);
  return { rewardMean, kl: rewardMean / alpha - logZ, ess: (sw * sw) / sw2 };
}
