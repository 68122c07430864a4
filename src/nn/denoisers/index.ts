/**
 * The registry of denoising networks by kind, and the entry points that dispatch on `spec.kind`:
 * {@link initDenoiser}, {@link applyDenoiser}, {@link validateDenoiserSpec}, {@link parseDenoiserSpec}.
 * A new network is a module implementing {@link Denoiser} (./types.ts) plus one line here.
 */
import type { JArray } from "../../backend/jax.js";
import type { Key } from "../../backend/keys.js";
import { describeZodIssues } from "../../io/zod-error.js";
import { graphTransformerDenoiser, type GraphTransformerParams, type GraphTransformerSpec } from "./graph-transformer.js";
import { lowRankDenoiser } from "./low-rank.js";
import { mlpDenoiser, type DenoiserParams as ResidualMlpParams, type ResidualMlpSpec } from "./mlp.js";
import type { CategoricalBlock } from "../categorical.js";
import type { ConditionInput, Denoiser } from "./types.js";

export type { ConditionInput, ConditionSpec, Denoiser, DenoiserSpecBase } from "./types.js";
export { eventShapeOf } from "./types.js";
export { fourierFeatures, type ResidualMlpSpec } from "./mlp.js";
export type { ResidualMlpParams };
export type { GraphTransformerParams, GraphTransformerSpec } from "./graph-transformer.js";

/** The spec of any registered network (JSON; stored in checkpoints). */
export type DenoiserSpec = ResidualMlpSpec | GraphTransformerSpec;

/** The parameters of any registered network. */
export type DenoiserParams = ResidualMlpParams | GraphTransformerParams;

/**
 * `p` as the residual-MLP trunk's parameters (kinds "mlp" and "low-rank"), for code that reaches into its
 * layers (e.g. LoRA adapters); throws `${where}: ...` for another network.
 */
export function residualMlpParams(p: DenoiserParams, where: string): ResidualMlpParams {
  if (!("blocks" in p)) throw new Error(`${where}: needs an "mlp" or "low-rank" network`);
  return p;
}

/** Every registered network, by kind. */
export const DENOISERS: { readonly [K in DenoiserSpec["kind"]]: Denoiser<DenoiserSpec, DenoiserParams> } = {
  mlp: mlpDenoiser,
  "low-rank": lowRankDenoiser,
  "graph-transformer": graphTransformerDenoiser,
};

export const DENOISER_KINDS = Object.keys(DENOISERS) as DenoiserSpec["kind"][];

function denoiserOf(kind: unknown): Denoiser<DenoiserSpec, DenoiserParams> {
  const d = typeof kind === "string" && Object.hasOwn(DENOISERS, kind) ? DENOISERS[kind as DenoiserSpec["kind"]] : undefined;
  if (!d) throw new Error(`model: unknown network kind ${JSON.stringify(kind)} (${DENOISER_KINDS.join(", ")})`);
  return d;
}

/**
 * A spec checked against its kind's schema, with the defaults of missing fields filled in. Throws one
 * line naming the field, e.g. `model: hidden: ...`.
 */
export function parseDenoiserSpec(input: unknown): DenoiserSpec {
  const kind = typeof input === "object" && input !== null ? (input as { kind?: unknown }).kind : undefined;
  const r = denoiserOf(kind).schema.safeParse(input, { reportInput: true });
  if (!r.success) throw new Error(describeZodIssues(r.error.issues, "model"));
  return r.data;
}

/** Throws one line (`model: <field>: ...`) unless `s` is a valid spec. */
export function validateDenoiserSpec(s: DenoiserSpec): void {
  parseDenoiserSpec(s);
}

/** Fresh parameters for a valid spec. Consumes `key`. */
export function initDenoiser(key: Key, s: DenoiserSpec): DenoiserParams {
  try {
    validateDenoiserSpec(s);
  } catch (err) {
    key.dispose();
    throw err;
  }
  return denoiserOf(s.kind).init(key, s);
}

/** The categorical blocks of a network with a categorical output (../categorical.ts), else undefined. */
export function denoiserCategories(s: DenoiserSpec): CategoricalBlock[] | undefined {
  return denoiserOf(s.kind).categories?.(s);
}

/**
 * The logits behind a categorical network's x̂_0 (for the cross-entropy loss). Consumes as
 * {@link applyDenoiser}; throws for a network without a categorical output.
 */
export function applyDenoiserLogits(s: DenoiserSpec, p: DenoiserParams, x: JArray, t: JArray, cond?: ConditionInput, control?: JArray): JArray {
  const d = denoiserOf(s.kind);
  if (!d.logits || !d.categories?.(s)) throw new Error(`model: network kind "${s.kind}" has no categorical output (cross-entropy needs one)`);
  return d.logits(s, p, x, t, cond, control);
}

/**
 * The network's raw output [N, ...event] for x_t [N, ...event] at DDPM-scale times t [N] (0..1000).
 * Consumes `p`, `x`, `t`, `cond` and `control` (pass `tree.ref(p)` to keep the parameters). `control` is
 * the one-hot [N, classes + 1] of a network with `spec.control` (last column = null class).
 */
export function applyDenoiser(s: DenoiserSpec, p: DenoiserParams, x: JArray, t: JArray, cond?: ConditionInput, control?: JArray): JArray {
  return denoiserOf(s.kind).apply(s, p, x, t, cond, control);
}
