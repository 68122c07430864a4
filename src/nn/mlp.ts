/**
 * A plain MLP on standardised inputs, shared by the reward regressor (src/rewards/mlp.ts) and the
 * classifier (src/rewards/classifier.ts):
 *   g(u) = W_out ∘ (SiLU ∘ W_L) ∘ … ∘ (SiLU ∘ W_1) (u),   L hidden layers of width `hidden` (L = 0: linear).
 * Its weights travel as named host tensors `layers.i.w`, `layers.i.b`, `out.w`, `out.b`. The first weight
 * reads inputs padded to a multiple of 4 columns ({@link mlpInputWidth}).
 */
import { np, type JArray } from "../backend/jax.js";
import { splitKey, type Key } from "../backend/keys.js";
import { toHost } from "../backend/ownership.js";
import { silu } from "./activations.js";
import { dense, initDense, type DenseParams } from "./dense.js";

export type MlpParams = { layers: DenseParams[]; out: DenseParams };

/** A named host tensor (float32, row-major). */
export type MlpHostTensor = { shape: number[]; data: Float32Array };

/**
 * The width of the first layer's input: inDim rounded up to a multiple of 4. jax-js runs a matmul whose
 * inner dimension is not a multiple of 4 without SIMD (docs/architecture.md, "Shapes on the SIMD
 * path"), so the inputs carry zero columns up to this width and the first weight zero rows: their
 * gradient is exactly zero, so they stay zero and g(u) is the MLP on the real inputs.
 */
export function mlpInputWidth(inDim: number): number {
  return Math.ceil(inDim / 4) * 4;
}

/** The input width of saved or live weights: the first weight's rows (inDim for weights of earlier releases). */
export function mlpWidthOf(p: MlpParams): number {
  return (p.layers[0] ?? p.out).w.shape[0]!;
}

/**
 * Fresh weights: `layers` hidden layers of width `hidden`, from `inDim` (padded to {@link mlpInputWidth}
 * with zero rows; the other rows are the draws of an unpadded layer) to `outDim`. Consumes `key`.
 */
export function initMlp(key: Key, inDim: number, hidden: number, layers: number, outDim: number): MlpParams {
  const keys = splitKey(key, layers + 1);
  const out: DenseParams[] = [];
  const pad = mlpInputWidth(inDim) - inDim;
  const first = (d: DenseParams): DenseParams => (pad === 0 ? d : { w: np.concatenate([d.w, np.zeros([pad, d.w.shape[1]!])], 0), b: d.b });
  let width = inDim;
  for (let i = 0; i < layers; i++) {
    const d = initDense(keys[i]!, width, hidden);
    out.push(i === 0 ? first(d) : d);
    width = hidden;
  }
  const head = initDense(keys[layers]!, width, outDim);
  return { layers: out, out: layers === 0 ? first(head) : head };
}

/** Host rows u [n, D] → [n, W] with zero columns D..W−1 (W ≥ D; the same array when W = D). */
export function padColumns(u: Float32Array, D: number, W: number): Float32Array {
  if (W === D) return u;
  const n = u.length / D;
  const out = new Float32Array(n * W);
  for (let r = 0; r < n; r++) out.set(u.subarray(r * D, (r + 1) * D), r * W);
  return out;
}

/**
 * u = (x − x̄)/s_x on the device, into W ≥ D columns (zeros beyond D): u = (x − x̄) A with
 * A = [diag(1/s_x) | 0] [D, W], so the padding lives in A's shape rather than in a pad op, which jax-js
 * would fuse into the next matmul's operand (slower). Consumes `x`.
 */
export function standardiseInto(x: JArray, mean: readonly number[], std: readonly number[], W: number): JArray {
  const D = mean.length;
  const a = new Float32Array(D * W);
  for (let j = 0; j < D; j++) a[j * W + j] = 1 / std[j]!;
  return np.matmul(x.sub(np.array(Float32Array.from(mean), { shape: [1, D] })), np.array(a, { shape: [D, W] }));
}

/** g(u) [n, outDim] for inputs u [n, W] (W = the first weight's rows). Consumes `p` and `u`. */
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
