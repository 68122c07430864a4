/**
 * Method "none" on the classifier-tilt task: the pretrained p_pre(x | c) sampled as is, ignoring the
 * requested label y. Its accuracy against the ground-truth labeler is the chance level the fine-tuned
 * methods (CTRL, DRaFT, CFG, DPS) are compared with (≈ 0.5 on the default benchmark), and its distance
 * to the exact targets p*(x | c, y) is the distance before any control is added.
 */
import type { MethodRunner } from "../methods/context.js";
import { tiltSamplesPerPair } from "../methods/ctrl-eval.js";
import { sampleDistances } from "../metrics.js";
import type { ResultRow } from "../../report/types.js";
import { tiltClassifierArtefacts, tiltClassifierFor } from "./classifier.js";
import { evaluateTiltSampler, tiltSection } from "./evaluate.js";
import { pretrainedCheckpoints, pretrainedFor, samplePretrained, tiltData } from "./pretrained.js";

export const runPretrainedTilt: MethodRunner = async (ctx) => {
  const d = tiltData(ctx);
  const p = await pretrainedFor(ctx);
  const classifier = await tiltClassifierFor(ctx);
  // The same samples per (c, y) pair as the other methods of the run (sampling.samples / (C·K)).
  const n = tiltSamplesPerPair(ctx);
  const label = "none (pretrained)";
  ctx.hooks.onStage?.(`sampling p_pre(x|c) for ${d.task.contexts} contexts × 2 labels, ${n} each (sampling.samples split over the pairs)`);
  const ev = await evaluateTiltSampler(d.task, (c, _y, m, key) => samplePretrained(p, ctx.sampler, c, m, key), {
    label,
    n,
    key: ctx.key,
    classifier: classifier.model,
    seed: ctx.cfg.seed,
    onPair: (i, total) => ctx.hooks.onSample?.(i, total, label),
  });
  const row: ResultRow = {
    method: "none",
    target: null,
    alpha: null,
    samples: ev.samples[0]!.matrix.rows,
    ...ev.fields,
    ...(await sampleDistances(ctx, ev.samples[0]!.matrix)),
  };
  const artefacts = await tiltClassifierArtefacts(ctx);
  return {
    rows: [row],
    samples: ev.samples,
    plots: ev.plots,
    sections: { ...artefacts.sections, pretrained: { loss: p.losses, trainSeconds: p.trainSeconds, source: p.source }, ...tiltSection(ctx.index, label, ev.perPair) },
    checkpoints: [...(await pretrainedCheckpoints(ctx)), ...artefacts.checkpoints],
  };
};
