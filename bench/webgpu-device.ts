/**
 * jax-js's `webgpu` device vs `wasm` (one thread) on one training step of the graph transformer denoiser,
 * in Node through the `webgpu` npm package (Dawn). Written for a machine with a real GPU (it was run on an
 * NVIDIA H200 through Vulkan); it also runs on Chromium's SwiftShader software adapter (design.md, "WebGPU").
 *
 * What it measures, written as one JSON object (printed, and to --out when given):
 *  - adapter: whether `navigator.gpu` (the `webgpu` package) gives an adapter, and its info (vendor,
 *    architecture, device, description), a few limits, and whether `ensureBackend({ device: "webgpu" })`
 *    (src/backend/init.ts) starts; on failure the error, and the wasm numbers are still written;
 *  - steps: per device and batch, ms per step (median over the timed steps, after warm-up), the first
 *    step's ms (tracing and compiling included) and the losses of every step. The step is the one of
 *    bench/graph-step.ts (same network: the graph transformer with its defaults on QM9 rows of 396 values;
 *    same step: graph noise hook, ε-prediction loss, Adam(1e-3), one jitted step of src/optim/train-step.ts)
 *    with the loss read back asynchronously every step (never a synchronous read: design.md);
 *  - agreement: per batch, the relative difference |L_webgpu − L_wasm| / |L_wasm| of the first step's loss
 *    (same parameters, copied from one host copy onto each device; same inputs and PRNG key), and of the
 *    next steps' losses (these drift apart as the float32 rounding of the updates compounds).
 * The wasm cells run first: arrays captured on webgpu are never carried back to wasm.
 *
 * Run (Node ≥ 20, the `webgpu` package installed; on SwiftShader set VK_ICD_FILENAMES, see design.md):
 *   npx tsx bench/webgpu-device.ts [--devices wasm,webgpu] [--batches 128,256,1024] [--warmup 3]
 *     [--repeats 8] [--cell-budget-s 45] [--out bench/results/webgpu.json]
 * Bundled for a machine without Node's packages (how the H200 run was made):
 *   node_modules/.bin/esbuild bench/webgpu-device.ts --bundle --platform=node --format=esm \
 *     --external:webgpu --outfile=.devrun/webgpu-device.mjs
 * with `node_modules/webgpu` (package.json, index.js, dist/linux-x64) beside the bundle's folder.
 * REWARDIFF_THREADS must be unset (wasm on one thread).
 */
import "../src/backend/jax.js";
import { writeFileSync } from "node:fs";
import { np, tree, type JArray } from "../src/backend/jax.js";
import { ensureBackend, type BackendDevice } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { toNumberAsync } from "../src/backend/reads.js";
import { initDenoiser, type DenoiserParams, type DenoiserSpec } from "../src/nn/denoiser.js";
import { parameterCount } from "../src/nn/params.js";
import { disposeTrainStepState } from "../src/optim/index.js";
import { graphStepInputs, graphStepSpec, graphStepTrainer } from "./graph-step-setup.js";
import { machineInfo, quantile } from "./lib.js";


interface Config {
  devices: BackendDevice[];
  batches: number[];
  warmup: number;
  repeats: number;
  /** Seconds of timed steps per (device, batch) after which timing stops (at least 3 timed steps). */
  cellBudgetS: number;
  out?: string;
}

const DEFAULTS: Config = { devices: ["wasm", "webgpu"], batches: [128, 256, 1024], warmup: 3, repeats: 8, cellBudgetS: 45 };


/** A host copy of a parameter tree, from which identical copies are made on any device. */
interface HostParams {
  treedef: ReturnType<typeof tree.flatten>[1];
  leaves: { shape: number[]; dtype: JArray["dtype"]; data: ArrayLike<number> }[];
}

/** Reads `params` (consumed) back to the host, asynchronously. */
async function paramsToHost(params: DenoiserParams): Promise<HostParams> {
  const [leaves, treedef] = tree.flatten(params as unknown as JArray);
  const host = [];
  for (const a of leaves as JArray[]) host.push({ shape: [...a.shape], dtype: a.dtype, data: (await a.data()) as ArrayLike<number> });
  return { treedef, leaves: host };
}

/** A fresh parameter tree on the current default device, equal to `h`. */
function paramsFromHost(h: HostParams): DenoiserParams {
  const arrays = h.leaves.map((l) => np.array(l.data as Float32Array, { shape: l.shape, dtype: l.dtype }));
  return tree.unflatten(h.treedef, arrays) as unknown as DenoiserParams;
}

interface Cell {
  device: BackendDevice;
  batch: number;
  ok: boolean;
  error?: string;
  /** Median ms of the timed steps. */
  msPerStep?: number;
  p10?: number;
  p90?: number;
  /** The first step, tracing and compilation included. */
  firstStepMs?: number;
  timedSteps?: number;
  timedMs?: number[];
  /** The loss of every step, in order (step 1 on the shared initial parameters). */
  losses?: number[];
}

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** One (device, batch) cell: warm-up, then timed steps, the loss awaited after each. */
async function runCell(spec: DenoiserSpec, init: HostParams, device: BackendDevice, B: number, cfg: Config): Promise<Cell> {
  await ensureBackend({ device });
  const D = spec.dataDim;
  // The trainer of bench/graph-step.ts (./graph-step-setup.ts), built afresh per cell so its jit traces here.
  const trainer = graphStepTrainer(spec);
  const { x0: x0Host, alphaBars } = graphStepInputs(spec, B);
  let state = trainer.init(paramsFromHost(init), keyFromSeed(1));
  const losses: number[] = [];
  const times: number[] = [];
  try {
    for (let i = 0; i < cfg.warmup + cfg.repeats; i++) {
      const t0 = performance.now();
      const r = trainer.step(state, [np.array(x0Host, { shape: [B, D] }), np.array(alphaBars)]);
      state = r.state;
      losses.push(await toNumberAsync(r.loss));
      times.push(performance.now() - t0);
      const timed = times.slice(cfg.warmup);
      if (timed.length >= 3 && timed.reduce((a, b) => a + b, 0) > cfg.cellBudgetS * 1000) break;
    }
  } finally {
    disposeTrainStepState(state);
  }
  const timed = times.slice(cfg.warmup);
  return {
    device,
    batch: B,
    ok: true,
    msPerStep: round(quantile(timed, 0.5)),
    p10: round(quantile(timed, 0.1)),
    p90: round(quantile(timed, 0.9)),
    firstStepMs: round(times[0]!),
    timedSteps: timed.length,
    timedMs: timed.map((v) => round(v)),
    losses,
  };
}

interface AdapterReport {
  available: boolean;
  error?: string;
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  limits?: Record<string, number>;
  features?: string[];
  vkIcd?: string;
  jaxWebgpuStarted?: boolean;
  jaxWebgpuError?: string;
}

/** Installs `navigator.gpu` from the `webgpu` package (as test/helpers/webgpu.ts does) and describes its adapter. */
async function probeAdapter(): Promise<AdapterReport> {
  const report: AdapterReport = { available: false, vkIcd: process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES };
  try {
    process.env.NODEVICE_SELECT ??= "1"; // Mesa's device-select layer, if installed, only prints warnings
    const mod = (await import("webgpu")) as unknown as { create(flags: string[]): unknown; globals: Record<string, unknown> };
    Object.assign(globalThis, mod.globals);
    const g = globalThis as unknown as { navigator?: Record<string, unknown> };
    const gpu = mod.create([]);
    if (g.navigator) Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
    else g.navigator = { gpu, userAgent: "node" };
    type Adapter = { info?: Record<string, unknown>; isFallbackAdapter?: boolean; limits: Record<string, number>; features: Iterable<string> };
    const adapter = (await (gpu as { requestAdapter(o: object): Promise<Adapter | null> }).requestAdapter({ powerPreference: "high-performance" }));
    if (!adapter) {
      report.error = "navigator.gpu.requestAdapter() returned null (no Vulkan driver found?)";
      return report;
    }
    report.available = true;
    const info = adapter.info ?? {};
    report.info = Object.fromEntries(["vendor", "architecture", "device", "description", "subgroupMinSize", "subgroupMaxSize"].map((k) => [k, info[k]]));
    report.isFallbackAdapter = adapter.isFallbackAdapter;
    report.limits = Object.fromEntries(
      ["maxBufferSize", "maxStorageBufferBindingSize", "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup", "maxStorageBuffersPerShaderStage"].map((k) => [k, adapter.limits[k]!]),
    );
    report.features = [...adapter.features].sort();
  } catch (e) {
    report.error = (e as Error).message.split("\n")[0];
  }
  return report;
}

function parseArgs(argv: readonly string[]): Config {
  const cfg: Config = { ...DEFAULTS, devices: [...DEFAULTS.devices], batches: [...DEFAULTS.batches] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`webgpu-device: ${flag} needs a value`);
    if (flag === "--devices") cfg.devices = v.split(",") as BackendDevice[];
    else if (flag === "--batches") cfg.batches = v.split(",").map(Number);
    else if (flag === "--warmup") cfg.warmup = Number(v);
    else if (flag === "--repeats") cfg.repeats = Number(v);
    else if (flag === "--cell-budget-s") cfg.cellBudgetS = Number(v);
    else if (flag === "--out") cfg.out = v;
    else throw new Error(`webgpu-device: unknown argument ${flag} (--devices, --batches, --warmup, --repeats, --cell-budget-s, --out)`);
  }
  if (cfg.devices.some((d) => d !== "wasm" && d !== "webgpu")) throw new Error("webgpu-device: --devices takes wasm and/or webgpu");
  if (cfg.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error("webgpu-device: --batches must be whole numbers ≥ 1");
  if (!(cfg.warmup >= 1 && cfg.repeats >= 1)) throw new Error("webgpu-device: --warmup and --repeats must be ≥ 1");
  // wasm first: a jitted function keeps constants of the device it was traced on (src/backend/init.ts).
  cfg.devices = (["wasm", "webgpu"] as const).filter((d) => cfg.devices.includes(d));
  return cfg;
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  await ensureBackend();
  const spec = graphStepSpec();
  const p0 = initDenoiser(keyFromSeed(0), spec);
  const params = parameterCount(p0);
  const init = await paramsToHost(p0);

  const out: Record<string, unknown> = {
    bench: "webgpu-device",
    network: spec,
    params,
    config: { ...cfg, wasmThreads: process.env.REWARDIFF_THREADS ? `REWARDIFF_THREADS=${process.env.REWARDIFF_THREADS}` : 1 },
    machine: machineInfo(),
  };
  const cells: Cell[] = [];
  const save = () => {
    out.steps = cells;
    out.agreement = agreement(cells, cfg.batches);
    out.totalS = round((performance.now() - t0) / 1000);
    if (cfg.out) writeFileSync(cfg.out, JSON.stringify(out, null, 1) + "\n");
  };

  for (const device of cfg.devices) {
    if (device === "webgpu") {
      const adapter = await probeAdapter();
      out.adapter = adapter;
      if (adapter.available) {
        try {
          await ensureBackend({ device: "webgpu" });
          adapter.jaxWebgpuStarted = true;
        } catch (e) {
          adapter.jaxWebgpuStarted = false;
          adapter.jaxWebgpuError = (e as Error).message;
        }
      }
      save();
      if (!adapter.jaxWebgpuStarted) continue;
    }
    for (const B of cfg.batches) {
      try {
        cells.push(await runCell(spec, init, device, B, cfg));
      } catch (e) {
        cells.push({ device, batch: B, ok: false, error: (e as Error).stack?.split("\n").slice(0, 4).join(" | ") ?? String(e) });
      }
      process.stderr.write(`webgpu-device: ${device} batch ${B}: ${JSON.stringify(cells.at(-1)?.ok ? { ms: cells.at(-1)!.msPerStep, first: cells.at(-1)!.firstStepMs, loss0: cells.at(-1)!.losses?.[0] } : cells.at(-1)?.error)}\n`);
      save();
    }
  }
  save();
  process.stdout.write(JSON.stringify(out) + "\n");
}

/** Per batch: the webgpu/wasm speed-up and the relative loss differences of the first steps. */
function agreement(cells: readonly Cell[], batches: readonly number[]) {
  const rows = [];
  for (const B of batches) {
    const w = cells.find((c) => c.ok && c.device === "wasm" && c.batch === B);
    const g = cells.find((c) => c.ok && c.device === "webgpu" && c.batch === B);
    if (!w || !g) continue;
    const n = Math.min(w.losses!.length, g.losses!.length, 3);
    const rel = Array.from({ length: n }, (_, i) => Math.abs(g.losses![i]! - w.losses![i]!) / Math.abs(w.losses![i]!));
    rows.push({
      batch: B,
      wasmMs: w.msPerStep,
      webgpuMs: g.msPerStep,
      speedup: round(w.msPerStep! / g.msPerStep!, 2),
      firstLoss: { wasm: w.losses![0], webgpu: g.losses![0], relDiff: Number(rel[0]!.toExponential(2)) },
      relDiffSteps1to3: rel.map((v) => Number(v.toExponential(2))),
    });
  }
  return rows;
}

await main();
// Dawn's instance can keep Node's event loop alive after the last read.
process.exit(0);
