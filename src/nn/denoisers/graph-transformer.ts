/**
 * Kind "graph-transformer": a permutation-equivariant denoiser for dense graphs (in the style of the
 * graph transformers of DiGress and GDSS), on rows in the layout of src/data/graph-layout.ts: node
 * features x_i ∈ R^F (i = 1..n) and edge features E_ij ∈ R^E, read from x_t [N, D] and written back in
 * the same layout.
 *
 * Side inputs (as the MLP's, ./mlp.ts): c = SiLU(W_c [emb(t), emb(y)] + b_c (+ E_y[y] with a control)),
 * emb(t) the sinusoidal time embedding (../embeddings.ts), emb(y) the optional condition embedding.
 * Input:   h_i = W_x x_i + b_x + c,   e_ij = W_E E_ij + b_E + W_ce c + b_ce     (widths d_h, d_e)
 * With `layerConditioning`, c also enters before every layer l: h_i ← h_i + U_l^h c, e_ij ← e_ij + U_l^e c
 * (U_l = [U_l^h, U_l^e] zero-initialised, so a pretrained network gains these paths without changing its output).
 * Each of `layers` pre-norm layers, with heads k = 1..H of width d = d_h / H and ê = LN(e):
 *   a = LN(h);  q_i, k_i, v_i = split(W_qkv a_i);  β_ij = W_β ê_ij ∈ R^H   (edge bias per head)
 *   α_ij^k = softmax_j(q_i^k · k_j^k / √d + β_ij^k);   h_i ← h_i + W_o [Σ_j α_ij^k v_j^k]_k
 *   h_i ← h_i + W_2 SiLU(W_1 LN(h)_i)                                        (node MLP, d_h → 2d_h → d_h)
 *   p_i, r_i = split(W_p LN(h)_i);  u_ij = ê_ij + p_i + p_j + r_i ⊙ r_j      (edge update from node pairs)
 *   e_ij ← e_ij + W_4 SiLU(W_3 u_ij)                                          (edge MLP, d_e → 2d_e → d_e)
 * Output:  x̂_i = W_on LN(h)_i,   Ê_ij = (o_ij + o_ji)/2 with o_ij = W_oe LN(e)_ij   (symmetric edges)
 * read as ε̂, x̂_0 or v̂ per the model's prediction type; with `output: "categorical"` (one-hot data such as
 * molecules, docs/molecules.md) they are logits and the network returns x̂_0 = softmax per node block and per
 * pair (../categorical.ts), trained with the cross-entropy loss. No term depends on a node's index, so permuting
 * the nodes of x_t permutes the output's nodes and both edge axes (test/nn-graph-transformer.test.ts).
 * Attention over n nodes is written as broadcast products and sums rather than matmuls: n (9 for QM9) is
 * no multiple of 4, and jax-js runs a matmul with such a width or inner dimension without SIMD. Every matmul
 * width is a multiple of 4 when d_h, d_e, H, F, E and the time embedding (+ the condition's embedding) are
 * (the defaults: 96, 48, 8, 8, 4, 32; the default time embedding is rounded up beside a condition).
 */
import * as z from "zod";
import { jnn, np, tree, type JArray } from "../../backend/jax.js";
import { splitKey, type Key } from "../../backend/keys.js";
import { graphNodeFeatures, graphRowSize, joinGraphRows, splitGraphRows, type GraphLayout } from "../../data/graph-layout.js";
import { silu } from "../activations.js";
import { dense, initDense, type DenseParams } from "../dense.js";
import {
  classEmbedding,
  initClassEmbedding,
  initValueEmbedding,
  simdTimeEmbedding,
  sinusoidalEmbedding,
  valueEmbedding,
  valueFeatureWidth,
  valueFeatures,
  type ClassEmbeddingParams,
  type ValueEmbeddingParams,
} from "../embeddings.js";
import { categoricalSoftmax, type CategoricalBlock } from "../categorical.js";
import { initLayerNorm, layerNorm, type LayerNormParams } from "../norm.js";
import { residualMlpFields, strictSpec } from "./mlp.js";
import { batchSize, eventShapeOf, type ConditionInput, type ConditionSpec, type Denoiser, type DenoiserSpecBase } from "./types.js";

/** The spec of a graph transformer (defaults: the QM9 layout of docs/molecules.md and 4 layers of 96/48). */
export interface GraphTransformerSpec extends DenoiserSpecBase, GraphLayout {
  kind: "graph-transformer";
  /** n: node slots per graph. */
  maxNodes: number;
  /** Widths of the per-node blocks in the row (F = their sum). */
  nodeBlocks: number[];
  /** E: features per node pair. */
  edgeFeatures: number;
  /** d_h: width of the node stream. */
  hidden: number;
  /** d_e: width of the edge stream. */
  edgeHidden: number;
  /** H: attention heads (d_h / H per head). */
  heads: number;
  /** Number of transformer layers (≥ 1). */
  layers: number;
  /** Size of the sinusoidal time embedding (even; by default {@link simdTimeEmbedding} beside the condition's embedding). */
  timeEmbedding: number;
  /**
   * CTRL's added control: a zero-initialised table E_y [classes + 1, hidden] added inside c; with `everyLayer`, also
   * zero-initialised tables E_l [classes + 1, d_h + d_e] whose row for y is added to every node and pair before layer l
   * (params `layerControl`).
   */
  control?: { classes: number; everyLayer?: boolean };
  /** c also enters before every layer through zero-initialised projections U_l (params `layerCond`); default: input only. */
  layerConditioning?: boolean;
  /** "values" (default): the output as it is; "categorical": x̂_0 = softmax per node block and per pair of the logits. */
  output: "values" | "categorical";
}

/** One layer's parameters (names as in the module comment). */
export type GraphLayerParams = {
  attnNorm: LayerNormParams;
  edgeNorm: LayerNormParams;
  qkv: DenseParams;
  bias: DenseParams;
  attnOut: DenseParams;
  mlpNorm: LayerNormParams;
  mlp1: DenseParams;
  mlp2: DenseParams;
  pairNorm: LayerNormParams;
  pair: DenseParams;
  edge1: DenseParams;
  edge2: DenseParams;
};

export type GraphTransformerParams = {
  cond: DenseParams;
  nodeIn: DenseParams;
  edgeIn: DenseParams;
  edgeCond: DenseParams;
  layers: GraphLayerParams[];
  nodeOut: { norm: LayerNormParams; dense: DenseParams };
  edgeOut: { norm: LayerNormParams; dense: DenseParams };
  valueCond?: ValueEmbeddingParams;
  classCond?: ClassEmbeddingParams;
  /** The control embedding E_y (spec.control), zero-initialised. */
  control?: ClassEmbeddingParams;
  /** U_l [d_h, d_h + d_e] per layer (spec.layerConditioning). */
  layerCond?: DenseParams[];
  /** E_l [classes + 1, d_h + d_e] per layer (spec.control.everyLayer), zero-initialised. */
  layerControl?: ClassEmbeddingParams[];
  /** Never set: the low-rank basis V of kind "low-rank" (./low-rank.ts), declared so code reading `p.v` from any network type-checks. */
  v?: JArray;
};

const wholeAtLeast = (min: number) => z.number().int().min(min);

const conditionSchema: z.ZodType<ConditionSpec> = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("value"), dim: wholeAtLeast(1), embedding: wholeAtLeast(1), fourier: wholeAtLeast(1).optional() }),
  z.strictObject({ kind: z.literal("class"), classes: wholeAtLeast(1), embedding: wholeAtLeast(1) }),
]);

export const GraphTransformerSpecSchema = strictSpec({
  kind: z.literal("graph-transformer"),
  dataDim: wholeAtLeast(1),
  eventShape: z.array(wholeAtLeast(1)).min(1).optional(),
  maxNodes: wholeAtLeast(1).default(9),
  nodeBlocks: z.array(wholeAtLeast(1)).min(1).default([5, 3]),
  edgeFeatures: wholeAtLeast(1).default(4),
  hidden: wholeAtLeast(1).default(96),
  edgeHidden: wholeAtLeast(1).default(48),
  heads: wholeAtLeast(1).default(8),
  layers: wholeAtLeast(1).default(4),
  timeEmbedding: residualMlpFields.timeEmbedding,
  condition: conditionSchema.optional(),
  control: z.strictObject({ classes: wholeAtLeast(1), everyLayer: z.boolean().optional() }).optional(),
  layerConditioning: z.boolean().optional(),
  output: z.enum(["values", "categorical"]).default("values"),
}).superRefine((s, ctx) => {
  const D = graphRowSize(s);
  if (s.dataDim !== D) {
    ctx.addIssue({
      code: "custom",
      path: ["dataDim"],
      message: `a graph of ${s.maxNodes} nodes with node blocks [${s.nodeBlocks.join(", ")}] and ${s.edgeFeatures} edge features has ${D} values, but dataDim is ${s.dataDim}`,
      input: s.dataDim,
    });
  }
  if (s.eventShape && s.eventShape.reduce((a, b) => a * b, 1) !== s.dataDim) {
    ctx.addIssue({ code: "custom", path: ["eventShape"], message: `[${s.eventShape.join(", ")}] does not hold dataDim = ${s.dataDim} values`, input: s.eventShape });
  }
  if (s.output === "categorical" && [...s.nodeBlocks, s.edgeFeatures].some((w) => w < 2)) {
    ctx.addIssue({ code: "custom", path: ["output"], message: "categorical output needs every node block and the edge features at least 2 wide", input: s.output });
  }
  if (s.hidden % s.heads !== 0) {
    ctx.addIssue({ code: "custom", path: ["heads"], message: `must divide hidden (${s.hidden}), got ${s.heads}`, input: s.heads });
  }
}).transform((s) => ({ ...s, timeEmbedding: s.timeEmbedding ?? simdTimeEmbedding(s.condition ? s.condition.embedding : 0) }));

/** Keys per layer and before the layers (the order of `init`'s key use). */
export const LAYER_KEYS = 8;
const STEM_KEYS = 7;

/** One layer's fresh parameters from `LAYER_KEYS` keys (consumed). */
export function initLayer(keys: Key[], s: GraphTransformerSpec): GraphLayerParams {
  const dh = s.hidden;
  const de = s.edgeHidden;
  return {
    attnNorm: initLayerNorm(dh),
    edgeNorm: initLayerNorm(de),
    qkv: initDense(keys[0]!, dh, 3 * dh),
    bias: initDense(keys[1]!, de, s.heads),
    attnOut: initDense(keys[2]!, dh, dh),
    mlpNorm: initLayerNorm(dh),
    mlp1: initDense(keys[3]!, dh, 2 * dh),
    mlp2: initDense(keys[4]!, 2 * dh, dh),
    pairNorm: initLayerNorm(dh),
    pair: initDense(keys[5]!, dh, 2 * de),
    edge1: initDense(keys[6]!, de, 2 * de),
    edge2: initDense(keys[7]!, 2 * de, de),
  };
}

/** Fresh parameters: keys = split(key, 7 + 8·layers). Consumes `key`. */
export function initGraphTransformer(key: Key, s: GraphTransformerSpec): GraphTransformerParams {
  const keys = splitKey(key, STEM_KEYS + LAYER_KEYS * s.layers);
  const F = graphNodeFeatures(s);
  const condWidth = s.timeEmbedding + (s.condition ? s.condition.embedding : 0);
  const p: GraphTransformerParams = {
    cond: initDense(keys[0]!, condWidth, s.hidden),
    nodeIn: initDense(keys[1]!, F, s.hidden),
    edgeIn: initDense(keys[2]!, s.edgeFeatures, s.edgeHidden),
    edgeCond: initDense(keys[3]!, s.hidden, s.edgeHidden),
    layers: [],
    nodeOut: { norm: initLayerNorm(s.hidden), dense: initDense(keys[4]!, s.hidden, F) },
    edgeOut: { norm: initLayerNorm(s.edgeHidden), dense: initDense(keys[5]!, s.edgeHidden, s.edgeFeatures) },
  };
  for (let l = 0; l < s.layers; l++) p.layers.push(initLayer(keys.slice(STEM_KEYS + LAYER_KEYS * l, STEM_KEYS + LAYER_KEYS * (l + 1)), s));
  const condKey = keys[6]!;
  if (s.condition?.kind === "value") p.valueCond = initValueEmbedding(condKey, valueFeatureWidth(s.condition.dim, s.condition.fourier), s.condition.embedding);
  else if (s.condition?.kind === "class") p.classCond = initClassEmbedding(condKey, s.condition.classes, s.condition.embedding);
  else condKey.dispose();
  if (s.control) p.control = { table: np.zeros([s.control.classes + 1, s.hidden]) };
  if (s.control?.everyLayer) p.layerControl = zeroLayerControl(s, s.control.classes);
  if (s.layerConditioning) p.layerCond = zeroLayerConditioning(s);
  return p;
}

/** Zero-initialised E_l [classes + 1, d_h + d_e] for every layer (spec.control.everyLayer). */
export function zeroLayerControl(s: Pick<GraphTransformerSpec, "hidden" | "edgeHidden" | "layers">, classes: number): ClassEmbeddingParams[] {
  return Array.from({ length: s.layers }, () => ({ table: np.zeros([classes + 1, s.hidden + s.edgeHidden]) }));
}

/** Zero-initialised U_l [d_h, d_h + d_e] for every layer (spec.layerConditioning). */
export function zeroLayerConditioning(s: Pick<GraphTransformerSpec, "hidden" | "edgeHidden" | "layers">): DenseParams[] {
  return Array.from({ length: s.layers }, () => ({ w: np.zeros([s.hidden, s.hidden + s.edgeHidden]), b: np.zeros([s.hidden + s.edgeHidden]) }));
}

/** A dense layer on the last axis of x [..., in] → [..., out]. Consumes `p` and `x`. */
function denseLast(p: DenseParams, x: JArray): JArray {
  const lead = x.shape.slice(0, -1);
  const y = dense(p, x.reshape([-1, x.shape[x.ndim - 1]!]));
  return y.reshape([...lead, y.shape[1]!]);
}

/** One layer on h [N, n, d_h] and e [N, n, n, d_e]. Consumes `p`, `h` and `e`. */
function graphLayer(s: GraphTransformerSpec, p: GraphLayerParams, h: JArray, e: JArray): { h: JArray; e: JArray } {
  const [N, n] = h.shape as [number, number];
  const H = s.heads;
  const d = s.hidden / H;
  const de = s.edgeHidden;
  const [q, k, v] = np.split(denseLast(p.qkv, layerNorm(p.attnNorm, h.ref)), 3, -1) as [JArray, JArray, JArray];
  const eh = layerNorm(p.edgeNorm, e.ref);
  const bias = denseLast(p.bias, eh.ref); // [N, n, n, H]
  const logits = np.sum(q.reshape([N, n, 1, H, d]).mul(k.reshape([N, 1, n, H, d])), -1).mul(1 / Math.sqrt(d)).add(bias);
  const att = jnn.softmax(logits, 2); // over j
  const o = np.sum(att.reshape([N, n, n, H, 1]).mul(v.reshape([N, 1, n, H, d])), 2).reshape([N, n, s.hidden]);
  let hn = h.add(denseLast(p.attnOut, o));
  hn = hn.ref.add(denseLast(p.mlp2, silu(denseLast(p.mlp1, layerNorm(p.mlpNorm, hn)))));
  const [pi, ri] = np.split(denseLast(p.pair, layerNorm(p.pairNorm, hn.ref)), 2, -1) as [JArray, JArray];
  const u = eh
    .add(pi.ref.reshape([N, n, 1, de]))
    .add(pi.reshape([N, 1, n, de]))
    .add(ri.ref.reshape([N, n, 1, de]).mul(ri.reshape([N, 1, n, de])));
  const en = e.add(denseLast(p.edge2, silu(denseLast(p.edge1, u))));
  return { h: hn, e: en };
}

/** c = SiLU(W_c [emb(t), emb(y)] + b_c (+ E_y[y])) [N, d_h]. Consumes its arguments (and the embeddings' params). */
function conditioning(s: GraphTransformerSpec, p: GraphTransformerParams, t: JArray, cond: ConditionInput | undefined, control?: JArray): JArray {
  const parts = [sinusoidalEmbedding(t, s.timeEmbedding)];
  if (s.condition) {
    if (!cond || cond.kind !== s.condition.kind) {
      throw new Error(`model: this network takes a ${s.condition.kind} condition, got ${cond ? cond.kind : "none"}`);
    }
    if (cond.kind === "value") parts.push(valueEmbedding(p.valueCond!, valueFeatures(cond.value, s.condition.kind === "value" ? s.condition.fourier : undefined), cond.keep));
    else parts.push(classEmbedding(p.classCond!, cond.oneHot));
  } else if (cond) {
    throw new Error("model: this network takes no condition");
  }
  let pre = dense(p.cond, parts.length === 1 ? parts[0]! : np.concatenate(parts, -1));
  if (s.control) {
    if (!control || !p.control) throw new Error("model: this network takes a control input (CTRL), got none");
    pre = pre.add(classEmbedding(p.control, control));
  } else if (control) {
    control.dispose();
    throw new Error("model: this network takes no control input");
  } else if (p.control) {
    tree.dispose(p.control);
  }
  return silu(pre);
}

/**
 * The categorical blocks of a graph row (layout of src/data/graph-layout.ts): one per node block (n groups of
 * b_k), then the edge block (n² groups of E; the diagonal included: its target is "no bond").
 */
export function graphCategoricalBlocks(l: GraphLayout): CategoricalBlock[] {
  const n = l.maxNodes;
  const blocks: CategoricalBlock[] = [];
  let at = 0;
  for (const b of l.nodeBlocks) {
    blocks.push({ offset: at, count: n, width: b });
    at += n * b;
  }
  blocks.push({ offset: at, count: n * n, width: l.edgeFeatures });
  return blocks;
}

/** The graph transformer's raw output on rows x [N, D] → [N, D] (layout of the spec). Consumes every argument. */
export function graphTransformer(
  s: GraphTransformerSpec,
  p: GraphTransformerParams,
  x: JArray,
  t: JArray,
  cond?: ConditionInput,
  control?: JArray,
): JArray {
  const N = x.shape[0]!;
  const perLayerControl = s.control?.everyLayer ? p.layerControl : undefined;
  if (s.control?.everyLayer && (!perLayerControl || perLayerControl.length !== p.layers.length || !control)) {
    throw new Error(`model: this network adds its control before every layer but has ${perLayerControl ? perLayerControl.length : "no"} layer tables for ${p.layers.length} layers${control ? "" : ", and no control input"}`);
  }
  if (!perLayerControl && p.layerControl) tree.dispose(p.layerControl);
  const controlRows = perLayerControl ? control!.ref : undefined;
  const c = conditioning(s, p, t, cond, control);
  const { nodes, edges } = splitGraphRows(x, s);
  let h = denseLast(p.nodeIn, nodes).add(c.ref.reshape([N, 1, s.hidden]));
  let e = denseLast(p.edgeIn, edges).add(dense(p.edgeCond, c.ref).reshape([N, 1, 1, s.edgeHidden]));
  const perLayer = s.layerConditioning ? p.layerCond : undefined;
  if (s.layerConditioning && (!perLayer || perLayer.length !== p.layers.length)) {
    c.dispose();
    throw new Error(`model: this network conditions every layer but has ${perLayer ? perLayer.length : "no"} layer projections for ${p.layers.length} layers`);
  }
  if (!perLayer && p.layerCond) tree.dispose(p.layerCond);
  for (const [l, layer] of p.layers.entries()) {
    if (perLayer) {
      const [uh, ue] = np.split(dense(perLayer[l]!, c.ref), [s.hidden], -1) as [JArray, JArray];
      h = h.add(uh.reshape([N, 1, s.hidden]));
      e = e.add(ue.reshape([N, 1, 1, s.edgeHidden]));
    }
    if (perLayerControl) {
      const [kh, ke] = np.split(classEmbedding(perLayerControl[l]!, controlRows!.ref), [s.hidden], -1) as [JArray, JArray];
      h = h.add(kh.reshape([N, 1, s.hidden]));
      e = e.add(ke.reshape([N, 1, 1, s.edgeHidden]));
    }
    ({ h, e } = graphLayer(s, layer, h, e));
  }
  c.dispose();
  controlRows?.dispose();
  const nodesOut = denseLast(p.nodeOut.dense, layerNorm(p.nodeOut.norm, h));
  const o = denseLast(p.edgeOut.dense, layerNorm(p.edgeOut.norm, e));
  const edgesOut = o.ref.add(np.swapaxes(o, 1, 2)).mul(0.5);
  return joinGraphRows(nodesOut, edgesOut, s);
}

/** Kind "graph-transformer". */
export const graphTransformerDenoiser: Denoiser<GraphTransformerSpec, GraphTransformerParams> = {
  kind: "graph-transformer",
  schema: GraphTransformerSpecSchema,
  init: initGraphTransformer,
  apply(s, p, x, t, cond, control) {
    const event = eventShapeOf(s);
    const n = batchSize(x, event, "model");
    const raw = graphTransformer(s, p, event.length === 1 ? x : x.reshape([n, s.dataDim]), t, cond, control);
    const out = s.output === "categorical" ? categoricalSoftmax(raw, graphCategoricalBlocks(s)) : raw;
    return event.length === 1 ? out : out.reshape([n, ...event]);
  },
  categories: (s) => (s.output === "categorical" ? graphCategoricalBlocks(s) : undefined),
  logits(s, p, x, t, cond, control) {
    const event = eventShapeOf(s);
    const n = batchSize(x, event, "model");
    if (s.output !== "categorical") {
      tree.dispose([p, x, t]);
      throw new Error('model: logits need a network with output "categorical"');
    }
    const raw = graphTransformer(s, p, event.length === 1 ? x : x.reshape([n, s.dataDim]), t, cond, control);
    return event.length === 1 ? raw : raw.reshape([n, ...event]);
  },
};
