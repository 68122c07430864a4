/**
 * Method "ctrl" (2406.12120, docs/ctrl.md) on the classifier-tilt task: the run's pretrained
 * p_pre(x | c) (src/runners/classifier-tilt/pretrained.ts; or `pretrained: PATH`) is augmented with a
 * zero-initialised control y and fine-tuned by backpropagating γ·log p̂(y | x_0) − Σ_t KL_t through the
 * sampler (src/finetune/ctrl.ts), with the run's calibrated classifier p̂ (classifier-tilt/classifier.ts).
 * γ = `gamma`, or 1/`alpha`, default the task's γ (so p* is the task's target). Evaluated by
 * ./ctrl-eval.ts beside the baselines "cfg-triples" and "dps-classifier". The fine-tuned model is saved
 * as `model-<label>.safetensors` (src/io/checkpoints/finetuned.ts; `rewardiff sample --context c --control y`).
 */
import { np, type JArray } from "../../backend/jax.js";
import { split2 } from "../../backend/keys.js";
import { makeSchedule } from "../../diffusion/schedule.js";
import { checkLabel, ctrlFinetune, ctrlSide } from "../../finetune/ctrl.js";
import { finetunedCheckpoint, finetunedFileName, saveFinetuned } from "../../io/checkpoints/finetuned.js";
import { disposeFinetuned, sampleFinetuned } from "../../finetune/finetuned.js";
import { oneHot } from "../../finetune/policy.js";
import { samplerPlan } from "../../diffusion/sample.js";
import { classifierLogProbs } from "../../rewards/classifier.js";
import { CLASSIFIER_CHECKPOINT, tiltClassifierArtefacts, tiltClassifierFor } from "../classifier-tilt/classifier.js";
import { contextOneHot, pretrainedCheckpoints, pretrainedFor, tiltData } from "../classifier-tilt/pretrained.js";
import * as z from "zod";
import { nonNegative, positive, strict } from "../config-schemas.js";
import { defineMethod, type MethodContext } from "./context.js";
import { tiltEvaluation } from "./ctrl-eval.js";
import { CLASSIFIER_TILT, finetuneOptim, labelField, optionalAlpha } from "./schema-parts.js";

/** Where this method sits in the config, for errors (`method` or `method[i]`). */
export function methodPath(ctx: MethodContext): string {
  return Array.isArray(ctx.cfg.method) ? `method[${ctx.index}]` : "method";
}

/** γ from `gamma` / `alpha` (γ = 1/α), default the task's γ; refuses inconsistent values. */
export function resolveGamma(ctx: MethodContext): number {
  const m = ctx.method as { alpha?: number; gamma?: number };
  const at = methodPath(ctx);
  if (m.gamma !== undefined && m.alpha !== undefined && Math.abs(m.gamma * m.alpha - 1) > 1e-9) {
    throw new Error(`${at}: gamma (${m.gamma}) and alpha (${m.alpha}) disagree: γ = 1/α; give one of them`);
  }
  return m.gamma ?? (m.alpha !== undefined ? 1 / m.alpha : tiltData(ctx).task.gamma);
}

/** The pretrained network's context input for contexts c: a value one-hot [n, C] or a class one-hot [n, C + 1]. */
export function contextInputFor(kind: "value" | "class" | undefined, C: number): (c: Int32Array) => JArray {
  if (kind === "class") return (c) => oneHot(c, C);
  return (c) => np.array(contextOneHot(C, c, c.length), { shape: [c.length, C] });
}

export const ctrlMethod = defineMethod({
  kind: "ctrl",
  summary: "CTRL: reward backprop through the sampler with a zero-initialised control y (docs/ctrl.md)",
  schema: strict({
    kind: z.literal("ctrl"),
    alpha: optionalAlpha().describe("γ = 1/alpha; default: gamma, else the task's γ"),
    gamma: positive().optional().describe("default: 1/alpha, else the task's γ"),
    trainable: z.enum(["adapters", "embedding", "all"]).default("adapters"),
    nullProbability: z.number().min(0).lt(1).default(0),
    cfgScale: nonNegative().default(1),
    pretrained: z.string().min(1).optional(),
    ...finetuneOptim({ steps: 150, batchSize: 128, learningRate: 3e-3 }),
    label: labelField(),
  }),
  requires: { taskReward: true, taskKinds: CLASSIFIER_TILT },
  refine: (m, _cfg, at, add) => {
    if (m.cfgScale !== 1 && !(m.nullProbability > 0)) {
      add([...at, "cfgScale"], `classifier-free guidance against the null control needs training with it: set nullProbability > 0 (e.g. 0.1)`, m.cfgScale);
    }
  },
  run: async (ctx) => {
  const m = ctx.method;
  const at = methodPath(ctx);
  const d = tiltData(ctx);
  const gamma = resolveGamma(ctx);
  const label = ctx.label;
  const cfgScale = m.cfgScale;
  const pre = await pretrainedFor(ctx, { ...(m.pretrained ? { path: m.pretrained } : {}), where: `${at}.pretrained` });
  const cls = (await tiltClassifierFor(ctx)).model;
  const K = d.task.classes;
  if (cls.spec.classes !== K) throw new Error(`${at}: the classifier has ${cls.spec.classes} classes, the task's control has ${K}`);
  const C = d.task.contexts;
  const schedule = makeSchedule(pre.model.schedule);
  const plan = samplerPlan(schedule, ctx.sampler);
  const contextInput = contextInputFor(pre.model.network.condition?.kind, C);
  const optim = { steps: m.steps, batchSize: m.batchSize, learningRate: m.learningRate, gradClip: m.gradClip };
  const trainable = m.trainable;
  const [kTrain, kEval] = split2(ctx.key);
  ctx.hooks.onStage?.(`${label}: fine-tuning (${trainable}) with γ = ${gamma}, ${optim.steps} steps of ${optim.batchSize} chains`);
  const logProbs = classifierLogProbs(cls);
  const r = await ctrlFinetune(
    {
      model: pre.model,
      pretrained: pre.params,
      contexts: C,
      contextInput,
      classes: K,
      logProbs,
      gamma,
      plan,
      T: schedule.T,
      dim: 2,
      trainable,
      rank: m.rank,
      optim,
      ...(m.truncation !== undefined ? { truncation: Math.min(m.truncation, plan.length) } : {}),
      truncationMode: m.truncationMode,
      ...(m.segment !== undefined ? { segment: m.segment } : {}),
      klReduce: m.klReduce,
      nullProbability: m.nullProbability,
      onStep: (pt, total) => ctx.hooks.onTrain?.({ step: pt.step, total, loss: pt.loss, lr: optim.learningRate }, label),
    },
    kTrain,
  );
  try {
    const out = await tiltEvaluation(ctx, {
      label,
      gamma,
      key: kEval,
      trainSeconds: r.seconds,
      sampler: async (c, y, n, key) => {
        checkLabel(y, K, `${at}`);
        const s = await sampleFinetuned(r.model, n, key, (rows) => ctrlSide({ contexts: C, contextInput, classes: K }, new Int32Array(rows).fill(c), new Int32Array(rows).fill(y)), { cfgScale });
        return { samples: s.samples, ...(Number.isFinite(s.kl) ? { kl: s.kl } : {}) };
      },
      fields: {
        heapBytes: r.heapBytes,
        finetune: { ...optim, truncation: Math.min(m.truncation ?? plan.length, plan.length), chainSteps: plan.length, cfgScale, nullProbability: m.nullProbability },
        trainingObjective: { first: r.history[0]?.objective ?? null, last: r.history.at(-1)?.objective ?? null, klLast: r.history.at(-1)?.kl ?? null },
      },
    });
    const art = await tiltClassifierArtefacts(ctx);
    out.sections = {
      ...art.sections,
      [`finetuning:${label}`]: {
        options: { trainable, truncationMode: m.truncationMode, klReduce: m.klReduce, rank: m.rank, pretrained: pre.source },
        heapBytes: r.heapBytes,
        seconds: r.seconds,
        history: r.history,
      },
    };
    // The fine-tuned model, materialised on the host now (r.model is released below).
    const ck = await finetunedCheckpoint(
      r.model,
      {
        method: "ctrl",
        trainable,
        ...(trainable === "adapters" ? { rank: m.rank } : {}),
        steps: optim.steps,
        gamma,
        sampler: { ...ctx.sampler },
        context: { contexts: C, names: Array.from({ length: C }, (_, c) => `context=${c}`) },
        control: { classes: K, names: Array.from({ length: K }, (_, y) => `y=${y}`), nullProbability: m.nullProbability, classifier: CLASSIFIER_CHECKPOINT },
      },
      {
        train: pre.train,
        columns: ctx.data.columns,
        data: ctx.data.name,
        conditioning: { names: Array.from({ length: C }, (_, c) => `context=${c}`), source: "classifier-tilt contexts (one-hot e_c)", dropout: 0 },
      },
    );
    const file = finetunedFileName(label);
    out.checkpoints = [...(await pretrainedCheckpoints(ctx)), ...art.checkpoints, { name: file, save: (path) => saveFinetuned(path, ck) }];
    return out;
  } finally {
    disposeFinetuned(r.model);
  }
},
});
