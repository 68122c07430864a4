/**
 * The denoising network: a residual MLP on concat(x_t, time embedding, condition embedding).
 * Kind "low-rank" (2307.07055's structured score network, see ./low-rank-score.ts) runs the same MLP on
 * the subspace coordinates Vᵀx_t ∈ R^rank and maps its output back with V: out = V · MLP(Vᵀx_t, t, y).
 *   h_0 = SiLU(W_in [x_t, emb(t), emb(y)])
 *   h_i = h_{i−1} + SiLU(W_i norm(h_{i−1}))      (i = 1..layers−1; without `residual`: SiLU(W_i h_{i−1}))
 *   out = W_out h_{layers−1}                      (ε̂, x̂_0 or v̂, per the model's prediction type)
 * With layers = 3, hidden = 256 and data in R²: 2(+emb) → 256 → 256 → 256 → 2, as in the benchmarks.
 * The spec is plain JSON, saved beside the weights so a checkpoint describes itself.
 */
import { np, tree, type JArray } from "../backend/jax.js";
import { splitKey, type Key } from "../backend/keys.js";
import { dense, initDense, type DenseParams } from "./dense.js";
import {
  classEmbedding,
  initClassEmbedding,
  initValueEmbedding,
  sinusoidalEmbedding,
  valueEmbedding,
  type ClassEmbeddingParams,
  type ValueEmbeddingParams,
} from "./embeddings.js";
import { initLayerNorm, layerNorm, type LayerNormParams } from "./norm.js";
import { fromSubspace, initSubspaceBasis, toSubspace } from "./low-rank-score.js";
import { silu } from "./activations.js";

/** A condition input: a real vector y ∈ R^dim, or a class y ∈ {0..classes−1}. */
export type ConditionSpec =
  | { kind: "value"; dim: number; embedding: number }
  | { kind: "class"; classes: number; embedding: number };

/** Everything needed to rebuild the network (JSON; stored in checkpoints). */
export interface DenoiserSpec {
  /** "mlp": the MLP on x_t; "low-rank": the MLP on Vᵀx_t with output V·(…) (use with prediction "x0"). */
  kind: "mlp" | "low-rank";
  /** low-rank only: d, the number of columns of the learned basis V ∈ R^{D×d}. */
  rank?: number;
  /** D: the data dimension (input and output size). */
  dataDim: number;
  hidden: number;
  /** Number of hidden layers (≥ 1). */
  layers: number;
  /** Size of the sinusoidal time embedding (even). */
  timeEmbedding: number;
  residual: boolean;
  norm: "none" | "layernorm";
  /**
   * F > 0 adds fixed Fourier features of x_t to the input: sin(2^k x), cos(2^k x) for k = 0..F−1, per
   * coordinate (as tiny-diffusion's input embedding; helps low-dimensional data with fine structure).
   */
  fourierFeatures?: number;
  condition?: ConditionSpec;
  /**
   * CTRL's added control y ∈ {0..classes−1} (+ a null class): a learned table E_y [classes + 1, hidden]
   * added to the first layer's pre-activation, h_0 = SiLU(W_in [x_t, emb(t), emb(c)] + b + E_y[y]).
   * It starts at zero, so a network augmented with a control equals the network without it.
   */
  control?: { classes: number };
}

export type DenoiserParams = {
  input: DenseParams;
  blocks: { dense: DenseParams; norm?: LayerNormParams }[];
  output: DenseParams;
  valueCond?: ValueEmbeddingParams;
  classCond?: ClassEmbeddingParams;
  /** The control embedding E_y (spec.control), zero-initialised. */
  control?: ClassEmbeddingParams;
  /** low-rank only: the basis V [D, rank], kept orthonormal by the trainer of the method. */
  v?: JArray;
};

/** The condition fed to the network for a batch of n. */
export type ConditionInput =
  | { kind: "value"; value: JArray /* [n, dim] */; keep: JArray /* [n]: 1 = use y, 0 = null ∅ */ }
  | { kind: "class"; oneHot: JArray /* [n, classes + 1], last column = null class */ };

export function validateDenoiserSpec(s: DenoiserSpec): void {
  const bad = (m: string) => {
    throw new Error(`model: ${m}`);
  };
  if (s.kind !== "mlp" && s.kind !== "low-rank") bad(`unknown network kind "${String(s.kind)}" (mlp, low-rank)`);
  for (const [k, v] of [["dataDim", s.dataDim], ["hidden", s.hidden], ["layers", s.layers]] as const) {
    if (!Number.isInteger(v) || v < 1) bad(`${k} must be a whole number ≥ 1, got ${v}`);
  }
  if (s.fourierFeatures !== undefined && (!Number.isInteger(s.fourierFeatures) || s.fourierFeatures < 0 || s.fourierFeatures > 16)) {
    bad(`fourierFeatures must be a whole number in 0..16, got ${s.fourierFeatures}`);
  }
  if (!Number.isInteger(s.timeEmbedding) || s.timeEmbedding < 2 || s.timeEmbedding % 2) {
    bad(`timeEmbedding must be an even whole number ≥ 2, got ${s.timeEmbedding}`);
  }
  if (s.kind === "low-rank" && (!Number.isInteger(s.rank) || s.rank! < 1 || s.rank! > s.dataDim)) {
    bad(`a low-rank network needs a whole number rank with 1 ≤ rank ≤ dataDim (${s.dataDim}), got ${JSON.stringify(s.rank)}`);
  }
  if (s.condition !== undefined) {
    const c = s.condition as Partial<ConditionSpec> & { kind?: unknown };
    const size = c.kind === "value" ? (c as { dim?: unknown }).dim : c.kind === "class" ? (c as { classes?: unknown }).classes : undefined;
    if (c.kind !== "value" && c.kind !== "class") bad(`condition.kind must be "value" or "class", got ${JSON.stringify(c.kind)}`);
    if (!Number.isInteger(size) || (size as number) < 1) bad(`condition.${c.kind === "value" ? "dim" : "classes"} must be a whole number ≥ 1, got ${JSON.stringify(size)}`);
    if (!Number.isInteger(c.embedding) || c.embedding! < 1) bad(`condition.embedding must be a whole number ≥ 1, got ${JSON.stringify(c.embedding)}`);
  }
  if (s.control !== undefined && (!Number.isInteger(s.control.classes) || s.control.classes < 1)) {
    bad(`control.classes must be a whole number ≥ 1, got ${JSON.stringify(s.control.classes)}`);
  }
}

/** The width the MLP works in: D, or the rank d of a low-rank network. */
function innerDim(s: DenoiserSpec): number {
  return s.kind === "low-rank" ? s.rank! : s.dataDim;
}

function inputSize(s: DenoiserSpec): number {
  return innerDim(s) * (1 + 2 * (s.fourierFeatures ?? 0)) + s.timeEmbedding + (s.condition ? s.condition.embedding : 0);
}

/** [sin(2^k u), cos(2^k u)] for k = 0..F−1, per coordinate: u [n, D] → [n, 2FD]. Consumes `u`. */
export function fourierFeatures(u: JArray, F: number): JArray {
  const [n, D] = u.shape as [number, number];
  const freqs = new Float32Array(F);
  for (let k = 0; k < F; k++) freqs[k] = 2 ** k;
  const args = u.reshape([n, D, 1]).mul(np.array(freqs).reshape([1, 1, F])).reshape([n, D * F]);
  return np.concatenate([np.sin(args.ref), np.cos(args)], -1);
}

/** Fresh parameters. Consumes `key`. */
export function initDenoiser(key: Key, s: DenoiserSpec): DenoiserParams {
  validateDenoiserSpec(s);
  const keys = splitKey(key, s.layers + (s.kind === "low-rank" ? 3 : 2));
  const p: DenoiserParams = {
    input: initDense(keys[0]!, inputSize(s), s.hidden),
    blocks: [],
    output: initDense(keys[1]!, s.hidden, innerDim(s)),
  };
  if (s.kind === "low-rank") p.v = initSubspaceBasis(keys[s.layers + 2]!, s.dataDim, s.rank!);
  for (let i = 1; i < s.layers; i++) {
    p.blocks.push({
      dense: initDense(keys[i + 1]!, s.hidden, s.hidden),
      ...(s.norm === "layernorm" ? { norm: initLayerNorm(s.hidden) } : {}),
    });
  }
  const condKey = keys[s.layers + 1]!;
  if (s.condition?.kind === "value") p.valueCond = initValueEmbedding(condKey, s.condition.dim, s.condition.embedding);
  else if (s.condition?.kind === "class") p.classCond = initClassEmbedding(condKey, s.condition.classes, s.condition.embedding);
  else condKey.dispose();
  // No key is drawn for the control table (it starts at zero), so adding a control leaves every other
  // initial weight as it was.
  if (s.control) p.control = { table: np.zeros([s.control.classes + 1, s.hidden]) };
  return p;
}

/**
 * The network's raw output for x_t [n, D] at DDPM-scale times t [n] (0..1000). Consumes `p`, `x`, `t`,
 * `cond` and `control` (pass `tree.ref(p)` to keep the parameters). `control` is the one-hot [n,
 * classes + 1] of a network with `spec.control` (last column = null class).
 */
export function applyDenoiser(s: DenoiserSpec, p: DenoiserParams, x: JArray, t: JArray, cond?: ConditionInput, control?: JArray): JArray {
  const lowRank = s.kind === "low-rank";
  if (lowRank && !p.v) throw new Error("model: a low-rank network needs its basis V (parameter v)");
  const u = lowRank ? toSubspace(p.v!.ref, x) : x;
  const F = s.fourierFeatures ?? 0;
  const parts = [lowRank ? u.ref : u, sinusoidalEmbedding(t, s.timeEmbedding)];
  if (F > 0) parts.push(fourierFeatures(parts[0]!.ref, F));
  if (s.condition) {
    if (!cond || cond.kind !== s.condition.kind) {
      throw new Error(`model: this network takes a ${s.condition.kind} condition, got ${cond ? cond.kind : "none"}`);
    }
    if (cond.kind === "value") parts.push(valueEmbedding(p.valueCond!, cond.value, cond.keep));
    else parts.push(classEmbedding(p.classCond!, cond.oneHot));
  } else if (cond) {
    throw new Error("model: this network takes no condition");
  }
  let pre = dense(p.input, np.concatenate(parts, -1));
  if (s.control) {
    if (!control || !p.control) throw new Error("model: this network takes a control input (CTRL), got none");
    pre = pre.add(classEmbedding(p.control, control));
  } else if (control) {
    control.dispose();
    throw new Error("model: this network takes no control input");
  } else if (p.control) {
    tree.dispose(p.control);
  }
  let h = silu(pre);
  for (const block of p.blocks) {
    const inner = block.norm ? layerNorm(block.norm, h.ref) : h.ref;
    const y = silu(dense(block.dense, inner));
    h = s.residual ? h.add(y) : (h.dispose(), y);
  }
  const out = dense(p.output, h);
  // low-rank: ψ̃(u) = u + MLP(u, t, y) on u = Vᵀx_t (an identity skip, so V always gets the gradient of
  // the projection ‖VVᵀx − x_0‖², the PCA objective, even where the MLP ignores a coordinate).
  return lowRank ? fromSubspace(p.v!, out.add(u)) : (p.v?.dispose(), out);
}
