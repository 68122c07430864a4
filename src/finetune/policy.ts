/**
 * The fine-tuned denoiser as a {@link ChainModel}: a frozen pretrained network (the reference p_pre)
 * and a trainable part θ that starts where the update is zero, so that at initialisation the policy
 * equals p_pre exactly (every KL_t = 0):
 *  - "all": a full copy of the network's weights (initialised to the pretrained ones);
 *  - "adapters": LoRA-style low-rank updates W ← W + A B on every dense layer (A [in, r] random,
 *    B [r, out] zero), the pretrained W frozen;
 *  - "embedding" (CTRL only): only the new control embedding E_y;
 *  - "control" (CTRL on a graph transformer only): E_y and zero-initialised per-layer tables E_l whose row for y
 *    is added to every node and pair before layer l (the spec's `control.everyLayer`,
 *    nn/denoisers/graph-transformer.ts), the pretrained weights frozen: the control gets its own path into every
 *    layer, as a ControlNet does, each class its own parameters from step 0, while the pretrained network
 *    itself cannot move.
 * With a control (CTRL, `controlClasses`), the network is augmented with `spec.control` (nn/denoiser.ts):
 * a table E_y [classes + 1, hidden] added to the first layer's pre-activation, zero-initialised and
 * always trainable.
 * Side inputs of the chain: [context one-hot] if the network has a class condition, then [control
 * one-hot] if it has a control.
 */
import { np, random, tree, type JArray } from "../backend/jax.js";
import { splitKey, type Key } from "../backend/keys.js";
import type { ModelConfig } from "../diffusion/model.js";
import { epsFromOutput } from "../diffusion/parameterization.js";
import { applyDenoiser, residualMlpParams, type ConditionInput, type DenoiserParams, type DenoiserSpec } from "../nn/denoiser.js";
import type { DenseParams } from "../nn/dense.js";
import { zeroLayerControl } from "../nn/denoisers/graph-transformer.js";
import type { ChainModel } from "./chain.js";

export type TrainableMode = "all" | "adapters" | "embedding" | "control";

/** One low-rank adapter: ΔW = A B. */
export type Adapter = { a: JArray; b: JArray };
export type Adapters = { input: Adapter; blocks: Adapter[]; output: Adapter };

/** θ: what trains (every field optional by mode). */
export type TrainableParams = { net?: DenoiserParams; lora?: Adapters; control?: { table: JArray }; layerControl?: { table: JArray }[] };
/** The frozen pretrained weights (the reference model). */
export type FrozenParams = { base: DenoiserParams };

export interface PolicySpec {
  model: ModelConfig;
  mode: TrainableMode;
  /** LoRA rank r (mode "adapters"). */
  rank: number;
  /** Number of control classes (CTRL); undefined = no control (DRaFT). */
  controlClasses?: number;
}

/** The network spec of the policy (the pretrained spec, plus the control for CTRL). */
export function policyNetwork(p: PolicySpec): DenoiserSpec {
  if (p.controlClasses === undefined) return p.model.network;
  return { ...p.model.network, control: { classes: p.controlClasses, ...(p.mode === "control" ? { everyLayer: true } : {}) } } as DenoiserSpec;
}

function initAdapter(key: Key, layer: DenseParams, rank: number): Adapter {
  const [inDim, outDim] = layer.w.shape as [number, number];
  return { a: random.normal(key, [inDim, rank]).mul(1 / Math.sqrt(inDim)), b: np.zeros([rank, outDim]) };
}

/** Initial θ (the update is zero). Borrows `base`. Consumes `key`. */
export function initTrainable(spec: PolicySpec, base: DenoiserParams, key: Key): TrainableParams {
  if (spec.mode === "embedding" && spec.controlClasses === undefined) {
    key.dispose();
    throw new Error('trainable "embedding" applies to CTRL only (there is no new embedding to train); use "adapters" or "all"');
  }
  if (spec.mode === "control" && (spec.controlClasses === undefined || spec.model.network.kind !== "graph-transformer")) {
    key.dispose();
    throw new Error('trainable "control" applies to CTRL on a graph transformer (it adds a control table before every layer)');
  }
  if (spec.mode === "adapters" && (!Number.isInteger(spec.rank) || spec.rank < 1)) {
    key.dispose();
    throw new Error(`the adapter rank must be a whole number ≥ 1, got ${spec.rank}`);
  }
  const p: TrainableParams = {};
  if (spec.controlClasses !== undefined) p.control = { table: np.zeros([spec.controlClasses + 1, spec.model.network.hidden]) };
  if (spec.mode === "all") {
    key.dispose();
    p.net = tree.map((a: JArray) => a.mul(1), tree.ref(base)) as DenoiserParams;
  } else if (spec.mode === "adapters") {
    let mlp;
    try {
      mlp = residualMlpParams(base, "adapters");
    } catch (err) {
      key.dispose();
      throw err;
    }
    const keys = splitKey(key, mlp.blocks.length + 2);
    p.lora = {
      input: initAdapter(keys[0]!, mlp.input, spec.rank),
      blocks: mlp.blocks.map((bl, i) => initAdapter(keys[i + 2]!, bl.dense, spec.rank)),
      output: initAdapter(keys[1]!, mlp.output, spec.rank),
    };
  } else {
    key.dispose();
    if (spec.mode === "control" && spec.model.network.kind === "graph-transformer") p.layerControl = zeroLayerControl(spec.model.network, spec.controlClasses!);
  }
  return p;
}

const withAdapter = (d: DenseParams, ad: Adapter): DenseParams => ({ w: d.w.add(np.matmul(ad.a, ad.b)), b: d.b });

/**
 * The effective weights of the policy network (spec = policyNetwork). Consumes `p` and `f`.
 * Traced-friendly; also used to materialise a fine-tuned checkpoint.
 */
export function effectiveParams(p: TrainableParams, f: FrozenParams): DenoiserParams {
  let net: DenoiserParams;
  if (p.net) {
    net = p.net;
    tree.dispose(f.base);
  } else net = f.base;
  if (p.lora) {
    const l = p.lora;
    const mlp = residualMlpParams(net, "adapters");
    net = {
      ...mlp,
      input: withAdapter(mlp.input, l.input),
      blocks: mlp.blocks.map((bl, i) => ({ ...bl, dense: withAdapter(bl.dense, l.blocks[i]!) })),
      output: withAdapter(mlp.output, l.output),
    };
  }
  if (p.control) net = { ...net, control: p.control };
  if (p.layerControl) net = { ...net, layerControl: p.layerControl } as DenoiserParams;
  return net;
}

/**
 * The context condition of the pretrained network from side[0]: a class one-hot [n, C + 1], or a value
 * [n, dim] always kept (a context one-hot fed through a value embedding, as the classifier-tilt
 * pretrained model does).
 */
function conditionOf(spec: DenoiserSpec, side: JArray[], n: number): ConditionInput | undefined {
  if (!spec.condition) return undefined;
  if (spec.condition.kind === "class") return { kind: "class", oneHot: side[0]! };
  return { kind: "value", value: side[0]!, keep: np.ones([n]) };
}

/** The policy / reference pair for the chain engine. */
export function denoiserChainModel(spec: PolicySpec): ChainModel<TrainableParams, FrozenParams> {
  const net = policyNetwork(spec);
  const pre = spec.model.network;
  const prediction = spec.model.prediction;
  const hasCond = !!pre.condition;
  const run = (s: DenoiserSpec, params: DenoiserParams, x: JArray, time: JArray, ab: JArray, side: JArray[], withControl: boolean) => {
    const n = x.shape[0]!;
    const cond = conditionOf(s, side, n);
    const control = withControl ? side[hasCond ? 1 : 0] : undefined;
    const used = (hasCond ? 1 : 0) + (withControl ? 1 : 0);
    for (let i = used; i < side.length; i++) side[i]!.dispose();
    const out = applyDenoiser(s, params, x.ref, np.broadcastTo(time, [n]), cond, control);
    return epsFromOutput(prediction, x, out, ab);
  };
  return {
    eps: (p, f, x, time, ab, side) => run(net, effectiveParams(p, f), x, time, ab, side, spec.controlClasses !== undefined),
    refEps: (f, x, time, ab, side) => {
      // The reference ignores the control input.
      const keep = hasCond ? [side[0]!] : [];
      for (let i = keep.length; i < side.length; i++) side[i]!.dispose();
      return run(pre, f.base, x, time, ab, keep, false);
    },
  };
}

/** A one-hot matrix [n, classes + 1] of labels (label = classes means the null class). */
export function oneHot(labels: ArrayLike<number>, classes: number): JArray {
  const n = labels.length;
  const data = new Float32Array(n * (classes + 1));
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y > classes) throw new Error(`label ${y} is outside 0..${classes - 1} (or ${classes} for the null class)`);
    data[i * (classes + 1) + y] = 1;
  }
  return np.array(data, { shape: [n, classes + 1] });
}
