/**
 * Method "cfg-triples" (CTRL's first baseline, 2406.12120): a denoiser conditioned on (c, y), trained
 * from scratch on the offline (c, x, y) triples with the run's model and training settings; its
 * condition is the value [e_c, e_y] (one-hots), and y is dropped (e_y → 0, "∅") with probability
 * `dropout` (default 0.1), the context never. Sampled with classifier-free guidance against y = ∅:
 *   ε̃ = ε(x, t, c, ∅) + w (ε(x, t, c, y) − ε(x, t, c, ∅)),  w = `scale` (default 1: plain conditioning).
 * Evaluated by ./ctrl-eval.ts (γ from gamma/alpha/task, for the p* it is compared with). With a p_pre at
 * hand (`pretrained: PATH`, or the run's when another method trained it) and a stochastic sampler, the
 * row's `klToPretrained` is this sampler's path KL to p_pre(x | c) along its own chains (final
 * deterministic step excluded).
 */
import { np } from "../../backend/jax.js";
import { keyToWords, split2 } from "../../backend/keys.js";
import { hostMatrix } from "../../data/matrix.js";
import { modelEps, type ModelConfig } from "../../diffusion/model.js";
import { classifierFree } from "../../diffusion/step.js";
import type { EpsFn } from "../../diffusion/types.js";
import { disposeTrainState, initTrainState, trainSteps } from "../../training/trainer.js";
import { samplerPlan } from "../../diffusion/sample.js";
import { makeSchedule } from "../../diffusion/schedule.js";
import { CONTEXT_EMBEDDING, cachedPretrained, pretrainedEps, pretrainedFor, tiltData } from "../classifier-tilt/pretrained.js";
import { generateWithEps } from "../../diffusion/generate.js";
import * as z from "zod";
import { int, strict } from "../config-schemas.js";
import { defineMethod } from "./context.js";
import { CLASSIFIER_TILT, labelField, optionalAlpha, scaleField } from "./schema-parts.js";
import { resolveGamma } from "./ctrl.js";
import { pathKlTracker, tiltEvaluation } from "./ctrl-eval.js";

export const cfgTriplesMethod = defineMethod({
  kind: "cfg-triples",
  summary: "CTRL baseline: a model on (c, x, y) triples with y-dropout, sampled with CFG against y = ∅ (docs/ctrl.md)",
  schema: strict({
    kind: z.literal("cfg-triples"),
    alpha: optionalAlpha(),
    scale: scaleField(),
    dropout: z.number().min(0).lt(1).default(0.1),
    trainSteps: int(1).optional().describe("default: model.train.steps"),
    pretrained: z.string().min(1).optional(),
    label: labelField(),
  }),
  requires: { taskReward: true, taskKinds: CLASSIFIER_TILT },
  run: async (ctx) => {
  const m = ctx.method;
  const at = Array.isArray(ctx.cfg.method) ? `method[${ctx.index}]` : "method";
  const d = tiltData(ctx);
  const gamma = resolveGamma(ctx);
  const label = ctx.label;
  const C = d.task.contexts;
  const K = d.task.classes;
  const dropout = m.dropout;
  const w = m.scale;
  const { x, y, contexts } = d.offline;
  const [kTrain, rest] = split2(ctx.key);
  const [kDrop, kEval] = split2(rest);
  // Fixed per-row y-dropout drawn from the run's key (a host stream).
  let u = keyToWords(kDrop)[0];
  kDrop.dispose();
  const uniform = () => {
    u = (Math.imul(u ^ (u >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return u / 2 ** 32;
  };
  const values = new Float32Array(x.rows * (C + K));
  for (let i = 0; i < x.rows; i++) {
    values[i * (C + K) + contexts[i]!] = 1;
    if (uniform() >= dropout) values[i * (C + K) + C + y[i]!] = 1;
  }
  const model: ModelConfig = { ...ctx.model, network: { ...ctx.model.network, condition: { kind: "value", dim: C + K, embedding: CONTEXT_EMBEDDING } } };
  const train = { ...ctx.train, steps: m.trainSteps ?? ctx.train.steps };
  // p_pre(x | c), for klToPretrained only: a saved one (`pretrained: PATH`, the loader and checks of
  // "ctrl"), or the run's if another method already trained it (nothing is trained for this).
  const pre = m.pretrained ? await pretrainedFor(ctx, { path: m.pretrained, where: `${at}.pretrained` }) : await cachedPretrained(ctx);
  const plan = samplerPlan(makeSchedule(model.schedule), ctx.sampler);
  const stochastic = plan.slice(0, -1).every((c) => c.sigma > 0);
  ctx.hooks.onStage?.(`${label}: training a (c, y)-conditioned model on ${x.rows} offline triples for ${train.steps} steps (y-dropout ${dropout})`);
  const t0 = performance.now();
  const state = await trainSteps(model, train, initTrainState(model, kTrain), { x, cond: { values: hostMatrix(x.rows, C + K, values), dropout: 0 } }, {
    onProgress: (p) => ctx.hooks.onTrain?.(p, `${label} conditional model`),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const condOf = (c: number, yy: number | null) => (n: number) => {
    const v = new Float32Array(n * (C + K));
    for (let i = 0; i < n; i++) {
      v[i * (C + K) + c] = 1;
      if (yy !== null) v[i * (C + K) + C + yy] = 1;
    }
    return { kind: "value" as const, value: np.array(v, { shape: [n, C + K] }), keep: np.ones([n]) };
  };
  try {
    return await tiltEvaluation(ctx, {
      label,
      gamma,
      key: kEval,
      trainSeconds,
      sampler: async (c, yy, n, key) => {
        const ec = modelEps(model, state.ema, condOf(c, yy));
        const eu = modelEps(model, state.ema, condOf(c, null));
        const eps: EpsFn = w === 1 ? ec : (xt, t) => {
          const a = ec(xt.ref, t);
          const b = eu(xt, t);
          return classifierFree(b, [[a, w]]);
        };
        if (!pre || !stochastic) return { samples: await generateWithEps(eps, model, ctx.sampler, n, key) };
        // The same samples, with the path KL of this sampler to p_pre(x | c) along its own chains.
        const tracked = pathKlTracker(eps, pretrainedEps(pre, c), plan);
        return { samples: await generateWithEps(tracked.eps, model, ctx.sampler, n, key, { onStep: tracked.settle }), kl: await tracked.kl(n) };
      },
      fields: { dropout, scale: w, finalLoss: state.losses.at(-1)?.loss ?? null },
    });
  } finally {
    disposeTrainState(state);
  }
},
});
