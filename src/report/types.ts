/**
 * The shape of report.json, version 1 (docs/contract.md § "report.json"). Every number in a report
 * was measured by the run that wrote it; metrics that do not apply to a row are omitted (the key is
 * absent), never faked.
 */

/** A statistic over the generated samples: its mean and standard deviation. */
export interface MeanStd {
  mean: number;
  std: number;
}

/**
 * Metric values a result row may carry beyond the named ones: a plain number, a {mean, std} summary,
 * or a small object of numbers (e.g. `{ rewardMean }`). Booleans and strings are allowed for labels.
 */
export type MetricValue = number | string | boolean | null | MeanStd | { [k: string]: number | null };

/** One (method, target, alpha) setting evaluated on `samples` generated samples. */
export interface ResultRow {
  /** Method kind as in the config ("rcgdm", "cfg", "dps", ...). */
  method: string;
  /**
   * The row's name: the method entry's `label`, else its default (the kind; "kind#i" when a default
   * repeats), or a runner's name for one of several rows of an entry (e.g. "cfg[a=1]"). Set on every
   * row `rewardiff run` writes; entries' labels are unique in a run.
   */
  label?: string;
  /** Requested reward value (conditioning methods); null where the method takes no target. */
  target: number | null;
  /** Temperature / KL strength of the tilt p · exp(r/alpha); null where the method has none. */
  alpha: number | null;
  /** Number of generated samples the metrics are computed on. */
  samples: number;
  /** Ground-truth (oracle) reward of the generated samples. */
  reward?: MeanStd;
  /** The learned reward on the same samples, if the run uses one. */
  proxyReward?: MeanStd;
  /** linear-subspace only: mean ‖(I − AAᵀ)x‖ of the samples. */
  offSupport?: { mean: number; std?: number };
  /** The exact value where the task knows it (fixtures.md). */
  reference?: { rewardMean: number; [k: string]: number };
  /** Classification tasks: requested label vs the ground-truth labeler. */
  accuracy?: number;
  /** Classification tasks: macro-averaged F1 of requested label vs the ground-truth labeler. */
  macroF1?: number;
  /** More metrics (target error, MMD, sliced Wasserstein, ECE, ...). */
  [metric: string]: MetricValue | undefined;
}

/** One logged point of a training curve. */
export interface LossPoint {
  step: number;
  loss: number;
}

/** A training log: the loss curve plus free-form numeric facts (steps, seconds, final loss, ...). */
export interface TrainingLog {
  loss: LossPoint[];
  [k: string]: unknown;
}

/**
 * Training curves of the run. `loss` is the main model's curve; further logs (a reward model, a
 * fine-tuning stage per method, ...) may go under their own keys, each a {@link TrainingLog}.
 */
export type TrainingSection = TrainingLog;

/**
 * A distribution distance between the samples of one result setting and a reference set
 * (the data, or exact samples of the tilted law): `against` names the reference, and the
 * remaining numeric keys are the distances measured (e.g. `mmd`, `slicedW`).
 */
export interface DistanceRow {
  method: string;
  target: number | null;
  alpha: number | null;
  against: string;
  [metric: string]: number | string | null;
}

/**
 * A file a run wrote beside its report: samples (CSV) or a model (safetensors), named relative to
 * the report's folder; `rows` are the indices into `results` it belongs to (absent: the whole run's,
 * e.g. the base model).
 */
export interface ReportFile {
  path: string;
  kind: "samples" | "model";
  /** What it is, for a reader: the samples' or the model's name. */
  label: string;
  rows?: number[];
}

/** report.json version 1. */
export interface Report {
  version: 1;
  /** The validated config, defaults filled in. */
  config: Record<string, unknown>;
  results: ResultRow[];
  /** Wall-clock seconds: `totalSeconds` for the whole run, other keys per phase. */
  timings: { totalSeconds: number; [k: string]: number };
  /** Optional extra section: training curves. */
  training?: TrainingSection;
  /** Optional extra section: distribution distances. */
  distances?: DistanceRow[];
  /** Optional: the samples and model files the run wrote, and the rows they belong to. */
  files?: ReportFile[];
  /** Further sections (free-form, JSON-serialisable). */
  [section: string]: unknown;
}

/**
 * Paths (like `results[2].reward.std`) of every non-finite number in a JSON-like value. JSON cannot
 * hold NaN or ±Infinity (JSON.stringify would silently write null), so a report must be checked
 * before it is written.
 */
export function findNonFinite(value: unknown, path = ""): string[] {
  const out: string[] = [];
  const walk = (v: unknown, p: string): void => {
    if (typeof v === "number") {
      if (!Number.isFinite(v)) out.push(`${p || "(root)"} = ${v}`);
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${p}[${i}]`));
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
    }
  };
  walk(value, path);
  return out;
}

/**
 * Checks the parts of the version-1 shape every consumer relies on and returns the value typed as
 * a Report; throws one line naming the first problem.
 */
export function assertReport(value: unknown, where = "report"): Report {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail("not a JSON object");
  const r = value as Record<string, unknown>;
  if (r.version !== 1) fail(`unsupported version ${JSON.stringify(r.version)} (expected 1)`);
  if (r.config === null || typeof r.config !== "object" || Array.isArray(r.config)) {
    fail("config must be an object");
  }
  if (!Array.isArray(r.results)) fail("results must be an array");
  (r.results as unknown[]).forEach((row, i) => {
    if (row === null || typeof row !== "object" || Array.isArray(row)) fail(`results[${i}] is not an object`);
    const o = row as Record<string, unknown>;
    if (typeof o.method !== "string") fail(`results[${i}].method must be a string`);
    if (o.label !== undefined && typeof o.label !== "string") fail(`results[${i}].label must be a string`);
    for (const k of ["target", "alpha"]) {
      if (o[k] !== null && typeof o[k] !== "number") fail(`results[${i}].${k} must be a number or null`);
    }
    if (typeof o.samples !== "number" || !Number.isInteger(o.samples) || o.samples < 0) {
      fail(`results[${i}].samples must be a whole number`);
    }
  });
  const t = r.timings as Record<string, unknown> | null;
  if (t === null || typeof t !== "object" || Array.isArray(t)) fail("timings must be an object");
  if (typeof t!.totalSeconds !== "number") fail("timings.totalSeconds must be a number");
  for (const [k, v] of Object.entries(t!)) if (typeof v !== "number") fail(`timings.${k} must be a number`);
  const bad = findNonFinite(value);
  if (bad.length > 0) fail(`non-finite number at ${bad[0]}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ""}`);
  return value as Report;
}
