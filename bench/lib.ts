/**
 * Benchmark helpers: timing, the PyTorch reference launcher, machine info, result files.
 * See bench/README.md for what is measured and how the comparison is kept fair.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../src/io/atomic.js";

/** The system Python that Debian's python3-torch installs into (a `python3` earlier on PATH may lack torch). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

const here = dirname(fileURLToPath(import.meta.url));
/** Path of bench/torch_reference.py. */
export const TORCH_SCRIPT = join(here, "torch_reference.py");

// ---------------------------------------------------------------- timing

/** Summary of repeated timings, all in milliseconds. */
export interface Timing {
  median: number;
  p10: number;
  p90: number;
  mean: number;
  min: number;
  max: number;
  /** Every timed repeat, in order (warm-up runs excluded). */
  all: number[];
}

export interface TimeItOptions {
  /** Untimed runs first (compilation, caches). Default 3. */
  warmup?: number;
  /** Timed runs. Default 10. */
  repeats?: number;
}

/** The q-quantile (0..1) of `xs` with linear interpolation between order statistics. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Summarises timings in ms. */
export function summarize(all: readonly number[]): Timing {
  return {
    median: quantile(all, 0.5),
    p10: quantile(all, 0.1),
    p90: quantile(all, 0.9),
    mean: all.reduce((a, b) => a + b, 0) / Math.max(1, all.length),
    min: Math.min(...all),
    max: Math.max(...all),
    all: [...all],
  };
}

/**
 * Times `fn` (sync or async): `warmup` untimed calls, then `repeats` timed ones, each awaited before the
 * next starts. `fn` must itself wait for its work to finish (e.g. `await x.data()` for jax-js arrays).
 */
export async function timeIt(fn: () => unknown, opts: TimeItOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 3;
  const repeats = opts.repeats ?? 10;
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`warmup must be a whole number ≥ 0, got ${warmup}`);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`repeats must be a whole number ≥ 1, got ${repeats}`);
  for (let i = 0; i < warmup; i++) await fn();
  const all: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    all.push(performance.now() - t0);
  }
  return summarize(all);
}

// ---------------------------------------------------------------- machine

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs Node may use. */
  cores: number;
  avx512f: boolean;
  node: string;
  platform: string;
  arch: string;
  memoryGiB: number;
}

function cpuinfo(): string {
  try {
    return readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return "";
  }
}

/** True when /proc/cpuinfo lists the avx512f flag (the condition for OPENBLAS_CORETYPE=SKYLAKEX). */
export function hasAvx512f(text = cpuinfo()): boolean {
  return /^flags\s*:.*\bavx512f\b/m.test(text);
}

export function machineInfo(): MachineInfo {
  const text = cpuinfo();
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  return {
    cpuModel: model,
    cores: availableParallelism(),
    avx512f: hasAvx512f(text),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  };
}

// ---------------------------------------------------------------- machine load

/** Busy and total CPU jiffies of the whole machine (first line of /proc/stat), or undefined off Linux. */
function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user/nice)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** CPU use during a measurement, in cores (1 = one core fully busy). */
export interface LoadReport {
  /** The whole machine. */
  machineCores: number;
  /** This process (all its threads, including jax-js workers). */
  selfCores: number;
  /** Everything else: other processes sharing the machine. High values make timings unreliable. */
  otherCores: number;
  wallMs: number;
}

/**
 * Starts watching CPU use; `stop()` returns the machine's, this process's and everybody else's mean CPU
 * use (in cores) since the start. Other engineers' builds and tests share these 2 cores: report this
 * beside every timing so a reader can tell a quiet measurement from a contended one.
 */
export function startLoadMonitor(): { stop(): LoadReport } {
  const j0 = machineJiffies();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const cores = availableParallelism();
  return {
    stop(): LoadReport {
      const wallMs = performance.now() - t0;
      const j1 = machineJiffies();
      const c = process.cpuUsage(c0);
      const selfCores = (c.user + c.system) / 1000 / Math.max(wallMs, 1e-9);
      const machineCores = j0 && j1 && j1.total > j0.total ? ((j1.busy - j0.busy) / (j1.total - j0.total)) * cores : Number.NaN;
      const r = (v: number) => Math.round(v * 100) / 100;
      return { machineCores: r(machineCores), selfCores: r(selfCores), otherCores: r(Math.max(0, machineCores - selfCores)), wallMs: r(wallMs) };
    },
  };
}

/**
 * Waits (up to `timeoutMs`) until the other processes on the machine use less than `maxBusyCores`
 * cores over a `windowMs` window; returns the last observed machine load (cores). Use it before a
 * measurement on a shared machine; it never fails, it only waits.
 */
export async function waitForQuiet(opts: { maxBusyCores?: number; windowMs?: number; timeoutMs?: number } = {}): Promise<number> {
  const max = opts.maxBusyCores ?? 0.25;
  const windowMs = opts.windowMs ?? 500;
  const deadline = performance.now() + (opts.timeoutMs ?? 30_000);
  let busy: number;
  do {
    const mon = startLoadMonitor();
    await new Promise((r) => setTimeout(r, windowMs));
    busy = mon.stop().machineCores;
    if (!(busy >= max)) return busy;
  } while (performance.now() < deadline);
  return busy;
}

// ---------------------------------------------------------------- results

/** Writes `obj` as pretty JSON (temp file + rename, parent folders created). */
export function writeResults(path: string, obj: unknown): void {
  writeFileAtomic(path, JSON.stringify(obj, null, 2) + "\n");
}

// ---------------------------------------------------------------- the PyTorch reference

/** The workload shared by the PyTorch reference and the raw jax-js baseline (bench/README.md). */
export interface BenchConfig {
  /**
   * Network input size: outDim (x) + the time-embedding size (inDim − outDim). To mirror a network with
   * further inputs (e.g. a condition embedding), pass its full input size: the extra columns are then
   * more sinusoidal features, which costs the same matmuls.
   */
  inDim: number;
  hidden: number;
  /** Hidden layers: inDim → hidden × depth → outDim. */
  depth: number;
  /** Data dimension: the size of x and of the ε output. */
  outDim: number;
  batch: number;
  samples: number;
  steps: number;
  /** Diffusion steps of the training schedule (linear β 1e-4…0.02). Default 1000. */
  T?: number;
  trainWarmup?: number;
  trainRepeats?: number;
  sampleWarmup?: number;
  sampleRepeats?: number;
  seed?: number;
}

/** 2 + 16-dim time embedding → 256 → 256 → 256 → 2, batch 512, 1,000 samples × 50 DDIM steps. */
/**
 * inDim 20 = x (2) + an 18-wide time embedding: a first-layer input that is a multiple of 4 keeps jax-js's
 * matmuls on the SIMD path (docs/architecture.md, "Shapes on the SIMD path"), as the library's default
 * widths now do. Results before 2026-12-02 used inDim 18 (16 time features).
 */
export const DEFAULT_BENCH_CONFIG: Readonly<BenchConfig> = Object.freeze({
  inDim: 20,
  hidden: 256,
  depth: 3,
  outDim: 2,
  batch: 512,
  samples: 1000,
  steps: 50,
  T: 1000,
});

export type TorchDetection = { available: true; version: string } | { available: false; reason: string };

/** Whether `/usr/bin/python3` can import torch (spawns `python3 -c "import torch"`). */
export function detectTorch(python = SYSTEM_PYTHON): TorchDetection {
  if (!existsSync(python)) return { available: false, reason: `torch not available: ${python} not found` };
  const r = spawnSync(python, ["-c", "import torch, sys; sys.stdout.write(torch.__version__)"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.error) return { available: false, reason: `torch not available: ${r.error.message}` };
  if (r.status !== 0) {
    const last = (r.stderr ?? "").trim().split("\n").pop() ?? "";
    return { available: false, reason: `torch not available${last ? `: ${last}` : ""}` };
  }
  return { available: true, version: r.stdout.trim() };
}

/**
 * The environment of the reference run (design.md, "A fair PyTorch reference"): OpenBLAS with 2 threads
 * (torch's own pool is pinned to 1 inside the script), OPENBLAS_CORETYPE=SKYLAKEX only when the CPU has
 * AVX-512 (OpenBLAS 0.3.21 misdetects this CPU; forcing SKYLAKEX without avx512f crashes).
 */
export function torchEnv(base: NodeJS.ProcessEnv = process.env, blasThreads = 2): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, OPENBLAS_NUM_THREADS: String(blasThreads), OMP_NUM_THREADS: "1" };
  if (hasAvx512f()) env.OPENBLAS_CORETYPE = "SKYLAKEX";
  else delete env.OPENBLAS_CORETYPE;
  return env;
}

/** One line of JSON printed by bench/torch_reference.py. */
export interface TorchReferenceResult {
  available: true;
  torch: string;
  python: string;
  blas: { name: string; libraries: string[]; config?: string; corename?: string; threads?: number };
  threads: Record<string, string | number | null>;
  config: Record<string, number>;
  /** What ran: both (default), the training step alone, or sampling alone. */
  mode: TorchMode;
  /** Absent with mode "sample". */
  trainStepMs?: number;
  trainStepMsAll?: number[];
  /** Absent with mode "train". */
  sampleMs?: number;
  sampleMsAll?: number[];
  /** Wall time of the whole Python run (start-up, import, the measurements). */
  wallMs: number;
  /**
   * CPU use over the timed part, in cores: the Python process, the whole machine, and the rest (other
   * processes; high values make the timings unreliable).
   */
  load: { machineCores: number; selfCores: number; otherCores: number };
  /** The same over the training part alone, and over the sampling part alone (when they ran). */
  trainLoad?: { machineCores: number; selfCores: number; otherCores: number };
  sampleLoad?: { machineCores: number; selfCores: number; otherCores: number };
  /** Wall time of the timed part (both measurements with their warm-ups). */
  measureMs: number;
}

export type TorchReference = TorchReferenceResult | { available: false; reason: string };

/** `torch_reference.py --mode`: training step and sampling (default), or one of them. */
export type TorchMode = "train-sample" | "train" | "sample";

/**
 * Runs bench/torch_reference.py with the fair-reference environment and parses its JSON line.
 * Never throws for a missing torch or a failed run: it returns `{ available: false, reason }` (e.g.
 * "torch not available"), so a benchmark can report its own figures alone. `mode` picks the training step,
 * sampling or both (default); `blasThreads` sets OPENBLAS_NUM_THREADS (default 2, the core count here).
 */
export function runTorchReference(config: Partial<BenchConfig> = {}, opts: { python?: string; timeoutMs?: number; mode?: TorchMode; blasThreads?: number } = {}): TorchReference {
  return spawnTorchReference<TorchReferenceResult>(["--mode", opts.mode ?? "train-sample", "--config", JSON.stringify({ ...DEFAULT_BENCH_CONFIG, ...config })], opts);
}

/** One line of JSON printed by `bench/torch_reference.py --mode finetune`. */
export interface TorchFinetuneResult {
  available: true;
  mode: "finetune";
  torch: string;
  python: string;
  blas: TorchReferenceResult["blas"];
  threads: TorchReferenceResult["threads"];
  config: Record<string, number>;
  /** The plan's training indices t (decreasing), to compare with rewardiff's. */
  timesteps: number[];
  /** One value-and-gradient of the chain loss (forward + backward, K = all steps). */
  gradMs: number;
  gradMsAll: number[];
  gradMsP10: number;
  gradMsP90: number;
  lastLoss: number;
  wallMs: number;
  load: TorchReferenceResult["load"];
  measureMs: number;
}

export type TorchFinetune = TorchFinetuneResult | { available: false; reason: string };

/**
 * Runs `bench/torch_reference.py --mode finetune` (reward backpropagation through the DDPM chain with
 * torch autograd; bench/README.md) with the fair-reference environment. Never throws (as runTorchReference).
 */
export function runTorchFinetuneReference(
  config: Partial<BenchConfig> & { chains?: number; finetuneWarmup?: number; finetuneRepeats?: number } = {},
  opts: { python?: string; timeoutMs?: number } = {},
): TorchFinetune {
  return spawnTorchReference<TorchFinetuneResult>(["--mode", "finetune", "--config", JSON.stringify({ ...DEFAULT_BENCH_CONFIG, ...config })], opts);
}

function spawnTorchReference<R extends { available: true; wallMs: number }>(
  args: string[],
  opts: { python?: string; timeoutMs?: number; blasThreads?: number },
): R | { available: false; reason: string } {
  const python = opts.python ?? SYSTEM_PYTHON;
  const det = detectTorch(python);
  if (!det.available) return det;
  const t0 = performance.now();
  const r = spawnSync(python, [TORCH_SCRIPT, ...args], {
    encoding: "utf8",
    env: torchEnv(process.env, opts.blasThreads ?? 2),
    timeout: opts.timeoutMs ?? 600_000,
    maxBuffer: 16 * 2 ** 20,
  });
  const wallMs = performance.now() - t0;
  if (r.error) return { available: false, reason: `torch reference failed: ${r.error.message}` };
  if (r.status !== 0) {
    const tail = (r.stderr ?? "").trim().split("\n").slice(-3).join(" | ");
    return { available: false, reason: `torch reference exited with ${r.status ?? r.signal}: ${tail}` };
  }
  const line = (r.stdout ?? "").trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) return { available: false, reason: "torch reference printed no JSON line" };
  try {
    return { available: true, ...(JSON.parse(line) as Omit<R, "available" | "wallMs">), wallMs } as R;
  } catch (err) {
    return { available: false, reason: `torch reference printed bad JSON: ${(err as Error).message}` };
  }
}
