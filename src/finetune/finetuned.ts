/**
 * A fine-tuned model (DRaFT or CTRL): the frozen pretrained weights, the trained part θ, and how to
 * sample it (the same reparameterised chain, without gradient, with optional classifier-free guidance
 * against the control's null class). Also materialises the effective network weights for a checkpoint.
 */
import { jit, np, tree, type JArray } from "../backend/jax.js";
import { splitKey, type Key } from "../backend/keys.js";
import { toHost } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { sample, type GuidanceHook } from "../diffusion/sample.js";
import { classifierFree, coefficientVector, stepFromOutput, stepKl, type StepCoefficients } from "../diffusion/step.js";
import type { StepTime } from "../diffusion/types.js";
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
export async function sampleFinetuned(
  m: FinetunedModel,
  n: number,
  key: Key,
  sideFor: (rows: number, batch: number) => JArray[] = () => [],
  opts: { batch?: number; cfgScale?: number } = {},
): Promise<SampleResult> {
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
        const fwd = await chain.forward(m.p, m.f, side, rows, keys[i]!);
        x = fwd.x0;
        klSum += fwd.klTotal * rows;
      } else {
        const g = await guidedChain(m, side, rows, keys[i]!, w);
        x = g.x;
        klSum += g.kl * rows;
      }
      for (const s of side) s.dispose();
      out.set(await toHost(x), i * batch * m.dim);
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
export async function guidedSamples(m: FinetunedModel, side: JArray[], n: number, key: Key, w: number): Promise<{ samples: Float32Array; kl: number }> {
  try {
    const g = await guidedChain(m, side, n, key, w);
    return { samples: await toHost(g.x), kl: g.kl };
  } finally {
    for (const s of side) s.dispose();
  }
}

/**
 * CFG against the null control: side = [context?, control]; the null one-hot replaces the control.
 * The sampling loop (src/diffusion/sample.ts) run on the pretrained reference with a guidance hook
 * that replaces each stochastic step's mean by the guided one, ε̃ = ε(c, ∅) + w (ε(c, y) − ε(c, ∅)).
 * Returns x_0 and the guided sampler's own path KL to the pretrained model along its chains,
 * Σ_t mean_i ‖μ̃_t − μ_pre,t‖²/(2σ_t²) (the final deterministic step uses the reference, as in the chain
 * engine, and adds nothing).
 */
async function guidedChain(m: FinetunedModel, side: JArray[], n: number, key: Key, w: number): Promise<{ x: JArray; kl: number }> {
  if (m.spec.controlClasses === undefined) {
    key.dispose();
    throw new Error("classifier-free guidance needs a control (CTRL) model");
  }
  const model = denoiserChainModel(m.spec);
  const C = m.spec.controlClasses;
  const nullOneHot = np.concatenate([np.zeros([n, C]), np.ones([n, 1])], -1);
  const ctxPart = side.slice(0, side.length - 1);
  const eps = jit((p: TrainableParams, f: FrozenParams, x: JArray, time: JArray, ab: JArray, sideC: JArray[], sideU: JArray[], wArr: JArray) => {
    const ec = model.eps(tree.ref(p) as TrainableParams, tree.ref(f) as FrozenParams, x.ref, time.ref, ab.ref, sideC);
    const eu = model.eps(p, f, x, time, ab, sideU);
    return classifierFree(eu, [[ec, wArr]]);
  }) as unknown as ((...a: unknown[]) => JArray) & { dispose(): void };
  const refEps = jit((f: FrozenParams, x: JArray, time: JArray, ab: JArray, sideC: JArray[]) => model.refEps(f, x, time, ab, sideC)) as unknown as ((...a: unknown[]) => JArray) & {
    dispose(): void;
  };
  const arr = (v: number) => np.array(new Float32Array([v]), { shape: [] });
  const timeOf = (t: StepTime) => (1000 * t.index) / m.T;
  let kl = 0;
  const hook: GuidanceHook = {
    async step(ctx, x, base) {
      const c = ctx.coefficients;
      base.x0Hat.dispose();
      base.epsHat.dispose();
      if (c.sigma === 0) return base.mean;
      const e = eps(tree.ref(m.p), tree.ref(m.f), x.ref, arr(timeOf(c.t)), arr(c.t.alphaBar), side.map((s) => s.ref), [...ctxPart.map((s) => s.ref), nullOneHot.ref], arr(w));
      const guided = stepFromOutput("eps", x.ref, e, coefficientVector(c));
      guided.x0Hat.dispose();
      guided.epsHat.dispose();
      kl += (await toHost(np.mean(stepKl(guided.mean.ref, base.mean, c.sigma))))[0]!;
      return guided.mean;
    },
  };
  try {
    const x = await sample({
      model: (x, t) => refEps(tree.ref(m.f), x, arr(timeOf(t)), arr(t.alphaBar), side.map((s) => s.ref)),
      plan: m.plan,
      n,
      eventShape: [m.dim],
      key,
      hooks: { guidance: hook },
    });
    return { x, kl };
  } finally {
    nullOneHot.dispose();
    eps.dispose();
    refEps.dispose();
  }
}

export { policyNetwork };
