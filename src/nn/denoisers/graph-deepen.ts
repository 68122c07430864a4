/**
 * Deepening a pretrained graph transformer (./graph-transformer.ts) without changing its function: `count` new
 * layers appended after the pretrained ones, each freshly initialised except for the three projections that
 * write into the residual streams, which start at zero:
 *
 *   h_i ← h_i + W_o [attention]_i,   h_i ← h_i + W_2 SiLU(W_1 LN(h)_i),   e_ij ← e_ij + W_4 SiLU(W_3 u_ij)
 *   with W_o = 0, W_2 = 0, W_4 = 0 (and their biases)
 *
 * so every new layer is the identity on (h, e) at step 0 and the deeper network equals the pretrained one
 * exactly (the zero-initialised residual branch of ControlNet and of GPT-2-style "zero init" fine-tuning).
 * Gradients reach the zero projections at once (their inputs are not zero) and the rest of each new layer after
 * the first step. Used by RCGDM on molecules (`molecules.addedLayers`, docs/molecules.md) to give the
 * conditional model more capacity than the pretrained depth; measured there (two layers, 4,000 steps): no gain.
 */
import { np, tree } from "../../backend/jax.js";
import { splitKey, type Key } from "../../backend/keys.js";
import type { DenseParams } from "../dense.js";
import { initLayer, LAYER_KEYS, type GraphLayerParams, type GraphTransformerParams, type GraphTransformerSpec } from "./graph-transformer.js";

/** The deeper spec and weights of {@link appendIdentityLayers}. */
export interface DeepenedGraphModel {
  spec: GraphTransformerSpec;
  params: GraphTransformerParams;
}

function zeroDense(d: DenseParams): DenseParams {
  const out = { w: np.zeros(d.w.shape), b: np.zeros(d.b.shape) };
  tree.dispose(d);
  return out;
}

/** One fresh layer whose residual writes (attnOut, mlp2, edge2) are zero. Consumes `keys`. */
function identityLayer(keys: Key[], spec: GraphTransformerSpec): GraphLayerParams {
  const fresh = initLayer(keys, spec);
  return { ...fresh, attnOut: zeroDense(fresh.attnOut), mlp2: zeroDense(fresh.mlp2), edge2: zeroDense(fresh.edge2) };
}

/**
 * The pretrained graph transformer with `count` identity-initialised layers appended. Borrows `params` (the
 * result holds new references to its leaves); consumes `key`. Refuses a model with per-layer conditioning or
 * per-layer control (their per-layer tables would have to grow too: deepen first, then add those).
 */
export function appendIdentityLayers(spec: GraphTransformerSpec, params: GraphTransformerParams, count: number, key: Key): DeepenedGraphModel {
  const problem = !(Number.isInteger(count) && count >= 1)
    ? `the number of added layers must be a whole number ≥ 1, got ${count}`
    : spec.layerConditioning || params.layerCond
      ? "the model conditions every layer; add layers before the per-layer conditioning"
      : spec.control?.everyLayer || params.layerControl
        ? "the model has a per-layer control; add layers before the control"
        : params.layers.length !== spec.layers
          ? `the spec has ${spec.layers} layers but the weights ${params.layers.length}`
          : undefined;
  if (problem !== undefined) {
    key.dispose();
    throw new Error(`adding layers: ${problem}`);
  }
  const keys = splitKey(key, LAYER_KEYS * count);
  const added = Array.from({ length: count }, (_, l) => identityLayer(keys.slice(LAYER_KEYS * l, LAYER_KEYS * (l + 1)), spec));
  const copy = tree.ref(params) as GraphTransformerParams;
  return { spec: { ...spec, layers: spec.layers + count }, params: { ...copy, layers: [...copy.layers, ...added] } };
}
