/**
 * The low-rank score network of 2307.07055, s(x, y, t) = (V ψ(Vᵀx, y, t) − x)/h(t): its structure
 * holds exactly for any weights (x̂_0 ∈ span V; the off-span part of ε̂ is (I − VVᵀ)x/√(1−ᾱ), i.e. the
 * score's off-span part is −(I − VVᵀ)x/h(t)), V stays orthonormal through training, the subspace
 * estimate converges to span A, and conditional low-rank models round-trip through checkpoints.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, splitKey, toHostSync, upload } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { modelEps } from "../src/diffusion/model.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { conditionalModel, trainConditional } from "../src/training/rcgdm.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { orthonormalizeBasis, subspaceBasis } from "../src/nn/low-rank-score.js";
import { loadModel, saveModel } from "../src/io/checkpoints/model-files.js";
import { makeLinearSubspace, sampleLinearSubspace, subspaceAngle } from "../src/tasks/linear-subspace.js";
import { defaultTrainConfig } from "../src/training/trainer.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-lowrank-"));
beforeAll(ensureBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const D = 10;
const d = 3;

function gram(v: { rows: number; cols: number; data: Float32Array }): number[][] {
  return Array.from({ length: v.cols }, (_, i) =>
    Array.from({ length: v.cols }, (_, j) => {
      let s = 0;
      for (let r = 0; r < v.rows; r++) s += v.data[r * v.cols + i]! * v.data[r * v.cols + j]!;
      return s;
    }),
  );
}

describe("low-rank network structure (any weights)", () => {
  const model = conditionalModel(D, 1, { network: "low-rank", rank: d, hidden: 16, layers: 2, timeEmbedding: 8, conditionEmbedding: 4, schedule: { kind: "linear", steps: 100 } });

  it("predicts x̂_0 (prediction x0) and starts with an orthonormal V", async () => {
    expect(model.prediction).toBe("x0");
    const p = initDenoiser(keyFromSeed(1), model.network);
    const V = await subspaceBasis(p);
    expect([V.rows, V.cols]).toEqual([D, d]);
    gram(V).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 5)));
  });

  it("the off-span part of ε̂ is exactly (I − VVᵀ)x_t/√(1−ᾱ_t): s = (Vψ − x)/h(t) with h = 1 − ᾱ", async () => {
    const p = initDenoiser(keyFromSeed(2), model.network);
    const V = await subspaceBasis(p);
    const sched = makeSchedule(model.schedule);
    const n = 6;
    const xs = Float32Array.from({ length: n * D }, (_, i) => Math.sin(1.7 * i) * 2);
    for (const idx of [5, 50, 99]) {
      const ab = sched.alphaBars[idx]!;
      const eps = modelEps(model, p, (rows) => ({ kind: "value", value: np.full([rows, 1], 0.7), keep: np.ones([rows]) }));
      const e = toHostSync(eps(upload(xs, n, D), { index: idx, alphaBar: ab }));
      for (let r = 0; r < n; r++) {
        const x = xs.subarray(r * D, (r + 1) * D);
        const er = e.subarray(r * D, (r + 1) * D);
        // (I − VVᵀ) applied to ε̂ and to x
        const proj = (u: ArrayLike<number>) => {
          const z = Array.from({ length: d }, (_, k) => Array.from(u).reduce((s, ui, i) => s + V.data[i * d + k]! * ui, 0));
          return Array.from(u, (ui, i) => ui - z.reduce((s, zk, k) => s + V.data[i * d + k]! * zk, 0));
        };
        const offE = proj(er);
        const offX = proj(x);
        offE.forEach((v, i) => expect(v).toBeCloseTo(offX[i]! / Math.sqrt(1 - ab), 3));
      }
    }
  });

  it("orthonormalizeBasis restores VᵀV = I and keeps span V", async () => {
    const p = initDenoiser(keyFromSeed(3), model.network);
    const V0 = await subspaceBasis(p);
    // A non-orthonormal basis of the same span: V M with M = [[2, 1, 0], [0, 1, 0], [0.5, 0, 3]].
    const M = [
      [2, 1, 0],
      [0, 1, 0],
      [0.5, 0, 3],
    ];
    const skew = Float32Array.from({ length: D * d }, (_, t) => {
      const i = Math.floor(t / d);
      const j = t % d;
      return [0, 1, 2].reduce((s, k) => s + V0.data[i * d + k]! * M[k]![j]!, 0);
    });
    p.v!.dispose();
    p.v = upload(skew, D, d);
    const q = await orthonormalizeBasis(p);
    const V1 = await subspaceBasis(q);
    gram(V1).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 5)));
    expect(subspaceAngle(V1, V0)).toBeLessThan(1e-5);
  });
});

describe("training the low-rank network", () => {
  it("learns span A from random init (subspace angle from ≈ √(2d) to < 0.15), V orthonormal; checkpoint round-trip", async () => {
    const [k1, k2, k3] = splitKey(keyFromSeed(5), 3);
    const sub = await makeLinearSubspace(k1!, { ambientDim: D, latentDim: d });
    const x = await sampleLinearSubspace(k2!, sub, 4000);
    const y = hostMatrix(4000, 1, Float32Array.from({ length: 4000 }, (_, r) => sub.theta.reduce((s, t, i) => s + t * x.data[r * D + i]!, 0)));
    const model = conditionalModel(D, 1, { network: "low-rank", rank: d, hidden: 32, layers: 2, timeEmbedding: 8, conditionEmbedding: 8, schedule: { kind: "linear", steps: 200 } });
    const p0 = initDenoiser(keyFromSeed(99), model.network);
    const before = subspaceAngle(await subspaceBasis(p0), sub.A);
    expect(before).toBeGreaterThan(1.2);
    const train = { ...defaultTrainConfig, steps: 800, batchSize: 128, learningRate: 5e-3, lrSchedule: "constant" as const };
    const st = await trainConditional(model, train, x, y, k3!, { dropout: 0.1 });
    const V = await subspaceBasis(st.params);
    gram(V).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 5)));
    const after = subspaceAngle(await subspaceBasis(st.ema), sub.A);
    expect(after).toBeLessThan(0.15);

    const path = join(dir, "lowrank.safetensors");
    await saveModel(path, { model, train, columns: Array.from({ length: D }, (_, i) => `x${i + 1}`), data: "test", conditioning: { names: ["reward"], source: "pseudo-labels", dropout: 0.1 } }, st);
    const back = loadModel(path);
    expect(back.meta.model.network).toMatchObject({ kind: "low-rank", rank: d, condition: { kind: "value", dim: 1 } });
    expect(back.meta.conditioning?.names).toEqual(["reward"]);
    const t = { index: 30, alphaBar: makeSchedule(model.schedule).alphaBars[30]! };
    const cond = (rows: number) => ({ kind: "value" as const, value: np.full([rows, 1], 1.0), keep: np.ones([rows]) });
    const xs = upload(x.data.subarray(0, 5 * D), 5, D);
    const a = toHostSync(modelEps(model, st.ema, cond)(xs.ref, t));
    const b = toHostSync(modelEps(back.meta.model, back.ema, cond)(xs, t));
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});
