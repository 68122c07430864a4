/**
 * `npm run bench`: rewardiff beside PyTorch, measured in the same run (bench/README.md). Sections, each
 * selectable with `--only a,b` (default: all, in this order):
 *  - core: one training step of the MLP 2 (+18 time features) → 256 → 256 → 256 → 2 (SiLU), batch 512, Adam,
 *    and sampling 1,000 points × 50 DDIM steps — rewardiff (`trainSteps`, `generate`), rewardiff's own jitted
 *    step in a bare loop (our overhead), raw jax-js (bench/raw-jax.ts) and PyTorch (bench/torch_reference.py);
 *  - finetune: one value-and-gradient of reward backpropagation through the 50-step DDPM chain
 *    (src/finetune/chain.ts, bench/finetune.ts) against torch autograd, key `finetuneChain`;
 *  - graph: one training step of the graph transformer denoiser at batch 128 and 256 (bench/graph-step.ts,
 *    bench/torch_graph_reference.py), key `graphStep`;
 *  - sample10k: `generate` of 10,000 points × 50 DDIM steps against PyTorch, key `sample10k`;
 *  - threads: jax-js's worker pool (2 workers) against none, in fresh processes, on sampling 10,000 × 50,
 *    a width-512 training step and the core section's two workloads, PyTorch on 1 and 2 BLAS threads beside
 *    (bench/threads-section.ts), key `threads`.
 * Other processes' CPU use is recorded beside every measurement; a run in which any of them used
 * ≥ 0.3 cores is marked busy and written to results/busy-<date>.json, never as results/latest.json
 * (bench/load-rule.ts). A quiet full run replaces latest.json; a quiet `--only` run merges its sections into it.
 *
 *   npm run bench [-- --only core,finetune,graph,sample10k,threads] [--wait-quiet] [--threads-rounds N]
 */
import "../src/backend/heap-probe.js"; // before jax-js: the finetune bench reads the wasm heap (src/backend/heap.ts)
import "../src/backend/jax.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBackend } from "../src/backend/init.js";
import { enableRelaxedSimd } from "../src/cli/relaxed-simd.js";
import { shimWorkersStarted } from "../src/backend/threads.js";
import { DEFAULT_FINETUNE_CONFIG, rewardiffChainGrad } from "./finetune.js";
import { DEFAULT_GRAPH_STEP_CONFIG, graphStepSection } from "./graph-step.js";
import { DEFAULT_BENCH_CONFIG, machineInfo, runTorchFinetuneReference, runTorchReference, waitForQuiet, writeResults, type BenchConfig } from "./lib.js";
import { BUSY_OTHER_CORES, busyVerdict, resultsPath } from "./load-rule.js";
import { rawJaxSample, rawJaxTrainStep } from "./raw-jax.js";
import { rewardiffSample, rewardiffTrain, sameJittedTrain } from "./rewardiff-workloads.js";
import { threadsSection } from "./threads-section.js";

const here = new URL(".", import.meta.url).pathname;
const cfg = { ...DEFAULT_BENCH_CONFIG };
const WARMUP = 20;
const STEPS = 200;

/** The sections, in the order a full run takes them. */
export const SECTIONS = ["core", "finetune", "graph", "sample10k", "threads"] as const;
export type Section = (typeof SECTIONS)[number];

/** A row of the summary table: rewardiff beside PyTorch, with other processes' worst CPU use over both. */
interface Row {
  workload: string;
  rewardiffMs: number;
  torchMs: number | null;
  otherCores: number;
}
const rows: Row[] = [];
const r2 = (a: number, b: number) => Math.round((a / b) * 100) / 100;
/** The highest of the loads that were measured (undefined: that side did not run); NaN if one of them is unknown. */
const worst = (...xs: (number | undefined)[]) => Math.max(...xs.filter((x): x is number => x !== undefined));

/** core: the MLP training step and sampling 1,000 × 50; top-level keys as before (rewardiff, sameJittedComputation, rawJax, torch, ratios). */
async function coreSection(): Promise<Record<string, unknown>> {
  process.stderr.write("rewardiff training step…\n");
  const ours = await rewardiffTrain(cfg, WARMUP, STEPS);
  process.stderr.write("same jitted computation, bare loop…\n");
  const bare = await sameJittedTrain(cfg, WARMUP, STEPS);
  process.stderr.write("rewardiff sampling…\n");
  const oursSample = await rewardiffSample(cfg, 1, 5);
  process.stderr.write("raw jax-js baselines…\n");
  const rawTrain = await rawJaxTrainStep(cfg);
  const rawSample = await rawJaxSample(cfg);
  process.stderr.write("PyTorch reference…\n");
  const torch = runTorchReference(cfg);
  const t = torch.available ? torch : undefined;
  rows.push({ workload: "train step, MLP 256×3, batch 512", rewardiffMs: ours.trainStep.median, torchMs: t?.trainStepMs ?? null, otherCores: worst(ours.load.otherCores, (t?.trainLoad ?? t?.load)?.otherCores) });
  rows.push({ workload: "sampling 1,000 × 50 DDIM", rewardiffMs: oursSample.sample.median, torchMs: t?.sampleMs ?? null, otherCores: worst(oursSample.load.otherCores, (t?.sampleLoad ?? t?.load)?.otherCores) });
  if (!t) process.stdout.write(`PyTorch: ${torch.available ? "" : torch.reason}\n`);
  return {
    config: cfg,
    rewardiff: { trainStepMs: ours.trainStep, trainLoad: ours.load, sampleMs: oursSample.sample, sampleLoad: oursSample.load },
    sameJittedComputation: { trainStepMs: bare.trainStep, load: bare.load },
    rawJax: { trainStepMs: rawTrain.trainStep, trainLoad: rawTrain.load, sampleMs: rawSample.sample, sampleLoad: rawSample.load },
    torch,
    ratios: {
      "rewardiff train / same jitted computation (goal ≤ 1.5)": r2(ours.trainStep.median, bare.trainStep.median),
      "rewardiff train / raw jax-js MLP step": r2(ours.trainStep.median, rawTrain.trainStep.median),
      "rewardiff sample / raw jax-js sample": r2(oursSample.sample.median, rawSample.sample.median),
      ...(t && t.trainStepMs !== undefined && t.sampleMs !== undefined
        ? {
            "rewardiff train / PyTorch": r2(ours.trainStep.median, t.trainStepMs),
            "raw jax-js train / PyTorch": r2(rawTrain.trainStep.median, t.trainStepMs),
            "rewardiff sample / PyTorch": r2(oursSample.sample.median, t.sampleMs),
          }
        : {}),
    },
  };
}

/** (c): rewardiff's chain gradient (segmented and not) and the PyTorch reference, as the `finetuneChain` key. */
async function finetuneSection() {
  const fc = DEFAULT_FINETUNE_CONFIG;
  process.stderr.write(`reward backpropagation, ${fc.chains} chains × ${fc.steps} DDPM steps (rewardiff)…\n`);
  const ours = await rewardiffChainGrad(cfg, fc);
  process.stderr.write("reward backpropagation (PyTorch reference)…\n");
  const torch = runTorchFinetuneReference({ ...cfg, steps: fc.steps, chains: fc.chains, finetuneWarmup: fc.warmup, finetuneRepeats: fc.repeats });
  const t = torch.available ? torch : undefined;
  const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const same = t ? t.timesteps.length === ours.timesteps.length && t.timesteps.every((v, i) => v === ours.timesteps[i]) : undefined;
  const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  const section = {
    when: new Date().toISOString(),
    workload: "value-and-gradient of -mean r(x_0) + Σ_t mean KL_t through DDPM (trailing, β̃), all weights trainable, frozen reference; see bench/README.md",
    rewardiff: {
      ...ours,
      heapMiB: { segmented: mib(ours.segmented.heapBytes), full: mib(ours.full.heapBytes) },
    },
    torch,
    ...(same === undefined ? {} : { sameTimesteps: same }),
    ratios: {
      "rewardiff segmented / unsegmented": r(ours.segmented.gradMs.median, ours.full.gradMs.median),
      ...(t
        ? {
            "rewardiff (no segmentation) / PyTorch": r(ours.full.gradMs.median, t.gradMs),
            [`rewardiff (segments of ${fc.segment}) / PyTorch`]: r(ours.segmented.gradMs.median, t.gradMs),
          }
        : {}),
    },
  };
  rows.push({ workload: "reward backprop, 50 steps, 128 chains", rewardiffMs: ours.full.gradMs.median, torchMs: t ? t.gradMs : null, otherCores: worst(ours.full.load.otherCores, ours.segmented.load.otherCores, t?.load.otherCores) });
  const line = (name: string, ms: number, p10: number, p90: number) =>
    process.stdout.write(`${name.padEnd(44)} ${ms.toFixed(1)} ms (p10 ${p10.toFixed(1)}, p90 ${p90.toFixed(1)})\n`);
  line("rewardiff chain grad, no segmentation", ours.full.gradMs.median, ours.full.gradMs.p10, ours.full.gradMs.p90);
  line(`rewardiff chain grad, segments of ${fc.segment}`, ours.segmented.gradMs.median, ours.segmented.gradMs.p10, ours.segmented.gradMs.p90);
  if (t) line("PyTorch chain grad (autograd)", t.gradMs, t.gradMsP10, t.gradMsP90);
  else if (!torch.available) process.stdout.write(`PyTorch: ${torch.reason}\n`);
  process.stdout.write(`wasm heap high-water mark: ${section.rewardiff.heapMiB.segmented} MiB after the segmented run, ${section.rewardiff.heapMiB.full} MiB after the unsegmented one\n`);
  return section;
}

/** graph: the graph transformer's training step at batch 128 and 256 beside PyTorch (bench/graph-step.ts). */
async function graphSection() {
  process.stderr.write(`graph transformer training step, batches ${DEFAULT_GRAPH_STEP_CONFIG.batches.join(", ")} (rewardiff and PyTorch)…\n`);
  const g = await graphStepSection(DEFAULT_GRAPH_STEP_CONFIG);
  for (const s of g.steps as { batch: number; rewardiffMs: number; torchMs: number | null; rewardiff: { load: { otherCores: number } }; torch: { available: boolean; load?: { otherCores: number } } }[]) {
    rows.push({ workload: `graph transformer train step, batch ${s.batch}`, rewardiffMs: s.rewardiffMs, torchMs: s.torchMs, otherCores: worst(s.rewardiff.load.otherCores, s.torch.available ? s.torch.load?.otherCores : undefined) });
  }
  return { when: new Date().toISOString(), ...g };
}

/** sample10k: `generate` of 10,000 points × 50 DDIM steps (its default batching) beside PyTorch sampling all at once. */
async function sample10kSection() {
  const c: BenchConfig = { ...cfg, samples: 10_000, sampleWarmup: 1, sampleRepeats: 3 };
  process.stderr.write("rewardiff sampling 10,000 × 50…\n");
  const ours = await rewardiffSample(c, c.sampleWarmup!, c.sampleRepeats!);
  process.stderr.write("PyTorch sampling 10,000 × 50…\n");
  const torch = runTorchReference(c, { mode: "sample" });
  const t = torch.available ? torch : undefined;
  rows.push({ workload: "sampling 10,000 × 50 DDIM", rewardiffMs: ours.sample.median, torchMs: t?.sampleMs ?? null, otherCores: worst(ours.load.otherCores, t?.load.otherCores) });
  return {
    when: new Date().toISOString(),
    config: c,
    rewardiff: { sampleMs: ours.sample, load: ours.load, meanSample: ours.meanSample, generateBatch: "generate's default (4096 rows per batch)" },
    torch,
    ratios: t?.sampleMs !== undefined ? { "rewardiff sample 10k / PyTorch": r2(ours.sample.median, t.sampleMs) } : {},
  };
}

/** Command line: `--only a,b`, `--wait-quiet`, `--threads-rounds N`. Throws a one-line message on bad input. */
export function parseArgs(argv: readonly string[]): { only: Section[]; waitQuiet: boolean; threadsRounds: number } {
  let only: Section[] = [...SECTIONS];
  let waitQuiet = false;
  let threadsRounds = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--wait-quiet") waitQuiet = true;
    else if (a === "--only" || a === "--threads-rounds") {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${a}: expected a value`);
      if (a === "--only") {
        const names = v.split(",").map((x) => x.trim()).filter((x) => x !== "");
        const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
        if (names.length === 0 || bad.length > 0) throw new UsageError(`--only: unknown section ${bad.length ? `"${bad.join('", "')}"` : "(none given)"}; expected some of ${SECTIONS.join(", ")}`);
        only = SECTIONS.filter((s) => names.includes(s));
      } else {
        threadsRounds = Number(v);
        if (!Number.isInteger(threadsRounds) || threadsRounds < 1) throw new UsageError(`--threads-rounds: expected a whole number ≥ 1, got "${v}"`);
      }
    } else throw new UsageError(`unknown argument "${a}" (--only ${SECTIONS.join(",")}, --wait-quiet, --threads-rounds N)`);
  }
  return { only, waitQuiet, threadsRounds };
}

class UsageError extends Error {}

function printSummary(threads: ReturnType<typeof threadsSection> | undefined) {
  const fmt = (v: number | null) => (v === null ? "—" : v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [`${pad("workload", 40)} ${"rewardiff ms".padStart(12)} ${"PyTorch ms".padStart(11)} ${"ratio".padStart(7)} ${"other cores".padStart(12)}`];
  for (const r of rows) {
    const ratio = r.torchMs === null ? "—" : `${r2(r.rewardiffMs, r.torchMs)}×`;
    const busy = !(r.otherCores < BUSY_OTHER_CORES) ? " busy" : "";
    lines.push(`${pad(r.workload, 40)} ${fmt(r.rewardiffMs).padStart(12)} ${fmt(r.torchMs).padStart(11)} ${ratio.padStart(7)} ${String(r.otherCores).padStart(12)}${busy}`);
  }
  if (threads) {
    lines.push("", `${pad("threads (fresh processes)", 40)} ${"none ms".padStart(10)} ${"2 workers".padStart(10)} ${"speedup".padStart(8)} | ${"PyTorch 1 thr".padStart(13)} ${"2 thr".padStart(7)} ${"speedup".padStart(8)} | ${"2 w ÷ 2 thr".padStart(11)}`);
    for (const c of Object.values(threads.cases) as { label: string; rewardiff: { noThreadsMs: number; twoWorkersMs: number; speedup: number }; torch: { oneThreadMs: number | null; twoThreadsMs: number | null; speedup: number | null } }[]) {
      const both = c.torch.twoThreadsMs === null ? "—" : `${r2(c.rewardiff.twoWorkersMs, c.torch.twoThreadsMs)}×`;
      lines.push(
        `${pad(c.label, 40)} ${fmt(c.rewardiff.noThreadsMs).padStart(10)} ${fmt(c.rewardiff.twoWorkersMs).padStart(10)} ${`${c.rewardiff.speedup}×`.padStart(8)} | ${fmt(c.torch.oneThreadMs).padStart(13)} ${fmt(c.torch.twoThreadsMs).padStart(7)} ${(c.torch.speedup === null ? "—" : `${c.torch.speedup}×`).padStart(8)} | ${both.padStart(11)}`,
      );
    }
  }
  process.stdout.write(lines.join("\n") + "\n");
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  // rewardiff as the CLI runs it: fused multiply–add in jax-js's matmuls on Node 20 (src/cli/relaxed-simd.ts;
  // REWARDIFF_RELAXED_SIMD=0 keeps it off), set before the first kernel compiles; the threads section's
  // fresh processes do the same.
  const relaxedSimd = enableRelaxedSimd();
  await ensureBackend();
  const t0 = performance.now();
  const dir = join(here, "results");
  const run: Record<string, unknown> = { when: new Date().toISOString(), machine: machineInfo(), relaxedSimd, sectionsRun: args.only };
  /** Per section: when it ran and the machine's load (all processes, cores) just before it; merged by key into latest.json. */
  const sectionRuns: Record<string, { when: string; machineLoadAtStart: number }> = {};
  let threads: ReturnType<typeof threadsSection> | undefined;
  for (const s of args.only) {
    // Machine load (all processes, cores) over a 0.5 s window before the section; with --wait-quiet, wait up to 60 s for it to drop.
    sectionRuns[s] = { when: new Date().toISOString(), machineLoadAtStart: await waitForQuiet({ timeoutMs: args.waitQuiet ? 60_000 : 0 }) };
    if (s === "core") Object.assign(run, await coreSection());
    else if (s === "finetune") run.finetuneChain = await finetuneSection();
    else if (s === "graph") run.graphStep = await graphSection();
    else if (s === "sample10k") run.sample10k = await sample10kSection();
    else {
      threads = threadsSection({ rounds: args.threadsRounds, waitQuiet: args.waitQuiet, log: (m) => process.stderr.write(m) });
      run.threads = threads;
    }
  }
  run.sectionRuns = sectionRuns;
  // Workers in this process (REWARDIFF_THREADS set for the whole run): the non-threads sections then ran threaded.
  run.threadsInThisProcess = shimWorkersStarted() > 0;
  run.totalSeconds = Math.round((performance.now() - t0) / 100) / 10;
  const verdict = busyVerdict(run);
  run.busy = verdict;
  printSummary(threads);
  const path = resultsPath(dir, verdict.busy);
  if (verdict.busy) {
    writeResults(path, run);
    const why = verdict.contended.slice(0, 6).map((c) => `${c.path} ${c.otherCores}`).join(", ");
    process.stdout.write(
      `BUSY: other processes used ≥ ${verdict.threshold} cores during ${verdict.contended.length} of ${verdict.measurements} measurements (${why}${verdict.contended.length > 6 ? ", …" : ""}).\n` +
        `Not written as results/latest.json; wrote ${path}\n`,
    );
  } else {
    // A full run replaces the file; a run of some sections keeps the other sections' keys.
    const full = SECTIONS.every((x) => args.only.includes(x));
    const previous: Record<string, unknown> = !full && existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : {};
    const before = (previous.sectionRuns ?? {}) as Record<string, unknown>;
    writeResults(path, { ...previous, ...run, sectionRuns: { ...before, ...sectionRuns } });
    process.stdout.write(`quiet run (other processes < ${verdict.threshold} cores in all ${verdict.measurements} measurements, worst ${verdict.worstOtherCores}); ${full ? "wrote" : `merged ${args.only.join(", ")} into`} ${path}\n`);
  }
  process.stdout.write(`total ${run.totalSeconds} s\n`);
}

main().catch((err) => {
  if (err instanceof UsageError) process.stderr.write(`rewardiff: bench: ${err.message}\n`);
  else process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
