/**
 * Trains the playground's pretrained toy models, reproducibly (fixed seeds, wasm, one thread), and writes
 * them as inference checkpoints (EMA weights + JSON sidecar) to playground/models/:
 *   npx tsx scripts/playground-models.ts [--steps N] [--out dir]
 * Each is the residual MLP denoiser (ε prediction, linear β schedule, T = 1000) on a standardised toy 2-D
 * set (src/tasks/toy2d.ts), small on purpose (hidden 64: ~48 KB of weights). The script prints the sliced
 * Wasserstein distance of 2,000 DDIM samples to fresh data beside the data-vs-data floor (docs/browser.md).
 */
import "../src/backend/heap-probe.js";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureBackend, keyFromSeed, splitKey, toHost } from "../src/backend/index.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { modelEps, modelSchedule } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { slicedWasserstein } from "../src/eval/sliced-wasserstein.js";
import { hostMatrix } from "../src/data/matrix.js";
import { saveInferenceModel } from "../src/io/checkpoints/model-files.js";
import { simdTimeEmbedding } from "../src/nn/embeddings.js";
import { toy2dTask } from "../src/tasks/toy2d.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainSteps } from "../src/training/trainer.js";

/** The models the playground ships: toy set, seed. */
export const PLAYGROUND_MODELS = [
  { name: "8gaussians", seed: 11 },
  { name: "moons", seed: 12 },
] as const;

/** The network of every playground model (2-D data + 4 Fourier octaves = 18 inputs, + 34 time features). */
export function playgroundModelConfig(): ModelConfig {
  return {
    network: { kind: "mlp", dataDim: 2, hidden: 64, layers: 3, timeEmbedding: simdTimeEmbedding(2 + 16), residual: true, norm: "none", fourierFeatures: 4 },
    prediction: "eps",
    schedule: { kind: "linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 },
  };
}

async function main(argv: string[]): Promise<void> {
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const steps = Number(flag("--steps") ?? 12000);
  const out = flag("--out") ?? "playground/models";
  if (!(Number.isInteger(steps) && steps > 0)) throw new Error(`--steps must be a whole number > 0, got ${flag("--steps")}`);
  await ensureBackend();
  mkdirSync(out, { recursive: true });
  const model = playgroundModelConfig();
  const train = { ...defaultTrainConfig, steps, batchSize: 512 };
  for (const { name, seed } of PLAYGROUND_MODELS) {
    const task = toy2dTask(name);
    const [kData, kInit, kSample, kFresh, kFloor] = splitKey(keyFromSeed(seed), 5);
    const data = await task.sample(kData, 50_000);
    const t0 = performance.now();
    let state = initTrainState(model, kInit);
    state = await trainSteps(model, train, state, { x: data }, { onProgress: (p) => p.step % 1000 === 0 && process.stdout.write(`${name}: step ${p.step} loss ${p.loss.toFixed(4)}\n`) });
    const seconds = (performance.now() - t0) / 1000;
    const path = join(out, `${name}.safetensors`);
    await saveInferenceModel(path, { model, train, columns: ["x1", "x2"], data: `toy2d ${name} (standardised), 50000 rows, seed ${seed}` }, state.ema, state.step);
    const x = await sample({ model: modelEps(model, state.ema), plan: samplerPlan(modelSchedule(model), { sampler: "ddim", steps: 50, eta: 1 }), n: 2000, eventShape: [2], key: kSample });
    const samples = hostMatrix(2000, 2, await toHost(x));
    const fresh = await task.sample(kFresh, 2000);
    const floor = slicedWasserstein(await task.sample(kFloor, 2000), fresh);
    process.stdout.write(`${name}: ${steps} steps in ${seconds.toFixed(0)} s → ${path}; SW(samples, data) ${slicedWasserstein(samples, fresh).toFixed(4)}, floor ${floor.toFixed(4)}\n`);
    disposeTrainState(state);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`playground-models: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
