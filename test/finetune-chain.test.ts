/**
 * The differentiable sampler chain (src/finetune/chain.ts) on a tiny network:
 *  - ∇L against central finite differences of L along random directions (L recomputed from scratch with
 *    the same noise key, so it is a deterministic function of θ);
 *  - truncation K = all steps gives the same gradient as no truncation, and K < S a different one;
 *  - segment-wise recomputation (segments of 1 and 2 steps) gives the same gradient as one segment;
 *  - at initialisation every KL is exactly 0, and x_0 equals the sampling loop's under the same key.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, tree, type JArray } from "../src/backend/index.js";
import { modelEps, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { makeChain, type ChainObjective } from "../src/finetune/chain.js";
import { denoiserChainModel, initTrainable, type FrozenParams, type PolicySpec, type TrainableParams } from "../src/finetune/policy.js";
import { initDenoiser, type DenoiserParams } from "../src/nn/denoiser.js";
import { paramsFromHost, paramsToHost } from "../src/nn/params.js";

beforeAll(ensureBackend);

const D = 2;
const N = 16;
const model: ModelConfig = {
  network: { kind: "mlp", dataDim: D, hidden: 8, layers: 2, timeEmbedding: 4, residual: true, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 20, betaStart: 1e-3, betaEnd: 0.2 },
};
const schedule = makeSchedule(model.schedule);
const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 5, eta: 1 });
const b = np.array(new Float32Array([1, -0.5]), { shape: [D, 1] });
const reward: ChainObjective = (x, aux) => {
  for (const a of aux) a.dispose();
  return np.matmul(x, b.ref).reshape([-1]);
};

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function setup(mode: "all" | "adapters", perturb: number): Promise<{ spec: PolicySpec; p: TrainableParams; f: FrozenParams }> {
  const base: DenoiserParams = initDenoiser(keyFromSeed(3), model.network);
  const spec: PolicySpec = { model, mode, rank: 2 };
  let p = initTrainable(spec, base, keyFromSeed(4));
  if (perturb > 0) {
    const host = await paramsToHost(p);
    const r = lcg(9);
    for (const t of host.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = t.data[i]! + perturb * (2 * r() - 1);
    const q = paramsFromHost(p, host, "perturb");
    tree.dispose(p);
    p = q;
  }
  return { spec, p, f: { base } };
}

const flat = async (g: TrainableParams) => Float64Array.from([...(await paramsToHost(g)).values()].flatMap((t) => Array.from(t.data)));

describe("finetune chain", () => {
  it("gradient matches central finite differences along random directions", async () => {
    const { spec, p, f } = await setup("all", 0.3);
    const chain = makeChain(denoiserChainModel(spec), reward, plan, schedule.T, D, { objectiveScale: 1, klWeight: 0.5 });
    const lossAt = (q: TrainableParams) => chain.lossAndGrad(q, f, [], [], N, keyFromSeed(11));
    const g0 = await lossAt(p);
    const gFlat = await flat(g0.grads);
    tree.dispose(g0.grads);
    expect(g0.kl).toBeGreaterThan(1e-3);
    const host = await paramsToHost(p);
    const r = lcg(21);
    for (let dir = 0; dir < 3; dir++) {
      const delta = new Map([...host].map(([k, t]) => [k, Float32Array.from(t.data, () => 2 * r() - 1)]));
      // h = 3e-3: truncation error O(h²) is ~1e-4 relative here, float32 round-off ~1e-3 absolute.
      const h = 3e-3;
      const shifted = (s: number) => {
        const m = new Map([...host].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data, (v, i) => v + s * h * delta.get(k)![i]!) }]));
        return paramsFromHost(p, m, "fd");
      };
      const lp = await lossAt(shifted(1));
      const lm = await lossAt(shifted(-1));
      tree.dispose(lp.grads);
      tree.dispose(lm.grads);
      const fd = (lp.loss - lm.loss) / (2 * h);
      const dFlat = Float64Array.from([...delta.values()].flatMap((d) => Array.from(d)));
      const analytic = gFlat.reduce((s, v, i) => s + v * dFlat[i]!, 0);
      expect(Math.abs(analytic - fd)).toBeLessThan(1e-2 * Math.abs(fd) + 2e-3);
    }
    chain.dispose();
    tree.dispose(p);
    tree.dispose(f);
  });

  it("truncation K = S equals the full gradient; segments give the same gradient as one segment", async () => {
    const { spec, p, f } = await setup("adapters", 0.2);
    const m = denoiserChainModel(spec);
    const grads = async (o: { truncation?: number; segment?: number }) => {
      const chain = makeChain(m, reward, plan, schedule.T, D, { objectiveScale: 1, klWeight: 0.7, ...o });
      const r = await chain.lossAndGrad(p, f, [], [], N, keyFromSeed(5));
      chain.dispose();
      const out = await flat(r.grads);
      tree.dispose(r.grads);
      return out;
    };
    const full = await grads({});
    const maxAbs = Math.max(...full.map(Math.abs));
    expect(maxAbs).toBeGreaterThan(1e-3);
    const close = (a: Float64Array, tol = 1e-4) => Math.max(...a.map((v, i) => Math.abs(v - full[i]!))) / maxAbs < tol;
    expect(close(await grads({ truncation: plan.length }))).toBe(true);
    expect(close(await grads({ segment: 1 }))).toBe(true);
    expect(close(await grads({ segment: 2 }))).toBe(true);
    expect(close(await grads({ truncation: 2 }), 1e-2)).toBe(false);
    tree.dispose(p);
    tree.dispose(f);
  });

  it("at initialisation KL = 0 exactly and x_0 equals the sampling loop's under the same key", async () => {
    const { spec, p, f } = await setup("adapters", 0);
    const chain = makeChain(denoiserChainModel(spec), reward, plan, schedule.T, D, { objectiveScale: 1, klWeight: 1 });
    const fwd = await chain.forward(p, f, [], N, keyFromSeed(8));
    expect(fwd.klTotal).toBe(0);
    const ours = toHostSync(fwd.x0);
    const ref = toHostSync((await sample({ model: modelEps(model, f.base), plan, n: N, eventShape: [D], key: keyFromSeed(8) })));
    const maxDiff = Math.max(...ours.map((v, i) => Math.abs(v - ref[i]!)));
    expect(maxDiff).toBeLessThan(1e-5);
    chain.dispose();
    tree.dispose(p);
    tree.dispose(f);
  });
});

export type { JArray };
