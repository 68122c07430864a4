/**
 * The busy rule of `npm run bench` (bench/README.md, "Load discipline"): every measurement carries the CPU
 * use of the other processes on the machine during it (`otherCores`, lib.ts `startLoadMonitor`, or the
 * same figure computed by the PyTorch scripts). A results object in which any measurement saw other
 * processes use ≥ BUSY_OTHER_CORES cores — or whose load could not be measured — is busy: it is marked so
 * and written to `busy-<date>.json`, never as `latest.json`.
 */
import { join } from "node:path";

/** Other processes' mean CPU use (cores) at or above which a measurement counts as contended. */
export const BUSY_OTHER_CORES = 0.3;

/** One measurement's load, found in a results object, with where it was found. */
export interface LoadEntry {
  /** Dotted path of the object holding `otherCores`, e.g. `sample10k.torch.load`. */
  path: string;
  otherCores: number;
}

export interface BusyVerdict {
  busy: boolean;
  /** Other processes' highest CPU use over all measurements (NaN when one could not be measured). */
  worstOtherCores: number;
  /** The measurements at or above the threshold, or with an unknown load. */
  contended: LoadEntry[];
  /** Every load found (so a reader can see that each measurement had one). */
  measurements: number;
  threshold: number;
}

/** Every object with a numeric (or null: NaN written as JSON) `otherCores` field inside `obj`. */
export function collectLoads(obj: unknown, path = ""): LoadEntry[] {
  if (obj === null || typeof obj !== "object") return [];
  const out: LoadEntry[] = [];
  const rec = obj as Record<string, unknown>;
  if ("otherCores" in rec) {
    const v = rec.otherCores;
    out.push({ path: path || "(top)", otherCores: typeof v === "number" ? v : Number.NaN });
  }
  for (const [k, v] of Object.entries(rec)) {
    if (k === "otherCores") continue;
    out.push(...collectLoads(v, path ? `${path}.${k}` : k));
  }
  return out;
}

/** The busy verdict over every measurement in `results` (an unknown load counts as busy: it is not known quiet). */
export function busyVerdict(results: unknown, threshold = BUSY_OTHER_CORES): BusyVerdict {
  const loads = collectLoads(results);
  const contended = loads.filter((l) => !(l.otherCores < threshold));
  const worst = loads.reduce((m, l) => (Number.isNaN(l.otherCores) || Number.isNaN(m) ? Number.NaN : Math.max(m, l.otherCores)), 0);
  return { busy: contended.length > 0 || loads.length === 0, worstOtherCores: worst, contended, measurements: loads.length, threshold };
}

/** Where a run's results go: `latest.json` when quiet, `busy-<UTC date and time>.json` when busy. */
export function resultsPath(dir: string, busy: boolean, when: Date = new Date()): string {
  if (!busy) return join(dir, "latest.json");
  const stamp = when.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
  return join(dir, `busy-${stamp}.json`);
}
