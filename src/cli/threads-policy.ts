/**
 * Whether a CLI run starts jax-js's wasm worker pool (src/backend/threads.ts), decided from the command
 * line alone, before @jax-js/jax is evaluated (the pool is created at evaluation). Pure: no jax-js, no
 * imports that would load it; the one file read (a model's `.json` sidecar) comes through `readJson`.
 *
 * The estimate is the matrix work of the run's dominant kernel sequence: the MLP trunk's
 * `hidden² × layers` multiply-adds per row (the first and last layers are ignored). The thresholds are
 * the smallest sizes measured to pay with 2 threads on 2 cores (bench/README.md, "Threads" and the
 * `threads` section of `npm run bench`; bench/results/latest.json `threads`).
 */

/** The pool size decision and the reason for it (printed with `REWARDIFF_THREADS_REPORT=1`). */
import { fileURLToPath } from "node:url";
import { SHIPPED_MODELS } from "../io/shipped-models.js";

export interface ThreadsDecision {
  /** Threads to compute on (`REWARDIFF_THREADS`): 0 (no pool) or the core count; jax-js starts one worker fewer. */
  threads: number;
  why: string;
}

/**
 * Sampling: forward FLOP per reverse step, 2·n·hidden²·layers. Measured with 2 threads on 2 cores since the
 * jax-js patch's item 11 (kernels handed to the worker through shared memory; bench/README.md, "Threads",
 * 2026-12-04; `generate`, fresh processes, 3 interleaved rounds): 1,000 points of the default 128×3 MLP
 * (9.8e7) 0.91–1.17×, 500 of a 256×3 (2.0e8) 0.95–1.07×: break-even; 2,000 of the 128×3 (2.0e8) 1.10–1.51×,
 * 1,000 of a 256×3 (3.9e8) 1.17–1.33×, 4,000 of the 128×3 (3.9e8) 1.35–1.53×. The threshold is twice the
 * break-even point, for margin. (Before item 11 the break-even point was 3.9e8 and the threshold 7.8e8.)
 */
export const SAMPLE_MIN_FLOP_PER_STEP = 3.9e8;

/**
 * Sampling a graph-transformer model (molecules): forward FLOP per reverse step, n · {@link graphFlopPerSample}.
 * Measured end to end with 2 workers on 2 cores (`sample --model qm9`, the 4×96/48 QM9 model, 1.24e7 FLOP per
 * molecule and step; the same molecules with and without): 200 molecules × 50 steps (2.48e9 per step) 1.23×,
 * 2,000 × 10 (2.5e10) 1.43×. The threshold is just under the smallest size measured to pay (200 molecules: 2.48e9);
 * smaller runs stay single-threaded.
 */
export const GRAPH_SAMPLE_MIN_FLOP_PER_STEP = 2.4e9;

/**
 * Forward FLOP (2 per multiply-add) per sample of a graph transformer (src/nn/denoisers/graph-transformer.ts):
 * n nodes of F features and width d_h, n² pairs of E features and width d_e, H heads, L layers. Per layer: the
 * node projections n·d_h·(3d_h + d_h + 4d_h + 2d_e), the edge bias and MLP n²·d_e·(H + 4d_e), attention 2n²·d_h;
 * plus the input and output layers.
 */
export function graphFlopPerSample(g: { maxNodes: number; nodeBlocks: number[]; edgeFeatures: number; hidden: number; edgeHidden: number; heads: number; layers: number }): number {
  const n = g.maxNodes;
  const F = g.nodeBlocks.reduce((a, b) => a + b, 0);
  const [dh, de] = [g.hidden, g.edgeHidden];
  const layer = n * dh * (8 * dh + 2 * de) + n * n * de * (g.heads + 4 * de) + 2 * n * n * dh;
  const io = 2 * n * F * dh + 2 * n * n * g.edgeFeatures * de + dh * de;
  return 2 * (g.layers * layer + io);
}

/**
 * Training: FLOP per optimizer step, forward + backward ≈ 6·batch·hidden²·layers. Measured with 2 threads on
 * 2 cores since the jax-js patch's item 11 (bench/README.md, "Threads", 2026-12-04; `trainSteps`, fresh
 * processes, 3 interleaved rounds of 100 steps): the default step (width 128×3, batch 512 ≈ 1.5e8) 0.88–0.94×
 * and width 256 batch 128 (1.5e8) 0.87–1.28×: slower or even; width 256 batch 256 (3.0e8) 1.02–1.10×:
 * break-even; width 256 batch 512 (6.0e8) 1.38–1.57×; width 512 batch 512 (2.4e9) 1.51–1.59×. The threshold is
 * twice the break-even point. (Before item 11: ≥ 1.5e9, where width 256 batch 512 measured 0.5–0.9×.)
 */
export const TRAIN_MIN_FLOP_PER_STEP = 6e8;

/**
 * `rewardiff train`'s defaults for the unconditional MLP, restated here because the real ones
 * (src/cli/train-defaults.ts) load jax-js; test/cli-threads.test.ts checks that they agree.
 */
export const TRAIN_SIZE_DEFAULTS = { batchSize: 512, hidden: 128, layers: 3 } as const;

/** The options the policy reads: `--name value` pairs (and bare flags as `true`) after the command. */
export type ArgvOptions = Map<string, string | true>;

/** The command (first non-option word) and its `--name value` / `--name=value` options, read by hand. */
export function parseArgv(argv: readonly string[]): { command: string | undefined; options: ArgvOptions } {
  const options: ArgvOptions = new Map();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) options.set(a.slice(0, eq), a.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) options.set(a, argv[++i]!);
      else options.set(a, true);
    } else if (command === undefined) {
      command = a;
    }
  }
  return { command, options };
}

/**
 * The global `--threads <auto|0|N>` flag: "auto" (the policy), 0 (no pool) or N threads. Undefined when
 * absent; throws a one-line message on a bad value.
 */
export function threadsFlag(options: ArgvOptions): "auto" | number | undefined {
  const v = options.get("--threads");
  if (v === undefined) return undefined;
  if (v === "auto") return "auto";
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`--threads must be auto, 0 or a thread count, got ${v === true ? "nothing" : `"${v}"`}`);
  return n;
}

/** The MLP sizes in a model sidecar (`config.model.network`, `config.train.batchSize`), or undefined. */
function sidecarSizes(json: unknown): { hidden: number; layers: number; batchSize?: number } | undefined {
  const config = (json as { config?: { model?: { network?: Record<string, unknown> }; train?: { batchSize?: unknown } } })?.config;
  const net = config?.model?.network;
  if (!net || net.kind !== "mlp" || typeof net.hidden !== "number" || typeof net.layers !== "number") return undefined;
  const batch = config?.train?.batchSize;
  return { hidden: net.hidden, layers: net.layers, batchSize: typeof batch === "number" ? batch : undefined };
}

/** `x.safetensors` → `x.json` (src/io/checkpoint.ts's pairing). */
function graphSizes(json: unknown): Parameters<typeof graphFlopPerSample>[0] | undefined {
  const net = (json as { config?: { model?: { network?: Record<string, unknown> } } })?.config?.model?.network;
  if (!net || net.kind !== "graph-transformer") return undefined;
  const keys = ["maxNodes", "edgeFeatures", "hidden", "edgeHidden", "heads", "layers"] as const;
  if (!keys.every((k) => typeof net[k] === "number") || !Array.isArray(net.nodeBlocks)) return undefined;
  return net as unknown as Parameters<typeof graphFlopPerSample>[0];
}

/**
 * The sidecar of `--model M`: M's own, or for a shipped model's name (SHIPPED_MODELS) with no such file the
 * shipped model's (e.g. models/qm9.json at the package root, as `sample` resolves it).
 */
function modelSidecar(model: string, readJson: (path: string) => unknown): unknown {
  const own = readJson(sidecarPath(model));
  const shipped = SHIPPED_MODELS[model];
  if (own !== undefined || shipped === undefined) return own;
  return readJson(fileURLToPath(new URL(`../../${sidecarPath(shipped)}`, import.meta.url)));
}

function sidecarPath(path: string): string {
  return path.endsWith(".safetensors") ? path.slice(0, -".safetensors".length) + ".json" : path;
}

function positiveInt(v: string | true | undefined): number | undefined {
  if (typeof v !== "string" || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 1 ? n : undefined;
}

const fmt = (x: number): string => x.toExponential(1);

/**
 * The pool for `rewardiff <command> <options>` on a machine with `cores` cores: `threads` = 0 (no pool)
 * or `cores` (the shim's own default). `readJson(path)` returns a parsed JSON file or undefined.
 * `sample` and `train` decide by the FLOP estimates above; `run`/`demo` mix training of the default size
 * (measured slower with the pool) with guidance or fine-tuning loops not measured with it: off; `evaluate`,
 * `fit-reward` and anything else run few or small kernels: off.
 */
export function threadsFor(
  command: string | undefined,
  options: ArgvOptions,
  cores: number,
  readJson: (path: string) => unknown = () => undefined,
): ThreadsDecision {
  if (cores < 2) return { threads: 0, why: `${cores} core` };
  const on = (why: string): ThreadsDecision => ({ threads: cores, why });
  const off = (why: string): ThreadsDecision => ({ threads: 0, why });
  if (command === "sample") {
    const model = options.get("--model");
    const json = typeof model === "string" ? modelSidecar(model, readJson) : undefined;
    const graph = graphSizes(json);
    if (graph) {
      const n = positiveInt(options.get("--n")) ?? 1000;
      const flop = n * graphFlopPerSample(graph);
      const what = `sample: ${n} graphs × graph transformer ${graph.layers}×${graph.hidden}/${graph.edgeHidden} ≈ ${fmt(flop)} FLOP per step`;
      return flop >= GRAPH_SAMPLE_MIN_FLOP_PER_STEP ? on(`${what} ≥ ${fmt(GRAPH_SAMPLE_MIN_FLOP_PER_STEP)}`) : off(`${what} < ${fmt(GRAPH_SAMPLE_MIN_FLOP_PER_STEP)}`);
    }
    const sizes = sidecarSizes(json);
    if (!sizes) return off("sample: no MLP or graph-transformer sizes in the model's sidecar");
    const n = positiveInt(options.get("--n")) ?? 1000;
    const flop = 2 * n * sizes.hidden ** 2 * sizes.layers;
    const what = `sample: ${n} points × MLP ${sizes.hidden}×${sizes.layers} ≈ ${fmt(flop)} FLOP per step`;
    return flop >= SAMPLE_MIN_FLOP_PER_STEP ? on(`${what} ≥ ${fmt(SAMPLE_MIN_FLOP_PER_STEP)}`) : off(`${what} < ${fmt(SAMPLE_MIN_FLOP_PER_STEP)}`);
  }
  if (command === "train") {
    if (options.has("--unlabeled") || options.has("--reward-model")) return off("train: the conditional model was not measured with threads");
    const resume = options.get("--resume");
    const fromCheckpoint = typeof resume === "string" ? sidecarSizes(readJson(sidecarPath(resume))) : undefined;
    if (typeof resume === "string" && !fromCheckpoint) return off("train --resume: no MLP sizes in the checkpoint's sidecar");
    const base = fromCheckpoint ?? TRAIN_SIZE_DEFAULTS;
    const batch = positiveInt(options.get("--batch-size")) ?? base.batchSize ?? TRAIN_SIZE_DEFAULTS.batchSize;
    const hidden = fromCheckpoint?.hidden ?? positiveInt(options.get("--hidden")) ?? base.hidden;
    const layers = fromCheckpoint?.layers ?? positiveInt(options.get("--layers")) ?? base.layers;
    const flop = 6 * batch * hidden ** 2 * layers;
    const what = `train: batch ${batch} × MLP ${hidden}×${layers} ≈ ${fmt(flop)} FLOP per step`;
    return flop >= TRAIN_MIN_FLOP_PER_STEP ? on(`${what} ≥ ${fmt(TRAIN_MIN_FLOP_PER_STEP)}`) : off(`${what} < ${fmt(TRAIN_MIN_FLOP_PER_STEP)}`);
  }
  if (command === "run" || command === "demo") return off(`${command}: default-size training and unmeasured loops`);
  return off(`${command ?? "no command"}: small workloads`);
}

/**
 * The value for `REWARDIFF_THREADS` (read by src/backend/threads.ts at evaluation): the `--threads` flag
 * when given, else the environment's value when set, else the policy. Returns the decision and the value
 * ("0" or a thread count ≥ 2, or the user's own setting).
 */
export function resolveThreads(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cores: number,
  readJson?: (path: string) => unknown,
): { value: string; why: string } {
  const { command, options } = parseArgv(argv);
  const flag = threadsFlag(options);
  if (typeof flag === "number") return { value: String(flag), why: `--threads ${flag}` };
  const own = env.REWARDIFF_THREADS;
  if (flag === undefined && own !== undefined && own.trim() !== "") return { value: own, why: `REWARDIFF_THREADS=${own}` };
  const d = threadsFor(command, options, cores, readJson);
  // "1" means "the default count" to threads.ts; an explicit count ≥ 2 is what the policy decided.
  return { value: String(d.threads), why: d.why };
}
