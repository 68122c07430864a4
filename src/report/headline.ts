/**
 * The headline numbers of a result row: the one place that decides, from a row's keys, what a
 * reader sees first in report.html's summary and in the console table (docs/report.md § "The
 * summary"). Pure: a row (and the run's timings) in, the chosen numbers out, each with the path it
 * was read from inside the row, so that every figure shown can be traced to report.json. A number a
 * row does not carry is absent here (shown as "—"), never invented; the few derived numbers (a ratio
 * to the floor where the row has none, a z-score where the row has none, reward − target) say so
 * (`from: "derived"`) and are computed from the row's own numbers.
 */
import { resultLabel } from "./plots.js";
import type { ResultRow } from "./types.js";

/** A headline number and where it comes from: a path inside the row ("reward.mean"), or "derived". */
export interface HeadlineValue {
  value: number;
  from: string;
}

/** Distance ratio to its floor at or below which the samples count as indistinguishable from the reference. */
export const NEAR_FLOOR_RATIO = 1.5;
/** Distance ratio to its floor above which a row is flagged: far from the law it should match. */
export const FAR_FROM_FLOOR_RATIO = 3;
/** |z| of the reward gap within which the mean reward agrees with the exact value (sampling error). */
export const REWARD_Z_AGREES = 2;

export type DistanceVerdict = "at floor" | "above floor" | "far above floor";

export interface HeadlineMetrics {
  /** The row's display name: label (or kind) plus target=… and α=… where they apply. */
  name: string;
  /** The row's label (else its kind): names its files. */
  label: string;
  method: string;
  /** The row says its sampler diverged (no samples, no metrics). */
  diverged: boolean;
  /** Ground-truth reward of the samples vs the exact value E_p*[r] where the task knows it. */
  reward?: { mean: HeadlineValue; std?: HeadlineValue; exact?: HeadlineValue; z?: HeadlineValue; name?: string };
  /** Conditioning rows (a requested reward value a): the mean reward minus the target. */
  target?: { target: HeadlineValue; error: HeadlineValue };
  /**
   * Sliced-Wasserstein distance to the law the row should match (the tilted target p* where the row
   * measured it, else the data), beside its data-vs-data floor.
   */
  distance?: { against: "target" | "data"; value: HeadlineValue; floor: HeadlineValue; ratio: HeadlineValue; verdict: DistanceVerdict };
  /** Path KL to the pretrained / base model (nats per sample), and the exact KL(p*‖p) where known. */
  kl?: { value: HeadlineValue; exact?: HeadlineValue };
  /** Classification tilts: requested label vs the ground-truth labeler. */
  classification?: { accuracy?: HeadlineValue; macroF1?: HeadlineValue; exactAccuracy?: HeadlineValue };
  /** Reward evaluations and wall-clock seconds (sampling, training; else the method's whole time). */
  cost?: { rewardEvals?: HeadlineValue; seconds?: HeadlineValue; trainSeconds?: HeadlineValue; methodSeconds?: HeadlineValue };
  /** One line saying what the numbers mean. */
  meaning: string;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function num(row: Record<string, unknown>, path: string): HeadlineValue | undefined {
  let v: unknown = row;
  for (const k of path.split(".")) {
    if (!isObj(v)) return undefined;
    v = v[k];
  }
  return typeof v === "number" && Number.isFinite(v) ? { value: v, from: path } : undefined;
}

const derived = (value: number): HeadlineValue | undefined => (Number.isFinite(value) ? { value, from: "derived" } : undefined);

/** Distance keys in order of preference: to the target law first, then to the data. */
const DISTANCES: { key: string; against: "target" | "data" }[] = [
  { key: "swToTilted", against: "target" },
  { key: "targetSlicedWasserstein", against: "target" },
  { key: "slicedWasserstein", against: "data" },
];

function verdictOf(ratio: number): DistanceVerdict {
  if (ratio <= NEAR_FLOOR_RATIO) return "at floor";
  return ratio > FAR_FROM_FLOOR_RATIO ? "far above floor" : "above floor";
}

function distanceOf(r: Record<string, unknown>): HeadlineMetrics["distance"] {
  for (const d of DISTANCES) {
    const value = num(r, `${d.key}.value`);
    const floor = num(r, `${d.key}.floor`);
    if (!value || !floor) continue;
    const ratio = num(r, `${d.key}.ratio`) ?? (floor.value > 0 ? derived(value.value / floor.value) : undefined);
    if (!ratio) continue;
    return { against: d.against, value, floor, ratio, verdict: verdictOf(ratio.value) };
  }
  return undefined;
}

function rewardOf(r: Record<string, unknown>, samples: number): HeadlineMetrics["reward"] {
  const mean = num(r, "reward.mean");
  if (!mean) return undefined;
  const std = num(r, "reward.std");
  const exact = num(r, "reference.rewardMean");
  let z = num(r, "rewardGap.z");
  // The row's own z where it has one; else the gap in standard errors std/√n of its summary.
  if (!z && exact && std && std.value > 0 && samples > 0) z = derived((mean.value - exact.value) / (std.value / Math.sqrt(samples)));
  const name = typeof r.rewardName === "string" ? r.rewardName : undefined;
  return { mean, ...(std ? { std } : {}), ...(exact ? { exact } : {}), ...(exact && z ? { z } : {}), ...(name ? { name } : {}) };
}

function costOf(r: Record<string, unknown>, label: string, timings: Record<string, unknown> | undefined): HeadlineMetrics["cost"] {
  const out: NonNullable<HeadlineMetrics["cost"]> = {};
  const evals = num(r, "cost.rewardEvals");
  const seconds = num(r, "cost.seconds");
  const train = num(r, "cost.trainSeconds");
  if (evals) out.rewardEvals = evals;
  if (seconds) out.seconds = seconds;
  if (train && train.value > 0) out.trainSeconds = train;
  if (!seconds && timings) {
    const key = `${label}Seconds`;
    const t = timings[key];
    if (typeof t === "number" && Number.isFinite(t)) out.methodSeconds = { value: t, from: `timings.${key}` };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : Number(v.toPrecision(3)).toString());

function meaningOf(h: Omit<HeadlineMetrics, "meaning">): string {
  if (h.diverged) return "Diverged: no samples, no metrics (try a smaller guidance scale).";
  const parts: string[] = [];
  let rewardOk = false;
  const rw = h.reward;
  if (rw?.exact && rw.z) {
    const z = rw.z.value;
    rewardOk = Math.abs(z) <= REWARD_Z_AGREES;
    if (rewardOk) parts.push(`mean reward matches its exact value (z = ${z.toFixed(1)})`);
    else parts.push(`mean reward ${z < 0 ? "below" : "above"} its exact value by ${Math.abs(z).toFixed(1)} standard errors`);
  }
  if (h.target) {
    const e = h.target.error.value;
    parts.push(`mean reward ${e >= 0 ? "+" : ""}${fmt(e)} off the requested ${fmt(h.target.target.value)}`);
  }
  if (h.classification?.accuracy) {
    const ex = h.classification.exactAccuracy;
    parts.push(`requested label hit ${fmt(100 * h.classification.accuracy.value)}% of the time${ex ? ` (exact p*: ${fmt(100 * ex.value)}%)` : ""}`);
  }
  const d = h.distance;
  if (d) {
    const ref = d.against === "target" ? "the target law" : "the data";
    const x = `${fmt(d.ratio.value)}× the floor`;
    if (d.verdict === "at floor") parts.push(`samples as close to ${ref} as sampling noise allows (${x})`);
    else if (d.verdict === "above floor") parts.push(`samples ${x} from ${ref}`);
    else parts.push(`⚠ samples far from ${ref} (${x})${rewardOk ? ": right mean reward, wrong distribution" : ""}`);
  }
  if (parts.length === 0) return h.kl ? "Only the KL to the pretrained model was measured." : "No headline metric measured for this row.";
  const s = parts.join("; ");
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

/**
 * The headline numbers of one report.json row. `timings` (the report's) gives a method's total
 * seconds where the row has no cost of its own.
 */
export function headlineMetrics(row: ResultRow, timings?: Record<string, unknown>): HeadlineMetrics {
  const r = row as unknown as Record<string, unknown>;
  const label = row.label ?? row.method;
  const samples = typeof row.samples === "number" ? row.samples : 0;
  const h: Omit<HeadlineMetrics, "meaning"> = { name: resultLabel(row), label, method: row.method, diverged: r.diverged === true };
  const reward = rewardOf(r, samples);
  if (reward) h.reward = reward;
  const target = num(r, "target");
  // Conditioning rows whose exact value is not the target itself (rcgdm: E[f*|ŷ=a] ≠ a).
  if (target && reward && reward.exact?.value !== target.value) h.target = { target, error: derived(reward.mean.value - target.value)! };
  const distance = distanceOf(r);
  if (distance) h.distance = distance;
  const kl = num(r, "klToPretrained");
  if (kl) {
    const exact = num(r, "reference.kl");
    h.kl = { value: kl, ...(exact ? { exact } : {}) };
  }
  const accuracy = num(r, "accuracy");
  const macroF1 = num(r, "macroF1");
  if (accuracy || macroF1) {
    const exactAccuracy = num(r, "reference.accuracy");
    h.classification = { ...(accuracy ? { accuracy } : {}), ...(macroF1 ? { macroF1 } : {}), ...(exactAccuracy ? { exactAccuracy } : {}) };
  }
  const cost = costOf(r, label, timings);
  if (cost) h.cost = cost;
  return { ...h, meaning: meaningOf(h) };
}

/** Headline numbers of every row of a report, in order. */
export function reportHeadlines(report: { results: readonly ResultRow[]; timings?: Record<string, unknown> }): HeadlineMetrics[] {
  return report.results.map((row) => headlineMetrics(row, report.timings));
}
