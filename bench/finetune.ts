/**
 * The "finetune" benchmark section: one value-and-gradient of reward backpropagation through the sampler
 * (the engine of DRaFT and CTRL, src/finetune/chain.ts), with rewardiff's public engine API.
 *
 * Workload (bench/README.md, "Reward backpropagation through the sampler"; the same in
 * bench/torch_reference.py --mode finetune):
 *  - ε_θ: the benchmark MLP (2 + 16 → 256 → 256 → 256 → 2, SiLU), every weight trainable ("all"), starting
 *    at the pretrained weights; ε_ref: a frozen copy (the reference p_pre).
 *  - DDPM ("small" variance β̃, trailing spacing), S = 50 steps of the linear schedule (T = 1000), n = 128
 *    chains, reparameterised x_s = μ_θ(x_t) + σ_t z_t with z_t fixed per draw; the final σ = 0 step uses
 *    μ_ref (as chain.ts's planRows).
 *  - L(θ) = −mean_i r(x_0^i) + Σ_t mean_i ‖μ_θ − μ_ref‖²/(2σ_t²),  r(x) = x₁ + 0.5 x₂  (ρ = 1, λ = 1).
 *  - Timed: one `lossAndGrad` (forward + backward, K = all S steps), ended when L has been read and every
 *    gradient leaf is ready; once as the default single pass (one jitted value-and-grad over the chain)
 *    and once with recomputation segments of 5 steps.
 * The wasm heap high-water mark (src/backend/heap.ts) is read after each variant; it only grows, so the
 * segmented variant runs first.
 */
import { blockUntilReady, np, tree, wasmHeapBytes, type JArray } from "../src/backend/index.js";
import { keyFromSeed } from "../src/backend/keys.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { denoiserChainModel, initTrainable, makeChain, type ChainObjective, type FrozenParams, type PolicySpec } from "../src/finetune/index.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { startLoadMonitor, timeIt, type BenchConfig, type LoadReport, type Timing } from "./lib.js";

/** Sizes of the finetune section (the network comes from {@link BenchConfig}). */
export interface FinetuneBenchConfig {
  /** n: chains per gradient evaluation. */
  chains: number;
  /** S: DDPM steps (all of them carry gradient). */
  steps: number;
  /** Steps per recomputation segment of the segmented variant. */
  segment: number;
  warmup: number;
  repeats: number;
}

export const DEFAULT_FINETUNE_CONFIG: Readonly<FinetuneBenchConfig> = Object.freeze({ chains: 128, steps: 50, segment: 5, warmup: 1, repeats: 5 });

/** One variant's measurement. */
export interface ChainGradMeasurement {
  segment: number | "none";
  gradMs: Timing;
  load: LoadReport;
  /** wasm heap high-water mark of the process after this variant (bytes). */
  heapBytes: number;
  /** L of the last timed call (θ = θ_pre, so every KL_t is 0 and L = −mean r(x_0)). */
  lastLoss: number;
}

export interface FinetuneBenchResult {
  config: FinetuneBenchConfig;
  /** The plan's training indices t (decreasing), for comparison with the PyTorch reference's. */
  timesteps: number[];
  segmented: ChainGradMeasurement;
  full: ChainGradMeasurement;
}

/** Measures rewardiff's chain gradient (segmented first, then unsegmented; see the module doc). */
export async function rewardiffChainGrad(cfg: BenchConfig, fc: FinetuneBenchConfig = DEFAULT_FINETUNE_CONFIG): Promise<FinetuneBenchResult> {
  const D = cfg.outDim;
  const T = cfg.T ?? 1000;
  const model: ModelConfig = {
    network: { kind: "mlp", dataDim: D, hidden: cfg.hidden, layers: cfg.depth, timeEmbedding: cfg.inDim - D, residual: false, norm: "none" },
    prediction: "eps",
    schedule: { kind: "linear", steps: T },
  };
  const plan = samplerPlan(makeSchedule(model.schedule), { sampler: "ddpm", steps: fc.steps, eta: 1 });
  const spec: PolicySpec = { model, mode: "all", rank: 1 };
  const f: FrozenParams = { base: initDenoiser(keyFromSeed(7), model.network) };
  const p = initTrainable(spec, f.base, keyFromSeed(8));
  // r(x) = bᵀx with b = (1, 0.5).
  const b = np.array(new Float32Array([1, 0.5]), { shape: [2, 1] });
  const reward: ChainObjective = (x: JArray, aux: JArray[]) => {
    for (const a of aux) a.dispose();
    return np.matmul(x, b.ref).reshape([-1]);
  };
  let seed = 1000;
  const measure = async (segment: number | undefined): Promise<ChainGradMeasurement> => {
    const chain = makeChain(denoiserChainModel(spec), reward, plan, T, D, { objectiveScale: 1, klWeight: 1, ...(segment ? { segment } : {}) }, "bench");
    let lastLoss = Number.NaN;
    const mon = startLoadMonitor();
    const gradMs = await timeIt(
      async () => {
        const r = await chain.lossAndGrad(p, f, [], [], fc.chains, keyFromSeed(seed++));
        lastLoss = r.loss;
        await blockUntilReady(r.grads);
        tree.dispose(r.grads);
      },
      { warmup: fc.warmup, repeats: fc.repeats },
    );
    const load = mon.stop();
    chain.dispose();
    return { segment: segment ?? "none", gradMs, load, heapBytes: wasmHeapBytes(), lastLoss };
  };
  try {
    const segmented = await measure(fc.segment);
    const full = await measure(undefined);
    return { config: { ...fc }, timesteps: plan.map((c) => c.t.index), segmented, full };
  } finally {
    tree.dispose(p);
    tree.dispose(f);
    b.dispose();
  }
}
