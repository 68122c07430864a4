/**
 * CTRL (2406.12120): adding a new control y to a pretrained model p_pre(x | c) by RL fine-tuning with
 * a classifier (methods.md, "Adding conditional control with RL").
 *  1. The network is augmented with a control input y (nn/denoiser.ts `control`): an embedding table
 *     E_y [classes + 1, hidden] added to the first layer's pre-activation, starting at zero, so the
 *     augmented model equals p_pre exactly at initialisation (identical samples, every KL_t = 0).
 *  2. What trains: "adapters" (LoRA A·B on every dense layer, B = 0 at start, + E_y), "embedding" (E_y
 *     only) or "all" (every weight + E_y); the pretrained weights stay frozen as the reference.
 *  3. Objective, maximised by backpropagation through the reparameterised sampler (./chain.ts):
 *       E_{c, y, x_{0:T} ~ p_θ(·|c,y)} [ γ log p̂(y | x_0) − Σ_t ‖μ_θ − μ_pre‖²/(2σ_t²) ],
 *     c and y uniform per chain. With `nullProbability` q > 0 a fraction q of the chains gets the null
 *     control ∅ and only the KL term (which keeps ε_θ(c, ∅) = ε_pre(c)), so sampling may use CFG
 *     against the null class: ε̃ = ε_θ(c, ∅) + w (ε_θ(c, y) − ε_θ(c, ∅)).
 *  4. Soft-optimal target: p*(x | c, y) ∝ p̂(y | x)^γ p_pre(x | c).
 * Quirks of the reference code, as options defaulting to the theory: `klReduce: "mean"` (KL averaged
 * over dimensions), `truncationMode: "random"` (the truncation point redrawn at every step).
 */
import { np, tree, type JArray } from "../backend/jax.js";
import { keyToSeed, split2, type Key } from "../backend/keys.js";
import { mulberry32 } from "../data/host-rng.js";
import type { ModelConfig } from "../diffusion/model.js";
import type { StepCoefficients } from "../diffusion/step.js";
import type { NoiseHook } from "../diffusion/types.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { makeChain } from "./chain.js";
import type { FinetunedModel } from "./finetuned.js";
import { finetune, type FinetuneConfig, type FinetunePoint } from "./optimize.js";
import { denoiserChainModel, initTrainable, oneHot, type PolicySpec, type TrainableMode } from "./policy.js";

export interface CtrlOptions {
  /** The pretrained model p_pre(x | c) (network with a class or value context condition, or none). */
  model: ModelConfig;
  /** Its weights (borrowed). */
  pretrained: DenoiserParams;
  /** C: number of contexts (0 for an unconditional pretrained model). */
  contexts: number;
  /** Builds the context side input for contexts c (one per row): class one-hot [n, C+1] or value [n, C]. */
  contextInput?: (c: Int32Array) => JArray;
  /** K: number of classes of the new control y. */
  classes: number;
  /** log p̂(· | x) for every class, differentiable: x [n, D] (consumed) → [n, K]. */
  logProbs: (x: JArray) => JArray;
  /** γ: weight of log p̂(y | x_0) (the KL weight is 1). */
  gamma: number;
  plan: readonly StepCoefficients[];
  T: number;
  dim: number;
  trainable: TrainableMode;
  rank: number;
  optim: FinetuneConfig;
  truncation?: number;
  truncationMode?: "fixed" | "random";
  segment?: number;
  /** Bytes of activations the single-pass gradient may keep before it segments (./chain.ts). */
  memoryBudget?: number;
  klReduce?: "sum" | "mean";
  /**
   * What the chain maximises per row: "log-prob" (default, the paper's log p̂(y | x_0)) or "prob" (p̂(y | x_0),
   * bounded in [0, 1], so a chain far from its label cannot dominate the batch's gradient).
   */
  reward?: CtrlReward;
  /** Maps every standard-normal draw of the chains into the model's noise space (graph rows: src/diffusion/noise-space.ts). */
  noise?: NoiseHook;
  /** q: probability of training a chain with the null control (for CFG at sampling); default 0. */
  nullProbability?: number;
  onStep?: (pt: FinetunePoint, total: number) => void;
}

export interface CtrlResult {
  model: FinetunedModel;
  history: FinetunePoint[];
  heapBytes: number;
  seconds: number;
}

/** The side inputs of CTRL chains: [context?, control one-hot]. */
export function ctrlSide(o: Pick<CtrlOptions, "contexts" | "contextInput" | "classes">, c: Int32Array, y: Int32Array): JArray[] {
  const side: JArray[] = [];
  if (o.contexts > 0) {
    if (!o.contextInput) throw new Error("ctrl: a context-conditional model needs contextInput");
    side.push(o.contextInput(c));
  }
  side.push(oneHot(y, o.classes));
  return side;
}

export type CtrlReward = "log-prob" | "prob";

/**
 * obj(x_0) per row for the row's label: aux = [one-hot of y over K classes] (all zeros for null rows, whose
 * objective is 0): log p̂(y | x_0) ("log-prob") or p̂(y | x_0) ("prob").
 */
export function ctrlObjective(logProbs: (x: JArray) => JArray, reward: CtrlReward): (x: JArray, aux: JArray[]) => JArray {
  if (reward === "prob") return (x, aux) => np.sum(np.exp(logProbs(x)).mul(aux[0]!), -1);
  return (x, aux) => np.sum(logProbs(x).mul(aux[0]!), -1);
}

/** Checks a requested label against the classifier's classes (y = classes is the null class only where allowed). */
export function checkLabel(y: number, classes: number, where: string): void {
  if (!Number.isInteger(y) || y < 0 || y >= classes) {
    throw new Error(`${where}: label ${y} is outside the classifier's classes 0..${classes - 1}`);
  }
}

/** Fine-tunes the augmented model. Consumes `key`. */
export async function ctrlFinetune(o: CtrlOptions, key: Key): Promise<CtrlResult> {
  if (!(o.gamma > 0) || !Number.isFinite(o.gamma)) throw new Error(`ctrl: gamma must be a finite number > 0, got ${o.gamma}`);
  if (!Number.isInteger(o.classes) || o.classes < 2) throw new Error(`ctrl: the control needs at least 2 classes, got ${o.classes}`);
  const q = o.nullProbability ?? 0;
  if (!(q >= 0 && q < 1)) throw new Error(`ctrl: nullProbability must be in [0, 1), got ${q}`);
  const spec: PolicySpec = { model: o.model, mode: o.trainable, rank: o.rank, controlClasses: o.classes };
  const [kInit, kRun] = split2(key);
  const p0 = initTrainable(spec, o.pretrained, kInit);
  const f = { base: tree.ref(o.pretrained) as DenoiserParams };
  const K = o.classes;
  const objective = ctrlObjective(o.logProbs, o.reward ?? "log-prob");
  const chain = makeChain(
    denoiserChainModel(spec),
    objective,
    o.plan,
    o.T,
    o.dim,
    {
      objectiveScale: o.gamma,
      klWeight: 1,
      ...(o.truncation !== undefined ? { truncation: o.truncation } : {}),
      ...(o.truncationMode ? { truncationMode: o.truncationMode } : {}),
      ...(o.segment !== undefined ? { segment: o.segment } : {}),
      ...(o.memoryBudget !== undefined ? { memoryBudget: o.memoryBudget } : {}),
      ...(o.klReduce ? { klReduce: o.klReduce } : {}),
      ...(o.noise ? { noise: o.noise } : {}),
    },
    "ctrl",
  );
  const n = o.optim.batchSize;
  const batch = (_step: number, k: Key) => {
    const rng = mulberry32(keyToSeed(k));
    const c = Int32Array.from({ length: n }, () => (o.contexts > 0 ? Math.floor(rng() * o.contexts) : 0));
    const y = Int32Array.from({ length: n }, () => (q > 0 && rng() < q ? K : Math.floor(rng() * K)));
    const labels = new Float32Array(n * K);
    y.forEach((v, i) => {
      if (v < K) labels[i * K + v] = 1;
    });
    return { side: ctrlSide(o, c, y), aux: [np.array(labels, { shape: [n, K] })] };
  };
  try {
    const r = await finetune(chain, p0, f, o.optim, kRun, batch, o.onStep);
    return { model: { spec, p: r.params, f, plan: o.plan, T: o.T, dim: o.dim }, history: r.history, heapBytes: r.heapBytes, seconds: r.seconds };
  } catch (e) {
    tree.dispose(f);
    throw e;
  } finally {
    chain.dispose();
  }
}
