/**
 * A plain MLP on standardised inputs, shared by the reward regressor (src/rewards/mlp.ts) and the
 * classifier (src/rewards/classifier.ts):
 *   g(u) = W_out ∘ (SiLU ∘ W_L) ∘ … ∘ (SiLU ∘ W_1) (u),   L hidden layers of width `hidden` (L = 0: linear).
 * Its weights travel as named host tensors `layers.i.w`, `layers.i.b`, `out.w`, `out.b`.
 */
import { np, type JArray } from "../backend/jax.js";
import { splitKey, type Key } from "../backend/keys.js";
import { toHost } from "../backend/ownership.js";
import { silu } from "./activations.js";
import { dense, initDense, type DenseParams } from "./dense.js";

export type MlpParams = { layers: DenseParams[]; out: DenseParams };

/** A named host tensor (float32, row-major). */
export type MlpHostTensor = { shape: number[]; data: Float32Array };

/** Fresh weights: `layers` hidden layers of width `hidden`, from `inDim` to `outDim`. Consumes `key`. */
export function initMlp(key: Key, inDim: number, hidden: number, layers: number, outDim: number): MlpParams {
  const keys = splitKey(key, layers + 1);
  const out: DenseParams[] = [];
  let width = inDim;
  for (let i = 0; i < layers; i++) {
    out.push(initDense(keys[i]!, width, hidden));
    width = hidden;
  }
  return { layers: out, out: initDense(keys[layers]!, width, outDim) };
}

/** g(u) [n, outDim] for inputs u [n, inDim]. Consumes `p` and `u`. */
export function mlpForward(p: MlpParams, u: JArray): JArray {
  let h = u;
  for (const layer of p.layers) h = silu(dense(layer, h));
  return dense(p.out, h);
}

/** Device weights → named host tensors (read asynchronously: any device). Borrows `p`. */
export async function mlpToTensors(p: MlpParams): Promise<Record<string, MlpHostTensor>> {
  const out: Record<string, MlpHostTensor> = {};
  const put = async (name: string, a: JArray) => (out[name] = { shape: [...a.shape], data: await toHost(a.ref) });
  for (const [i, l] of p.layers.entries()) {
    await put(`layers.${i}.w`, l.w);
    await put(`layers.${i}.b`, l.b);
  }
  await put("out.w", p.out.w);
  await put("out.b", p.out.b);
  return out;
}

/** Named host tensors → fresh device weights of an MLP with `layers` hidden layers; `what` names it in errors. */
export function mlpFromTensors(tensors: Record<string, MlpHostTensor | undefined>, layers: number, what: string): MlpParams {
  const t = (name: string) => {
    const h = tensors[name];
    if (!h) throw new Error(`${what}: tensor "${name}" is missing`);
    return np.array(h.data, { shape: [...h.shape] });
  };
  return {
    layers: Array.from({ length: layers }, (_, i) => ({ w: t(`layers.${i}.w`), b: t(`layers.${i}.b`) })),
    out: { w: t("out.w"), b: t("out.b") },
  };
}
