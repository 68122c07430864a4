/**
 * The differentiable sampler chain (src/finetune/chain.ts) on a tiny network:
 *  - ∇L against central finite differences of L along random directions (L recomputed from scratch with
 *    the same noise key, so it is a deterministic function of θ);
 *  - truncation K = all steps gives the same gradient as no truncation, and K < S a different one;
 *  - segment-wise recomputation (segments of 1 and 2 steps) gives the same gradient as one segment;
 *  - at initialisation every KL is exactly 0, and x_0 equals the sampling loop's under the same key;
 *  - on a tiny chain (a 2→4→2 tanh network, 4 DDPM steps), the single-pass gradient, the segmented one
 *    and the automatically segmented one agree within float32 rounding, and all match L and ∇L of the
 *    same chain recomputed on the host in float64 (central differences of the float64 L), with and
 *    without truncation;
 *  - repeated gradients leave the wasm heap flat.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, tree, wasmHeapBytes, type JArray } from "../src/backend/index.js";
import { modelEps, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { autoSegment, chainActivationBytes, makeChain, planRows, type ChainModel, type ChainObjective } from "../src/finetune/chain.js";
import { keyAt, splitKeyWords } from "../src/backend/keys.js";
import { toHost } from "../src/backend/ownership.js";
import { drawNoise } from "../src/diffusion/sample.js";
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

/** The tiny network ε(x, t) = tanh(x W₁ + (t/1000) c) W₂, θ and the frozen reference alike. */
type Tiny = { w1: JArray; c: JArray; w2: JArray };
const H = 4;
const net = (w: Tiny, x: JArray, time: JArray): JArray => np.matmul(np.tanh(np.matmul(x, w.w1).add(w.c.mul(time.div(1000)))), w.w2);
const tinyModel: ChainModel<Tiny, Tiny> = {
  eps(p, f, x, time, alphaBar, side) {
    tree.dispose(f);
    alphaBar.dispose();
    for (const s of side) s.dispose();
    return net(p, x, time);
  },
  refEps(f, x, time, alphaBar, side) {
    alphaBar.dispose();
    for (const s of side) s.dispose();
    return net(f, x, time);
  },
};
/** r(x) = x₁ − 0.5 x₂ − 0.1 ‖x‖² (non-linear, so ∇r depends on x_0). */
const tinyReward: ChainObjective = (x, aux) => {
  for (const a of aux) a.dispose();
  return np.matmul(x.ref, b.ref).reshape([-1]).sub(np.sum(np.square(x), -1).mul(0.1));
};
const tinyShapes: [keyof Tiny, number[]][] = [
  ["w1", [D, H]],
  ["c", [H]],
  ["w2", [H, D]],
];
const tinyFrom = (v: Float64Array): Tiny => {
  let o = 0;
  const out = {} as Tiny;
  for (const [k, sh] of tinyShapes) {
    const len = sh.reduce((a, c) => a * c, 1);
    out[k] = np.array(Float32Array.from(v.subarray(o, o + len)), { shape: sh });
    o += len;
  }
  return out;
};
const tinyFlat = async (t: Tiny) => Float64Array.from([...(await toHost(t.w1.ref)), ...(await toHost(t.c.ref)), ...(await toHost(t.w2.ref))]);

/** L(θ) of the chain in float64 on the host (src/finetune/chain.ts's formulas). θ acts on steps ≥ start only. */
function hostLoss(theta: Float64Array, thetaPre: Float64Array, ref: Float64Array, rows: Float32Array, xT: Float32Array, zs: Float32Array[], n: number, start: number, rho: number, lambda: number): number {
  const S = zs.length;
  const W = 10;
  const eps = (w: Float64Array, x: Float64Array, time: number) => {
    const out = new Float64Array(n * D);
    for (let i = 0; i < n; i++) {
      for (let h = 0; h < H; h++) {
        let a = w[2 * H + h]! * (time / 1000);
        for (let d = 0; d < D; d++) a += x[i * D + d]! * w[d * H + h]!;
        const t = Math.tanh(a);
        for (let d = 0; d < D; d++) out[i * D + d] += t * w[3 * H + h * D + d]!;
      }
    }
    return out;
  };
  let x = Float64Array.from(xT);
  let L = 0;
  for (let s = 0; s < S; s++) {
    const r = rows.subarray(s * W, (s + 1) * W);
    const [r0, r1, cx0, ceps, cxt, sigma, , time, klc, sw] = Array.from(r);
    const mean = (e: Float64Array) => x.map((xv, j) => cx0! * ((xv - r1! * e[j]!) / r0!) + ceps! * e[j]! + cxt! * xv);
    const muRef = mean(eps(ref, x, time!));
    const muFree = mean(eps(s >= start ? theta : thetaPre, x, time!));
    const mu = muFree.map((v, j) => sw! * v + (1 - sw!) * muRef[j]!);
    let kl = 0;
    for (let j = 0; j < n * D; j++) kl += (mu[j]! - muRef[j]!) ** 2 * klc!;
    L += (lambda * kl) / n;
    x = mu.map((v, j) => v + sigma! * zs[s]![j]!);
  }
  let obj = 0;
  for (let i = 0; i < n; i++) {
    const x1 = x[i * D]!;
    const x2 = x[i * D + 1]!;
    obj += x1 - 0.5 * x2 - 0.1 * (x1 * x1 + x2 * x2);
  }
  return L - (rho * obj) / n;
}

describe("finetune chain: single pass against segments and a float64 recomputation", () => {
  it("single-pass, segmented and auto-segmented gradients agree and match float64 central differences", async () => {
    const tinyPlan = samplerPlan(schedule, { sampler: "ddpm", steps: 4, eta: 1 });
    const S = tinyPlan.length;
    const n = 6;
    const rho = 1.3;
    const lambda = 0.6;
    const r = lcg(17);
    const ref = Float64Array.from({ length: 2 * D * H + H }, () => Math.fround(0.8 * (2 * r() - 1)));
    const theta = ref.map((v) => Math.fround(v + 0.3 * (2 * r() - 1)));
    const f = tinyFrom(ref);
    const p = tinyFrom(theta);
    // The chain's noise, drawn with its key scheme (key 0 → x_T, key i + 1 → z of step i).
    const words = splitKeyWords(keyFromSeed(31), S + 1);
    const xT = toHostSync(drawNoise(keyAt(words, 0), [n, D]));
    const zs = Array.from({ length: S }, (_, i) => toHostSync(drawNoise(keyAt(words, i + 1), [n, D])));
    const rows = planRows(tinyPlan, schedule.T, "test");

    for (const K of [S, 2]) {
      const start = S - K;
      const run = async (o: { segment?: number; memoryBudget?: number }) => {
        const chain = makeChain(tinyModel, tinyReward, tinyPlan, schedule.T, D, { objectiveScale: rho, klWeight: lambda, truncation: K, ...o });
        const out = await chain.lossAndGrad(p, f, [], [], n, keyFromSeed(31));
        chain.dispose();
        const g = await tinyFlat(out.grads);
        tree.dispose(out.grads);
        return { loss: out.loss, g };
      };
      const single = await run({});
      const seg1 = await run({ segment: 1 });
      // A budget below the estimate: the automatic rule splits the window into segments.
      const bytes = chainActivationBytes(p, f, n, K);
      expect(autoSegment(K, bytes, bytes / 2)).toBeLessThan(K);
      const auto = await run({ memoryBudget: bytes / 2 });

      // float64: L at θ, and ∂L/∂θ_j by central differences (h = 1e-5: truncation ~1e-10, round-off ~1e-11).
      const L64 = (t: Float64Array) => hostLoss(t, theta, ref, rows, xT, zs, n, start, rho, lambda);
      const g64 = theta.map((_, j) => {
        const h = 1e-5;
        const tp = Float64Array.from(theta);
        const tm = Float64Array.from(theta);
        tp[j] = tp[j]! + h;
        tm[j] = tm[j]! - h;
        return (L64(tp) - L64(tm)) / (2 * h);
      });
      const scale = Math.max(...g64.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-2);
      const relErr = (g: Float64Array, h: Float64Array) => Math.max(...g.map((v, i) => Math.abs(v - h[i]!))) / scale;
      // float32 rounding through a few hundred operations (measured ≤ 4e-7 relative to max |∇L|).
      expect(relErr(single.g, seg1.g)).toBeLessThan(2e-6);
      expect(relErr(single.g, auto.g)).toBeLessThan(2e-6);
      expect(relErr(single.g, g64)).toBeLessThan(2e-6);
      const l64 = L64(theta);
      for (const l of [single.loss, seg1.loss, auto.loss]) expect(Math.abs(l - l64)).toBeLessThan(1e-5 * (1 + Math.abs(l64)));
      // The truncated gradient differs from the full one (θ of the first steps gets no gradient).
      if (K < S) expect(relErr(single.g, Float64Array.from(theta.map((_, j) => (hostLoss(theta.map((v, i) => (i === j ? v + 1e-5 : v)), theta, ref, rows, xT, zs, n, 0, rho, lambda) - hostLoss(theta.map((v, i) => (i === j ? v - 1e-5 : v)), theta, ref, rows, xT, zs, n, 0, rho, lambda)) / 2e-5)))).toBeGreaterThan(1e-3);
    }
    tree.dispose(p);
    tree.dispose(f);
  });

  it("leaves nothing behind: the wasm heap stays flat over repeated gradients (single pass, segments, truncation)", async () => {
    const tinyPlan = samplerPlan(schedule, { sampler: "ddpm", steps: 4, eta: 1 });
    const r = lcg(5);
    const f = tinyFrom(Float64Array.from({ length: 2 * D * H + H }, () => 2 * r() - 1));
    const p = tinyFrom(Float64Array.from({ length: 2 * D * H + H }, () => 2 * r() - 1));
    // n = 512: one leaked [n, 2] array per gradient is 4 KiB, 120 KiB over the 30 measured ones.
    const n = 512;
    for (const o of [{}, { segment: 1 }, { truncation: 2 }]) {
      const chain = makeChain(tinyModel, tinyReward, tinyPlan, schedule.T, D, { objectiveScale: 1, klWeight: 1, ...o });
      const once = async (i: number) => tree.dispose((await chain.lossAndGrad(p, f, [], [], n, keyFromSeed(100 + i))).grads);
      for (let i = 0; i < 10; i++) await once(i);
      const before = wasmHeapBytes();
      for (let i = 10; i < 40; i++) await once(i);
      expect(wasmHeapBytes() - before, JSON.stringify(o)).toBeLessThan(16 * 1024);
      chain.dispose();
    }
    tree.dispose(p);
    tree.dispose(f);
  });
});

export type { JArray };
