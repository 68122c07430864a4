/**
 * The threads section of `npm run bench` (bench/README.md, "Threads on/off"): rewardiff with jax-js's wasm
 * worker pool (src/backend/threads.ts, 2 workers) against none, on sampling 10,000 × 50 DDIM and a width-512
 * training step. Threads are decided when jax-js is evaluated, so every measurement is a fresh process
 * (bench/rewardiff-workloads.ts with REWARDIFF_THREADS=0 or =2); the variants alternate round by round.
 * Beside them, PyTorch on the same workloads with OpenBLAS on 1 thread and on 2 (its own threads on/off).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_BENCH_CONFIG, quantile, runTorchReference, type BenchConfig, type LoadReport, type TorchReference } from "./lib.js";

const here = dirname(fileURLToPath(import.meta.url));

/** A workload of the threads section. */
export interface ThreadsCase {
  key: "sample10k" | "train512" | "sample1k" | "train256";
  label: string;
  only: "train" | "sample";
  config: BenchConfig;
}

/**
 * Sampling 10,000 × 50 DDIM (1 + 3 runs) and a training step of the MLP at width 512, batch 512 (10 + 40 steps):
 * the thread targets. Then the core section's own workloads (sampling 1,000 × 50, 1 + 5 runs; the
 * 256×3 training step at batch 512, 20 + 100 steps), which the CLI's policy runs with the pool since patch
 * item 11 (src/cli/threads-policy.ts): their "2 workers" figure against PyTorch on 2 BLAS threads is rewardiff
 * as its command line runs them, both on 2 cores.
 */
export const THREADS_CASES: readonly ThreadsCase[] = Object.freeze([
  { key: "sample10k", label: "sample 10,000 × 50 DDIM", only: "sample", config: { ...DEFAULT_BENCH_CONFIG, samples: 10_000, sampleWarmup: 1, sampleRepeats: 3 } },
  { key: "train512", label: "train step, width 512, batch 512", only: "train", config: { ...DEFAULT_BENCH_CONFIG, hidden: 512, trainWarmup: 10, trainRepeats: 40 } },
  { key: "sample1k", label: "sample 1,000 × 50 DDIM", only: "sample", config: { ...DEFAULT_BENCH_CONFIG, sampleWarmup: 1, sampleRepeats: 5 } },
  { key: "train256", label: "train step, MLP 256×3, batch 512", only: "train", config: { ...DEFAULT_BENCH_CONFIG, trainWarmup: 20, trainRepeats: 100 } },
]);

/** REWARDIFF_THREADS values compared: none, and a pool of 2 workers (the core count of the bench machine). */
export const THREADS_VARIANTS = ["0", "2"] as const;

/** One fresh-process measurement. */
export interface ThreadsRun {
  threads: string;
  medianMs: number;
  p10: number;
  p90: number;
  all: number[];
  load: LoadReport;
  /** Workers jax-js actually started (0 without threads; > 0 proves the pool ran). */
  workersStarted: number;
}

function runChild(c: ThreadsCase, threads: string, waitQuiet: boolean): ThreadsRun {
  const args = ["--import", "tsx", join(here, "rewardiff-workloads.ts"), "--only", c.only, "--config", JSON.stringify(c.config)];
  if (waitQuiet) args.push("--wait-quiet");
  const r = spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, REWARDIFF_THREADS: threads }, timeout: 600_000, maxBuffer: 16 * 2 ** 20 });
  if (r.error) throw new Error(`threads section: the ${c.key} child (REWARDIFF_THREADS=${threads}) failed: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`threads section: the ${c.key} child (REWARDIFF_THREADS=${threads}) exited with ${r.status ?? r.signal}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`);
  const line = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new Error(`threads section: the ${c.key} child printed no JSON line`);
  const d = JSON.parse(line) as { ms: { median: number; p10: number; p90: number; all: number[] }; load: LoadReport; workersStarted: number };
  const round2 = (v: number) => Math.round(v * 100) / 100;
  return { threads, medianMs: round2(d.ms.median), p10: round2(d.ms.p10), p90: round2(d.ms.p90), all: d.ms.all.map(round2), load: d.load, workersStarted: d.workersStarted };
}

function torchMs(t: TorchReference, only: "train" | "sample"): number | null {
  if (!t.available) return null;
  return (only === "train" ? t.trainStepMs : t.sampleMs) ?? null;
}

/** Runs the section: `rounds` rounds of every case × variant (order alternating), then PyTorch on 1 and 2 BLAS threads. */
export function threadsSection(opts: { rounds?: number; waitQuiet?: boolean; log?: (s: string) => void } = {}) {
  const rounds = opts.rounds ?? 1;
  const log = opts.log ?? (() => {});
  const cases: Record<string, unknown> = {};
  for (const c of THREADS_CASES) {
    const runs: ThreadsRun[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? THREADS_VARIANTS : [...THREADS_VARIANTS].reverse();
      for (const v of order) {
        log(`threads: ${c.label}, REWARDIFF_THREADS=${v} (fresh process)…\n`);
        runs.push(runChild(c, v, opts.waitQuiet ?? false));
      }
    }
    const med = (v: string) => quantile(runs.filter((r) => r.threads === v).map((r) => r.medianMs), 0.5);
    const none = med("0");
    const two = med("2");
    log(`threads: ${c.label}, PyTorch with 1 and 2 BLAS threads…\n`);
    const torch1 = runTorchReference(c.config, { mode: c.only, blasThreads: 1 });
    const torch2 = runTorchReference(c.config, { mode: c.only, blasThreads: 2 });
    const t1 = torchMs(torch1, c.only);
    const t2 = torchMs(torch2, c.only);
    const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    cases[c.key] = {
      label: c.label,
      config: c.config,
      rewardiff: { noThreadsMs: none, twoWorkersMs: two, speedup: r(none, two), runs },
      torch: { oneThreadMs: t1, twoThreadsMs: t2, speedup: t1 !== null && t2 !== null ? r(t1, t2) : null, oneThread: torch1, twoThreads: torch2 },
      ratios: {
        "rewardiff 2 workers / PyTorch 2 BLAS threads": t2 !== null ? r(two, t2) : null,
        "rewardiff no threads / PyTorch 1 BLAS thread": t1 !== null ? r(none, t1) : null,
      },
    };
  }
  return { when: new Date().toISOString(), rounds, variants: [...THREADS_VARIANTS], cases };
}
