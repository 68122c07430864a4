/** `rewardiff train`: a denoiser on a built-in task or the user's data (or, with --unlabeled, the conditional model of 2307.07055). */
import { resolve } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed, splitKey } from "../backend/keys.js";
import type { ExperimentConfig } from "../runners/config.js";
import { parseFlagConfig } from "./command-line-config.js";
import { loadModel, saveModel } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel, trainingState } from "../io/checkpoints/model.js";
import { modelFromConfig, trainFromConfig } from "../runners/model-config.js";
import { readDataFile, taskData, transformField } from "../runners/task-data.js";
import { applyTransform, type TransformKind } from "../data/transform.js";
import { disposeTrainState, initTrainState, trainSteps, type TrainConfig } from "../training/trainer.js";
import { checkOutFile } from "./output.js";
import { makeProgress } from "./progress.js";
import { conditionalTrainCommand } from "./rcgdm-commands.js";
import type { TrainPrediction, TrainSchedule } from "./train-defaults.js";

import { log } from "./log.js";

export interface TrainOptions {
  task?: string;
  data?: string;
  columns?: string;
  /** --data: the per-feature data transform (src/data/transform.ts; default: the csv task schema's). */
  transform?: TransformKind;
  out: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  hidden?: number;
  layers?: number;
  /** Noise schedule and parameterisation (defaults: the config schema's, ./train-defaults.ts). */
  schedule?: TrainSchedule;
  prediction?: TrainPrediction;
  seed: number;
  resume?: string;
  quiet?: boolean;
  force?: boolean;
  /** Conditional training on pseudo-labels (2307.07055; see rcgdm-commands.ts). */
  unlabeled?: string;
  rewardModel?: string;
  pseudoLabelNoise?: number;
  dropout?: number;
  network?: "mlp" | "low-rank";
  rank?: number;
}

/** `train --unlabeled X --reward-model R`: the conditional model of 2307.07055. */
function conditionalTrain(o: TrainOptions): Promise<number> {
  if (o.unlabeled === undefined || o.rewardModel === undefined) {
    throw new Error("conditional training needs both --unlabeled FILE (the data) and --reward-model R (from `rewardiff fit-reward`)");
  }
  if (o.task || o.data || o.resume) throw new Error("--unlabeled/--reward-model cannot be combined with --task, --data or --resume");
  return conditionalTrainCommand({
    unlabeled: o.unlabeled,
    rewardModel: o.rewardModel,
    ...(o.columns !== undefined ? { columns: o.columns } : {}),
    out: o.out,
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.lr !== undefined ? { lr: o.lr } : {}),
    ...(o.hidden !== undefined ? { hidden: o.hidden } : {}),
    ...(o.layers !== undefined ? { layers: o.layers } : {}),
    ...(o.schedule !== undefined ? { schedule: o.schedule } : {}),
    ...(o.prediction !== undefined ? { prediction: o.prediction } : {}),
    pseudoLabelNoise: o.pseudoLabelNoise ?? 0.1,
    dropout: o.dropout ?? 0.1,
    network: o.network ?? "mlp",
    ...(o.transform !== undefined ? { transform: o.transform } : {}),
    ...(o.rank !== undefined ? { rank: o.rank } : {}),
    seed: o.seed,
    quiet: o.quiet,
    force: o.force,
  });
}

export async function trainCommand(o: TrainOptions): Promise<number> {
  if (o.unlabeled !== undefined || o.rewardModel !== undefined) return conditionalTrain(o);
  for (const [flag, v] of [["--pseudo-label-noise", o.pseudoLabelNoise], ["--dropout", o.dropout], ["--network", o.network], ["--rank", o.rank]] as const) {
    if (v !== undefined) throw new Error(`${flag} applies to conditional training only (with --unlabeled FILE --reward-model R)`);
  }
  if (!o.out.endsWith(".safetensors")) throw new Error(`--out ${o.out}: a model path must end in .safetensors`);
  checkOutFile(o.out, !!o.force);
  await ensureBackend();
  const progress = makeProgress(!!o.quiet);

  const columns = o.columns ? o.columns.split(",").map((c) => c.trim()) : undefined;
  if (o.resume) {
    for (const [flag, v] of [["--schedule", o.schedule], ["--prediction", o.prediction]] as const) {
      if (v !== undefined) throw new Error(`${flag} ${v}: --resume keeps the checkpoint's own ${flag.slice(2)} (leave ${flag} out)`);
    }
    const loaded = loadModel(o.resume);
    const { meta } = loaded;
    if (meta.finetuned) {
      disposeLoadedModel(loaded);
      throw new Error(`--resume ${o.resume}: a fine-tuned (${meta.finetuned.method}) model cannot resume denoising training; fine-tune again with \`rewardiff run\``);
    }
    const state = trainingState(loaded, `--resume ${o.resume}`);
    const src = o.data ? readDataFile(o.data, columns) : undefined;
    if (!src) throw new Error("--resume needs --data with the same data file (or use `rewardiff run` for built-in tasks)");
    if (src.matrix.cols !== meta.model.network.dataDim) {
      throw new Error(`${o.data}: ${src.matrix.cols} columns, but the model in ${o.resume} was trained on ${meta.model.network.dataDim}`);
    }
    const stored = meta.transform ?? { kind: "none" };
    if (o.transform !== undefined && o.transform !== stored.kind) {
      disposeLoadedModel(loaded);
      throw new Error(`--transform ${o.transform}: ${o.resume} was trained with the "${stored.kind}" transform, which resuming keeps (leave --transform out)`);
    }
    const train: TrainConfig = { ...meta.train, steps: o.steps ?? meta.train.steps };
    if (train.steps <= state.step) {
      throw new Error(`${o.steps === undefined ? "the checkpoint's planned steps" : `--steps ${train.steps}`}: the checkpoint is already at step ${state.step}; pass --steps N with N > ${state.step}`);
    }
    progress.stage(`resuming ${o.resume} at step ${state.step} → ${train.steps}`);
    // The checkpoint's own transform, as fitted on the first run's data (not refitted).
    const next = await trainSteps(meta.model, train, state, { x: applyTransform(stored, src.matrix) }, { onProgress: (p) => progress.update("train", p.step, p.total, { loss: p.loss }) });
    progress.done();
    await saveModel(o.out, { model: meta.model, train, columns: meta.columns, data: meta.data, ...transformField(stored) }, next);
    log(`trained to step ${next.step}; final loss ${next.losses.at(-1)?.loss.toPrecision(4)}; wrote ${o.out}`);
    disposeTrainState(next);
    return 0;
  }
  if (!!o.task === !!o.data) throw new Error("train needs exactly one of --task NAME (moons, 8gaussians, swissroll, checkerboard) or --data FILE");
  if (o.task && o.transform) throw new Error(`--transform applies to --data only: the built-in task ${o.task} is unit-scale already`);
  const model: Record<string, unknown> = { train: {} };
  if (o.hidden !== undefined) model.hidden = o.hidden;
  if (o.layers !== undefined) model.layers = o.layers;
  const train = model.train as Record<string, unknown>;
  if (o.steps !== undefined) train.steps = o.steps;
  if (o.batchSize !== undefined) train.batchSize = o.batchSize;
  if (o.lr !== undefined) train.learningRate = o.lr;
  if (o.schedule !== undefined) model.schedule = { kind: o.schedule };
  if (o.prediction !== undefined) model.prediction = o.prediction;
  const cfg: ExperimentConfig = parseFlagConfig(
    {
      seed: o.seed,
      task: o.task ? { kind: "toy2d", name: o.task.replace(/^toy2d:/, "") } : { kind: "csv", path: resolve(o.data!), ...(columns ? { columns } : {}), ...(o.transform ? { transform: o.transform } : {}) },
      model,
    },
  );
  const [kTask, kTrain] = splitKey(keyFromSeed(cfg.seed), 2);
  const data = await taskData(cfg.task, kTask!);
  const modelCfg = modelFromConfig(cfg.model, data.dim);
  const trainCfg = trainFromConfig(cfg.model.train);
  progress.stage(`training on ${data.name} (${data.train.rows} rows, ${data.dim} dims) for ${trainCfg.steps} steps`);
  const state = await trainSteps(modelCfg, trainCfg, initTrainState(modelCfg, kTrain!), { x: data.train }, {
    onProgress: (p) => progress.update("train", p.step, p.total, { loss: p.loss }),
  });
  progress.done();
  await saveModel(o.out, { model: modelCfg, train: trainCfg, columns: data.columns, data: data.name, ...transformField(data.transform) }, state);
  log(`trained ${state.step} steps; final loss ${state.losses.at(-1)?.loss.toPrecision(4) ?? "n/a"}; wrote ${o.out}`);
  disposeTrainState(state);
  return 0;
}
