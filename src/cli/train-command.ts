/** `rewardiff train`: a denoiser on a built-in task or the user's data (or, with --unlabeled, the conditional model of 2307.07055). */
import { resolve } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed, splitKey } from "../backend/keys.js";
import type { HostMatrix } from "../data/matrix.js";
import type { ModelConfig } from "../diffusion/model.js";
import type { ExperimentConfig } from "../runners/config.js";
import { parseFlagConfig } from "./command-line-config.js";
import { loadModel, saveModel, type ModelInfo } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel, trainingDataSha256, trainingState } from "../io/checkpoints/model.js";
import { modelFromConfig, moleculeModelFromConfig, trainFromConfig } from "../runners/model-config.js";
import { MoleculeModelSchema } from "../runners/config-schemas.js";
import { qm9TrainData, smilesTrainData, type MoleculeTrainData } from "../runners/molecule-data.js";
import { readDataFile, taskData, transformField, type TaskData } from "../runners/task-data.js";
import { applyTransform } from "../data/transform.js";
import { disposeTrainState, initTrainState, trainSteps, type TrainConfig, type TrainState } from "../training/trainer.js";
import { shellWord, watchInterrupts } from "./interrupt.js";
import { checkOutFile } from "./output.js";
import { makeProgress } from "./progress.js";
import { conditionalTrainCommand } from "./rcgdm-commands.js";
import type { SharedTrainFlags } from "./train-defaults.js";

import { log } from "./log.js";

export interface TrainOptions extends SharedTrainFlags {
  task?: string;
  data?: string;
  /** Default 0; a resumed run takes the checkpoint's. */
  seed?: number;
  resume?: string;
  /** Save the training checkpoint to --out every this many steps. */
  checkpointEvery?: number;
  /** Conditional training on pseudo-labels (2307.07055; see rcgdm-commands.ts). */
  unlabeled?: string;
  rewardModel?: string;
  pseudoLabelNoise?: number;
  dropout?: number;
  network?: "mlp" | "low-rank";
  rank?: number;
  /** A SMILES CSV to train a molecule model on (docs/molecules.md); `--task qm9` is the shipped QM9. */
  smiles?: string;
  maxAtoms?: number;
}

/** The molecule tasks: `--task qm9` or `--smiles FILE`. */
const isMoleculeRun = (o: TrainOptions) => o.task === "qm9" || o.smiles !== undefined;

async function moleculeData(o: TrainOptions): Promise<MoleculeTrainData> {
  return o.smiles !== undefined ? smilesTrainData(o.smiles, o.maxAtoms) : qm9TrainData();
}

/** `--task qm9` / `--smiles FILE`: the molecule model of docs/molecules.md with the flags' overrides. */
async function moleculePlan(o: TrainOptions): Promise<TrainPlan> {
  for (const [flag, v] of [["--prediction", o.prediction], ["--columns", o.columns], ["--transform", o.transform]] as const) {
    if (v !== undefined) throw new Error(`${flag} ${v}: a molecule model predicts x̂₀ of one-hot graphs with the cross-entropy loss (leave ${flag} out)`);
  }
  const cfg = MoleculeModelSchema.parse({
    ...(o.hidden !== undefined ? { hidden: o.hidden } : {}),
    ...(o.layers !== undefined ? { layers: o.layers } : {}),
    ...(o.schedule !== undefined ? { schedule: { kind: o.schedule } } : {}),
    train: {
      ...(o.steps !== undefined ? { steps: o.steps } : {}),
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      ...(o.lr !== undefined ? { learningRate: o.lr } : {}),
    },
  });
  const data = await moleculeData(o);
  if (data.rejected > 0) log(`${data.name}: ${data.rejected} molecules left out (RDKit cannot sanitise them; data/qm9/README.md)`);
  const seed = o.seed ?? 0;
  const model = moleculeModelFromConfig(cfg, data.layout);
  const train: TrainConfig = { ...cfg.train };
  const info: ModelInfo = {
    model,
    train,
    columns: data.columns,
    data: data.name,
    dataSha256: await trainingDataSha256(data.train),
    seed,
    molecules: data.vocabulary,
  };
  return { model, train, state: initTrainState(model, keyFromSeed(seed)), x: data.train, info, dataArgs: moleculeArgs(o) };
}

function moleculeArgs(o: TrainOptions): string[] {
  return o.smiles !== undefined ? ["--smiles", o.smiles, ...(o.maxAtoms !== undefined ? ["--max-atoms", String(o.maxAtoms)] : [])] : ["--task", "qm9"];
}

/** `train --unlabeled X --reward-model R`: the conditional model of 2307.07055. */
function conditionalTrain(o: TrainOptions): Promise<number> {
  if (o.unlabeled === undefined || o.rewardModel === undefined) {
    throw new Error("conditional training needs both --unlabeled FILE (the data) and --reward-model R (from `rewardiff fit-reward`)");
  }
  if (o.task || o.data || o.resume || o.checkpointEvery !== undefined) {
    throw new Error("--unlabeled/--reward-model cannot be combined with --task, --data, --resume or --checkpoint-every");
  }
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
    seed: o.seed ?? 0,
    quiet: o.quiet,
    force: o.force,
  });
}

/** What a training run starts from: the model, the plan, the state, the data and its checkpoint info. */
interface TrainPlan {
  model: ModelConfig;
  train: TrainConfig;
  state: TrainState;
  x: HostMatrix;
  info: ModelInfo;
  /** The data options to repeat when resuming (--task T | --data F [--columns C]). */
  dataArgs: string[];
}

/** The task config and data of --task/--data, drawn from `seed` exactly as a fresh run draws them. */
async function trainData(o: TrainOptions, seed: number, model: Record<string, unknown>): Promise<{ cfg: ExperimentConfig; data: TaskData; kTrain: ReturnType<typeof keyFromSeed> }> {
  const columns = o.columns ? o.columns.split(",").map((c) => c.trim()) : undefined;
  const cfg: ExperimentConfig = parseFlagConfig(
    {
      seed,
      task: o.task
        ? { kind: "toy2d", name: o.task.replace(/^toy2d:/, "") }
        : { kind: "csv", path: resolve(o.data!), ...(columns ? { columns } : {}), ...(o.transform ? { transform: o.transform } : {}) },
      model,
    },
  );
  const [kTask, kTrain] = splitKey(keyFromSeed(cfg.seed), 2);
  const data = await taskData(cfg.task, kTask!);
  return { cfg, data, kTrain: kTrain! };
}

function dataArgs(o: TrainOptions): string[] {
  if (isMoleculeRun(o)) return moleculeArgs(o);
  if (o.task) return ["--task", o.task];
  // The transform is the checkpoint's: resuming keeps it without --transform.
  return ["--data", o.data!, ...(o.columns !== undefined ? ["--columns", o.columns] : [])];
}

async function freshPlan(o: TrainOptions): Promise<TrainPlan> {
  const model: Record<string, unknown> = { train: {} };
  if (o.hidden !== undefined) model.hidden = o.hidden;
  if (o.layers !== undefined) model.layers = o.layers;
  const train = model.train as Record<string, unknown>;
  if (o.steps !== undefined) train.steps = o.steps;
  if (o.batchSize !== undefined) train.batchSize = o.batchSize;
  if (o.lr !== undefined) train.learningRate = o.lr;
  if (o.schedule !== undefined) model.schedule = { kind: o.schedule };
  if (o.prediction !== undefined) model.prediction = o.prediction;
  const seed = o.seed ?? 0;
  const { cfg, data, kTrain } = await trainData(o, seed, model);
  const modelCfg = modelFromConfig(cfg.model, data.dim);
  const trainCfg = trainFromConfig(cfg.model.train);
  const info: ModelInfo = {
    model: modelCfg,
    train: trainCfg,
    columns: data.columns,
    data: data.name,
    ...transformField(data.transform),
    dataSha256: await trainingDataSha256(data.train),
    seed,
  };
  return { model: modelCfg, train: trainCfg, state: initTrainState(modelCfg, kTrain), x: data.train, info, dataArgs: dataArgs(o) };
}

/**
 * `--resume M`: the checkpoint's model, schedule, optimizer, learning-rate schedule, batch size and seed
 * are kept; its data is drawn again (a built-in task from the stored seed) and must hash to the stored
 * `dataSha256`. Conflicting architecture flags are refused, conflicting --lr/--batch-size/--seed ignored
 * (said in the one settings line), and a different --steps re-plans the schedule (said too).
 */
async function resumePlan(o: TrainOptions): Promise<TrainPlan> {
  const from = o.resume!;
  for (const [flag, v] of [["--schedule", o.schedule], ["--prediction", o.prediction]] as const) {
    if (v !== undefined) throw new Error(`${flag} ${v}: --resume keeps the checkpoint's own ${flag.slice(2)} (leave ${flag} out)`);
  }
  if ([o.task, o.data, o.smiles].filter((v) => v !== undefined).length !== 1) {
    throw new Error(`--resume ${from}: give the data it was trained on, with exactly one of --task NAME, --data FILE or --smiles FILE`);
  }
  const loaded = loadModel(from);
  const { meta } = loaded;
  if (meta.finetuned) {
    disposeLoadedModel(loaded);
    throw new Error(`--resume ${from}: a fine-tuned (${meta.finetuned.method}) model cannot resume denoising training; fine-tune again with \`rewardiff run\``);
  }
  const state = trainingState(loaded, `--resume ${from}`);
  try {
    const net = meta.model.network as { kind: string; hidden?: number; layers?: number };
    for (const [flag, given, kept] of [["--hidden", o.hidden, net.hidden], ["--layers", o.layers, net.layers]] as const) {
      if (given !== undefined && given !== kept) {
        throw new Error(`${flag} ${given}: ${from} was trained with ${flag.slice(2)} ${kept ?? "(none)"}, and a resumed run keeps the checkpoint's architecture; drop ${flag}`);
      }
    }
    const train: TrainConfig = { ...meta.train, steps: o.steps ?? meta.train.steps };
    if (train.steps <= state.step) {
      throw new Error(`${o.steps === undefined ? `${from}: the planned ${train.steps} steps` : `--steps ${train.steps}`}: the checkpoint is already at step ${state.step}; pass --steps N with N > ${state.step}`);
    }
    const ignored: string[] = [];
    if (o.lr !== undefined && o.lr !== meta.train.learningRate) ignored.push(`--lr ${o.lr}`);
    if (o.batchSize !== undefined && o.batchSize !== meta.train.batchSize) ignored.push(`--batch-size ${o.batchSize}`);
    const seed = meta.seed ?? o.seed ?? 0;
    if (o.seed !== undefined && o.seed !== seed) ignored.push(`--seed ${o.seed}`);
    const stored = meta.transform ?? { kind: "none" as const };
    if (o.transform !== undefined && o.transform !== stored.kind) {
      throw new Error(`--transform ${o.transform}: ${from} was trained with the "${stored.kind}" transform, which resuming keeps (leave --transform out)`);
    }
    // A built-in task is drawn again from the seed; a data file goes through the checkpoint's own
    // transform, as fitted on the first run's data (not refitted), so other data cannot hash the same.
    let x: HostMatrix;
    let name: string;
    if (isMoleculeRun(o)) {
      if (!meta.molecules) throw new Error(`--resume ${from}: not a molecule model (it was trained on ${meta.data}); give its data with --task or --data`);
      const data = await moleculeData(o);
      x = data.train;
      name = data.name;
    } else if (o.task) {
      const { data, kTrain } = await trainData(o, seed, { train: {} });
      kTrain.dispose();
      x = data.train;
      name = data.name;
    } else {
      const columns = o.columns ? o.columns.split(",").map((c) => c.trim()) : undefined;
      x = applyTransform(stored, readDataFile(resolve(o.data!), columns).matrix);
      name = `csv:${resolve(o.data!)}`;
    }
    const where = o.data ? `--data ${o.data}${o.columns !== undefined ? ` --columns ${o.columns}` : ""}` : o.smiles !== undefined ? `--smiles ${o.smiles}` : `--task ${o.task}`;
    if (x.cols !== meta.model.network.dataDim) {
      throw new Error(`${where}: ${x.cols} columns, but the model in ${from} was trained on ${meta.model.network.dataDim}`);
    }
    const hash = await trainingDataSha256(x);
    if (meta.dataSha256 !== undefined && hash !== meta.dataSha256) {
      throw new Error(`${where}: not the data ${from} was trained on (${meta.data}, sha256 ${meta.dataSha256.slice(0, 12)}…; given ${name}, sha256 ${hash.slice(0, 12)}…); resume with the same data`);
    }
    const t = meta.train;
    const lr = `lr ${t.learningRate}, ${t.lrSchedule}${t.warmupSteps > 0 ? `, warm-up ${t.warmupSteps}` : ""}`;
    log(
      `resuming ${from} at step ${state.step} of ${train.steps}: keeps its model (${net.kind}${net.hidden !== undefined ? ` ${net.hidden}×${net.layers}` : ""}), ` +
        `schedule (${meta.model.schedule.kind}, ${meta.model.schedule.steps} steps), optimizer and lr schedule (${lr}), batch size ${t.batchSize} and seed ${seed}` +
        `${ignored.length > 0 ? `; ignored: ${ignored.join(", ")}` : ""}${meta.dataSha256 === undefined ? "; data not checked (the checkpoint has no data hash)" : ""}`,
    );
    if (train.steps !== meta.train.steps) {
      log(`--steps ${train.steps} re-plans the learning-rate schedule (the checkpoint planned ${meta.train.steps} steps): the result differs from a straight ${train.steps}-step run`);
    }
    const info: ModelInfo = {
      model: meta.model,
      train,
      columns: meta.columns,
      data: meta.data,
      ...transformField(stored),
      dataSha256: hash,
      seed,
      ...(meta.molecules ? { molecules: meta.molecules } : {}),
    };
    return { model: meta.model, train, state, x, info, dataArgs: dataArgs(o) };
  } catch (err) {
    disposeTrainState(state);
    throw err;
  }
}

export async function trainCommand(o: TrainOptions): Promise<number> {
  if (o.unlabeled !== undefined || o.rewardModel !== undefined) return conditionalTrain(o);
  for (const [flag, v] of [["--pseudo-label-noise", o.pseudoLabelNoise], ["--dropout", o.dropout], ["--network", o.network], ["--rank", o.rank]] as const) {
    if (v !== undefined) throw new Error(`${flag} applies to conditional training only (with --unlabeled FILE --reward-model R)`);
  }
  if (!o.out.endsWith(".safetensors")) throw new Error(`--out ${o.out}: a model path must end in .safetensors`);
  // Resuming in place (--out = --resume) replaces the checkpoint it continues: no --force needed.
  const inPlace = o.resume !== undefined && resolve(o.resume) === resolve(o.out);
  checkOutFile(o.out, !!o.force || inPlace);
  if (!o.resume && [o.task, o.data, o.smiles].filter((v) => v !== undefined).length !== 1) {
    throw new Error("train needs exactly one of --task NAME (moons, 8gaussians, swissroll, checkerboard, qm9), --data FILE or --smiles FILE");
  }
  if (o.maxAtoms !== undefined && o.smiles === undefined) throw new Error("--max-atoms applies to --smiles FILE only");
  if (o.task && o.task !== "qm9" && o.transform) throw new Error(`--transform applies to --data only: the built-in task ${o.task} is unit-scale already`);
  await ensureBackend();
  const progress = makeProgress(!!o.quiet);

  const plan = o.resume ? await resumePlan(o) : isMoleculeRun(o) ? await moleculePlan(o) : await freshPlan(o);
  const { model, train, info, x } = plan;
  progress.stage(
    o.resume
      ? `resuming ${o.resume} at step ${plan.state.step} → ${train.steps}`
      : `training on ${info.data} (${x.rows} rows, ${x.cols} dims) for ${train.steps} steps`,
  );
  const watch = watchInterrupts(() => progress.done());
  try {
    const next = await trainSteps(model, train, plan.state, { x }, {
      onProgress: (p) => progress.update("train", p.step, p.total, { loss: p.loss }),
      signal: watch.signal,
      checkpointEvery: o.checkpointEvery,
      onCheckpoint: (s) => saveModel(o.out, info, s),
    });
    progress.done();
    try {
      await saveModel(o.out, info, next);
    } finally {
      disposeTrainState(next);
    }
    if (next.step < train.steps) {
      const resume = ["rewardiff", "train", "--resume", o.out, "--out", o.out, ...plan.dataArgs].map(shellWord).join(" ");
      process.stderr.write(`rewardiff: stopped at step ${next.step} of ${train.steps}; checkpoint saved to ${o.out}; resume with: ${resume}\n`);
      return watch.exitCode();
    }
    log(`trained ${o.resume ? `to step ${next.step}` : `${next.step} steps`}; final loss ${next.losses.at(-1)?.loss.toPrecision(4) ?? "n/a"}; wrote ${o.out}`);
    return 0;
  } finally {
    progress.done();
    watch.dispose();
  }
}
