/**
 * The run's classifier p̂(y | x) for the classifier-tilt task (CTRL step 1): fitted on the task's
 * offline (x, y) set and calibrated by temperature scaling (src/rewards/classifier.ts), once per run
 * (kept in the run's state; the key is derived from the run's seed, so every method of a run sees the
 * same classifier whatever their order). Settings come from `config.reward` when its kind is
 * "classifier" (hidden, layers, steps, learningRate, batchSize, l2, holdout), else the defaults.
 */
import { keyFromSeed } from "../../backend/index.js";
import type { RewardConfig } from "../config-schemas.js";
import { fitClassifier, type ClassifierModel, type ClassifierSpec } from "../../rewards/classifier.js";
import { saveClassifier } from "../../io/checkpoints/classifier.js";
import { TILT_CLASSES } from "../../tasks/classifier-tilt.js";
import type { MethodContext } from "../methods/context.js";
import { tiltData } from "./pretrained.js";

export const CLASSIFIER_CHECKPOINT = "classifier.safetensors";

export interface TiltClassifier {
  model: ClassifierModel;
  fitSeconds: number;
}

/** The run-state id of the classifier. */
const STATE_ID = "classifier-tilt:classifier";

/** The classifier kept in the run's state, and whether its artefacts were handed out. */
interface ClassifierEntry {
  c: TiltClassifier;
  claimed: boolean;
}

/** The classifier settings a config asks for (config.reward of kind "classifier"). */
export function classifierSpecFromConfig(reward: RewardConfig | undefined): Partial<ClassifierSpec> & { classes: number } {
  const spec: Partial<ClassifierSpec> & { classes: number } = { classes: TILT_CLASSES };
  if (reward?.kind !== "classifier") return spec;
  if (reward.hidden !== undefined) spec.hidden = reward.hidden;
  if (reward.layers !== undefined) spec.layers = reward.layers;
  if (reward.steps !== undefined) spec.steps = reward.steps;
  if (reward.learningRate !== undefined) spec.learningRate = reward.learningRate;
  if (reward.batchSize !== undefined) spec.batchSize = reward.batchSize;
  if (reward.l2 !== undefined) spec.l2 = reward.l2;
  if (reward.holdout !== undefined) spec.holdout = reward.holdout;
  return spec;
}

/** The run's fitted, calibrated p̂(y | x) (fitted on first use). Plain data: nothing to dispose. */
export async function tiltClassifierFor(ctx: MethodContext): Promise<TiltClassifier> {
  const d = tiltData(ctx);
  const entry = ctx.state.memo(STATE_ID, async (): Promise<ClassifierEntry> => {
    ctx.hooks.onStage?.(`fitting the classifier p̂(y|x) on ${d.offline.x.rows} offline (x, y) pairs`);
    const t0 = performance.now();
    const model = await fitClassifier(d.offline.x, d.offline.y, classifierSpecFromConfig(ctx.cfg.reward), keyFromSeed((ctx.cfg.seed ^ 0xc1a55) >>> 0));
    return { c: { model, fitSeconds: (performance.now() - t0) / 1000 }, claimed: false };
  }).value;
  return (await entry).c;
}

/**
 * The classifier's report section and checkpoint, returned to the first caller only (so a run with
 * several CTRL-family methods writes them once): `{ classifier: { temperature, heldOut: {accuracy, nll,
 * ece, nllUncalibrated, eceUncalibrated}, ... } }` and `classifier.safetensors`.
 */
export async function tiltClassifierArtefacts(ctx: MethodContext): Promise<{
  sections: Record<string, unknown>;
  checkpoints: { name: string; save: (path: string) => void | Promise<void> }[];
}> {
  const hit = await ctx.state.peek<Promise<ClassifierEntry>>(STATE_ID);
  if (!hit || hit.claimed) return { sections: {}, checkpoints: [] };
  hit.claimed = true;
  const m = hit.c.model;
  return {
    sections: { classifier: { ...m.fit, spec: m.spec, fitSeconds: hit.c.fitSeconds } },
    checkpoints: [{ name: CLASSIFIER_CHECKPOINT, save: (path) => saveClassifier(path, m, { columns: ctx.data.columns, label: "y", data: ctx.data.name }) }],
  };
}
