/**
 * The command-line side of reward-directed conditional diffusion (2307.07055; docs/rcgdm.md):
 *   rewardiff fit-reward --data labeled.csv --label y --out reward.safetensors
 *   rewardiff train --unlabeled unlabeled.csv --reward-model reward.safetensors --out model.safetensors
 *   rewardiff sample --model model.safetensors --target 2 [--scale w] --out samples.csv
 * Errors are one line; output files are never overwritten without --force.
 */
import { resolve } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed, splitKey } from "../backend/keys.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { summary } from "../eval/stats.js";
import { readCsv } from "../io/csv.js";
import { conditionDim, conditionalModel, defaultConditionalNetwork, sampleAtTarget, trainConditional } from "../training/rcgdm.js";
import { saveModel } from "../io/checkpoints/model-files.js";
import type { ModelMeta } from "../io/checkpoints/model.js";
import { readDataFile, transformField } from "../runners/task-data.js";
import { CsvTaskSchema } from "../runners/config-schemas.js";
import { applyTransform, fitTransform } from "../data/transform.js";
import { rewardMlpProblem, trainingSizeProblem } from "../runners/resource-bounds.js";
import { loadRewardModel, saveRewardModel } from "../io/checkpoints/reward.js";
import { fitReward, predictReward } from "../rewards/fit.js";
import { defaultEnsemble, defaultMlpRegressor, defaultRidge, type FitQuality, type RewardModelSpec } from "../rewards/types.js";
import { noisyLabels } from "../tasks/linear-subspace.js";
import { defaultTrainConfig, disposeTrainState, type TrainConfig } from "../training/trainer.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import type { SamplerConfig } from "../diffusion/sample.js";
import { checkOutFile } from "./output.js";
import { makeProgress } from "./progress.js";
import type { SharedTrainFlags } from "./train-defaults.js";

import { log } from "./log.js";

export interface FitRewardCommandOptions {
  data: string;
  label: string;
  columns?: string;
  kind: "ridge" | "mlp" | "ensemble";
  holdout: number;
  l2?: number;
  hidden?: number;
  layers?: number;
  steps?: number;
  lr?: number;
  members?: number;
  seed: number;
  out: string;
  quiet?: boolean;
  force?: boolean;
}

function splitList(s: string): string[] {
  return s.split(",").map((c) => c.trim());
}

/** The labeled table: feature columns (given, or every other column) and the label column. */
export function readLabeled(path: string, label: string, columns?: string[]): { columns: string[]; x: HostMatrix; y: Float32Array } {
  if (path.toLowerCase().endsWith(".npy")) throw new Error(`${path}: fit-reward reads a CSV file with a header row (the label is a named column)`);
  if (columns?.includes(label)) throw new Error(`--columns: the label column "${label}" cannot also be a feature`);
  const header = readCsv(path, columns ? { columns: [...columns, label] } : {});
  const names = header.header;
  const li = names.indexOf(label);
  if (li < 0) throw new Error(`--label ${label}: ${path} has no column "${label}" (columns: ${names.join(", ")})`);
  const featureNames = columns ?? names.filter((_, j) => j !== li);
  if (featureNames.length === 0) throw new Error(`${path}: no feature columns besides the label "${label}"`);
  const m = header.matrix;
  const idx = featureNames.map((c) => names.indexOf(c));
  const x = new Float32Array(m.rows * idx.length);
  const y = new Float32Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    idx.forEach((j, k) => (x[r * idx.length + k] = m.data[r * m.cols + j]!));
    y[r] = m.data[r * m.cols + li]!;
  }
  return { columns: featureNames, x: hostMatrix(m.rows, idx.length, x), y };
}

function rewardSpec(o: FitRewardCommandOptions): RewardModelSpec {
  if (o.kind === "ridge") return { ...defaultRidge, ...(o.l2 !== undefined ? { l2: o.l2 } : {}) };
  const base = o.kind === "ensemble" ? defaultEnsemble : defaultMlpRegressor;
  return {
    ...base,
    ...(o.hidden !== undefined ? { hidden: o.hidden } : {}),
    ...(o.layers !== undefined ? { layers: o.layers } : {}),
    ...(o.l2 !== undefined ? { l2: o.l2 } : {}),
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.lr !== undefined ? { learningRate: o.lr } : {}),
    ...(o.kind === "ensemble" && o.members !== undefined ? { members: o.members } : {}),
  } as RewardModelSpec;
}

function describeQuality(q: FitQuality): string {
  const r2 = q.r2 === null ? "n/a" : q.r2.toFixed(4);
  const spread = q.meanSpread !== undefined ? `, ensemble spread ${q.meanSpread.toPrecision(3)}` : "";
  return `RMSE ${q.rmse.toPrecision(4)}, R² ${r2} (${q.n} rows${spread})`;
}

export async function fitRewardCommand(o: FitRewardCommandOptions): Promise<number> {
  if (!o.out.endsWith(".safetensors")) throw new Error(`--out ${o.out}: a reward model path must end in .safetensors`);
  checkOutFile(o.out, !!o.force);
  const columns = o.columns ? splitList(o.columns) : undefined;
  const { columns: names, x, y } = readLabeled(o.data, o.label, columns);
  const spec = rewardSpec(o);
  const tooBig = spec.kind === "ridge" ? undefined : rewardMlpProblem(spec, names.length);
  if (tooBig) throw new Error(tooBig);
  await ensureBackend();
  const progress = makeProgress(!!o.quiet);
  const { model, report } = await fitReward(x, y, spec, keyFromSeed(o.seed), {
    holdout: o.holdout,
    where: o.data,
    onStep: (s, t, loss) => progress.update("fit", s, t, { loss }),
  });
  progress.done();
  saveRewardModel(o.out, model, { columns: names, label: o.label, fit: report, data: resolve(o.data) });
  log(`${spec.kind} reward on ${names.length} column(s) → "${o.label}"`);
  log(`  fitted on   ${describeQuality(report.train)}`);
  if (report.heldOut) log(`  held out    ${describeQuality(report.heldOut)}`);
  else log("  held out    none (--holdout 0): the fit quality above is on the training rows only");
  log(`wrote ${o.out}`);
  return 0;
}

export interface ConditionalTrainOptions extends SharedTrainFlags {
  unlabeled: string;
  rewardModel: string;
  pseudoLabelNoise: number;
  dropout: number;
  network: "mlp" | "low-rank";
  rank?: number;
  seed: number;
}

/** `rewardiff train --unlabeled X --reward-model R`: pseudo-label X with f̂ + ν ξ, train ε_θ(x_t, t, ŷ). */
export async function conditionalTrainCommand(o: ConditionalTrainOptions): Promise<number> {
  if (!o.out.endsWith(".safetensors")) throw new Error(`--out ${o.out}: a model path must end in .safetensors`);
  checkOutFile(o.out, !!o.force);
  const { model: reward, meta: rmeta } = loadRewardModel(o.rewardModel);
  const columns = o.columns ? splitList(o.columns) : o.unlabeled.toLowerCase().endsWith(".npy") ? undefined : rmeta.columns;
  let src: { columns: string[]; matrix: HostMatrix };
  try {
    src = readDataFile(o.unlabeled, columns);
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(o.columns ? msg : `${msg} (the reward model ${o.rewardModel} takes the columns ${rmeta.columns.join(", ")})`, { cause: err });
  }
  if (src.matrix.cols !== reward.dim) {
    throw new Error(`${o.unlabeled}: ${src.matrix.cols} column(s), but the reward model ${o.rewardModel} takes ${reward.dim} (${rmeta.columns.join(", ")})`);
  }
  if (src.matrix.rows < 4) throw new Error(`${o.unlabeled}: ${src.matrix.rows} data row(s) are too few to train on (need at least 4)`);
  if (o.network === "low-rank" && o.rank === undefined) throw new Error("--network low-rank needs --rank d (the dimension of the data's subspace)");
  if (o.rank !== undefined && o.network !== "low-rank") throw new Error("--rank applies to --network low-rank only");
  if (o.rank !== undefined && o.rank > src.matrix.cols) throw new Error(`--rank ${o.rank} exceeds the data's ${src.matrix.cols} columns`);
  if (o.network === "low-rank" && o.prediction !== undefined && o.prediction !== "x0") {
    throw new Error(`--prediction ${o.prediction}: the low-rank network predicts x0 (leave --prediction out or pass x0)`);
  }
  const model = conditionalModel(src.matrix.cols, 1, {
    network: o.network,
    ...(o.rank !== undefined ? { rank: o.rank } : {}),
    ...(o.hidden !== undefined ? { hidden: o.hidden } : {}),
    ...(o.layers !== undefined ? { layers: o.layers } : {}),
    ...(o.schedule !== undefined ? { schedule: { ...defaultConditionalNetwork.schedule, kind: o.schedule } } : {}),
    ...(o.prediction !== undefined ? { prediction: o.prediction } : {}),
  });
  const train: TrainConfig = {
    ...defaultTrainConfig,
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.lr !== undefined ? { learningRate: o.lr } : {}),
  };
  const tooBig = trainingSizeProblem(model.network, train.batchSize, train.steps);
  if (tooBig) throw new Error(tooBig);
  await ensureBackend();
  const progress = makeProgress(!!o.quiet);
  const [kPseudo, kTrain] = splitKey(keyFromSeed(o.seed), 2);
  const yHat = await noisyLabels(kPseudo!, (await predictReward(reward, src.matrix)).mean, o.pseudoLabelNoise);
  const ys = summary(yHat);
  progress.stage(
    `training a conditional ${o.network} model on ${src.matrix.rows} rows pseudo-labelled by ${o.rewardModel} (ŷ mean ${ys.mean.toPrecision(3)}, sd ${ys.std.toPrecision(3)}) for ${train.steps} steps`,
  );
  // The pseudo-labels come from the reward model in data units (above); the network trains on the
  // data's per-feature transform (src/data/transform.ts), stored in the model and inverted by `sample`.
  const transform = fitTransform(o.transform ?? CsvTaskSchema.parse({ kind: "csv", path: "-" }).transform, src.matrix, { where: o.unlabeled, columns: src.columns });
  const state = await trainConditional(model, train, applyTransform(transform, src.matrix), hostMatrix(src.matrix.rows, 1, yHat), kTrain!, {
    dropout: o.dropout,
    onProgress: (p) => progress.update("train", p.step, p.total, { loss: p.loss }),
  });
  progress.done();
  await saveModel(
    o.out,
    {
      model,
      train,
      columns: src.columns,
      data: resolve(o.unlabeled),
      ...transformField(transform),
      conditioning: { names: [rmeta.label], source: "pseudo-labels", reward: resolve(o.rewardModel), pseudoLabelNoise: o.pseudoLabelNoise, dropout: o.dropout },
    },
    state,
  );
  log(`pseudo-labels ŷ = f̂(x) + ${o.pseudoLabelNoise}·ξ on ${src.matrix.rows} rows: mean ${ys.mean.toPrecision(4)}, sd ${ys.std.toPrecision(4)}, range [${minMax(yHat).join(", ")}]`);
  log(`trained ${state.step} steps; final loss ${state.losses.at(-1)?.loss.toPrecision(4) ?? "n/a"}; wrote ${o.out}`);
  disposeTrainState(state);
  return 0;
}

function minMax(v: Float32Array): [string, string] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  return [lo.toPrecision(3), hi.toPrecision(3)];
}

/** Parses `--target a` or `--target a,b` (a vector condition). */
export function parseTarget(v: string): number[] {
  const parts = v.split(",");
  return parts.map((p) => {
    const n = Number(p);
    if (p.trim() === "" || !Number.isFinite(n)) throw new Error(`--target must be a number (or comma-separated numbers), got "${v}"`);
    return n;
  });
}

/** Checks --target / --scale against the loaded model before any work. */
export function checkTargetOptions(meta: ModelMeta, modelPath: string, target: number[] | undefined, scale: number | undefined): void {
  const cond = meta.model.network.condition;
  if (!target) {
    if (cond) {
      const names = meta.conditioning?.names.join(", ") ?? `a ${cond.kind} condition`;
      throw new Error(`${modelPath} is a conditional model (conditioned on ${names}); pass --target a`);
    }
    if (scale !== undefined) throw new Error("--scale applies with --target only (classifier-free guidance at a target)");
    return;
  }
  const k = conditionDim(meta.model, modelPath);
  if (target.length !== k) {
    const names = meta.conditioning ? ` (${meta.conditioning.names.join(", ")})` : "";
    throw new Error(`--target has ${target.length} value(s) but the model in ${modelPath} is conditioned on ${k}${names}`);
  }
  if (scale !== undefined && scale !== 1 && meta.conditioning?.dropout === 0) {
    throw new Error(`--scale ${scale}: the model in ${modelPath} was trained without condition dropout, so it has no null condition for guidance (use --scale 1)`);
  }
}

/** Samples a conditional model at a target (CFG strength w). Borrows `state`. */
export function sampleConditionalModel(
  meta: ModelMeta,
  params: DenoiserParams,
  sampler: SamplerConfig,
  n: number,
  target: number[],
  scale: number,
  seed: number,
  onStep?: (d: number, t: number) => void,
): Promise<HostMatrix> {
  return sampleAtTarget(meta.model, params, sampler, n, target, keyFromSeed(seed), { scale, onStep });
}

/** `sample --reward-model R`: the learned reward of the samples, for the printout. */
export async function learnedRewardLine(rewardPath: string, columns: string[], x: HostMatrix): Promise<string> {
  const { model, meta } = loadRewardModel(rewardPath);
  const idx = meta.columns.map((c) => columns.indexOf(c));
  if (idx.some((i) => i < 0) || model.dim !== meta.columns.length) {
    throw new Error(`${rewardPath}: the reward model takes the columns ${meta.columns.join(", ")}, the samples have ${columns.join(", ")}`);
  }
  const cols = hostMatrix(x.rows, idx.length, new Float32Array(x.rows * idx.length));
  for (let r = 0; r < x.rows; r++) idx.forEach((j, k) => (cols.data[r * idx.length + k] = x.data[r * x.cols + j]!));
  const s = summary((await predictReward(model, cols)).mean);
  return `learned reward f̂ (${rewardPath}) of the samples: mean ${s.mean.toPrecision(4)}, sd ${s.std.toPrecision(4)}`;
}


/** The per-target table of rcgdm rows (the demo's printout); empty when the report has none. */
export function rcgdmTable(report: { results: readonly Record<string, unknown>[] }): string {
  // rcgdm rows; those of its sampling-time variant (target guidance) where they carry the subspace metrics
  const rows = report.results.filter((r) => r.method === "rcgdm" && (r.variant !== "target-guidance" || r.onSupport !== undefined));
  if (rows.length === 0) return "";
  const f = (v: unknown, digits = 3): string => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "—");
  const ms = (v: unknown): string => {
    const o = v as { mean?: number; std?: number } | undefined;
    return o && typeof o.mean === "number" ? `${f(o.mean)} ± ${f(o.std)}` : "—";
  };
  const head = ["model", "target a", "f*(x̂) mean ± sd", "exact E[f*|ŷ=a]", "a/(1+ν²)", "f*/a", "f̂(x̂) − f*(x̂)", "off-support", "off/on"];
  const body = rows.map((r) => [
    String(r.label ?? r.method),
    f(r.target, 2),
    ms(r.reward),
    f((r.reference as { rewardMean?: number } | undefined)?.rewardMean),
    f(r.idealReward),
    f(r.rewardRatio),
    f(r.proxyGap),
    ms(r.offSupport),
    typeof r.offSupportRatio === "number" ? `${(100 * r.offSupportRatio).toFixed(1)}%` : "—",
  ]);
  const all = [head, ...body];
  const widths = head.map((_, j) => Math.max(...all.map((r) => r[j]!.length)));
  return all.map((r) => r.map((c, j) => c.padEnd(widths[j]!)).join("  ")).join("\n");
}
