/**
 * The residual MLP denoiser (kind "mlp") on the flattened sample u = vec(x_t) ∈ R^D:
 *   h_0 = SiLU(W_in [u, emb(t), emb(y)] (+ E_c[c]))
 *   h_i = h_{i−1} + SiLU(W_i norm(h_{i−1}))      (i = 1..layers−1; without `residual`: SiLU(W_i h_{i−1}))
 *   out = W_out h_{layers−1}                      (ε̂, x̂_0 or v̂, per the model's prediction type)
 * reshaped back to the event shape. With layers = 3, hidden = 256 and data in R²: 2(+emb) → 256 → 256 →
 * 256 → 2, as in the benchmarks. The same trunk runs the low-rank network (./low-rank.ts) on Vᵀx_t.
 */
import * as z from "zod";
import { np, tree, type JArray } from "../../backend/jax.js";
import { splitKey, type Key } from "../../backend/keys.js";
import { silu } from "../activations.js";
import { dense, initDense, type DenseParams } from "../dense.js";
import {
  DEFAULT_TIME_EMBEDDING,
  simdTimeEmbedding,
  classEmbedding,
  initClassEmbedding,
  initValueEmbedding,
  sinusoidalEmbedding,
  valueEmbedding,
  valueFeatureWidth,
  valueFeatures,
  type ClassEmbeddingParams,
  type ValueEmbeddingParams,
} from "../embeddings.js";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../norm.js";
import { unknownKeysMessage } from "../../io/zod-error.js";
import { batchSize, eventShapeOf, type ConditionInput, type ConditionSpec, type Denoiser, type DenoiserSpecBase } from "./types.js";

/** The spec of the networks built on the residual MLP trunk (kinds "mlp" and "low-rank"). */
export interface ResidualMlpSpec extends DenoiserSpecBase {
  /** "mlp": the MLP on x_t; "low-rank": the MLP on Vᵀx_t with output V·(…) (use with prediction "x0"). */
  kind: "mlp" | "low-rank";
  /** low-rank only: d, the number of columns of the learned basis V ∈ R^{D×d}. */
  rank?: number;
  hidden: number;
  /** Number of hidden layers (≥ 1). */
  layers: number;
  /**
   * Size of the sinusoidal time embedding (even). Parsing a spec without it chooses
   * {@link simdTimeEmbedding} of the other first-layer inputs (a first-layer width that is a multiple of 4).
   */
  timeEmbedding: number;
  residual: boolean;
  norm: "none" | "layernorm";
  /**
   * F > 0 adds fixed Fourier features of the input to it: sin(2^k u), cos(2^k u) for k = 0..F−1, per
   * coordinate (as tiny-diffusion's input embedding; helps low-dimensional data with fine structure).
   */
  fourierFeatures?: number;
  /**
   * CTRL's added control y ∈ {0..classes−1} (+ a null class): a learned table E_y [classes + 1, hidden]
   * added to the first layer's pre-activation, h_0 = SiLU(W_in [x_t, emb(t), emb(c)] + b + E_y[y]).
   * It starts at zero, so a network augmented with a control equals the network without it.
   */
  control?: { classes: number };
}

/** Parameters of the residual MLP trunk; `v` is the low-rank network's basis V [D, rank]. */
export type DenoiserParams = {
  input: DenseParams;
  blocks: { dense: DenseParams; norm?: LayerNormParams }[];
  output: DenseParams;
  /** low-rank only: the basis V [D, rank], kept orthonormal by the trainer of the method. */
  v?: JArray;
  valueCond?: ValueEmbeddingParams;
  classCond?: ClassEmbeddingParams;
  /** The control embedding E_y (spec.control), zero-initialised. */
  control?: ClassEmbeddingParams;
};

const wholeAtLeast = (min: number) => z.number().int().min(min);

/** A strict object whose unknown-key errors suggest the nearest known key. */
export function strictSpec<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}

const conditionSchema: z.ZodType<ConditionSpec> = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("value"), dim: wholeAtLeast(1), embedding: wholeAtLeast(1), fourier: wholeAtLeast(1).optional() }),
  z.strictObject({ kind: z.literal("class"), classes: wholeAtLeast(1), embedding: wholeAtLeast(1) }),
]);

/** The fields of a residual-MLP spec (besides `kind`), with their defaults. */
export const residualMlpFields = {
  dataDim: wholeAtLeast(1),
  eventShape: z.array(wholeAtLeast(1)).min(1).optional(),
  hidden: wholeAtLeast(1).default(128),
  layers: wholeAtLeast(1).default(3),
  timeEmbedding: wholeAtLeast(2).multipleOf(2, "must be an even whole number").optional().describe(`default: ${DEFAULT_TIME_EMBEDDING}, rounded up so the first layer's input width is a multiple of 4`),
  residual: z.boolean().default(true),
  norm: z.enum(["none", "layernorm"]).default("none"),
  fourierFeatures: z.number().int().min(0).max(16).optional(),
  condition: conditionSchema.optional(),
  control: z.strictObject({ classes: wholeAtLeast(1) }).optional(),
};

/** Adds an issue unless product(eventShape) = dataDim. */
export function checkEventShape(s: { dataDim: number; eventShape?: number[] | undefined }, ctx: z.RefinementCtx): void {
  if (!s.eventShape) return;
  const size = s.eventShape.reduce((a, b) => a * b, 1);
  if (size !== s.dataDim) {
    ctx.addIssue({ code: "custom", path: ["eventShape"], message: `[${s.eventShape.join(", ")}] holds ${size} values, but dataDim is ${s.dataDim}`, input: s.eventShape });
  }
}

/** The trunk's first-layer inputs besides the time embedding, on `width`-dimensional inputs (x_t or Vᵀx_t). */
export function otherInputs(s: Pick<ResidualMlpSpec, "fourierFeatures" | "condition">, width: number): number {
  return width * (1 + 2 * (s.fourierFeatures ?? 0)) + (s.condition ? s.condition.embedding : 0);
}

/** A parsed spec with its time-embedding width: the given one, else {@link simdTimeEmbedding}. */
export function withTimeEmbedding<S extends Omit<ResidualMlpSpec, "timeEmbedding"> & { timeEmbedding?: number | undefined }>(s: S): S & { timeEmbedding: number } {
  const width = s.kind === "low-rank" ? s.rank! : s.dataDim;
  return { ...s, timeEmbedding: s.timeEmbedding ?? simdTimeEmbedding(otherInputs(s, width)) };
}

export const MlpSpecSchema = strictSpec({ kind: z.literal("mlp"), ...residualMlpFields })
  .superRefine(checkEventShape)
  .transform(withTimeEmbedding);

/** The input width of the trunk on `width`-dimensional inputs. */
function inputSize(s: ResidualMlpSpec, width: number): number {
  return otherInputs(s, width) + s.timeEmbedding;
}

/** [sin(2^k u), cos(2^k u)] for k = 0..F−1, per coordinate: u [n, D] → [n, 2FD]. Consumes `u`. */
export function fourierFeatures(u: JArray, F: number): JArray {
  const [n, D] = u.shape as [number, number];
  const freqs = new Float32Array(F);
  for (let k = 0; k < F; k++) freqs[k] = 2 ** k;
  const args = u.reshape([n, D, 1]).mul(np.array(freqs).reshape([1, 1, F])).reshape([n, D * F]);
  return np.concatenate([np.sin(args.ref), np.cos(args)], -1);
}

/**
 * The trunk's parameters for `width`-dimensional inputs and outputs, from keys split by the caller:
 * keys[0] → W_in, keys[1] → W_out, keys[i + 1] → block i (i = 1..layers−1), keys[layers + 1] → the
 * condition embedding. Consumes those keys (and no others) and `v` (the low-rank basis, stored as is).
 * The leaves are created in the order of the saved parameter layout.
 */
export function initResidualMlp(keys: Key[], s: ResidualMlpSpec, width: number, v?: JArray): DenoiserParams {
  const p: DenoiserParams = {
    input: initDense(keys[0]!, inputSize(s, width), s.hidden),
    blocks: [],
    output: initDense(keys[1]!, s.hidden, width),
  };
  if (v) p.v = v;
  for (let i = 1; i < s.layers; i++) {
    p.blocks.push({
      dense: initDense(keys[i + 1]!, s.hidden, s.hidden),
      ...(s.norm === "layernorm" ? { norm: initLayerNorm(s.hidden) } : {}),
    });
  }
  const condKey = keys[s.layers + 1]!;
  if (s.condition?.kind === "value") p.valueCond = initValueEmbedding(condKey, valueFeatureWidth(s.condition.dim, s.condition.fourier), s.condition.embedding);
  else if (s.condition?.kind === "class") p.classCond = initClassEmbedding(condKey, s.condition.classes, s.condition.embedding);
  else condKey.dispose();
  // No key is drawn for the control table (it starts at zero), so adding a control leaves every other
  // initial weight as it was.
  if (s.control) p.control = { table: np.zeros([s.control.classes + 1, s.hidden]) };
  return p;
}

/**
 * The trunk on flat inputs u [n, width] → [n, width]. Consumes `p` (except `p.v`, which it leaves to the
 * caller), `u`, `t`, `cond` and `control`.
 */
export function residualMlp(s: ResidualMlpSpec, p: DenoiserParams, u: JArray, t: JArray, cond?: ConditionInput, control?: JArray): JArray {
  const F = s.fourierFeatures ?? 0;
  const parts = [u, sinusoidalEmbedding(t, s.timeEmbedding)];
  if (F > 0) parts.push(fourierFeatures(parts[0]!.ref, F));
  if (s.condition) {
    if (!cond || cond.kind !== s.condition.kind) {
      throw new Error(`model: this network takes a ${s.condition.kind} condition, got ${cond ? cond.kind : "none"}`);
    }
    if (cond.kind === "value") parts.push(valueEmbedding(p.valueCond!, valueFeatures(cond.value, s.condition.kind === "value" ? s.condition.fourier : undefined), cond.keep));
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
  return dense(p.output, h);
}

/** x [N, ...event] → [N, D] (no op for vectors). Consumes `x`. */
export function flattenEvent(x: JArray, n: number, event: readonly number[]): JArray {
  return event.length === 1 ? x : x.reshape([n, -1]);
}

/** y [N, D] → [N, ...event] (no op for vectors). Consumes `y`. */
export function unflattenEvent(y: JArray, n: number, event: readonly number[]): JArray {
  return event.length === 1 ? y : y.reshape([n, ...event]);
}

/** Kind "mlp": the residual MLP on vec(x_t). */
export const mlpDenoiser: Denoiser<ResidualMlpSpec, DenoiserParams> = {
  kind: "mlp",
  schema: MlpSpecSchema,
  init(key, s) {
    return initResidualMlp(splitKey(key, s.layers + 2), s, s.dataDim);
  },
  apply(s, p, x, t, cond, control) {
    const event = eventShapeOf(s);
    const n = batchSize(x, event, "model");
    p.v?.dispose();
    const out = residualMlp(s, p, flattenEvent(x, n, event), t, cond, control);
    return unflattenEvent(out, n, event);
  },
};
