/**
 * A fine-tuned model (DRaFT or CTRL): the frozen pretrained weights, the trained part θ, and how to
 * sample it (the same reparameterised chain, without gradient, with optional classifier-free guidance
 * against the control's null class). Also materialises the effective network weights for a checkpoint.
 */
import { jit, np, random, tree, type JArray } from "../backend/jax.js";
import { keyAt, splitKey, splitKeyWords, type Key } from "../backend/keys.js";
import { scalar, settle, toHostSync, toNumber } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { stepMeanFromVector, coefficientVector, type StepCoefficients } from "../diffusion/step.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { makeChain } from "./chain.js";
import { denoiserChainModel, effectiveParams, policyNetwork, type FrozenParams, type PolicySpec, type TrainableParams } from "./policy.js";

export interface FinetunedModel {
  spec: PolicySpec;
  /** θ (owned). */
  p: TrainableParams;
  /** The pretrained weights (owned: a reference of the caller's). */
  f: FrozenParams;
  plan: readonly StepCoefficients[];
  T: number;
  dim: number;
}

/** Releases θ and the frozen reference. */
export function disposeFinetuned(m: FinetunedModel): void {
  tree.dispose(m.p);
  tree.dispose(m.f);
}

/** The effective weights of the fine-tuned network (spec = policyNetwork(m.spec)). Borrows `m`. */
export function finetunedParams(m: FinetunedModel): DenoiserParams {
  const eff = effectiveParams(tree.ref(m.p) as TrainableParams, tree.ref(m.f) as FrozenParams);
  return tree.map((a: JArray) => a.mul(1), eff) as DenoiserParams;
}

export interface SampleResult {
  samples: HostMatrix;
  /** Σ_t mean_i KL_t of the policy to the pretrained model along its own chains (path KL estimate). */
  kl: number;
}

/**
 * n samples in batches of `batch`; `sideFor(rows, batchIndex)` builds each batch's side inputs (e.g.
 * context and control one-hots). With `cfgScale` w ≠ 1 (CTRL only), ε̃ = ε(c, ∅) + w (ε(c, y) − ε(c, ∅))
 * and the reported KL is the guided sampler's path KL to the pretrained model. Consumes `key`; borrows `m`.
 */
export function sampleFinetuned(
  m: FinetunedModel,
  n: number,
  key: Key,
  sideFor: (rows: number, batch: number) => JArray[] = () => [],
  opts: { batch?: number; cfgScale?: number } = {},
): SampleResult {
  const batch = opts.batch ?? 2048;
  const batches = Math.max(1, Math.ceil(n / batch));
  const keys = batches === 1 ? [key] : splitKey(key, batches);
  const out = new Float32Array(n * m.dim);
  const w = opts.cfgScale ?? 1;
  let klSum = 0;
  const chain = makeChain(denoiserChainModel(m.spec), (x) => x, m.plan, m.T, m.dim, { objectiveScale: 0, klWeight: 0 }, "sampling");
  try {
    for (let i = 0; i < batches; i++) {
      const rows = Math.min(batch, n - i * batch);
      const side = sideFor(rows, i);
      let x: JArray;
      if (w === 1) {
        const fwd = chain.forward(m.p, m.f, side, rows, keys[i]!);
        x = fwd.x0;
        klSum += fwd.klTotal * rows;
      } else {
        const g = guidedChain(m, side, rows, keys[i]!, w);
        x = g.x;
        klSum += g.kl * rows;
      }
      for (const s of side) s.dispose();
      out.set(toHostSync(x), i * batch * m.dim);
    }
  } finally {
    chain.dispose();
  }
  return { samples: hostMatrix(n, m.dim, out), kl: klSum / n };
}

/**
 * Host samples of the CFG sampler at any w (w = 1: plain conditional sampling, w = 0: the null
 * control ∅). Consumes `side` and `key`; borrows `m`.
 */
export function guidedSamples(m: FinetunedModel, side: JArray[], n: number, key: Key, w: number): { samples: Float32Array; kl: number } {
  try {
    const g = guidedChain(m, side, n, key, w);
    return { samples: toHostSync(g.x), kl: g.kl };
  } finally {
    for (const s of side) s.dispose();
  }
}

/**
 * CFG against the null control: side = [context?, control]; the null one-hot replaces the control.
 * Returns x_0 and the guided sampler's own path KL to the pretrained model along its chains,
 * Σ_t mean_i ‖μ̃_t − μ_pre,t‖²/(2σ_t²) (μ̃ from the guided ε̃; the final deterministic step uses the
 * reference, as in the chain engine, and adds nothing).
 */
function guidedChain(m: FinetunedModel, side: JArray[], n: number, key: Key, w: number): { x: JArray; kl: number } {
  if (m.spec.controlClasses === undefined) throw new Error("classifier-free guidance needs a control (CTRL) model");
  const model = denoiserChainModel(m.spec);
  const C = m.spec.controlClasses;
  const nullHot = np.zeros([n, C]);
  const nullOneHot = np.concatenate([nullHot, np.ones([n, 1])], -1);
  const ctxPart = side.slice(0, side.length - 1);
  const eps = jit((p: TrainableParams, f: FrozenParams, x: JArray, time: JArray, ab: JArray, sideC: JArray[], sideU: JArray[], wArr: JArray) => {
    const ec = model.eps(tree.ref(p) as TrainableParams, tree.ref(f) as FrozenParams, x.ref, time.ref, ab.ref, sideC);
    const eu = model.eps(p, f, x, time, ab, sideU);
    return eu.ref.add(ec.sub(eu).mul(wArr));
  }) as unknown as (...a: unknown[]) => JArray;
  // The final deterministic step uses the reference (as in the chain engine, ./chain.ts planRows).
  const refEps = jit((f: FrozenParams, x: JArray, time: JArray, ab: JArray, sideC: JArray[]) => model.refEps(f, x, time, ab, sideC)) as unknown as (...a: unknown[]) => JArray;
  const words = splitKeyWords(key, m.plan.length + 1);
  const arr = (v: number) => np.array(new Float32Array([v]), { shape: [] });
  let x = random.normal(keyAt(words, 0), [n, m.dim]);
  let kl = 0;
  m.plan.forEach((c, i) => {
    const at = c.t.alphaBar;
    const time = (1000 * c.t.index) / m.T;
    const e0 = refEps(tree.ref(m.f), x.ref, arr(time), arr(at), side.map((s) => s.ref));
    if (c.sigma === 0) {
      const { mean, x0Hat } = stepMeanFromVector(x, e0, coefficientVector(c));
      x0Hat.dispose();
      x = mean;
      return;
    }
    const e = eps(tree.ref(m.p), tree.ref(m.f), x.ref, arr(time), arr(at), side.map((s) => s.ref), [...ctxPart.map((s) => s.ref), nullOneHot.ref], arr(w));
    const ref = stepMeanFromVector(x.ref, e0, coefficientVector(c));
    ref.x0Hat.dispose();
    const { mean, x0Hat } = stepMeanFromVector(x, e, coefficientVector(c));
    x0Hat.dispose();
    kl += toNumber(np.mean(np.sum(np.square(mean.ref.sub(ref.mean)), -1))) / (2 * c.sigma * c.sigma);
    x = mean.add(random.normal(keyAt(words, i + 1), [n, m.dim]).mul(scalar(c.sigma)));
    settle(x);
  });
  nullOneHot.dispose();
  (eps as unknown as { dispose(): void }).dispose();
  (refEps as unknown as { dispose(): void }).dispose();
  return { x, kl };
}

export { policyNetwork };
