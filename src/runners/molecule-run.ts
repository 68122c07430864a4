/**
 * A molecule run (`rewardiff run` with `task.kind` "qm9" or "smiles"; docs/molecules.md "Runs"): a pretrained
 * molecule model is loaded (or one is trained on the task's molecules), every method of the config samples
 * graph rows (the registered method modules: "best-of-n", "svdd", and the fine-tuning methods "rwr", "rgdm",
 * "ddpo", which tune a copy of the model; "none" samples the model as is), each row is decoded without valence
 * correction, and each method's row reports the oracle reward (mean over all samples, invalid ones at the
 * reward's `invalidReward`, and over the valid ones), its cost in reward evaluations, and
 * validity, uniqueness, novelty, fragmented and KL score beside their data-vs-data floors
 * (src/runners/molecule-evaluation.ts). Writes report.json, report.html (a molecule grid per method), one
 * samples CSV per method, each tuned model (`model-<label>.safetensors`) and, when trained here, the model.
 *
 * Fine-tuning: `ctx.base()` is the pretrained model as a training state (built once per run, disposed with
 * it): a copy of its EMA weights, a fresh optimizer state and the sidecar's train config; `ctx.data.train` is
 * the task's molecules as graph rows, encoded only before the first method that reads them (rgdm), QM9 as a
 * seeded sample sized to that method's steps × batch; `ctx.data.snap` gives one-hot targets (./molecule-snap.ts).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed, splitKey } from "../backend/keys.js";
import { canonicalize, moleculeMetrics, prepareMetricsData, type MoleculeMetrics } from "../chem/metrics.js";
import { decodeGraph, graphFromRow, graphRowLength, type GraphVocabulary } from "../chem/graph.js";
import { PROPERTY_RANGES, propertyOfSmiles, type MoleculeProperty } from "../chem/oracles.js";
import { readSmilesCsvFile } from "../chem/qm9-node.js";
import { loadRDKit, type RDKit } from "../chem/rdkit.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { IDENTITY_TRANSFORM } from "../data/transform.js";
import { generate } from "../diffusion/generate.js";
import type { ModelConfig } from "../diffusion/model.js";
import { summary } from "../eval/stats.js";
import { writeFileAtomic } from "../io/atomic.js";
import { loadModel, saveModel, type ModelInfo } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel, trainingDataSha256 } from "../io/checkpoints/model.js";
import { checkDistinctFileNames, fileLabel, modelFileNames, trainCheckpointFileName } from "../io/outputs.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { renderMoleculeRunHtml, type MoleculeRunMethodView } from "../report/molecule-run-html.js";
import type { Report, ResultRow } from "../report/types.js";
import { writeReport } from "../report/write.js";
import { defaultTrainConfig, denoiserStep, disposeTrainState, initTrainState, trainSteps, type TrainConfig, type TrainState } from "../training/trainer.js";
import { tree, type JArray } from "../backend/jax.js";
import { keyToWords, split2 } from "../backend/keys.js";
import { methodPath, methodsOf, type RunConfig } from "./config-schemas.js";
import { checkUniqueLabels, methodLabels } from "./labels.js";
import { newRunState, type BaseModel, type ExperimentHooks, type MethodContext, type MethodOutput } from "./methods/context.js";
import type { RcgdmMethodConfig } from "./methods/rcgdm.js";
import { methodModule } from "./methods/registry.js";
import { snapGraphRows } from "./molecule-snap.js";
import { moleculeModelFromConfig } from "./model-config.js";
import { moleculeColumns, qm9TrainData, smilesTrainData, type MoleculeTrainData } from "./molecule-data.js";
import { moleculeEvaluationData, type MoleculeEvaluationData } from "./molecule-evaluation.js";
import { dftTargetSummary, prepareDftReward } from "./molecule-dft.js";
import { runMoleculeRcgdm } from "./molecule-rcgdm.js";
import { MOLECULE_ANCHORS, moleculeTiles } from "./molecule-report.js";
import type { MoleculeRunConfig } from "./molecule-run-config.js";
import { SHIPPED_MODELS, decodeMoleculeRows, formatMoleculeSamplesCsv, moleculeVocabulary, resolveModelPath, type MoleculeSample } from "./molecule-sampling.js";
import type { TaskData } from "./task-data.js";

/** The metrics a molecule row reports beside their floor, in order (src/chem/metrics.ts). */
export const MOLECULE_ROW_METRICS = ["validity", "uniqueness", "novelty", "fragmented", "klScore"] as const;

export interface MoleculeRunResult {
  report: Report;
  /** Decoded samples per method row label. */
  samples: { label: string; molecules: MoleculeSample[] }[];
  files: string[];
}

/** The base model of a molecule run: its config, vocabulary and sampling weights (owned by the run). */
interface MoleculeBase {
  model: ModelConfig;
  vocab: GraphVocabulary;
  weights: DenoiserParams;
  /** The model's train config (the sidecar's `train` for a pretrained model): what fine-tuning starts from. */
  train: TrainConfig;
  /** Set when the model was trained in this run. */
  trained?: { base: BaseModel; info: ModelInfo };
  /** Where the model came from: the pretrained file, or the data it was trained on. */
  source: string;
  dispose(): void;
}

/** File name of a sample set in a molecule run's folder (as `rewardiff run`'s: src/runners/experiment.ts); `count` sets in the run. */
function samplesFile(label: string, count: number): string {
  return count === 1 ? "samples.csv" : `samples-${fileLabel(label)}.csv`;
}

/** The error of the valid samples' property to a row's target: mean |y − a| and mean y − a. */
function targetError(valid: ArrayLike<number>, target: number): { mae: number; bias: number } | null {
  if (valid.length === 0) return null;
  const v = Array.from(valid);
  return { mae: v.reduce((a, y) => a + Math.abs(y - target), 0) / v.length, bias: v.reduce((a, y) => a + y - target, 0) / v.length };
}

/**
 * The reward of graph rows: each row decoded by argmax (no valence correction) and measured by `measure`
 * (the oracle property, or a DFT reward's evaluator φ; the invalid molecules' value is its own) (the methods
 * count their calls in their row's `cost`).
 */
export function moleculeRowReward(rdkit: RDKit, vocab: GraphVocabulary, measure: (smiles: (string | null)[]) => ArrayLike<number>, name: string): (x: HostMatrix) => Float32Array {
  const width = graphRowLength(vocab);
  return (x) => {
    if (x.cols !== width) throw new Error(`reward "${name}": rows must hold ${width} values (a graph with maxAtoms ${vocab.maxAtoms}), got ${x.cols}`);
    const smiles = Array.from({ length: x.rows }, (_, i) => decodeGraph(rdkit, graphFromRow(x.data.subarray(i * width, (i + 1) * width), vocab), vocab).smiles);
    return Float32Array.from(measure(smiles));
  };
}

/** The SMILES of the task's CSV as a set of valid, canonical molecules (one line listing the rows RDKit refuses). */
function smilesSet(rdkit: RDKit, path: string, where: string): { name: string; smiles: string[] } {
  const table = readSmilesCsvFile(path);
  const canonical = canonicalize(rdkit, table.smiles);
  const bad = table.lines.filter((_, i) => canonical[i] === null);
  if (bad.length > 0) throw new Error(`${where}: task.path ${path}: ${bad.length} of ${table.smiles.length} SMILES are not molecules RDKit can sanitise (line${bad.length === 1 ? "" : "s"} ${bad.slice(0, 8).join(", ")}${bad.length > 8 ? ", …" : ""})`);
  if (canonical.length < 4) throw new Error(`${where}: task.path ${path}: ${canonical.length} molecules are too few (need at least 4: half are the reference, half the floor's data sample)`);
  return { name: path, smiles: canonical as string[] };
}

/** The metric values of one set (null where undefined: no valid molecule, or fewer than two distinct for the KL score). */
function metricValues(m: MoleculeMetrics): Record<(typeof MOLECULE_ROW_METRICS)[number], number | null> {
  const anyValid = m.validity > 0;
  return { validity: m.validity, uniqueness: anyValid ? m.uniqueness : null, novelty: anyValid ? m.novelty : null, fragmented: anyValid ? m.fragmented : null, klScore: m.kl?.score ?? null };
}

/**
 * What a molecule run checks before any work (the command checks it before it takes its output folder):
 * unique row labels and samples file names, the pretrained model (`"qm9"`: the shipped one; else a path relative to the config's
 * folder) and a smiles task's CSV. Returns the model's path (undefined when the run trains one).
 */
export function checkMoleculeInputs(cfg: MoleculeRunConfig, baseDir: string, where: string): string | undefined {
  checkUniqueLabels(cfg, where);
  const labels = methodLabels(cfg);
  // rcgdm writes one file per target (samples-<label>-a=<target>.csv, checked when they are written).
  checkDistinctFileNames(labels, (l) => samplesFile(l, labels.length), where);
  checkDistinctFileNames(labels, modelFileNames, where);
  if (cfg.task.kind === "smiles") {
    const data = resolve(baseDir, cfg.task.path);
    if (!existsSync(data)) throw new Error(`${where}: task.path: ${data}: no such file`);
  }
  for (const [i, m] of methodsOf(cfg).entries()) for (const key of RCGDM_MODEL_KEYS) rcgdmModelPath(m, key, methodAt(cfg, i), baseDir, where);
  const pretrained = cfg.model.pretrained;
  if (pretrained === undefined) return undefined;
  return configModelPath(pretrained, baseDir, `${where}: model.pretrained`, `a molecule model from \`rewardiff train --task qm9\` or \`--smiles FILE\`, or "qm9" for the shipped one`);
}

/** A model file a config names: a path relative to the config's folder, else a shipped model's name (SHIPPED_MODELS). */
function configModelPath(name: string, baseDir: string, where: string, hint: string): string {
  const local = resolve(baseDir, name);
  if (existsSync(local)) return local;
  if (SHIPPED_MODELS[name] !== undefined) return resolveModelPath(name, where);
  throw new Error(`${where}: ${local}: no such file (${hint})`);
}

/** The config path of method `i` as text ("method[i]", or "method" when the config has one): {@link methodPath}'s. */
function methodAt(cfg: MoleculeRunConfig, i: number): string {
  const [name, k] = methodPath(cfg, i);
  return k === undefined ? String(name) : `${String(name)}[${k}]`;
}

/**
 * A molecule run resumed in its folder (`run --resume DIR`): the training checkpoints there
 * (model-<label>-train.safetensors, which `molecules.checkpointEvery` writes) of the rcgdm rows that fine-tune (the
 * conditional variant without a `molecules.conditionalModel` of its own), by label. Each such row fine-tunes on from
 * its file, which must come from the row as a `conditionalModel` must (src/runners/molecule-rcgdm-saved.ts).
 */
export function rcgdmResumeCheckpoints(cfg: MoleculeRunConfig, dir: string): Map<string, string> {
  const labels = methodLabels(cfg);
  const found = new Map<string, string>();
  for (const [i, method] of methodsOf(cfg).entries()) {
    if (method.kind !== "rcgdm") continue;
    const m = method as RcgdmMethodConfig;
    if (m.variant === "target-guidance" || m.molecules?.conditionalModel !== undefined) continue;
    const path = resolve(dir, trainCheckpointFileName(labels[i]!));
    if (existsSync(path)) found.set(labels[i]!, path);
  }
  return found;
}

/** The model files an rcgdm row may name under `molecules`. */
const RCGDM_MODEL_KEYS = ["conditionalModel", "startFrom"] as const;

/** An rcgdm row's `molecules.conditionalModel` or `.startFrom` resolved (undefined when absent; `at`: the method's config path). */
function rcgdmModelPath(method: { kind: string }, key: (typeof RCGDM_MODEL_KEYS)[number], at: string, baseDir: string, where: string): string | undefined {
  if (method.kind !== "rcgdm") return undefined;
  const name = (method as RcgdmMethodConfig).molecules?.[key];
  if (name === undefined) return undefined;
  return configModelPath(name, baseDir, `${where}: ${at}.molecules.${key}`, "the model-<label>.safetensors an rcgdm row wrote, or a shipped model's name");
}

/** Loads the pretrained model, or trains one on the task's molecules (saved by the caller). */
async function moleculeBase(
  cfg: MoleculeRunConfig,
  baseDir: string,
  where: string,
  hooks: ExperimentHooks,
  key: ReturnType<typeof keyFromSeed>,
  taskData: () => Promise<MoleculeTrainData>,
): Promise<MoleculeBase> {
  const m = cfg.model;
  if (m.pretrained !== undefined) {
    key.dispose();
    const path = checkMoleculeInputs(cfg, baseDir, where)!;
    const loaded = loadModel(path);
    try {
      const vocab = moleculeVocabulary(loaded.meta, `${where}: model.pretrained ${path}`);
      if (cfg.sampling.steps > loaded.meta.model.schedule.steps) throw new Error(`${where}: sampling.steps: ${cfg.sampling.steps} sampling steps exceed the pretrained model's ${loaded.meta.model.schedule.steps} training timesteps`);
      return { model: loaded.meta.model, vocab, weights: loaded.ema, train: loaded.meta.train, source: path, dispose: () => disposeLoadedModel(loaded) };
    } catch (err) {
      disposeLoadedModel(loaded);
      throw err;
    }
  }
  const data = await taskData();
  const { pretrained: _none, train: t, ...arch } = m;
  const model = moleculeModelFromConfig({ ...arch, train: t }, data.layout);
  const train: TrainConfig = { ...t };
  hooks.onStage?.(`training a molecule model on ${data.name} (${data.train.rows} molecules) for ${train.steps} steps`);
  const t0 = performance.now();
  const state = await trainSteps(model, train, initTrainState(model, key), { x: data.train }, { onProgress: (p) => hooks.onTrain?.(p, "base") });
  const info: ModelInfo = { model, train, columns: data.columns, data: data.name, dataSha256: await trainingDataSha256(data.train), seed: cfg.seed, molecules: data.vocabulary };
  const base: BaseModel = { model, train, state: Object.assign(state, { losses: state.losses }), trainSeconds: (performance.now() - t0) / 1000 };
  return { model, vocab: data.vocabulary, weights: state.ema, train, trained: { base, info }, source: data.name, dispose: () => disposeTrainState(state) };
}

/**
 * A pretrained model as a training state (what `ctx.base()` gives the fine-tuning methods): params and EMA
 * are copies of `weights` (the loaded EMA, untouched), the optimizer state is fresh, the train config is the
 * sidecar's. The caller disposes it (the run's state does).
 */
export function pretrainedTrainState(model: ModelConfig, train: TrainConfig, weights: DenoiserParams, seed: number): BaseModel {
  const params = tree.map((a: JArray) => a.mul(1), tree.ref(weights)) as DenoiserParams;
  const [key, kData] = split2(keyFromSeed((seed ^ 0x9e7a1ed) >>> 0));
  const dataSeed = keyToWords(kData)[0];
  kData.dispose();
  // The optimizer's state does not depend on the schedule (as initTrainState).
  const state = denoiserStep(model, defaultTrainConfig, false, false, 0).init(params, key, dataSeed) as TrainState;
  return { model, train, state: Object.assign(state, { losses: [] as { step: number; loss: number }[] }), trainSeconds: 0 };
}

/** Method kinds that read the task's training rows (`ctx.data.train`) in a molecule run. */
const READS_TRAINING_ROWS: readonly string[] = ["rgdm"];
/** Fewest QM9 rows a method that reads them gets (a seeded sample; more when its steps × batch need more). */
const MIN_TRAINING_ROWS = 4096;

/** Runs a molecule config into `outDir` (report.json, report.html, samples CSVs, the model when trained here). */
export async function runMoleculeExperiment(
  cfg: MoleculeRunConfig,
  outDir: string,
  opts: {
    title?: string;
    baseDir?: string;
    where?: string;
    hooks?: ExperimentHooks;
    /** Resume in `outDir`: rcgdm rows fine-tune on from their training checkpoints there ({@link rcgdmResumeCheckpoints}). */
    resume?: boolean;
  } = {},
): Promise<MoleculeRunResult> {
  const where = opts.where ?? "config";
  const baseDir = opts.baseDir ?? ".";
  const hooks = opts.hooks ?? {};
  const methods = methodsOf(cfg);
  const labels = methodLabels(cfg);
  const resumeFrom = opts.resume ? rcgdmResumeCheckpoints(cfg, outDir) : new Map<string, string>();
  const started = performance.now();
  await ensureBackend();
  checkMoleculeInputs(cfg, baseDir, where);
  const rdkit = await loadRDKit();
  // Inputs before any work: the task's molecules (a smiles task's file is the metrics' reference) and the model.
  const taskSet = cfg.task.kind === "smiles" ? smilesSet(rdkit, resolve(baseDir, cfg.task.path), where) : undefined;
  const [kTrain, ...kMethods] = splitKey(keyFromSeed(cfg.seed), 1 + methods.length);
  // The task's molecules as graph rows, encoded once (a trained base model and rcgdm's labels use them).
  let encoded: Promise<MoleculeTrainData> | undefined;
  const task = cfg.task;
  const taskData = () => (encoded ??= task.kind === "qm9" ? qm9TrainData() : smilesTrainData(resolve(baseDir, task.path), task.maxAtoms));
  const base = await moleculeBase(cfg, baseDir, where, hooks, kTrain!, taskData);
  const state = newRunState();
  try {
    // The reward: an RDKit oracle property, or a DFT property's evaluator φ (./molecule-dft.ts).
    const rc = cfg.reward;
    const dft = rc.kind === "dft" ? prepareDftReward(rdkit, rc, base.vocab, where) : undefined;
    const property = rc.property;
    const invalid = rc.kind === "dft" ? dft!.invalid : (rc.invalidReward ?? PROPERTY_RANGES[rc.property][0]);
    const measure = (smiles: (string | null)[]): ArrayLike<number> =>
      rc.kind === "dft" ? dft!.ofSmiles(smiles) : propertyOfSmiles(rdkit, smiles, rc.property as MoleculeProperty, { invalidReward: invalid, ...(rc.fragmentedReward !== undefined ? { fragmentedReward: rc.fragmentedReward } : {}) });
    if (dft) hooks.onStage?.(`reward "dft": ${property} of ${(dft.section.data as { labelled: number }).labelled} labelled QM9 molecules; evaluator φ fitted on half B`);
    const reward = moleculeRowReward(rdkit, base.vocab, measure, property);
    const dim = graphRowLength(base.vocab);
    const n = cfg.sampling.samples;
    const sampler = { sampler: cfg.sampling.sampler, steps: cfg.sampling.steps, eta: cfg.sampling.eta };
    const empty = hostMatrix(0, dim, new Float32Array(0));
    const vocab = base.vocab;
    const data: TaskData = {
      name: cfg.task.kind === "qm9" ? "qm9" : `smiles:${cfg.task.path}`,
      dim,
      columns: moleculeColumns(vocab),
      // Filled in before the first method that reads training rows (below).
      train: empty,
      snap: (x) => snapGraphRows(x, vocab),
      molecules: { atoms: [...vocab.atoms], bonds: [...vocab.bonds], maxAtoms: vocab.maxAtoms },
      transform: IDENTITY_TRANSFORM,
      toData: (x) => x,
      // Molecule rows are measured by the chemistry metrics below, not by distances to fresh data rows.
      evalSets: async () => [empty, empty],
      reward,
    };
    // The method modules read the run's seed, samples and method entry (none reads the task or model config).
    const runCfg = { seed: cfg.seed, task: cfg.task, reward: undefined, model: {}, sampling: { ...sampler, samples: n }, method: cfg.method } as unknown as RunConfig;
    const trainingState = async (): Promise<BaseModel> => {
      if (base.trained) return base.trained.base;
      return state.memo("molecule-base", () => pretrainedTrainState(base.model, base.train, base.weights, cfg.seed), (b) => disposeTrainState(b.state)).value;
    };
    // The task's molecules as graph rows, encoded once, before the first method that reads them.
    const trainingRows = async (): Promise<HostMatrix> =>
      state.memo("molecule-train-rows", async () => {
        const need = Math.max(MIN_TRAINING_ROWS, ...methods.filter((m) => READS_TRAINING_ROWS.includes(m.kind)).map((m) => {
          const r = m as { steps?: number; batchSize?: number };
          return (r.steps ?? base.train.steps) * (r.batchSize ?? base.train.batchSize);
        }));
        const t0 = performance.now();
        const task = cfg.task;
        const rows = task.kind === "qm9" ? await qm9TrainData({ rows: need, seed: cfg.seed }) : await smilesTrainData(resolve(baseDir, task.path), task.maxAtoms);
        hooks.onStage?.(`encoded ${rows.train.rows} training molecules (${rows.name}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        if (rows.train.cols !== dim) throw new Error(`${where}: the task's molecules encode to rows of ${rows.train.cols} values, the model's rows hold ${dim} (another vocabulary or maxAtoms)`);
        return rows.train;
      }).value;
    const noEval = async (): Promise<[HostMatrix, HostMatrix]> => [empty, empty];

    // The metrics' data: reference, floor sample (n molecules) and training set, prepared once for every method.
    hooks.onStage?.("preparing the reference molecules and the training set");
    const evalData: MoleculeEvaluationData = moleculeEvaluationData(rdkit, {
      n,
      referenceSize: cfg.evaluation.referenceSize,
      seed: cfg.seed,
      ...(taskSet ? { reference: taskSet, training: taskSet } : {}),
    });
    const training = evalData.training;
    const prepared = prepareMetricsData(rdkit, { reference: evalData.reference.smiles, training: training.smiles, ...(training.canonical ? { trainingCanonical: training.canonical } : {}) });
    const floor = metricValues(moleculeMetrics(rdkit, evalData.floorSample.smiles, prepared));
    const dataReward = Array.from(measure(evalData.floorSample.smiles));

    const rows: ResultRow[] = [];
    const views: MoleculeRunMethodView[] = [];
    const samples: MoleculeRunResult["samples"] = [];
    const timings: Record<string, number> = {};
    const checkpoints: { name: string; label: string; save: (path: string) => void | Promise<void> }[] = [];
    const sections: Record<string, unknown> = {};
    // The valid samples' values per target row (a DFT reward's summary over all targets).
    const targetValues: { target: number; values: number[] }[] = [];
    for (const [i, method] of methods.entries()) {
      const label = labels[i]!;
      if (READS_TRAINING_ROWS.includes(method.kind)) data.train = await trainingRows();
      const t0 = performance.now();
      let out: MethodOutput;
      if (method.kind === "none") {
        hooks.onStage?.(`${label}: sampling ${n} molecules (${sampler.sampler}, ${sampler.steps} steps)`);
        const x = await generate(base.model, base.weights, sampler, n, kMethods[i]!, { onStep: (d, t) => hooks.onSample?.(d, t, label) });
        out = { rows: [{ method: "none", label, target: null, alpha: null, samples: n, cost: { rewardEvals: 0, gradEvals: 0, valueEvals: 0, modelEvals: n * sampler.steps, seconds: (performance.now() - t0) / 1000, trainSeconds: 0 } }], samples: [{ label, matrix: x }], plots: [] };
      } else if (method.kind === "rcgdm") {
        const data = await taskData();
        if (data.train.cols !== dim) throw new Error(`${where}: ${label}: the task's molecules are graphs of ${data.train.cols} values but the model's are ${dim} (another vocabulary or maxAtoms)`);
        const named = rcgdmModelPath(method, "conditionalModel", methodAt(cfg, i), baseDir, where);
        const saved = named ?? resumeFrom.get(label);
        const startFrom = rcgdmModelPath(method, "startFrom", methodAt(cfg, i), baseDir, where);
        const r = await runMoleculeRcgdm({
          method: method as RcgdmMethodConfig, label, key: kMethods[i]!, rdkit, property, ...(dft ? { labels: dft.labels } : {}), data, model: base.model, weights: base.weights, sampler, samples: n, seed: cfg.seed, hooks,
          ...(saved !== undefined ? { conditionalModel: saved } : {}),
          ...(named === undefined && saved !== undefined ? { conditionalModelSource: "--resume" } : {}),
          ...(startFrom !== undefined ? { startFrom } : {}),
          // molecules.checkpointEvery: training checkpoints into the run's folder as the fine-tuning goes.
          onCheckpoint: async (name, save) => {
            await save(join(outDir, name));
            hooks.onStage?.(`${label}: checkpoint ${join(outDir, name)}`);
          },
        });
        sections[label] = r.section;
        if (r.checkpoint) checkpoints.push({ ...r.checkpoint, label });
        out = { rows: r.rows, samples: r.samples, plots: [] };
      } else {
        const ctx: MethodContext = {
          cfg: runCfg, method, index: i, label, state, data, model: base.model, train: base.train, sampler, key: kMethods[i]!,
          base: trainingState, baseWeights: async () => base.weights, evalSets: noEval, evalPairs: async () => [], hooks, earlierRows: rows.slice(), untunedSamples: n,
        };
        out = await methodModule(method.kind).run(ctx);
        checkpoints.push(...(out.checkpoints ?? []).map((c) => ({ ...c, label })));
        Object.assign(sections, out.sections ?? {});
      }
      timings[`${label}Seconds`] = (performance.now() - t0) / 1000;
      // One row per sample set (rcgdm: one per target), each measured alike.
      for (const [k, set] of out.samples.entries()) {
        const row = out.rows[k]!;
        const rowLabel = out.samples.length === 1 ? label : (row.label ?? set.label);
        const molecules = decodeMoleculeRows(rdkit, set.matrix, base.vocab);
        const smiles = molecules.map((s) => s.smiles);
        const r = Array.from(measure(smiles));
        // A valid molecule the DFT evaluator cannot encode has no value (never seen on QM9 samples).
        const valid = r.filter((v, j) => molecules[j]!.valid && Number.isFinite(v));
        if (typeof row.target === "number" && method.kind === "rcgdm") targetValues.push({ target: row.target, values: valid });
        const g = metricValues(moleculeMetrics(rdkit, smiles, prepared));
        const cost = row.cost as Record<string, number> | undefined;
        const { swToTilted: _a, mmd2ToTilted: _b, ...kept } = row;
        const molRow: ResultRow = {
          ...kept,
          method: method.kind,
          label: rowLabel,
          samples: molecules.length,
          reward: summary(r),
          rewardValid: valid.length > 0 ? summary(valid) : null,
          ...(typeof row.target === "number" ? { targetError: targetError(valid, row.target) } : {}),
          rewardName: property,
          invalidReward: invalid,
          rewardData: summary(dataReward),
          ...Object.fromEntries(MOLECULE_ROW_METRICS.map((m) => [m, { value: g[m], floor: floor[m] }])),
          cost: { rewardEvals: cost?.rewardEvals ?? 0, gradEvals: cost?.gradEvals ?? 0, valueEvals: cost?.valueEvals ?? 0, modelEvals: cost?.modelEvals ?? 0, seconds: cost?.seconds ?? 0, trainSeconds: cost?.trainSeconds ?? 0 },
        };
        rows.push(molRow);
        samples.push({ label: rowLabel, molecules });
        const file = samplesFile(out.samples.length === 1 ? label : set.label, methods.length === 1 && out.samples.length === 1 ? 1 : 2);
        const lines = molecules.map((_, j) => j + 2);
        const tiles = moleculeTiles(rdkit, { path: file, smiles: smiles.map((s) => s ?? ""), lines, graphSmiles: molecules.map((s) => s.graphSmiles) }, cfg.evaluation.gridMolecules);
        views.push({ label: rowLabel, file, tiles });
      }
    }

    if (dft) sections.dft = { ...dft.section, samples: dftTargetSummary(targetValues, cfg.seed + 2) };
    const report: Report = {
      version: 1,
      config: cfg as unknown as Record<string, unknown>,
      results: rows,
      molecules: {
        model: base.source,
        reward: { property, invalidReward: invalid, ...(rc.kind === "property" && rc.fragmentedReward !== undefined ? { fragmentedReward: rc.fragmentedReward } : {}), ...(dft ? { kind: "dft", unit: dft.unit } : {}) },
        reference: { name: evalData.reference.name, molecules: evalData.reference.smiles.length },
        training: { name: evalData.training.name, molecules: prepared.training.size },
        floorSample: { name: evalData.floorSample.name, molecules: evalData.floorSample.smiles.length, rewardMean: summary(dataReward).mean },
        anchors: MOLECULE_ANCHORS.map((a) => ({ name: a.name, values: { ...a.values } })),
        grids: views.map((v) => ({ label: v.label, samples: v.file, grid: v.tiles.map((t) => ({ line: t.line, smiles: t.smiles, valid: t.valid })) })),
      },
      ...sections,
      ...(base.trained ? { training: { loss: base.trained.base.state.losses } } : {}),
      files: [
        ...views.map((v, k) => ({ path: v.file, kind: "samples" as const, label: v.label, rows: [k] })),
        ...(base.trained ? [{ path: "model.safetensors", kind: "model" as const, label: "base model" }] : []),
        ...checkpoints.map((c) => ({ path: c.name, kind: "model" as const, label: c.label })),
      ],
      ...sections,
      timings: { totalSeconds: (performance.now() - started) / 1000, ...(base.trained ? { trainSeconds: base.trained.base.trainSeconds } : {}), ...timings },
    };
    const html = renderMoleculeRunHtml({ title: opts.title ?? "rewardiff run: molecules", report, methods: views });
    const written = writeReport(outDir, { report, html });
    const files = [written.json, written.html];
    samples.forEach((s, k) => {
      const path = join(outDir, views[k]!.file);
      writeFileAtomic(path, formatMoleculeSamplesCsv(s.molecules));
      files.push(path);
    });
    if (base.trained) {
      const path = join(outDir, "model.safetensors");
      await saveModel(path, base.trained.info, base.trained.base.state);
      files.push(path);
    }
    for (const c of checkpoints) {
      const path = join(outDir, c.name);
      await c.save(path);
      files.push(path);
    }
    return { report, samples, files };
  } finally {
    state.release();
    base.dispose();
  }
}
