/**
 * The command implementations behind `rewardiff <command>`. Each returns an exit code; errors are
 * thrown as Error with a one-line message and printed by main.ts.
 */
import { resolve } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed, splitKey } from "../backend/keys.js";
import { distanceWithFloor } from "../eval/floor.js";
import { medianHeuristic, mmd2 } from "../eval/mmd.js";
import { slicedWasserstein } from "../eval/sliced-wasserstein.js";
import { parseConfig, readConfig, type ExperimentConfig } from "../runners/config.js";
import { writeCsv } from "../io/csv.js";
import { generate } from "../diffusion/generate.js";
import { loadModel, saveModel } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel, trainingState, type FinetunedInfo, type LoadedModel } from "../io/checkpoints/model.js";
import { finetunedFromLoaded } from "../io/checkpoints/finetuned.js";
import { ctrlSide } from "../finetune/ctrl.js";
import { disposeFinetuned, sampleFinetuned } from "../finetune/finetuned.js";
import { contextInputFor } from "../runners/methods/ctrl.js";
import { samplerPlan } from "../diffusion/sample.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { modelFromConfig, trainFromConfig } from "../runners/model-config.js";
import { configDir, readDataFile, shuffled, taskData } from "../runners/task-data.js";
import { checkMethodsAvailable, runExperiment, type ExperimentResult } from "../runners/experiment.js";
import { disposeTrainState, initTrainState, trainSteps, type TrainConfig } from "../training/trainer.js";
import { checkOutDir, checkOutFile } from "./output.js";
import { lockFolder } from "../io/outputs.js";
import { makeProgress, type Progress } from "./progress.js";
import { resultsTable } from "./table.js";
import { takeRows } from "../data/matrix.js";
import { checkTargetOptions, conditionalTrainCommand, learnedRewardLine, rcgdmTable, sampleConditionalModel } from "./rcgdm-commands.js";

const log = (s: string) => process.stdout.write(`${s}\n`);

function experimentHooks(progress: Progress) {
  return {
    onStage: (s: string) => progress.stage(s),
    onTrain: (p: { step: number; total: number; loss: number }) => progress.update("train ", p.step, p.total, { loss: p.loss }),
    onSample: (d: number, t: number) => progress.update("sample", d, t),
  };
}

function finishExperiment(res: ExperimentResult, outDir: string, progress: Progress): void {
  progress.done();
  log(resultsTable(res.report));
  log(`wrote ${res.files.map((f) => f.replace(`${resolve(outDir)}/`, `${outDir}/`)).join(", ")}`);
}

export interface RunOptions {
  out?: string;
  seed?: number;
  quiet?: boolean;
  force?: boolean;
}

export async function runCommand(configPath: string, o: RunOptions): Promise<number> {
  const cfg = readConfig(configPath);
  if (o.seed !== undefined) cfg.seed = o.seed;
  checkMethodsAvailable(cfg, configPath);
  const outDir = o.out ?? `runs/run-${timestamp()}`;
  checkOutDir(outDir, !!o.force);
  const release = lockFolder(outDir);
  try {
    const progress = makeProgress(!!o.quiet);
    const res = await runExperiment(cfg, outDir, { title: `rewardiff run ${configPath}`, baseDir: configDir(configPath), where: configPath, hooks: experimentHooks(progress) });
    finishExperiment(res, outDir, progress);
    const rcgdm = rcgdmTable(res.report);
    if (rcgdm) log(`\n${rcgdm}`);
  } finally {
    release();
  }
  return 0;
}

/**
 * The embedded default experiment: 2307.07055's linear-subspace simulation (docs/rcgdm.md). A ridge
 * reward is fitted on 1,000 labeled points, 20,000 unlabeled points are pseudo-labelled (ν = 0.1), a
 * conditional diffusion model is trained on them and sampled at targets inside (|a| ≤ 1) and far
 * outside (a ≥ 4) the data's reward range. Sampler: DDIM η = 1 (= DDPM ancestral), which keeps the
 * mean of the exact chain unbiased at any step count (docs/rcgdm.md, "Sampler").
 */
export function demoConfig(quick: boolean, seed: number): ExperimentConfig {
  return parseConfig(
    {
      seed,
      task: { kind: "linear-subspace", ambientDim: 32, latentDim: 8, unlabeled: 20000, labeled: 1000, labelNoise: 0.1, pseudoLabelNoise: 0.1 },
      reward: { kind: "ridge" },
      model: quick
        ? { hidden: 128, layers: 3, timeEmbedding: 32, train: { steps: 1500, batchSize: 256, learningRate: 4e-3, lrSchedule: "cosine" } }
        : { hidden: 256, layers: 3, timeEmbedding: 32, train: { steps: 2000, batchSize: 512, learningRate: 3e-3, lrSchedule: "cosine" } },
      method: { kind: "rcgdm", network: "mlp", scale: 1, dropout: 0.1 },
      sampling: quick
        ? { sampler: "ddim", steps: 50, eta: 1, samples: 500, targets: [0.5, 1, 2, 4, 8] }
        : { sampler: "ddim", steps: 100, eta: 1, samples: 1000, targets: [-1, 0.5, 1, 2, 3, 4, 6, 8] },
    },
    "demo",
  );
}

export async function demoCommand(o: RunOptions & { quick?: boolean }): Promise<number> {
  const outDir = o.out ?? `runs/demo-${timestamp()}`;
  checkOutDir(outDir, !!o.force);
  const cfg = demoConfig(!!o.quick, o.seed ?? 0);
  const release = lockFolder(outDir);
  try {
    const progress = makeProgress(!!o.quiet);
    const res = await runExperiment(cfg, outDir, { title: `rewardiff demo${o.quick ? " --quick" : ""}: reward-directed conditional diffusion on a linear subspace`, hooks: experimentHooks(progress) });
    progress.done();
    log(rcgdmTable(res.report));
    log(`(${res.report.timings.totalSeconds.toFixed(1)} s; exact E[f*|ŷ=a] from fixtures.md §2 for the fitted ridge reward; off/on = off-support deviation / on-support norm)`);
    log(`wrote ${res.files.map((f) => f.replace(`${resolve(outDir)}/`, `${outDir}/`)).join(", ")}`);
  } finally {
    release();
  }
  return 0;
}

export interface TrainOptions {
  task?: string;
  data?: string;
  columns?: string;
  out: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  hidden?: number;
  layers?: number;
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
    pseudoLabelNoise: o.pseudoLabelNoise ?? 0.1,
    dropout: o.dropout ?? 0.1,
    network: o.network ?? "mlp",
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
    const train: TrainConfig = { ...meta.train, steps: o.steps ?? meta.train.steps };
    if (train.steps <= state.step) {
      throw new Error(`${o.steps === undefined ? "the checkpoint's planned steps" : `--steps ${train.steps}`}: the checkpoint is already at step ${state.step}; pass --steps N with N > ${state.step}`);
    }
    progress.stage(`resuming ${o.resume} at step ${state.step} → ${train.steps}`);
    const next = await trainSteps(meta.model, train, state, { x: src.matrix }, { onProgress: (p) => progress.update("train", p.step, p.total, { loss: p.loss }) });
    progress.done();
    await saveModel(o.out, { model: meta.model, train, columns: meta.columns, data: meta.data }, next);
    log(`trained to step ${next.step}; final loss ${next.losses.at(-1)?.loss.toPrecision(4)}; wrote ${o.out}`);
    disposeTrainState(next);
    return 0;
  }
  if (!!o.task === !!o.data) throw new Error("train needs exactly one of --task NAME (moons, 8gaussians, swissroll, checkerboard) or --data FILE");
  const model: Record<string, unknown> = { train: {} };
  if (o.hidden !== undefined) model.hidden = o.hidden;
  if (o.layers !== undefined) model.layers = o.layers;
  const train = model.train as Record<string, unknown>;
  if (o.steps !== undefined) train.steps = o.steps;
  if (o.batchSize !== undefined) train.batchSize = o.batchSize;
  if (o.lr !== undefined) train.learningRate = o.lr;
  const cfg: ExperimentConfig = parseConfig(
    {
      seed: o.seed,
      task: o.task ? { kind: "toy2d", name: o.task.replace(/^toy2d:/, "") } : { kind: "csv", path: resolve(o.data!), ...(columns ? { columns } : {}) },
      model,
    },
    "command line",
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
  await saveModel(o.out, { model: modelCfg, train: trainCfg, columns: data.columns, data: data.name }, state);
  log(`trained ${state.step} steps; final loss ${state.losses.at(-1)?.loss.toPrecision(4) ?? "n/a"}; wrote ${o.out}`);
  disposeTrainState(state);
  return 0;
}

export interface SampleOptions {
  model: string;
  n: number;
  out: string;
  sampler: "ddpm" | "ddim";
  steps: number;
  eta: number;
  seed: number;
  raw?: boolean;
  quiet?: boolean;
  force?: boolean;
  /** Conditional models: the target a (one value per condition dimension), CFG strength w. */
  target?: number[];
  scale?: number;
  /** Print the learned reward of the samples under this reward model. */
  rewardModel?: string;
  /** Fine-tuned CTRL models: the context c, the control y, CFG strength against the null control. */
  context?: number;
  control?: number;
  cfgScale?: number;
}

export async function sampleCommand(o: SampleOptions): Promise<number> {
  if (!["ddpm", "ddim"].includes(o.sampler)) throw new Error(`--sampler must be ddpm or ddim, got "${o.sampler}"`);
  checkOutFile(o.out, !!o.force);
  await ensureBackend();
  const loaded = loadModel(o.model);
  const { meta } = loaded;
  if (o.steps > meta.model.schedule.steps) {
    disposeLoadedModel(loaded);
    throw new Error(`--steps ${o.steps} exceeds the model's ${meta.model.schedule.steps} training timesteps`);
  }
  if (meta.finetuned) return sampleFinetunedCommand(o, loaded);
  try {
    for (const [flag, v] of [["--context", o.context], ["--control", o.control], ["--cfg-scale", o.cfgScale]] as const) {
      if (v !== undefined) throw new Error(`${flag} applies to fine-tuned CTRL models only; ${o.model} is not one`);
    }
    checkTargetOptions(meta, o.model, o.target, o.scale);
  } catch (err) {
    disposeLoadedModel(loaded);
    throw err;
  }
  const weights = o.raw ? trainingState(loaded, `--raw: ${o.model}`).params : loaded.ema;
  const progress = makeProgress(!!o.quiet);
  const sampler = { sampler: o.sampler, steps: o.steps, eta: o.eta };
  const onStep = (d: number, t: number) => progress.update("sample", d, t);
  let x;
  try {
    x = o.target
      ? await sampleConditionalModel(meta, weights, sampler, o.n, o.target, o.scale ?? 1, o.seed, onStep)
      : await generate(meta.model, weights, sampler, o.n, keyFromSeed(o.seed), { onStep });
  } finally {
    disposeLoadedModel(loaded);
  }
  progress.done();
  const rewardLine = o.rewardModel ? await learnedRewardLine(o.rewardModel, meta.columns, x) : undefined;
  writeCsv(o.out, meta.columns, x);
  log(`wrote ${o.n} samples to ${o.out}${o.target ? ` (target ${o.target.join(", ")}, guidance w = ${o.scale ?? 1})` : ""}`);
  if (rewardLine) log(rewardLine);
  return 0;
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
  let x;
  try {
    const sideFor = (rows: number) =>
      info.control
        ? ctrlSide({ contexts: info.context?.contexts ?? 0, contextInput: contextInputFor("value", info.context?.contexts ?? 0), classes: info.control.classes }, new Int32Array(rows).fill(c ?? 0), new Int32Array(rows).fill(y!))
        : [];
    x = (await sampleFinetuned(m, o.n, keyFromSeed(o.seed), sideFor, { cfgScale: o.cfgScale ?? 1 })).samples;
  } finally {
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

export async function evaluateCommand(o: { samples: string; data: string; seed: number; columns?: string }): Promise<number> {
  const columns = o.columns ? o.columns.split(",").map((c) => c.trim()) : undefined;
  const s = readDataFile(o.samples, columns);
  const d = readDataFile(o.data, columns);
  if (s.matrix.cols !== d.matrix.cols) throw new Error(`${o.samples} has ${s.matrix.cols} columns but ${o.data} has ${d.matrix.cols}`);
  if (d.matrix.rows < 4) throw new Error(`${o.data}: ${d.matrix.rows} rows are too few to evaluate against (need at least 4)`);
  await ensureBackend();
  // Two disjoint random halves of the data (shuffled: files are often sorted): one to compare with,
  // one for the data-vs-data floor.
  const half = Math.floor(d.matrix.rows / 2);
  const n = Math.min(s.matrix.rows, half);
  const order = shuffled(d.matrix.rows, o.seed);
  const a = takeRows(d.matrix, order.subarray(0, n));
  const b = takeRows(d.matrix, order.subarray(half, half + n));
  const samples = takeRows(s.matrix, shuffled(s.matrix.rows, o.seed + 1).subarray(0, n));
  const sw = distanceWithFloor((x, y) => slicedWasserstein(x, y, { seed: o.seed }), samples, a, b);
  const bw = medianHeuristic(a);
  const mmd = distanceWithFloor((x, y) => mmd2(x, y, { bandwidth: bw, seed: o.seed }), samples, a, b);
  log(`compared ${n} samples with ${n} data rows (floor: data vs ${n} other data rows)`);
  log(`sliced Wasserstein  ${sw.value.toPrecision(4)}   floor ${sw.floor.toPrecision(4)}   ratio ${sw.ratio === null ? "n/a" : sw.ratio.toPrecision(3)}`);
  log(`MMD²                ${mmd.value.toPrecision(4)}   floor ${mmd.floor.toPrecision(4)}`);
  return 0;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
}
