/**
 * Optimizers, clipping, schedules, EMA and the small layers, each against a float64 reference written
 * here from its published formula.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, jit, np, scalar, toHostSync, toNumber, tree, type JArray } from "../src/backend/index.js";
import { classEmbedding, fourierFrequencies, sinusoidalEmbedding, valueEmbedding, valueFeatureWidth, valueFeatures } from "../src/nn/embeddings.js";
import { layerNorm } from "../src/nn/norm.js";
import { adamInit, adamw, defaultAdamHyper, type AdamHyper, type AdamState } from "../src/optim/adam.js";
import { clipByGlobalNorm, clipGradients, globalNorm } from "../src/optim/clip.js";
import { optimizerFromConfig, defaultOptimizerConfig } from "../src/optim/config.js";
import { emaDecay, emaUpdate } from "../src/optim/ema.js";
import { constantRate, learningRate, scaleByLearningRate, type LrSchedule } from "../src/optim/lr-schedule.js";
import { applyUpdates, chain, type OptState } from "../src/optim/transform.js";

beforeAll(ensureBackend);

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A tiny parameter tree as host float64 arrays: { a: [2, 3], b: { c: [4] } }. */
type HostTree = { a: number[]; b: { c: number[] } };
type DevTree = { a: JArray; b: { c: JArray } };
const toDev = (h: HostTree): DevTree => ({
  a: np.array(Float32Array.from(h.a), { shape: [2, 3] }),
  b: { c: np.array(Float32Array.from(h.b.c)) },
});
const flat = (h: HostTree) => [...h.a, ...h.b.c];
const devFlat = (d: DevTree) => [...toHostSync(d.a), ...toHostSync(d.b.c)];
const mapHost = (h: HostTree, f: (v: number, i: number) => number): HostTree => ({
  a: h.a.map((v, i) => f(v, i)),
  b: { c: h.b.c.map((v, i) => f(v, i + 6)) },
});

function randomTree(r: () => number, scale = 1): HostTree {
  return { a: Array.from({ length: 6 }, () => scale * (2 * r() - 1)), b: { c: Array.from({ length: 4 }, () => scale * (2 * r() - 1)) } };
}

/** Adam's hyper-parameters plus AdamW's λ (the tests' shorthand for `adamw`). */
type AdamConfig = AdamHyper & { weightDecay: number };
const defaultAdam: AdamConfig = { ...defaultAdamHyper, weightDecay: 0 };

/** One AdamW step through the transforms: θ + adamw.update(g). Consumes p, g, s and lr (the traced rate). */
function adamUpdate<P extends DevTree>(cfg: AdamConfig, p: P, g: P, s: AdamState<P>, lr: JArray): { params: P; state: AdamState<P> } {
  const t = adamw(constantRate(Number.NaN), cfg.weightDecay, cfg); // the rate comes from `lr` below, not from the schedule
  const r = t.update(g, s as unknown as OptState, p, { lr });
  lr.dispose();
  return { params: applyUpdates(p, r.updates), state: r.state as unknown as AdamState<P> };
}

/** Adam / AdamW in float64 (PyTorch's AdamW form: θ ← θ(1 − lr λ) − lr m̂/(√v̂ + ε)). */
function referenceAdam(cfg: AdamConfig, theta0: number[], grads: number[][], lrs: number[]): number[] {
  const theta = [...theta0];
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  grads.forEach((g, k) => {
    const step = k + 1;
    for (let i = 0; i < theta.length; i++) {
      m[i] = cfg.beta1 * m[i]! + (1 - cfg.beta1) * g[i]!;
      v[i] = cfg.beta2 * v[i]! + (1 - cfg.beta2) * g[i]! ** 2;
      const mHat = m[i]! / (1 - cfg.beta1 ** step);
      const vHat = v[i]! / (1 - cfg.beta2 ** step);
      theta[i] = theta[i]! * (1 - lrs[k]! * cfg.weightDecay) - (lrs[k]! * mHat) / (Math.sqrt(vHat) + cfg.eps);
    }
  });
  return theta;
}

describe("Adam / AdamW vs a float64 reference (5 steps, same gradients)", () => {
  const r = lcg(42);
  const theta0 = randomTree(r);
  // Gradients of different sizes per step, including a sign change and a tiny one.
  const grads = [1, 0.5, -2, 1e-3, 3].map((s) => randomTree(r, s));
  const lrs = [1e-2, 2e-2, 5e-3, 1e-2, 3e-2];

  function run(cfg: AdamConfig, jitted: boolean): { theta: number[]; count: number } {
    const update = jitted
      ? (jit((p: DevTree, g: DevTree, s: AdamState<DevTree>, lr: JArray) => {
          const out = adamUpdate(cfg, p, g, s, lr);
          return [out.params, out.state];
        }) as unknown as (p: DevTree, g: DevTree, s: AdamState<DevTree>, lr: JArray) => [DevTree, AdamState<DevTree>])
      : (p: DevTree, g: DevTree, s: AdamState<DevTree>, lr: JArray): [DevTree, AdamState<DevTree>] => {
          const out = adamUpdate(cfg, p, g, s, lr);
          return [out.params, out.state];
        };
    let params = toDev(theta0);
    let state = adamInit(params);
    for (let k = 0; k < grads.length; k++) [params, state] = update(params, toDev(grads[k]!), state, scalar(lrs[k]!));
    const theta = devFlat(params);
    const count = toNumber(state.count);
    tree.dispose(state.m);
    tree.dispose(state.v);
    return { theta, count };
  }

  for (const [label, cfg] of [
    ["Adam", defaultAdam],
    ["AdamW (λ = 0.1)", { ...defaultAdam, weightDecay: 0.1 }],
    ["Adam with β = (0.5, 0.9), ε = 1e-3", { beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0 }],
  ] as const) {
    for (const jitted of [true, false]) {
      // Eagerly, a bias correction 1 − β2^k computed with jax-js's wasm log/power is 1.2% wrong at
      // k = 1 (log(0.999) is off by 1.2e-5); adam.ts uses −expm1(k log β) with log β from the host.
      it(`${label}${jitted ? " (under jit, as the trainer runs it)" : " (eager)"}`, () => {
        const want = referenceAdam(cfg, flat(theta0), grads.map(flat), lrs);
        const { theta, count } = run(cfg, jitted);
        expect(count).toBe(5);
        const moved = want.map((w, i) => Math.abs(w - flat(theta0)[i]!));
        expect(Math.max(...moved)).toBeGreaterThan(1e-2); // the steps did something measurable
        for (let i = 0; i < want.length; i++) expect(Math.abs(theta[i]! - want[i]!), `θ[${i}]`).toBeLessThanOrEqual(2e-6 + 1e-4 * moved[i]!);
      });
    }
  }

  it("AdamW's decay term alone: zero gradients shrink θ by (1 − lr λ) per step", () => {
    const cfg = { ...defaultAdam, weightDecay: 0.5 };
    let params = toDev(theta0);
    let state = adamInit(params);
    for (let k = 0; k < 3; k++) {
      const out = adamUpdate(cfg, params, toDev(mapHost(theta0, () => 0)), state, scalar(0.1));
      params = out.params;
      state = out.state;
    }
    const got = devFlat(params);
    flat(theta0).forEach((t, i) => expect(got[i]!).toBeCloseTo(t * 0.95 ** 3, 6));
    tree.dispose(state as unknown as DevTree);
  });

  it("adamInit gives zero moments shaped like the parameters and count 0; borrows the tree", () => {
    const p = toDev(theta0);
    const s = adamInit(p);
    expect(s.m.a.shape).toEqual([2, 3]);
    expect(s.v.b.c.shape).toEqual([4]);
    expect(devFlat(s.m).every((v) => v === 0)).toBe(true);
    expect(toNumber(s.count)).toBe(0);
    expect(devFlat(p)).toEqual(flat(theta0).map(Math.fround)); // p still alive
    tree.dispose(s.v); // s.m was read (consumed) above
  });
});

describe("clipGradients / clipByGlobalNorm", () => {
  const g: HostTree = { a: [3, 0, 0, 0, 0, 0], b: { c: [0, 4, 0, 0] } }; // ‖g‖ = 5

  it("computes the global norm over all leaves", () => {
    const t = toDev(g);
    expect(toNumber(globalNorm(t))).toBeCloseTo(5, 6);
    tree.dispose(t);
  });

  it("scales to the threshold when above it, and reports the pre-clip norm", () => {
    const { grads, norm } = clipGradients(toDev(g), 2);
    expect(toNumber(norm)).toBeCloseTo(5, 6);
    const got = devFlat(grads);
    flat(g).forEach((v, i) => expect(got[i]!).toBeCloseTo((v * 2) / 5, 6));
    expect(Math.hypot(...got)).toBeCloseTo(2, 5);
  });

  it("leaves gradients below the threshold unchanged", () => {
    const { grads, norm } = clipGradients(toDev(g), 7);
    expect(toNumber(norm)).toBeCloseTo(5, 6);
    expect(devFlat(grads)).toEqual(flat(g));
  });

  it("maxNorm = 0 (or negative) disables clipping", () => {
    for (const maxNorm of [0, -1]) {
      const { grads, norm } = clipGradients(toDev(mapHost(g, (v) => 100 * v)), maxNorm);
      expect(toNumber(norm)).toBeCloseTo(500, 3);
      expect(devFlat(grads)).toEqual(flat(g).map((v) => 100 * v));
    }
  });

  it("a zero gradient stays zero (no division by zero)", () => {
    const { grads, norm } = clipGradients(toDev(mapHost(g, () => 0)), 1);
    expect(toNumber(norm)).toBe(0);
    expect(devFlat(grads).every((v) => v === 0)).toBe(true);
  });
});

describe("gradient transformations", () => {
  const g: HostTree = { a: [3, 0, 0, 0, 0, 0], b: { c: [0, 4, 0, 0] } }; // ‖g‖ = 5
  const run = (t: ReturnType<typeof chain>, lr: number) => {
    const p = toDev(mapHost(g, () => 0));
    const s = t.init(p);
    const sc = { lr: scalar(lr) };
    const r = t.update(toDev(g), s, p, sc);
    sc.lr.dispose();
    tree.dispose(p);
    tree.dispose(r.state);
    return devFlat(r.updates as DevTree);
  };

  it("chain applies its members in order: clip(1) then −0.5·u differs from −0.5·u then clip(1)", () => {
    // clip first: g/‖g‖ · (−0.5) = −0.1 g; scale first: −0.5 g has norm 2.5, clipped to norm 1 = −0.2 g.
    const clipThenScale = run(chain(clipByGlobalNorm(1), scaleByLearningRate(constantRate(0.5))), 0.5);
    const scaleThenClip = run(chain(scaleByLearningRate(constantRate(0.5)), clipByGlobalNorm(1)), 0.5);
    flat(g).forEach((v, i) => {
      expect(clipThenScale[i]!).toBeCloseTo(-0.1 * v, 6);
      expect(scaleThenClip[i]!).toBeCloseTo(-0.2 * v, 6);
    });
  });

  it("the learning rate is the traced scalar: the same transform gives −lr·u for each rate passed in", () => {
    const t = scaleByLearningRate(constantRate(1));
    for (const lr of [1e-3, 0.25, 2]) {
      const got = run(chain(t), lr);
      flat(g).forEach((v, i) => expect(got[i]!).toBeCloseTo(-lr * v, 6));
    }
  });

  it("a chain's state is the union of its members' named states; a clash is refused", () => {
    const opt = optimizerFromConfig(defaultOptimizerConfig, 100);
    expect([...opt.stateKeys].sort()).toEqual(["count", "m", "v"]);
    const p = toDev(theta0ForState);
    const s = opt.init(p);
    expect(Object.keys(s).sort()).toEqual(["count", "m", "v"]);
    tree.dispose(s);
    tree.dispose(p);
    expect(() => chain(adamw(1e-3, 0), adamw(1e-3, 0.1))).toThrow(/two transforms keep state named "m"/);
  });

  it("optimizerFromConfig asks for lr_k of its schedule (warm-up then cosine) as the step's scalar", () => {
    const cfg = { ...defaultOptimizerConfig, learningRate: 2e-3, lrSchedule: "cosine" as const, warmupSteps: 10 };
    const opt = optimizerFromConfig(cfg, 110);
    for (const k of [0, 4, 9, 10, 60, 109]) {
      const want = k < 10 ? (2e-3 * (k + 1)) / 10 : 2e-3 * 0.5 * (1 + Math.cos((Math.PI * (k - 10)) / 100));
      expect(opt.scalars!(k).lr!).toBeCloseTo(want, 15);
    }
  });
});

const theta0ForState: HostTree = { a: [1, 2, 3, 4, 5, 6], b: { c: [1, 2, 3, 4] } };

describe("learningRate schedules", () => {
  const base: LrSchedule = { kind: "constant", lr: 1e-3, total: 1000, warmup: 0 };

  it("constant", () => {
    for (const k of [0, 1, 500, 999, 5000]) expect(learningRate(base, k)).toBe(1e-3);
  });

  it("linear warm-up: lr·(k+1)/warmup, reaching the peak at the last warm-up step", () => {
    for (const kind of ["constant", "warmup-cosine", "cosine"] as const) {
      const s: LrSchedule = { ...base, kind, warmup: 100 };
      expect(learningRate(s, 0)).toBeCloseTo(1e-5, 15);
      expect(learningRate(s, 49)).toBeCloseTo(5e-4, 15);
      expect(learningRate(s, 99)).toBeCloseTo(1e-3, 15);
    }
  });

  it("warmup-cosine: peak right after warm-up, half-way value at mid-decay, floor at the end", () => {
    const s: LrSchedule = { kind: "warmup-cosine", lr: 2e-3, total: 1100, warmup: 100, finalFraction: 0.1 };
    expect(learningRate(s, 100)).toBeCloseTo(2e-3, 15);
    // progress 1/2 → cos(π/2) = 0 → floor + (1 − floor)/2
    expect(learningRate(s, 600)).toBeCloseTo(2e-3 * (0.1 + 0.9 * 0.5), 15);
    // progress 1/4 → (1 + cos(π/4))/2
    expect(learningRate(s, 350)).toBeCloseTo(2e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.SQRT1_2)), 15);
    expect(learningRate(s, 1100)).toBeCloseTo(2e-4, 15);
    expect(learningRate(s, 5000)).toBeCloseTo(2e-4, 15); // held after the end
  });

  it("cosine decays monotonically from the peak to 0 (default floor)", () => {
    const s: LrSchedule = { kind: "cosine", lr: 1, total: 200, warmup: 0 };
    expect(learningRate(s, 0)).toBe(1);
    expect(learningRate(s, 200)).toBeCloseTo(0, 15);
    let prev = Infinity;
    for (let k = 0; k <= 200; k += 10) {
      const v = learningRate(s, k);
      expect(v).toBeLessThanOrEqual(prev);
      prev = v;
    }
  });
});

describe("EMA", () => {
  it("emaUpdate: θ̄ ← δ θ̄ + (1 − δ) θ", () => {
    const r = lcg(3);
    const e = randomTree(r);
    const p = randomTree(r);
    const out = emaUpdate(toDev(e), toDev(p), scalar(0.9));
    const got = devFlat(out);
    flat(e).forEach((ev, i) => expect(got[i]!).toBeCloseTo(0.9 * ev + 0.1 * flat(p)[i]!, 6));
  });

  it("δ = 0 copies θ, δ = 1 keeps θ̄", () => {
    const e: HostTree = { a: [1, 2, 3, 4, 5, 6], b: { c: [7, 8, 9, 10] } };
    const p = mapHost(e, (v) => -v);
    expect(devFlat(emaUpdate(toDev(e), toDev(p), scalar(0)))).toEqual(flat(p));
    expect(devFlat(emaUpdate(toDev(e), toDev(p), scalar(1)))).toEqual(flat(e));
  });

  it("emaDecay warm-up: min(δ, (1 + k)/(10 + k))", () => {
    expect(emaDecay(0.995, 0)).toBeCloseTo(0.1, 15);
    expect(emaDecay(0.995, 90)).toBeCloseTo(0.91, 15);
    expect(emaDecay(0.995, 1_000_000)).toBe(0.995);
    expect(emaDecay(0.5, 5)).toBeCloseTo(0.4, 15);
    expect(emaDecay(0.5, 20)).toBe(0.5);
  });
});

describe("layerNorm", () => {
  const rows = 5;
  const dim = 16;
  const r = lcg(9);
  const x = Float32Array.from({ length: rows * dim }, (_, i) => 3 + Math.floor(i / dim) * 2 * (2 * r() - 1) * 4);

  it("with g = 1, b = 0 each row has mean 0 and variance var/(var + eps) ≈ 1", () => {
    const out = toHostSync(layerNorm({ g: np.ones([dim]), b: np.zeros([dim]) }, np.array(x, { shape: [rows, dim] })));
    for (let i = 1; i < rows; i++) {
      const row = Array.from(out.subarray(i * dim, (i + 1) * dim));
      const mean = row.reduce((a, b) => a + b, 0) / dim;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / dim;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(v).toBeCloseTo(1, 3);
    }
  });

  it("equals (x − μ)/√(σ² + eps) · g + b (population variance), in float64", () => {
    const g = Float32Array.from({ length: dim }, () => 0.5 + r());
    const b = Float32Array.from({ length: dim }, () => r() - 0.5);
    const eps = 1e-2; // large enough to matter
    const out = toHostSync(layerNorm({ g: np.array(g), b: np.array(b) }, np.array(x, { shape: [rows, dim] }), eps));
    for (let i = 0; i < rows; i++) {
      const row = Array.from(x.subarray(i * dim, (i + 1) * dim));
      const mean = row.reduce((a, c) => a + c, 0) / dim;
      const v = row.reduce((a, c) => a + (c - mean) ** 2, 0) / dim;
      row.forEach((c, j) => {
        const want = ((c - mean) / Math.sqrt(v + eps)) * g[j]! + b[j]!;
        expect(Math.abs(out[i * dim + j]! - want)).toBeLessThan(1e-4 * (1 + Math.abs(want)));
      });
    }
  });
});

describe("embeddings", () => {
  it("sinusoidalEmbedding = [sin(t ω_k), cos(t ω_k)], ω_k = 10000^(−k/(dim/2 − 1))", () => {
    const ts = [0, 1, 17.5, 500, 999];
    const dim = 8;
    const half = dim / 2;
    const out = toHostSync(sinusoidalEmbedding(np.array(Float32Array.from(ts)), dim));
    expect(out.length).toBe(ts.length * dim);
    ts.forEach((t, i) => {
      for (let k = 0; k < half; k++) {
        const w = 10000 ** (-k / (half - 1));
        // float32 argument t·ω (ulp of 999 ≈ 6e-5) bounds the achievable accuracy
        expect(Math.abs(out[i * dim + k]! - Math.sin(t * w)), `sin t=${t} k=${k}`).toBeLessThan(3e-4);
        expect(Math.abs(out[i * dim + half + k]! - Math.cos(t * w)), `cos t=${t} k=${k}`).toBeLessThan(3e-4);
      }
    });
    expect(() => sinusoidalEmbedding(np.array(Float32Array.from(ts)), 5)).toThrow(/even/);
  });

  it("valueEmbedding: keep = 1 gives y W + b, keep = 0 gives the null embedding", () => {
    const W = [
      [1, -2, 0.5],
      [0.25, 3, -1],
    ]; // [k = 2, dim = 3]
    const bias = [0.1, 0.2, 0.3];
    const nul = [-7, 8, -9];
    const y = [
      [1, 2],
      [3, -1],
      [0.5, 0.5],
    ];
    const keep = [1, 0, 1];
    const p = { w: np.array(Float32Array.from(W.flat()), { shape: [2, 3] }), b: np.array(Float32Array.from(bias)), null: np.array(Float32Array.from(nul)) };
    const out = toHostSync(valueEmbedding(p, np.array(Float32Array.from(y.flat()), { shape: [3, 2] }), np.array(Float32Array.from(keep))));
    y.forEach((row, i) => {
      for (let j = 0; j < 3; j++) {
        const want = keep[i] ? row[0]! * W[0]![j]! + row[1]! * W[1]![j]! + bias[j]! : nul[j]!;
        expect(out[i * 3 + j]!).toBeCloseTo(want, 5);
      }
    });
  });

  it("valueFeatures: y, then sin and cos of 2π f_k y on the geometric grid from 1/16 to 4 cycles per unit (float64 reference)", () => {
    const y = [
      [0.3, -1.2],
      [2.75, 0],
    ];
    const K = 3;
    const f = [1 / 16, 1 / 2, 4]; // geometric: 1/16 · 64^(i/2)
    expect(Array.from(fourierFrequencies(K))).toEqual(f.map((v) => Math.fround(v)));
    expect(valueFeatureWidth(2, K)).toBe(14);
    expect(valueFeatureWidth(2)).toBe(2);
    const out = toHostSync(valueFeatures(np.array(Float32Array.from(y.flat()), { shape: [2, 2] }), K));
    expect(out.length).toBe(2 * 14);
    y.forEach((row, i) => {
      const want = [...row, ...row.flatMap((v) => f.map((fk) => Math.sin(2 * Math.PI * fk * v))), ...row.flatMap((v) => f.map((fk) => Math.cos(2 * Math.PI * fk * v)))];
      want.forEach((w, j) => expect(out[i * 14 + j]!, `row ${i}, feature ${j}`).toBeCloseTo(w, 5));
    });
    // Without frequencies the features are y itself.
    expect(Array.from(toHostSync(valueFeatures(np.array(Float32Array.from(y.flat()), { shape: [2, 2] }))))).toEqual(y.flat().map((v) => Math.fround(v)));
  });

  it("classEmbedding with a one-hot row picks that row of the table (last row = null class)", () => {
    const table = Array.from({ length: 4 }, (_, i) => [10 * i + 1, 10 * i + 2]); // 3 classes + null
    const labels = [2, 0, 3, 1];
    const oneHot = labels.flatMap((l) => [0, 1, 2, 3].map((c) => (c === l ? 1 : 0)));
    const out = toHostSync(classEmbedding({ table: np.array(Float32Array.from(table.flat()), { shape: [4, 2] }) }, np.array(Float32Array.from(oneHot), { shape: [4, 4] })));
    expect(Array.from(out)).toEqual(labels.flatMap((l) => table[l]!));
  });
});
