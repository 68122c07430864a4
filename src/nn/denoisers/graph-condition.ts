/**
 * Adding a value condition y ∈ R^k to a pretrained, unconditional graph transformer (./graph-transformer.ts),
 * for reward-directed conditional generation on molecules (2307.07055; docs/molecules.md "RCGDM"):
 *
 *   c = SiLU(W_c [emb(t), emb(y)] + b_c),   W_c = [W_c^pre ; 0]
 *
 * The condition embedding emb(y) = y W_y + b_y (∅ for a dropped condition) is initialised as a fresh one
 * (../embeddings.ts `initValueEmbedding`; with `fourier`, emb(y) reads Fourier features of y, `valueFeatures`), and the new input rows of W_c are zero, so the conditional network
 * equals the pretrained one exactly at step 0, for every y and for ∅; training then moves the new rows. The
 * pretrained time embedding's width is kept (a checkpoint stores it) and the condition's embedding width must
 * keep the `cond` layer's input, time + condition, a multiple of 4 (the SIMD path of docs/architecture.md).
 * With `everyLayer`, c also enters before every layer through zero-initialised projections U_l (the spec's
 * `layerConditioning`, ./graph-transformer.ts): new paths for the condition, still the pretrained output at step 0.
 */
import { np, tree } from "../../backend/jax.js";
import type { Key } from "../../backend/keys.js";
import { initValueEmbedding, valueFeatureWidth } from "../embeddings.js";
import { zeroLayerConditioning, type GraphTransformerParams, type GraphTransformerSpec } from "./graph-transformer.js";

/** The conditional spec and weights of {@link addValueCondition}. */
export interface ConditionedGraphModel {
  spec: GraphTransformerSpec;
  params: GraphTransformerParams;
}

/**
 * The pretrained graph transformer with a value condition of `dim` values embedded in `embedding` columns.
 * Borrows `params` (the result holds new references to its leaves); consumes `key`.
 */
export function addValueCondition(
  spec: GraphTransformerSpec,
  params: GraphTransformerParams,
  condition: { dim: number; embedding: number; fourier?: number; everyLayer?: boolean },
  key: Key,
): ConditionedGraphModel {
  const problem = valueConditionProblem(spec, condition);
  if (problem !== undefined) {
    key.dispose();
    throw new Error(`adding a value condition: ${problem}`);
  }
  const pre = params.cond.w.shape;
  if (pre[0] !== spec.timeEmbedding || pre[1] !== spec.hidden) {
    key.dispose();
    throw new Error(`adding a value condition: the cond layer is [${pre.join(", ")}], expected [${spec.timeEmbedding}, ${spec.hidden}] (an unconditional model's)`);
  }
  if (spec.layerConditioning) {
    key.dispose();
    throw new Error("adding a value condition: the model already conditions every layer");
  }
  const { dim, embedding, fourier, everyLayer } = condition;
  const { cond, valueCond: _v, classCond: _c, control: _k, layerCond: _l, ...rest } = params;
  const copy = tree.ref(rest) as Omit<GraphTransformerParams, "cond">;
  const w = np.concatenate([cond.w.ref, np.zeros([embedding, spec.hidden])], 0);
  return {
    spec: { ...spec, condition: { kind: "value", dim, embedding, ...(fourier !== undefined ? { fourier } : {}) }, ...(everyLayer ? { layerConditioning: true } : {}) },
    params: {
      ...copy,
      cond: { w, b: cond.b.ref },
      valueCond: initValueEmbedding(key, valueFeatureWidth(dim, fourier), embedding),
      ...(everyLayer ? { layerCond: zeroLayerConditioning(spec) } : {}),
    },
  };
}

/** Why {@link addValueCondition} would refuse this spec and condition (one clause), or undefined when it would not. */
export function valueConditionProblem(spec: GraphTransformerSpec, condition: { dim: number; embedding: number }): string | undefined {
  const { dim, embedding } = condition;
  return spec.condition !== undefined
      ? `the model already takes a ${spec.condition.kind} condition`
      : spec.control !== undefined
        ? "the model has a CTRL control input"
        : !(Number.isInteger(dim) && dim >= 1)
          ? `the condition needs a whole number ≥ 1 of values, got ${dim}`
          : !(Number.isInteger(embedding) && embedding >= 1)
            ? `the condition embedding needs a whole number ≥ 1 of columns, got ${embedding}`
            : (spec.timeEmbedding + embedding) % 4 !== 0
              ? `time embedding ${spec.timeEmbedding} + condition embedding ${embedding} = ${spec.timeEmbedding + embedding} is no multiple of 4 (the cond layer would leave the SIMD path); use a condition embedding of ${embedding + ((4 - ((spec.timeEmbedding + embedding) % 4)) % 4)}`
              : undefined;
}
