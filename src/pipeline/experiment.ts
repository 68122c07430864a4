/**
 * A config-driven experiment (`rewardiff run`, `rewardiff demo`): build the task's data, train the
 * denoiser, sample, evaluate against fresh data with the data-vs-data noise floor beside every
 * distance, and write report.json, report.html, samples.csv and the model checkpoint. Every figure in
 * the report is measured in this run.
 */
import { join } from "node:path";
import { keyFromSeed, splitKey } from "../backend/keys.js";
import { ensureBackend } from "../backend/init.js";
import type { HostMatrix } from "../data/matrix.js";
import { distanceWithFloor } from "../eval/floor.js";
import { medianHeuristic, mmd2 } from "../eval/mmd.js";
import { slicedWasserstein } from "../eval/sliced-wasserstein.js";
import { summary } from "../eval/stats.js";
import { methodsOf, type ExperimentConfig } from "../io/config.js";
import { writeCsv } from "../io/csv.js";
import { renderReportHtml, type PlotFigure } from "../report/html.js";
import { lineChart, scatterPlot } from "../report/plots.js";
import type { Report, ResultRow } from "../report/types.js";
import { writeReport } from "../report/write.js";
import { disposeTrainState, initTrainState, trainSteps, type ProgressInfo } from "../training/trainer.js";
import { generate } from "./generate.js";
import { saveModel } from "./model-checkpoint.js";
import { modelFromConfig, trainFromConfig } from "./model-config.js";
import { taskData } from "./task-data.js";

export interface ExperimentHooks {
  /** Called after every training step. */
  onTrain?: (p: ProgressInfo) => void;
  /** Called after every sampling step. */
  onSample?: (done: number, total: number) => void;
  /** A line of status text (e.g. "training", "sampling"). */
  onStage?: (stage: string) => void;
}

export interface ExperimentResult {
  report: Report;
  samples: HostMatrix;
  files: string[];
}

/** Methods this version runs end to end. Others are refused with a clear error before any work. */
const AVAILABLE_METHODS = new Set(["none"]);

export async function runExperiment(
  cfg: ExperimentConfig,
  outDir: string,
  opts: { title?: string; baseDir?: string; hooks?: ExperimentHooks } = {},
): Promise<ExperimentResult> {
  const methods = methodsOf(cfg);
  for (const m of methods) {
    if (!AVAILABLE_METHODS.has(m.kind)) {
      throw new Error(`method "${m.kind}" is not available in this version of rewardiff; available: ${[...AVAILABLE_METHODS].join(", ")}`);
    }
  }
  await ensureBackend();
  const started = performance.now();
  const hooks = opts.hooks ?? {};
  const [kTask, kTrain, kSample, kEval] = splitKey(keyFromSeed(cfg.seed), 4);
  const data = taskData(cfg.task, kTask!, opts.baseDir);
  const model = modelFromConfig(cfg.model, data.dim);
  const train = trainFromConfig(cfg.model.train);

  hooks.onStage?.(`training on ${data.name} (${data.train.rows} rows, ${data.dim} dims) for ${train.steps} steps`);
  const t0 = performance.now();
  const state = trainSteps(model, train, initTrainState(model, kTrain!), { x: data.train }, { onProgress: hooks.onTrain });
  const trainSeconds = (performance.now() - t0) / 1000;

  hooks.onStage?.(`sampling ${cfg.sampling.samples} points with ${cfg.sampling.sampler} (${cfg.sampling.steps} steps)`);
  const t1 = performance.now();
  const samples = generate(
    model,
    state.ema,
    { sampler: cfg.sampling.sampler, steps: cfg.sampling.steps, eta: cfg.sampling.eta },
    cfg.sampling.samples,
    kSample!,
    { onStep: hooks.onSample },
  );
  const sampleSeconds = (performance.now() - t1) / 1000;

  hooks.onStage?.("evaluating");
  const t2 = performance.now();
  const [evalA, evalB] = data.evalSets(kEval!, samples.rows);
  const bandwidth = medianHeuristic(evalA);
  const sw = distanceWithFloor((a, b) => slicedWasserstein(a, b, { seed: cfg.seed }), samples, evalA, evalB);
  const mmd = distanceWithFloor((a, b) => mmd2(a, b, { bandwidth, seed: cfg.seed }), samples, evalA, evalB);
  const row: ResultRow = {
    method: "none",
    target: null,
    alpha: null,
    samples: samples.rows,
    slicedWasserstein: sw.ratio === null ? { value: sw.value, floor: sw.floor } : { value: sw.value, floor: sw.floor, ratio: sw.ratio },
    mmd2: { value: mmd.value, floor: mmd.floor },
  };
  if (data.reward) {
    row.reward = summary(data.reward(samples));
    if (data.rewardMeanExact !== undefined) row.reference = { rewardMean: data.rewardMeanExact };
  }
  const evalSeconds = (performance.now() - t2) / 1000;

  const lossCurve = state.losses;
  const report: Report = {
    version: 1,
    config: cfg as unknown as Record<string, unknown>,
    results: [row],
    training: { loss: lossCurve },
    timings: {
      totalSeconds: (performance.now() - started) / 1000,
      trainSeconds,
      sampleSeconds,
      evalSeconds,
      trainStepMs: (trainSeconds * 1000) / Math.max(1, train.steps),
    },
  } as Report;

  const plots: PlotFigure[] = [
    {
      title: "Samples vs fresh data",
      svg: await scatterPlot({ title: `${data.name}: samples vs data`, sets: [{ name: "data", points: evalA }, { name: "samples", points: samples }] }),
      caption: data.dim > 2 ? `First two of ${data.dim} coordinates.` : undefined,
    },
    {
      title: "Training loss",
      svg: await lineChart({
        title: "Denoising loss",
        xLabel: "step",
        yLabel: "loss",
        series: [{ name: "loss", points: smooth(lossCurve) }],
        logY: true,
      }),
      caption: "Per-step loss, averaged over windows of 1% of the run.",
    },
  ];
  const html = renderReportHtml({
    title: opts.title ?? "rewardiff run",
    report,
    plots,
    notes: [
      `Sliced-Wasserstein and MMD² are measured between ${samples.rows} samples and ${evalA.rows} fresh data points; the floor is the same metric between two independent data draws of that size.`,
    ],
  });
  const written = writeReport(outDir, { report, html });
  const samplesPath = join(outDir, "samples.csv");
  writeCsv(samplesPath, data.columns, samples);
  const modelPath = join(outDir, "model.safetensors");
  saveModel(modelPath, { model, train, columns: data.columns, data: data.name }, state);
  disposeTrainState(state);
  return { report, samples, files: [written.json, written.html, samplesPath, modelPath] };
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
