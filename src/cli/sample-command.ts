/** `rewardiff sample`: draw samples from a trained or fine-tuned model into a CSV file. */
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed } from "../backend/keys.js";
import { writeCsv } from "../io/csv.js";
import { generate } from "../diffusion/generate.js";
import { loadModel } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel, trainingState, type FinetunedInfo, type LoadedModel, type ModelMeta } from "../io/checkpoints/model.js";
import { invertTransform } from "../data/transform.js";
import type { HostMatrix } from "../data/matrix.js";
import { finetunedFromLoaded } from "../io/checkpoints/finetuned.js";
import { ctrlSide } from "../finetune/ctrl.js";
import { disposeFinetuned, sampleFinetuned } from "../finetune/finetuned.js";
import { contextInputFor } from "../runners/methods/ctrl.js";
import { samplerPlan } from "../diffusion/sample.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { sampleCountProblem } from "../runners/resource-bounds.js";
import { loadRewardModel } from "../io/checkpoints/reward.js";
import { checkOutFile } from "./output.js";
import { makeProgress } from "./progress.js";
import { quitOnInterrupt } from "./interrupt.js";
import { checkTargetOptions, learnedRewardLine, sampleConditionalModel } from "./rcgdm-commands.js";

import { resolveModelPath } from "../runners/molecule-sampling.js";
import { SamplingSchema } from "../runners/config-schemas.js";
import { sampleMoleculesCommand } from "./molecule-sample-command.js";

import { log } from "./log.js";
import type { SampleFlags, SampleOptions } from "./sample-flags.js";

/**
 * `rewardiff sample`: `--model qm9` is the shipped model (src/runners/molecule-sampling.ts); a molecule model
 * (one with a vocabulary) writes decoded molecules (./molecule-sample-command.ts), any other model its rows.
 */
export async function sampleCommand(flags: SampleFlags): Promise<number> {
  if (flags.sampler !== undefined && !["ddpm", "ddim"].includes(flags.sampler)) throw new Error(`--sampler must be ddpm or ddim, got "${flags.sampler}"`);
  checkOutFile(flags.out, !!flags.force);
  const modelPath = resolveModelPath(flags.model);
  await ensureBackend();
  const loaded = loadModel(modelPath);
  const { meta } = loaded;
  if (meta.molecules && !meta.finetuned) return sampleMoleculesCommand({ ...flags, model: modelPath }, loaded);
  const defaults = SamplingSchema.parse({});
  const o: SampleOptions = { ...flags, sampler: flags.sampler ?? defaults.sampler, steps: flags.steps ?? defaults.steps, eta: flags.eta ?? defaults.eta };
  if (o.steps > meta.model.schedule.steps) {
    disposeLoadedModel(loaded);
    throw new Error(`--steps ${o.steps} exceeds the model's ${meta.model.schedule.steps} training timesteps`);
  }
  const tooMany = sampleCountProblem(o.n, meta.model.network);
  if (tooMany) {
    disposeLoadedModel(loaded);
    throw new Error(`--n: ${tooMany}`);
  }
  if (meta.finetuned) return sampleFinetunedCommand(o, loaded);
  try {
    for (const [flag, v] of [["--context", o.context], ["--control", o.control], ["--cfg-scale", o.cfgScale]] as const) {
      if (v !== undefined) throw new Error(`${flag} applies to fine-tuned CTRL models only; ${o.model} is not one`);
    }
    checkTargetOptions(meta, o.model, o.target, o.scale);
    // --reward-model is read after sampling; check it before the work.
    if (o.rewardModel !== undefined) checkRewardColumns(o.rewardModel, meta.columns);
  } catch (err) {
    disposeLoadedModel(loaded);
    throw err;
  }
  const weights = o.raw ? trainingState(loaded, `--raw: ${o.model}`).params : loaded.ema;
  const progress = makeProgress(!!o.quiet);
  const sampler = { sampler: o.sampler, steps: o.steps, eta: o.eta };
  const onStep = (d: number, t: number) => progress.update("sample", d, t);
  const stopWatching = quitOnInterrupt(() => progress.done());
  let x;
  try {
    x = o.target
      ? await sampleConditionalModel(meta, weights, sampler, o.n, o.target, o.scale ?? 1, o.seed, onStep)
      : await generate(meta.model, weights, sampler, o.n, keyFromSeed(o.seed), { onStep });
  } finally {
    stopWatching();
    disposeLoadedModel(loaded);
  }
  progress.done();
  x = toDataUnits(meta, x);
  const rewardLine = o.rewardModel ? await learnedRewardLine(o.rewardModel, meta.columns, x) : undefined;
  writeCsv(o.out, meta.columns, x);
  log(`wrote ${o.n} samples to ${o.out}${o.target ? ` (target ${o.target.join(", ")}, guidance w = ${o.scale ?? 1})` : ""}`);
  if (rewardLine) log(rewardLine);
  return 0;
}

/** Model space → data units: the inverse of the data transform stored with the model (none when absent). */
function toDataUnits(meta: ModelMeta, x: HostMatrix): HostMatrix {
  return meta.transform ? invertTransform(meta.transform, x) : x;
}

/** Refuses a reward model that cannot be read or does not take the samples' columns (one line naming the file). */
function checkRewardColumns(path: string, columns: readonly string[]): void {
  const { meta } = loadRewardModel(path);
  const missing = meta.columns.filter((c) => !columns.includes(c));
  if (missing.length > 0) throw new Error(`--reward-model ${path}: the reward model takes the columns ${meta.columns.join(", ")}, the samples have ${columns.join(", ")}`);
}

/** `sample` of a fine-tuned model (DRaFT, CTRL: src/io/checkpoints/finetuned.ts). Consumes `loaded`. */
async function sampleFinetunedCommand(o: SampleOptions, loaded: LoadedModel): Promise<number> {
  const { meta } = loaded;
  const info = meta.finetuned!;
  const sampler = { sampler: o.sampler, steps: o.steps, eta: o.eta };
  let y: number | undefined;
  let c: number | undefined;
  try {
    checkFinetunedOptions(o, info, samplerPlan(makeSchedule(meta.model.schedule), sampler));
    c = o.context;
    y = o.control;
  } catch (err) {
    disposeLoadedModel(loaded);
    throw err;
  }
  const m = finetunedFromLoaded(loaded, o.model, sampler);
  const progress = makeProgress(!!o.quiet);
  progress.stage(`sampling ${o.n} points from the fine-tuned (${info.method}) model`);
  const stopWatching = quitOnInterrupt(() => progress.done());
  let x;
  try {
    const sideFor = (rows: number) =>
      info.control
        ? ctrlSide({ contexts: info.context?.contexts ?? 0, contextInput: contextInputFor("value", info.context?.contexts ?? 0), classes: info.control.classes }, new Int32Array(rows).fill(c ?? 0), new Int32Array(rows).fill(y!))
        : [];
    x = toDataUnits(meta, (await sampleFinetuned(m, o.n, keyFromSeed(o.seed), sideFor, { cfgScale: o.cfgScale ?? 1 })).samples);
  } finally {
    stopWatching();
    disposeFinetuned(m);
  }
  progress.done();
  writeCsv(o.out, meta.columns, x);
  const cond = info.control ? ` (${c !== undefined ? `context ${c}, ` : ""}control y = ${y}${o.cfgScale !== undefined ? `, CFG w = ${o.cfgScale}` : ""})` : "";
  log(`wrote ${o.n} samples of the fine-tuned ${info.method} model to ${o.out}${cond}`);
  return 0;
}

/** The options a fine-tuned model accepts; each refusal is one line naming the flag and the allowed range. */
function checkFinetunedOptions(o: SampleOptions, info: FinetunedInfo, plan: readonly { sigma: number }[]): void {
  const what = `${o.model} is a fine-tuned ${info.method === "ctrl" ? "CTRL" : "DRaFT"} model`;
  if (o.target !== undefined || o.scale !== undefined) throw new Error(`--target/--scale apply to reward-conditional models; ${what}${info.control ? " (use --control y and --cfg-scale w)" : ""}`);
  if (o.rewardModel !== undefined) throw new Error(`--reward-model: ${what}; score its samples with \`rewardiff evaluate\` instead`);
  const bad = plan.findIndex((s, i) => !(s.sigma > 0) && i < plan.length - 1);
  if (bad >= 0) throw new Error(`--eta ${o.eta}: ${what}, sampled with its stochastic chain (σ > 0 at every step but the last); use --eta > 0 or --sampler ddpm`);
  if (!info.control) {
    for (const [flag, v] of [["--context", o.context], ["--control", o.control], ["--cfg-scale", o.cfgScale]] as const) {
      if (v !== undefined) throw new Error(`${flag}: ${what} without a context or control input; sample it like an unconditional model`);
    }
    return;
  }
  const K = info.control.classes;
  if (o.control === undefined) throw new Error(`${what} with a control y (${info.control.names.join(", ")}); pass --control y with y in 0..${K - 1}`);
  if (o.control < 0 || o.control >= K) throw new Error(`--control ${o.control} is outside the classifier's classes 0..${K - 1} of ${o.model}`);
  const C = info.context?.contexts;
  if (C === undefined) {
    if (o.context !== undefined) throw new Error(`--context: ${what} whose pretrained model takes no context`);
  } else {
    if (o.context === undefined) throw new Error(`${what} of a context-conditional p_pre(x | c); pass --context c with c in 0..${C - 1}`);
    if (o.context < 0 || o.context >= C) throw new Error(`--context ${o.context} is outside the model's contexts 0..${C - 1}`);
  }
  if (o.cfgScale !== undefined && o.cfgScale !== 1 && !(info.control.nullProbability > 0)) {
    throw new Error(`--cfg-scale ${o.cfgScale}: ${o.model} was fine-tuned without the null control (nullProbability 0), so it has none to guide against (use --cfg-scale 1)`);
  }
}
