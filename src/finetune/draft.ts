/**
 * DRaFT / AlignProp-style reward backpropagation without a condition (methods.md, "The neighbouring
 * family"): maximise E[r(x_0)] − α Σ_t KL(p_θ,t ‖ p_pre,t) by backpropagating r through the last K
 * steps of the reparameterised sampler (./chain.ts), training all weights or LoRA adapters.
 * Optimum (K = all steps, an expressive model): the tilted law p*(x_0) ∝ p_pre(x_0) exp(r(x_0)/α), up to
 * the fixed x_T ~ N(0, I) (the exact tilt would also tilt x_T's law, by a factor that vanishes as
 * ᾱ_T → 0). On the Gaussian-mixture task with r = bᵀx, p* is known exactly (fixtures.md §3).
 */
import { tree } from "../backend/jax.js";
import { split2, type Key } from "../backend/keys.js";
import type { ModelConfig } from "../diffusion/model.js";
import type { StepCoefficients } from "../diffusion/step.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { requireDifferentiable, type Reward } from "../rewards/reward.js";
import { makeChain } from "./chain.js";
import type { FinetunedModel } from "./finetuned.js";
import { finetune, type FinetuneConfig, type FinetunePoint } from "./optimize.js";
import { denoiserChainModel, initTrainable, type PolicySpec } from "./policy.js";

export interface DraftOptions {
  model: ModelConfig;
  /** The pretrained weights (borrowed). */
  pretrained: DenoiserParams;
  reward: Reward;
  /** α: KL strength (temperature of the tilt). */
  alpha: number;
  plan: readonly StepCoefficients[];
  T: number;
  dim: number;
  trainable: "all" | "adapters";
  /** LoRA rank (adapters). */
  rank: number;
  optim: FinetuneConfig;
  truncation?: number;
  truncationMode?: "fixed" | "random";
  segment?: number;
  /** Bytes of activations the single-pass gradient may keep before it segments (./chain.ts). */
  memoryBudget?: number;
  klReduce?: "sum" | "mean";
  onStep?: (pt: FinetunePoint, total: number) => void;
}

export interface DraftResult {
  model: FinetunedModel;
  history: FinetunePoint[];
  heapBytes: number;
  seconds: number;
}

/** Fine-tunes by reward backpropagation. Consumes `key`. */
export async function draftFinetune(o: DraftOptions, key: Key): Promise<DraftResult> {
  requireDifferentiable(o.reward, "draft (reward backpropagation)");
  if (!(o.alpha > 0)) throw new Error(`draft: alpha must be > 0, got ${o.alpha}`);
  const reward = o.reward;
  const spec: PolicySpec = { model: o.model, mode: o.trainable, rank: o.rank };
  const [kInit, kRun] = split2(key);
  const p0 = initTrainable(spec, o.pretrained, kInit);
  const f = { base: tree.ref(o.pretrained) as DenoiserParams };
  const chain = makeChain(
    denoiserChainModel(spec),
    (x, aux) => {
      for (const a of aux) a.dispose();
      return reward.fn(x);
    },
    o.plan,
    o.T,
    o.dim,
    {
      objectiveScale: 1,
      klWeight: o.alpha,
      ...(o.truncation !== undefined ? { truncation: o.truncation } : {}),
      ...(o.truncationMode ? { truncationMode: o.truncationMode } : {}),
      ...(o.segment !== undefined ? { segment: o.segment } : {}),
      ...(o.memoryBudget !== undefined ? { memoryBudget: o.memoryBudget } : {}),
      ...(o.klReduce ? { klReduce: o.klReduce } : {}),
    },
    "draft",
  );
  try {
    const r = await finetune(chain, p0, f, o.optim, kRun, (_s, k) => (k.dispose(), { side: [], aux: [] }), o.onStep);
    return { model: { spec, p: r.params, f, plan: o.plan, T: o.T, dim: o.dim }, history: r.history, heapBytes: r.heapBytes, seconds: r.seconds };
  } catch (e) {
    tree.dispose(f);
    throw e;
  } finally {
    chain.dispose();
  }
}
