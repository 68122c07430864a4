/**
 * A config-driven experiment (`rewardiff run`, `rewardiff demo`): build the task's data, run every
 * method of the config (each a registered {@link MethodRunner}; most share one unconditional base
 * model, trained once), and write report.json, report.html, samples CSVs and checkpoints.
 * Every figure in the report is measured in this run.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed, splitKey } from "../backend/keys.js";
import type { HostMatrix } from "../data/matrix.js";
import { methodsOf } from "./config-schemas.js";
import { writeCsv } from "../io/csv.js";
import { checkDistinctFileNames, fileLabel, modelFileNames } from "../io/outputs.js";
import { renderReportHtml, type PlotFigure } from "../report/html.js";
import { lineChart, scatterPlot } from "../report/plots.js";
import { comparisonPlots } from "../report/comparison.js";
import type { Report, ReportFile, ResultRow } from "../report/types.js";
import { writeReport } from "../report/write.js";
import { disposeTrainState, initTrainState, trainSteps, type TrainState } from "../training/trainer.js";
import { checkTaskReward, type ExperimentConfig } from "./config.js";
import { checkUniqueLabels, methodLabels } from "./labels.js";
import { newRunState, type BaseModel, type ExperimentHooks, type MethodContext } from "./methods/context.js";
import { methodModule } from "./methods/registry.js";
import { loadModel, saveModel, type ModelInfo } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel, trainingDataSha256, type HostTensors } from "../io/checkpoints/model.js";
import { modelFromConfig, trainFromConfig } from "./model-config.js";
import { taskData, transformField } from "./task-data.js";
import { EVAL_PAIRS } from "./metrics.js";

export type { ExperimentHooks } from "./methods/context.js";

export interface ExperimentResult {
  report: Report;
  /** Samples per method row label. */
  samples: { label: string; matrix: HostMatrix }[];
  files: string[];
}

/**
 * Refuses, before any work, a config whose methods cannot run: a method that needs the task's reward on
 * a task without one, and row labels that are not unique. (The task kinds and sampler a method needs
 * are checked when the config is parsed: src/runners/config.ts.)
 */
export function checkMethodsAvailable(cfg: ExperimentConfig, where: string): void {
  checkTaskReward(cfg, where);
  checkUniqueLabels(cfg, where);
  checkDistinctFileNames(methodLabels(cfg), fileLabel, where);
  checkDistinctFileNames(methodLabels(cfg), modelFileNames, where);
}

/**
 * A run stopped by its `signal` (Ctrl-C): the base model's training state at `step` of `total` is in
 * `checkpoint` (OUT/model.safetensors) when the base model was started; `runExperiment(…, {resume:
 * true})` continues from it.
 */
export class RunInterrupted extends Error {
  constructor(
    readonly step: number,
    readonly total: number,
    readonly checkpoint: string | undefined,
    readonly during: string,
  ) {
    super(`run stopped during ${during}`);
  }
}

/** The base model's loss curve as a checkpoint tensor ("losses": the loss of steps 1..k), so a resumed run reports the whole curve. */
function lossTensor(losses: readonly { step: number; loss: number }[]): HostTensors {
  return new Map([["losses", { shape: [losses.length], data: Float32Array.from(losses, (l) => l.loss) }]]);
}

/** File name of a method's samples in a run's folder: `samples-<label>.csv` (label in its file-name form, src/io/outputs.ts). */
export function samplesFileName(label: string): string {
  return `samples-${fileLabel(label)}.csv`;
}

export async function runExperiment(
  cfg: ExperimentConfig,
  outDir: string,
  opts: {
    title?: string;
    baseDir?: string;
    where?: string;
    hooks?: ExperimentHooks;
    /** Stops the run: the base model's training after its current step, a running method at once ({@link RunInterrupted}). */
    signal?: AbortSignal;
    /** Continue the base model from outDir/model.safetensors (its training checkpoint) when there. */
    resume?: boolean;
  } = {},
): Promise<ExperimentResult> {
  checkMethodsAvailable(cfg, opts.where ?? "config");
  await ensureBackend();
  const started = performance.now();
  const hooks = opts.hooks ?? {};
  const methods = methodsOf(cfg);
  const labels = methodLabels(cfg);
  const state = newRunState();
  const [kTask, kTrain, kEval, ...kMethods] = splitKey(keyFromSeed(cfg.seed), 3 + methods.length);
  const data = await taskData(cfg.task, kTask!, opts.baseDir);
  const model = modelFromConfig(cfg.model, data.dim);
  const train = trainFromConfig(cfg.model.train);
  const { spacing, stepsOffset } = cfg.sampling;
  const sampler = { sampler: cfg.sampling.sampler, steps: cfg.sampling.steps, eta: cfg.sampling.eta, ...(spacing ? { spacing } : {}), ...(stepsOffset !== undefined ? { stepsOffset } : {}) };

  const basePath = join(outDir, "model.safetensors");
  let baseInfo: ModelInfo | undefined;
  const info = async (): Promise<ModelInfo> =>
    (baseInfo ??= {
      model,
      train,
      columns: data.columns,
      data: data.name,
      ...transformField(data.transform),
      dataSha256: await trainingDataSha256(data.train),
      seed: cfg.seed,
    });
  /** The base model's checkpoint in outDir when resuming: its state and the losses of its steps. */
  const resumed = async (): Promise<{ state: TrainState; losses: { step: number; loss: number }[] } | undefined> => {
    if (!opts.resume || !existsSync(basePath)) return undefined;
    const loaded = loadModel(basePath);
    const want = await info();
    const m = loaded.meta;
    const same = loaded.state && JSON.stringify([m.model, m.train, m.dataSha256]) === JSON.stringify([want.model, want.train, want.dataSha256]);
    const curve = loaded.extra.get("losses");
    if (!same || !curve || curve.data.length !== loaded.state!.step) {
      disposeLoadedModel(loaded);
      throw new Error(`${basePath}: not a checkpoint of this run's base model (another model, training plan or data${curve ? "" : ", or no loss curve"}); resume with the config that wrote it`);
    }
    return { state: loaded.state!, losses: Array.from(curve.data, (loss, i) => ({ step: i + 1, loss })) };
  };
  let basePromise: Promise<BaseModel> | undefined;
  const trainBase = async (): Promise<BaseModel> => {
    hooks.onStage?.(`training on ${data.name} (${data.train.rows} rows, ${data.dim} dims) for ${train.steps} steps`);
    const t0 = performance.now();
    const meta = await info();
    // With model.train.checkpointEvery = k > 0, the base model is saved (atomically) every k steps,
    // so a long run that is stopped can be resumed from outDir/model.safetensors (docs/config.md).
    const from = await resumed();
    const earlier = from?.losses ?? [];
    if (from) kTrain!.dispose();
    const next = await trainSteps(model, train, from?.state ?? initTrainState(model, kTrain!), { x: data.train }, {
      onProgress: (p) => hooks.onTrain?.(p, "base"),
      signal: opts.signal,
      checkpointEvery: cfg.model.train.checkpointEvery,
      onCheckpoint: (s, l) => saveModel(basePath, meta, s, lossTensor([...earlier, ...l])),
    });
    const losses = [...earlier, ...next.losses];
    if (next.step < train.steps) {
      try {
        await saveModel(basePath, meta, next, lossTensor(losses));
      } finally {
        disposeTrainState(next);
      }
      throw new RunInterrupted(next.step, train.steps, basePath, "the base model's training");
    }
    return { model, train, state: Object.assign(next, { losses }), trainSeconds: (performance.now() - t0) / 1000 };
  };
  let base: BaseModel | undefined;
  const getBase = async (): Promise<BaseModel> => {
    basePromise ??= trainBase();
    base = await basePromise;
    return base;
  };
  // A stop while a method runs: the method is left behind (the process ends); the trained base model is saved.
  const signal = opts.signal;
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        const stop = () => reject(new Error("aborted"));
        if (signal.aborted) stop();
        else signal.addEventListener("abort", stop, { once: true });
      })
    : undefined;
  aborted?.catch(() => {});
  const stopDuring = async (label: string): Promise<never> => {
    const b = basePromise ? await basePromise.catch((err: unknown) => err) : undefined;
    if (b instanceof Error) throw b;
    if (b === undefined) throw new RunInterrupted(0, train.steps, undefined, `method "${label}"`);
    const done = b as BaseModel;
    await saveModel(basePath, await info(), done.state, lossTensor(done.state.losses));
    throw new RunInterrupted(done.state.step, train.steps, basePath, `method "${label}"`);
  };
  // Fresh evaluation data, drawn once per size n and shared by every method: pair k uses key k.
  const evalKeys = splitKey(kEval!, EVAL_PAIRS);
  const evalCache = new Map<number, [HostMatrix, HostMatrix][]>();
  const evalPairs = async (n: number): Promise<[HostMatrix, HostMatrix][]> => {
    let hit = evalCache.get(n);
    if (!hit) {
      hit = [];
      for (const k of evalKeys) hit.push(await data.evalSets(k.ref, n));
      evalCache.set(n, hit);
    }
    return hit;
  };
  const evalSets = async (n: number): Promise<[HostMatrix, HostMatrix]> => (await evalPairs(n))[0]!;

  const rows: ResultRow[] = [];
  const samples: { label: string; matrix: HostMatrix }[] = [];
  const plots: PlotFigure[] = [];
  const sections: Record<string, unknown> = {};
  const checkpoints: { name: string; save: (path: string) => void | Promise<void> }[] = [];
  const timings: Record<string, number> = {};
  const owners: FileOwner[] = [];
  for (const [i, method] of methods.entries()) {
    const label = labels[i]!;
    const ctx: MethodContext = { cfg, method, index: i, label, state, data, model, train, sampler, key: kMethods[i]!, base: getBase, evalSets, evalPairs, hooks, earlierRows: rows.slice() };
    const t0 = performance.now();
    if (signal?.aborted) await stopDuring(label);
    const running = methodModule(method.kind).run(ctx);
    let out: Awaited<typeof running>;
    if (aborted) {
      running.catch(() => {});
      try {
        out = await Promise.race([running, aborted]);
      } catch (err) {
        if (!signal!.aborted) throw err;
        return stopDuring(label);
      }
    } else {
      out = await running;
    }
    timings[`${label}Seconds`] = (performance.now() - t0) / 1000;
    const first = rows.length;
    // Every row names its method's kind; its label is the runner's (e.g. "cfg[a=1]"), else the entry's.
    for (const row of out.rows) rows.push({ ...row, method: method.kind, label: typeof row.label === "string" ? row.label : label });
    samples.push(...out.samples);
    plots.push(...out.plots);
    Object.assign(sections, out.sections ?? {});
    checkpoints.push(...(out.checkpoints ?? []));
    owners.push({ rows: rows.slice(first).map((r, k) => ({ index: first + k, sampled: r.samples > 0 })), samples: out.samples.map((x) => x.label), models: (out.checkpoints ?? []).map((c) => c.name) });
  }

  const b = base as BaseModel | undefined;
  if (b) {
    sections.training = { loss: b.state.losses };
    timings.trainSeconds = b.trainSeconds;
    timings.trainStepMs = (b.trainSeconds * 1000) / Math.max(1, train.steps);
  }
  const report = {
    version: 1,
    config: cfg as unknown as Record<string, unknown>,
    results: rows,
    ...sections,
    files: filesSection(owners, samples.length, b !== undefined),
    timings: { totalSeconds: (performance.now() - started) / 1000, ...timings },
  } as Report;

  const figures: PlotFigure[] = [];
  if (samples.length > 0) {
    const [evalA] = await evalSets(samples[0]!.matrix.rows);
    figures.push({
      title: "Samples vs fresh data",
      svg: await scatterPlot({
        title: `${data.name}: samples vs data`,
        sets: [{ name: "data", points: evalA }, ...samples.slice(0, 6).map((s) => ({ name: s.label, points: s.matrix }))],
      }),
      caption: data.dim > 2 ? `First two of ${data.dim} coordinates.` : undefined,
    });
  }
  if (b) {
    figures.push({
      title: "Training loss",
      svg: await lineChart({ title: "Denoising loss (base model)", xLabel: "step", yLabel: "loss", series: [{ name: "loss", points: smooth(b.state.losses) }], logY: true }),
      caption: "Per-step loss, averaged over windows of 1% of the run.",
    });
  }
  figures.push(...plots);
  const html = renderReportHtml({
    title: opts.title ?? "rewardiff run",
    report,
    summaryPlots: await comparisonPlots(report),
    plots: figures,
    notes: [
      "Distances (sliced Wasserstein, MMD²) compare generated samples with fresh data; each floor is the same metric between two independent data draws of the same size, the smallest value sampling noise allows.",
    ],
  });
  const written = writeReport(outDir, { report, html });
  const files = [written.json, written.html];
  if (samples.length > 1) checkDistinctFileNames(samples.map((s) => s.label), samplesFileName, opts.where ?? "config");
  for (const s of samples) {
    const path = join(outDir, samples.length === 1 ? "samples.csv" : samplesFileName(s.label));
    writeCsv(path, data.columns, s.matrix);
    files.push(path);
  }
  if (b) {
    const path = join(outDir, "model.safetensors");
    await saveModel(path, await info(), b.state, lossTensor(b.state.losses));
    files.push(path);
    disposeTrainState(b.state);
  }
  for (const c of checkpoints) {
    const path = join(outDir, c.name);
    await c.save(path);
    files.push(path);
  }
  for (const k of evalKeys) k.dispose();
  state.release();
  return { report, samples, files };
}

/** The result rows (index into `results`; whether it has samples) and the files of one method entry. */
interface FileOwner {
  rows: { index: number; sampled: boolean }[];
  samples: string[];
  models: string[];
}

/**
 * report.json `files`: each samples file with its row (the entry's rows that have samples, in order,
 * when they pair one to one with its sample sets; else all its rows), each method's models with all its
 * rows, and the base model. Names as written below (samples.csv when the run has one sample set).
 */
function filesSection(owners: readonly FileOwner[], sampleSets: number, hasBase: boolean): ReportFile[] {
  const out: ReportFile[] = [];
  for (const o of owners) {
    const all = o.rows.map((r) => r.index);
    const sampled = o.rows.filter((r) => r.sampled).map((r) => r.index);
    const paired = sampled.length === o.samples.length;
    o.samples.forEach((label, k) => {
      const path = sampleSets === 1 ? "samples.csv" : samplesFileName(label);
      out.push({ path, kind: "samples", label, rows: paired ? [sampled[k]!] : all });
    });
    for (const name of o.models) out.push({ path: name, kind: "model", label: name, rows: all });
  }
  if (hasBase) out.push({ path: "model.safetensors", kind: "model", label: "base model" });
  return out;
}

/** Window-averaged loss curve (at most ~100 points) for plotting. */
function smooth(points: { step: number; loss: number }[]): { x: number; y: number }[] {
  const w = Math.max(1, Math.floor(points.length / 100));
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < points.length; i += w) {
    const chunk = points.slice(i, i + w);
    out.push({ x: chunk[chunk.length - 1]!.step, y: chunk.reduce((s, p) => s + p.loss, 0) / chunk.length });
  }
  return out;
}
