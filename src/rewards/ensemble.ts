/**
 * Deep ensembles (Lakshminarayanan et al. 2017): M MLP regressors trained independently from different
 * initialisations and minibatch orders. The ensemble's reward is the members' mean, and their standard
 * deviation (the spread) is an uncertainty: large where the labeled data say little.
 */
import type { JArray } from "../backend/jax.js";
import { splitKey, type Key } from "../backend/keys.js";
import type { HostMatrix } from "../data/matrix.js";
import { fitMlp, mlpRewardFn, predictMlp } from "./mlp.js";
import type { EnsembleModel, EnsembleSpec } from "./types.js";

/** Fits M members. Consumes `key`. */
export async function fitEnsemble(
  x: HostMatrix,
  y: ArrayLike<number>,
  spec: EnsembleSpec,
  key: Key,
  opts: { onStep?: (step: number, total: number, loss: number) => void } = {},
): Promise<EnsembleModel> {
  if (!Number.isInteger(spec.members) || spec.members < 1) {
    key.dispose();
    throw new Error(`ensemble reward: members must be a whole number ≥ 1, got ${spec.members}`);
  }
  const keys = splitKey(key, spec.members);
  const { members: M, ...rest } = spec;
  const mlpSpec = { ...rest, kind: "mlp" as const };
  const total = M * spec.steps;
  const members = [];
  for (const [i, k] of keys.entries()) {
    members.push(await fitMlp(x, y, mlpSpec, k, { onStep: opts.onStep ? (s, _t, l) => opts.onStep!(i * spec.steps + s, total, l) : undefined }));
  }
  return { kind: "ensemble", dim: x.cols, spec: { ...spec }, members };
}

/** Mean and spread (std across members, population form) per row. */
export async function predictEnsemble(m: EnsembleModel, x: HostMatrix): Promise<{ mean: Float32Array; spread: Float32Array }> {
  const preds: Float32Array[] = [];
  for (const mm of m.members) preds.push(await predictMlp(mm, x));
  const M = preds.length;
  const mean = new Float32Array(x.rows);
  const spread = new Float32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let s = 0;
    for (const p of preds) s += p[i]!;
    const mu = s / M;
    let v = 0;
    for (const p of preds) v += (p[i]! - mu) ** 2;
    mean[i] = mu;
    spread[i] = Math.sqrt(v / M);
  }
  return { mean, spread };
}

/** The ensemble mean as differentiable jax-js code: x [n, D] (consumed) → [n]. */
export function ensembleRewardFn(m: EnsembleModel): (x: JArray) => JArray {
  const fns = m.members.map(mlpRewardFn);
  return (x) => {
    let total: JArray | undefined;
    fns.forEach((f, i) => {
      const y = f(i === fns.length - 1 ? x : x.ref);
      total = total ? total.add(y) : y;
    });
    return total!.mul(1 / fns.length);
  };
}

