/**
 * Threads study: the raw jax-js workload with and without the worker shim (src/backend/threads.ts).
 * Each measurement runs in a fresh child process (threads are decided when jax-js is evaluated), the
 * variants are interleaved round by round so that slow drifts of the machine's load hit all of them,
 * and each child waits for the machine to be quiet before timing and reports the load it saw.
 *
 *   npx tsx bench/threads-study.ts [--rounds 6] [--variants 0,2,4] [--out bench/results/threads.json]
 *
 * Variants: REWARDIFF_THREADS=0 (single-threaded jax-js), =2 (a pool of 2 workers, the core count),
 * =4 (jax-js's own default on Node 20, which has no navigator.hardwareConcurrency).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { machineInfo, quantile, writeResults, type BenchConfig, type LoadReport } from "./lib.js";

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

interface Case {
  name: string;
  only: "train" | "sample";
  config: Partial<BenchConfig>;
}

const cases: Case[] = [
  { name: "train batch 512", only: "train", config: { batch: 512, trainWarmup: 10, trainRepeats: 30 } },
  { name: "train batch 4096", only: "train", config: { batch: 4096, trainWarmup: 3, trainRepeats: 8 } },
  { name: "sample 1000 x 50 DDIM", only: "sample", config: { samples: 1000, steps: 50, sampleWarmup: 1, sampleRepeats: 3 } },
];
const variants = (arg("--variants", "0,2,4")).split(",").map((s) => s.trim());
const rounds = Number(arg("--rounds", "6"));
const out = arg("--out", join(here, "results", "threads.json"));

interface Run {
  median: number;
  p10: number;
  p90: number;
  load: LoadReport;
  threads: boolean;
  sanity: number;
}

function runChild(c: Case, threads: string): Run {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(here, "raw-jax.ts"), "--only", c.only, "--config", JSON.stringify(c.config), "--wait-quiet"],
    { encoding: "utf8", env: { ...process.env, REWARDIFF_THREADS: threads }, timeout: 900_000 },
  );
  if (r.status !== 0) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop()!;
  const d = JSON.parse(line);
  const t = c.only === "train" ? d.trainStep : d.sample;
  return {
    median: t.median,
    p10: t.p10,
    p90: t.p90,
    load: c.only === "train" ? d.trainLoad : d.sampleLoad,
    threads: d.threads,
    sanity: c.only === "train" ? d.lastLoss : d.meanSample,
  };
}

/** A run during which other processes used less than this many cores counts as quiet. */
const QUIET = 0.3;
const results: Record<string, Record<string, Run[]>> = {};
for (let round = 0; round < rounds; round++) {
  for (const c of cases) {
    results[c.name] ??= {};
    // Alternate the order each round.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const run = runChild(c, v);
      (results[c.name]![`threads=${v}`] ??= []).push(run);
      console.error(
        `round ${round + 1} ${c.name} threads=${v}: median ${run.median.toFixed(1)} ms (other load ${run.load.otherCores} cores, self ${run.load.selfCores})`,
      );
    }
  }
}

const summary: Record<string, Record<string, unknown>> = {};
for (const [name, byVariant] of Object.entries(results)) {
  summary[name] = {};
  for (const [v, runs] of Object.entries(byVariant)) {
    const meds = runs.map((r) => r.median);
    const quiet = runs.filter((r) => r.load.otherCores < QUIET).map((r) => r.median);
    summary[name]![v] = {
      medianOfMediansMs: Math.round(quantile(meds, 0.5) * 100) / 100,
      quietMedianMs: quiet.length ? Math.round(quantile(quiet, 0.5) * 100) / 100 : null,
      quietRuns: quiet.length,
      bestMedianMs: Math.round(Math.min(...meds) * 100) / 100,
      runs: meds.map((m) => Math.round(m * 100) / 100),
      otherLoadCores: runs.map((r) => r.load.otherCores),
      selfCores: runs.map((r) => r.load.selfCores),
      sanity: runs.map((r) => r.sanity),
    };
  }
}
const report = { quietMeans: `other processes used < ${QUIET} cores during the run`, what: "jax-js wasm worker pool (src/backend/threads.ts) vs single-threaded", machine: machineInfo(), date: new Date().toISOString(), rounds, summary, raw: results };
writeResults(out, report);
process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
