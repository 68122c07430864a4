/**
 * One training step of the graph transformer denoiser (src/nn/denoisers/graph-transformer.ts, default
 * widths: 4 layers, node/edge streams 96/48, 8 heads, QM9 rows of 396 values) at batch 128 and 256, in
 * rewardiff vs the same model in PyTorch (bench/torch_graph_reference.py, same parameter count).
 * The step: t ~ U{0..T−1}, ε = graph noise hook (src/diffusion/graph-noise.ts) of z ~ N(0, I),
 * x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, loss = mean (ε̂ − ε)², backward, Adam(1e-3); rewardiff runs it as the
 * train-step builder's one jitted step (src/optim/train-step.ts: denoisingLossOf, gradient, Adam) with the
 * loss read back asynchronously every step; PyTorch with torch.set_num_threads(1) and OpenBLAS's 2 threads (design.md, "A fair PyTorch
 * reference"). Prints one JSON line: ms/step for both, the parameter count, and the machine load
 * (os.loadavg() and the CPU use of other processes during each measurement).
 *
 *   npx tsx bench/graph-step.ts [--batches 128,256] [--repeats 8]
 */
import "../src/backend/jax.js";
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { np, tree } from "../src/backend/jax.js";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { initDenoiser, type DenoiserSpec } from "../src/nn/denoiser.js";
import { parameterCount } from "../src/nn/params.js";
import { disposeTrainStepState } from "../src/optim/index.js";
import { GRAPH_STEP_T, graphStepInputs, graphStepSpec, graphStepTrainer } from "./graph-step-setup.js";
import { detectTorch, machineInfo, startLoadMonitor, SYSTEM_PYTHON, timeIt, torchEnv, type LoadReport } from "./lib.js";

const TORCH_GRAPH_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "torch_graph_reference.py");
const T = GRAPH_STEP_T;

export interface GraphStepConfig {
  batches: number[];
  warmup: number;
  repeats: number;
}

export const DEFAULT_GRAPH_STEP_CONFIG: Readonly<GraphStepConfig> = Object.freeze({ batches: [128, 256], warmup: 3, repeats: 8 });

export { graphStepSpec };

/** rewardiff: median ms of one jitted step at batch B, with the load during the timed part. */
export async function rewardiffGraphStep(spec: DenoiserSpec, B: number, warmup: number, repeats: number): Promise<{ ms: number; all: number[]; load: LoadReport; lastLoss: number }> {
  const D = spec.dataDim;
  const trainer = graphStepTrainer(spec);
  const { x0: x0Host, alphaBars } = graphStepInputs(spec, B);
  let state = trainer.init(initDenoiser(keyFromSeed(0), spec), keyFromSeed(1));
  let lastLoss = Number.NaN;
  const one = async () => {
    const r = trainer.step(state, [np.array(x0Host, { shape: [B, D] }), np.array(alphaBars)]);
    state = r.state;
    lastLoss = (await r.loss.data())[0] as number;
  };
  for (let i = 0; i < warmup; i++) await one();
  const mon = startLoadMonitor();
  const timing = await timeIt(one, { warmup: 0, repeats });
  const load = mon.stop();
  disposeTrainStepState(state);
  return { ms: timing.median, all: timing.all.map((v) => Math.round(v * 10) / 10), load, lastLoss };
}

/** The PyTorch reference at batch B (bench/torch_graph_reference.py), or why it could not run. */
export function torchGraphStep(spec: DenoiserSpec, B: number, warmup: number, repeats: number): { available: true; ms: number; params: number; [k: string]: unknown } | { available: false; reason: string } {
  const det = detectTorch();
  if (!det.available) return det;
  const s = spec as Extract<DenoiserSpec, { kind: "graph-transformer" }>;
  const config = { maxNodes: s.maxNodes, nodeBlocks: s.nodeBlocks, edgeFeatures: s.edgeFeatures, hidden: s.hidden, edgeHidden: s.edgeHidden, heads: s.heads, layers: s.layers, timeEmbedding: s.timeEmbedding, batch: B, T, warmup, repeats };
  const r = spawnSync(SYSTEM_PYTHON, [TORCH_GRAPH_SCRIPT, "--config", JSON.stringify(config)], { encoding: "utf8", env: torchEnv(), timeout: 900_000, maxBuffer: 16 * 2 ** 20 });
  if (r.error) return { available: false, reason: `torch reference failed: ${r.error.message}` };
  if (r.status !== 0) return { available: false, reason: `torch reference exited with ${r.status ?? r.signal}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}` };
  const line = (r.stdout ?? "").trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) return { available: false, reason: "torch reference printed no JSON line" };
  const out = JSON.parse(line) as { stepMs: number; params: number; [k: string]: unknown };
  return { available: true, ...out, ms: out.stepMs };
}

/** Both measurements at every batch size, as one object (the JSON line of this script). */
export async function graphStepSection(cfg: GraphStepConfig = DEFAULT_GRAPH_STEP_CONFIG) {
  await ensureBackend();
  const spec = graphStepSpec();
  const probe = initDenoiser(keyFromSeed(0), spec);
  const params = parameterCount(probe);
  tree.dispose(probe);
  const loadavgAtStart = loadavg().map((v) => Math.round(v * 100) / 100);
  const rows: Record<string, unknown>[] = [];
  for (const B of cfg.batches) {
    const rw = await rewardiffGraphStep(spec, B, cfg.warmup, cfg.repeats);
    const th = torchGraphStep(spec, B, cfg.warmup, cfg.repeats);
    rows.push({
      batch: B,
      rewardiffMs: Math.round(rw.ms * 10) / 10,
      torchMs: th.available ? Math.round(th.ms * 10) / 10 : null,
      ratio: th.available ? Math.round((rw.ms / th.ms) * 100) / 100 : null,
      rewardiff: { all: rw.all, lastLoss: rw.lastLoss, load: rw.load },
      torch: th,
    });
    if (th.available && th.params !== params) throw new Error(`the PyTorch model has ${th.params} parameters, rewardiff's ${params}: not the same model`);
  }
  const machine = machineInfo();
  const atEnd = loadavg().map((v) => Math.round(v * 100) / 100);
  // Other processes' CPU use while rewardiff was timed (the load average also counts this benchmark).
  const others = Math.max(...rows.map((r) => (r.rewardiff as { load: LoadReport }).load.otherCores));
  return {
    bench: "graph-step",
    network: spec,
    params,
    steps: rows,
    loadavg: { atStart: loadavgAtStart, atEnd },
    note:
      others > 0.25
        ? `machine busy: other processes used up to ${others} of ${machine.cores} cores while rewardiff was timed; the timings are inflated and noisy`
        : `machine quiet: other processes used at most ${others} cores while rewardiff was timed`,
    machine,
  };
}

function parseArgs(argv: readonly string[]): GraphStepConfig {
  const cfg = { ...DEFAULT_GRAPH_STEP_CONFIG, batches: [...DEFAULT_GRAPH_STEP_CONFIG.batches] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, v] = [argv[i], argv[i + 1]];
    if (flag === "--batches" && v) cfg.batches = v.split(",").map(Number);
    else if (flag === "--repeats" && v) cfg.repeats = Number(v);
    else if (flag === "--warmup" && v) cfg.warmup = Number(v);
    else throw new Error(`graph-step: unknown argument ${flag} (--batches 128,256, --repeats N, --warmup N)`);
  }
  if (cfg.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`graph-step: --batches must be whole numbers ≥ 1`);
  return cfg;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await graphStepSection(parseArgs(process.argv.slice(2)));
  process.stdout.write(JSON.stringify(out) + "\n");
}
