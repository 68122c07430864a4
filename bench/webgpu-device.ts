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
 * Optional, `--sample N[,N…]` (off by default): the library's molecule sampler on each device. The shipped QM9
 * model (`--model`, default models/qm9.safetensors) is loaded onto the device (`loadModel`) and N molecules'
 * graph rows are drawn with `generate` (src/diffusion/generate.ts: the model's graph noise space, its default
 * batches of 1,024 molecules) and the sampler of `rewardiff demo molecules` (`moleculeSampler({ steps: 50 })`:
 * DDPM, 50 steps; `--sample-steps`), the same seed (`--sample-seed`) on both devices. Per device and N:
 * seconds of the first call (tracing and compiling included) and of a second, identical call, whether the
 * two calls gave the same rows, and (in `sampling.agreement`) the max |row difference| between the devices.
 * The rows of the first call are written as raw little-endian float32 (N × 396) to
 * `--rows-out DIR/rows-<device>-<N>.f32`. A synchronous read of a webgpu array inside the sampler would
 * throw src/backend/reads.ts's SyncReadError: its stack is kept in the cell's `error`.
 * `--batches none` skips the training steps (sampling only).
 *
 * Decoding, on a machine with RDKit (the host, not the device): `--decode DIR --out FILE` reads FILE (a
 * result of the above) and the rows files in DIR, decodes every row with `decodeMoleculeRows`
 * (src/runners/molecule-sampling.ts: argmax, no valence correction) and adds `sampling.decodedOnHost`:
 * validity per device and N, and the share of molecules whose canonical SMILES are identical across devices.
 * `--host-result HOST.json` (a `--devices wasm --sample …` result made on the host, rows beside it) fills the
 * (device, N) cells the device run skipped, marked `computedOn: "host"`, after checking its other rows against
 * the device's (the H200's wasm rows for 1,000 molecules were bit-identical to this host's).
 * The H200 sampling run (bench/results/webgpu-h200-sampling.json) was the bundle below with
 * `--batches none --sample 1000,4000 --sample-steps 50 --sample-seed 0 --deadline-s 250`, then
 * `--decode` here with `--host-result` of `--devices wasm --batches none --sample 1000,4000` run here.
 *
 * Run (Node ≥ 20, the `webgpu` package installed; on SwiftShader set VK_ICD_FILENAMES, see design.md):
 *   npx tsx bench/webgpu-device.ts [--devices wasm,webgpu] [--batches 128,256,1024] [--warmup 3]
 *     [--repeats 8] [--cell-budget-s 45] [--out bench/results/webgpu.json]
 *     [--sample 1000,4000 [--sample-steps 50] [--sample-seed 0] [--model models/qm9.safetensors] [--rows-out DIR]
 *      [--deadline-s S]]
 *   npx tsx bench/webgpu-device.ts --decode DIR --out FILE [--host-result HOST.json]
 * Bundled for a machine without Node's packages (how the H200 run was made):
 *   node_modules/.bin/esbuild bench/webgpu-device.ts --bundle --platform=node --format=esm \
 *     --external:webgpu --outfile=.devrun/webgpu-device.mjs
 * with `node_modules/webgpu` (package.json, index.js, dist/linux-x64) beside the bundle's folder.
 * REWARDIFF_THREADS must be unset (wasm on one thread).
 */
import "../src/backend/jax.js";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { np, tree, type JArray } from "../src/backend/jax.js";
import { ensureBackend, type BackendDevice } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { toNumberAsync } from "../src/backend/reads.js";
import { loadRDKit } from "../src/chem/rdkit.js";
import { hostMatrix } from "../src/data/matrix.js";
import { generate } from "../src/diffusion/generate.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { initDenoiser, type DenoiserParams, type DenoiserSpec } from "../src/nn/denoiser.js";
import { decodeMoleculeRows, moleculeSampler, moleculeVocabulary } from "../src/runners/molecule-sampling.js";
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
  /** Molecules per sampling cell (none: no sampling). */
  sample: number[];
  sampleSteps: number;
  sampleSeed: number;
  model: string;
  /** Folder of the sampled rows (rows-<device>-<N>.f32); default: the folder of --out, else none written. */
  rowsOut?: string;
  /** Host mode: decode the rows in this folder into --out's sampling section. */
  decode?: string;
  /** Host mode: a host run's result (rows beside it) filling the (device, N) cells --out lacks. */
  hostResult?: string;
  /**
   * Seconds from the start after which no sampling call is started: a call whose projected time (from the
   * device's last call, scaled by N) would end past it is skipped (recorded), a second call too.
   */
  deadlineS: number;
}

const DEFAULTS: Config = {
  devices: ["wasm", "webgpu"],
  batches: [128, 256, 1024],
  warmup: 3,
  repeats: 8,
  cellBudgetS: 45,
  sample: [],
  sampleSteps: 50,
  sampleSeed: 0,
  model: "models/qm9.safetensors",
  deadlineS: Infinity,
};


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

/** One (device, N) sampling cell. */
interface SampleCell {
  device: BackendDevice;
  n: number;
  ok: boolean;
  /** The error's stack (first lines), e.g. a SyncReadError from a synchronous webgpu read. */
  error?: string;
  /** Seconds of the first `generate` call (tracing and compiling included; the model's load not). */
  firstS?: number;
  /** Seconds of a second, identical call (same seed), after the first. */
  secondS?: number;
  /** Max |difference| between the rows of the two calls (0: the device is deterministic here). */
  maxAbsDiffCalls?: number;
  /** Rows that hold a non-finite value. */
  nonFiniteRows?: number;
  /** Seconds to load the model onto the device (loadModel). */
  loadS?: number;
  /** The rows of the first call (raw float32, N × 396), relative to --rows-out. */
  rowsFile?: string;
  /** Why a call was not made (--deadline-s). */
  skipped?: string;
}

/** The `sampling` section of a result file. */
interface SamplingSection {
  model?: string;
  cells: SampleCell[];
  decodedOnHost?: unknown;
  hostResult?: unknown;
  [k: string]: unknown;
}

const rowsFileName = (device: BackendDevice, n: number) => `rows-${device}-${n}.f32`;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

/** Seconds per molecule of a device's last sampling call (for --deadline-s projections). */
const secondsPerMolecule = new Map<BackendDevice, number>();

/**
 * Draws `n` molecules' graph rows with the library's sampler on `device`, twice; keeps the first call's rows
 * in `rows`. A call projected to end after `deadline` (performance.now() ms) is skipped.
 */
async function runSampleCell(device: BackendDevice, n: number, cfg: Config, rows: Map<string, Float32Array>, deadline: number): Promise<SampleCell> {
  const fits = (projectedS: number | undefined) => projectedS === undefined || performance.now() + projectedS * 1000 <= deadline;
  const perMol = secondsPerMolecule.get(device);
  if (!fits(perMol === undefined ? undefined : perMol * n)) {
    return { device, n, ok: false, skipped: `projected ${round(perMol! * n)} s from the last ${device} call would pass --deadline-s ${cfg.deadlineS}` };
  }
  await ensureBackend({ device });
  const tLoad = performance.now();
  const loaded = loadModel(cfg.model); // onto the default device, now `device`
  const loadS = (performance.now() - tLoad) / 1000;
  try {
    const { meta, ema } = loaded;
    moleculeVocabulary(meta, cfg.model);
    const sampler = moleculeSampler({ steps: cfg.sampleSteps });
    const draw = async () => {
      const t0 = performance.now();
      const x = await generate(meta.model, ema, sampler, n, keyFromSeed(cfg.sampleSeed));
      const s = (performance.now() - t0) / 1000;
      secondsPerMolecule.set(device, s / n);
      return { x, s };
    };
    const first = await draw();
    const D = first.x.cols;
    let nonFinite = 0;
    for (let i = 0; i < n; i++) if (first.x.data.subarray(i * D, (i + 1) * D).some((v) => !Number.isFinite(v))) nonFinite++;
    rows.set(`${device}-${n}`, first.x.data);
    const cell: SampleCell = { device, n, ok: true, loadS: round(loadS, 2), firstS: round(first.s, 2), nonFiniteRows: nonFinite };
    if (cfg.rowsOut !== undefined) {
      mkdirSync(cfg.rowsOut, { recursive: true });
      const f = rowsFileName(device, n);
      const d = first.x.data;
      writeFileSync(join(cfg.rowsOut, f), new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      cell.rowsFile = f;
    }
    if (fits(first.s)) {
      const second = await draw();
      cell.secondS = round(second.s, 2);
      cell.maxAbsDiffCalls = maxAbsDiff(first.x.data, second.x.data);
    } else {
      cell.skipped = `second call: projected ${round(first.s)} s would pass --deadline-s ${cfg.deadlineS}`;
    }
    return cell;
  } finally {
    disposeLoadedModel(loaded);
  }
}

/** Per N: the largest and mean |row difference| between the devices' rows (same seed). */
function sampleAgreement(cells: readonly SampleCell[], rows: ReadonlyMap<string, Float32Array>) {
  const out = [];
  for (const n of [...new Set(cells.map((c) => c.n))]) {
    const w = rows.get(`wasm-${n}`);
    const g = rows.get(`webgpu-${n}`);
    if (!w || !g) continue;
    let sum = 0;
    for (let i = 0; i < w.length; i++) sum += Math.abs(w[i]! - g[i]!);
    const wc = cells.find((c) => c.ok && c.device === "wasm" && c.n === n)!;
    const gc = cells.find((c) => c.ok && c.device === "webgpu" && c.n === n)!;
    out.push({
      n,
      maxAbsDiff: maxAbsDiff(w, g),
      meanAbsDiff: Number((sum / w.length).toExponential(3)),
      speedupSecondCall: wc.secondS !== undefined && gc.secondS !== undefined ? round(wc.secondS / gc.secondS, 2) : null,
      speedupFirstCall: round(wc.firstS! / gc.firstS!, 2),
    });
  }
  return out;
}

/** Reads a rows file (raw float32) of `n` rows of `D` values. */
function readRows(path: string, n: number, D: number): Float32Array {
  const buf = readFileSync(path);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  if (data.length !== n * D) throw new Error(`webgpu-device --decode: ${path} holds ${data.length} values, expected ${n} × ${D}`);
  return data;
}

/**
 * Host mode (`--decode DIR`): decodes the rows of every sampling cell of `cfg.out` with RDKit and adds
 * `sampling.decodedOnHost` (validity per cell, identical canonical SMILES and max |row difference| across
 * devices per N). With `--host-result FILE` (a result of `--devices wasm --sample …` run on the host, rows
 * beside it), the host's rows fill the (device, N) cells the device run lacks, marked `computedOn: "host"`
 * (checked against the device's rows on every (device, N) both runs have: `sampling.hostResult.rowsVsDevice`).
 */
async function decodeSampled(cfg: Config): Promise<void> {
  const result = JSON.parse(readFileSync(cfg.out!, "utf8")) as Record<string, unknown> & { sampling?: SamplingSection };
  const sampling = result.sampling;
  if (!sampling) throw new Error(`webgpu-device --decode: ${cfg.out} has no sampling section`);
  const modelPath = sampling.model ?? cfg.model;
  const loaded = loadModel(modelPath);
  const vocab = moleculeVocabulary(loaded.meta, modelPath);
  const D = loaded.meta.model.network.dataDim;
  disposeLoadedModel(loaded);

  type Source = { device: BackendDevice; n: number; computedOn: "device" | "host"; rows: Float32Array; path: string };
  const sources: Source[] = [];
  for (const c of sampling.cells) {
    if (!c.ok || !c.rowsFile) continue;
    const path = join(cfg.decode!, c.rowsFile);
    sources.push({ device: c.device, n: c.n, computedOn: "device", rows: readRows(path, c.n, D), path });
  }
  const hostVsDevice = [];
  const hostCells = [];
  if (cfg.hostResult !== undefined) {
    const host = JSON.parse(readFileSync(cfg.hostResult, "utf8")) as { sampling?: SamplingSection; machine?: unknown };
    for (const c of host.sampling?.cells ?? []) {
      if (!c.ok || !c.rowsFile) continue;
      const path = join(dirname(cfg.hostResult), c.rowsFile);
      const rows = readRows(path, c.n, D);
      const onDevice = sources.find((s) => s.device === c.device && s.n === c.n);
      hostCells.push({ device: c.device, n: c.n, firstS: c.firstS, secondS: c.secondS, usedForDecoding: !onDevice });
      if (onDevice) {
        const d = maxAbsDiff(rows, onDevice.rows);
        hostVsDevice.push({ device: c.device, n: c.n, maxAbsDiff: d, bitIdentical: rows.every((v, i) => Object.is(v, onDevice.rows[i])) });
      } else {
        sources.push({ device: c.device, n: c.n, computedOn: "host", rows, path });
      }
    }
    sampling.hostResult = { file: cfg.hostResult, machine: host.machine, cells: hostCells, rowsVsDevice: hostVsDevice };
  }

  const rdkit = await loadRDKit();
  const smiles = new Map<string, { smiles: (string | null)[]; graph: (string | null)[] }>();
  const perCell = [];
  for (const src of sources) {
    const samples = decodeMoleculeRows(rdkit, hostMatrix(src.n, D, src.rows), vocab);
    smiles.set(`${src.device}-${src.n}`, { smiles: samples.map((s) => s.smiles), graph: samples.map((s) => s.graphSmiles) });
    const valid = samples.filter((s) => s.valid).length;
    const validSmiles = samples.filter((s) => s.valid).map((s) => s.smiles!);
    perCell.push({ device: src.device, n: src.n, rowsComputedOn: src.computedOn, valid, validity: round(valid / src.n, 4), uniqueValid: new Set(validSmiles).size });
  }
  const across = [];
  for (const n of [...new Set(sources.map((c) => c.n))]) {
    const ws = sources.find((s) => s.device === "wasm" && s.n === n);
    const gs = sources.find((s) => s.device === "webgpu" && s.n === n);
    const w = smiles.get(`wasm-${n}`);
    const g = smiles.get(`webgpu-${n}`);
    if (!ws || !gs || !w || !g) continue;
    let same = 0;
    let bothValid = 0;
    let sameGraph = 0;
    let sameValidity = 0;
    for (let i = 0; i < n; i++) {
      if (w.smiles[i] !== null && g.smiles[i] !== null) {
        bothValid++;
        if (w.smiles[i] === g.smiles[i]) same++;
      }
      if ((w.smiles[i] === null) === (g.smiles[i] === null)) sameValidity++;
      if (w.graph[i] === g.graph[i]) sameGraph++;
    }
    let sum = 0;
    for (let i = 0; i < ws.rows.length; i++) sum += Math.abs(ws.rows[i]! - gs.rows[i]!);
    across.push({
      n,
      wasmRowsComputedOn: ws.computedOn,
      webgpuRowsComputedOn: gs.computedOn,
      maxAbsRowDiff: maxAbsDiff(ws.rows, gs.rows),
      meanAbsRowDiff: Number((sum / ws.rows.length).toExponential(3)),
      identicalSmiles: same,
      identicalSmilesShare: round(same / n, 4),
      bothValid,
      identicalShareOfBothValid: bothValid ? round(same / bothValid, 4) : null,
      sameValidityShare: round(sameValidity / n, 4),
      identicalDecodedGraphShare: round(sameGraph / n, 4),
    });
  }
  sampling.decodedOnHost = {
    note:
      "computed on the host (not the device) from the rows files, with decodeMoleculeRows (src/runners/molecule-sampling.ts) and RDKit: " +
      "argmax decoding, no valence correction. identicalSmilesShare: rows valid on both devices with equal canonical SMILES, over N; " +
      "identicalDecodedGraphShare: rows whose decoded graphs (unsanitised SMILES) are equal, valid or not",
    cells: perCell,
    acrossDevices: across,
  };
  writeFileSync(cfg.out!, JSON.stringify(result, null, 1) + "\n");
  process.stdout.write(JSON.stringify({ decodedOnHost: sampling.decodedOnHost, hostResult: sampling.hostResult ?? null }) + "\n");
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
    else if (flag === "--batches") cfg.batches = v === "none" ? [] : v.split(",").map(Number);
    else if (flag === "--warmup") cfg.warmup = Number(v);
    else if (flag === "--repeats") cfg.repeats = Number(v);
    else if (flag === "--cell-budget-s") cfg.cellBudgetS = Number(v);
    else if (flag === "--out") cfg.out = v;
    else if (flag === "--sample") cfg.sample = v.split(",").map(Number);
    else if (flag === "--sample-steps") cfg.sampleSteps = Number(v);
    else if (flag === "--sample-seed") cfg.sampleSeed = Number(v);
    else if (flag === "--model") cfg.model = v;
    else if (flag === "--rows-out") cfg.rowsOut = v;
    else if (flag === "--decode") cfg.decode = v;
    else if (flag === "--host-result") cfg.hostResult = v;
    else if (flag === "--deadline-s") cfg.deadlineS = Number(v);
    else throw new Error(`webgpu-device: unknown argument ${flag} (--devices, --batches, --warmup, --repeats, --cell-budget-s, --out, --sample, --sample-steps, --sample-seed, --model, --rows-out, --decode, --host-result, --deadline-s)`);
  }
  if (cfg.sample.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("webgpu-device: --sample must be whole numbers ≥ 1");
  if (!Number.isInteger(cfg.sampleSteps) || cfg.sampleSteps < 1) throw new Error("webgpu-device: --sample-steps must be a whole number ≥ 1");
  if (cfg.decode !== undefined && cfg.out === undefined) throw new Error("webgpu-device: --decode needs --out (the result file to decode into)");
  cfg.rowsOut ??= cfg.out === undefined ? undefined : dirname(cfg.out);
  if (cfg.devices.some((d) => d !== "wasm" && d !== "webgpu")) throw new Error("webgpu-device: --devices takes wasm and/or webgpu");
  if (cfg.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error("webgpu-device: --batches must be whole numbers ≥ 1");
  if (!(cfg.warmup >= 1 && cfg.repeats >= 1)) throw new Error("webgpu-device: --warmup and --repeats must be ≥ 1");
  // wasm first: a jitted function keeps constants of the device it was traced on (src/backend/init.ts).
  cfg.devices = (["wasm", "webgpu"] as const).filter((d) => cfg.devices.includes(d));
  return cfg;
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2));
  if (cfg.decode !== undefined) {
    await ensureBackend();
    await decodeSampled(cfg);
    return;
  }
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
  const sampleCells: SampleCell[] = [];
  const sampledRows = new Map<string, Float32Array>();
  const save = () => {
    out.steps = cells;
    out.agreement = agreement(cells, cfg.batches);
    if (cfg.sample.length > 0) {
      out.sampling = {
        model: cfg.model,
        sampler: moleculeSampler({ steps: cfg.sampleSteps }),
        seed: cfg.sampleSeed,
        rowsOut: cfg.rowsOut ?? null,
        cells: sampleCells,
        agreement: sampleAgreement(sampleCells, sampledRows),
      };
    }
    out.totalS = round((performance.now() - t0) / 1000);
    if (cfg.out) writeFileSync(cfg.out, JSON.stringify(out, null, 1) + "\n");
  };

  let webgpuReady: boolean | undefined;
  const startWebgpu = async (): Promise<boolean> => {
    if (webgpuReady !== undefined) return webgpuReady;
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
    webgpuReady = adapter.jaxWebgpuStarted === true;
    save();
    return webgpuReady;
  };

  for (const device of cfg.devices) {
    if (device === "webgpu" && !(await startWebgpu())) continue;
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
  // Sampling: N by N, wasm before webgpu (each cell loads the model onto its device; the sampler's jitted
  // functions are kept per device, so going back to wasm for the next N never touches webgpu arrays).
  for (const n of cfg.sample) {
    for (const device of cfg.devices) {
      if (device === "webgpu" && !(await startWebgpu())) continue;
      try {
        sampleCells.push(await runSampleCell(device, n, cfg, sampledRows, t0 + cfg.deadlineS * 1000));
      } catch (e) {
        sampleCells.push({ device, n, ok: false, error: (e as Error).stack?.split("\n").slice(0, 12).join(" | ") ?? String(e) });
      }
      const c = sampleCells.at(-1)!;
      process.stderr.write(`webgpu-device: sample ${device} n ${n}: ${JSON.stringify(c.ok ? { firstS: c.firstS, secondS: c.secondS, callsDiff: c.maxAbsDiffCalls, skipped: c.skipped } : (c.error ?? c.skipped))}\n`);
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
