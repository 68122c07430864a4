/**
 * What every denoising network provides (docs/methods.md, "Notation"): a pure function from a noisy batch
 * x_t [N, ...event] at DDPM-scale times t [N] (0..1000) to the model output ε̂, x̂_0 or v̂ of the same
 * shape, its parameter initialisation, and a zod schema for its spec (the JSON saved beside the weights,
 * with the defaults of its fields). Implementations: ./mlp.ts, ./low-rank.ts; the registry is ./index.ts.
 */
import type * as z from "zod";
import type { JArray } from "../../backend/jax.js";
import type { Key } from "../../backend/keys.js";
import type { CategoricalBlock } from "../categorical.js";

/** A condition input: a real vector y ∈ R^dim, or a class y ∈ {0..classes−1}. */
export type ConditionSpec =
  /** `fourier` K: y enters as [y, sin 2πf_k y, cos 2πf_k y] (k < K, ../embeddings.ts valueFeatures) instead of y alone. */
  | { kind: "value"; dim: number; embedding: number; fourier?: number }
  | { kind: "class"; classes: number; embedding: number };

/** The condition fed to the network for a batch of n. */
export type ConditionInput =
  | { kind: "value"; value: JArray /* [n, dim] */; keep: JArray /* [n]: 1 = use y, 0 = null ∅ */ }
  | { kind: "class"; oneHot: JArray /* [n, classes + 1], last column = null class */ };

/** The fields every network spec has, whatever its kind. */
export interface DenoiserSpecBase {
  /** The registry key of the implementation (./index.ts). */
  kind: string;
  /** D = product(eventShape): the number of values in one sample. */
  dataDim: number;
  /** The shape of one sample (e.g. [3, 3] for matrices); absent means [dataDim]. */
  eventShape?: number[];
  condition?: ConditionSpec;
  /** CTRL's added control y ∈ {0..classes−1} (+ a null class). */
  control?: { classes: number };
}

/** A denoising network: its spec schema, initialisation and forward pass. */
export interface Denoiser<S extends DenoiserSpecBase, P> {
  readonly kind: S["kind"];
  /** Validates a spec and fills in the defaults of its optional fields. */
  readonly schema: z.ZodType<S, unknown>;
  /** Fresh parameters for a valid spec. Consumes `key`. */
  init(key: Key, spec: S): P;
  /**
   * The raw output [N, ...event] for x_t [N, ...event] and times t [N]. Consumes `params`, `x`, `t`,
   * `cond` and `control` (pass `tree.ref(params)` to keep the parameters).
   */
  apply(spec: S, params: P, x: JArray, t: JArray, cond?: ConditionInput, control?: JArray): JArray;
  /**
   * For one-hot data (../categorical.ts): the categorical blocks of the row when the spec asks for a
   * categorical output (then `apply` returns x̂_0 = softmax of the logits per group), else undefined.
   */
  categories?(spec: S): CategoricalBlock[] | undefined;
  /** The logits behind a categorical `apply` (for the cross-entropy loss). Consumes as `apply`. */
  logits?(spec: S, params: P, x: JArray, t: JArray, cond?: ConditionInput, control?: JArray): JArray;
}

/** The shape of one sample: `spec.eventShape`, or [dataDim]. */
export function eventShapeOf(spec: Pick<DenoiserSpecBase, "dataDim" | "eventShape">): number[] {
  return spec.eventShape ? [...spec.eventShape] : [spec.dataDim];
}

/** Throws unless x has shape [N, ...event]; returns N. Disposes `x` before throwing. */
export function batchSize(x: JArray, event: readonly number[], where: string): number {
  const ok = x.ndim === event.length + 1 && event.every((e, i) => x.shape[i + 1] === e);
  if (!ok) {
    const got = x.shape.join(", ");
    x.dispose();
    throw new Error(`${where}: expected x_t of shape [N, ${event.join(", ")}], got [${got}]`);
  }
  return x.shape[0]!;
}
