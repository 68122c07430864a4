/**
 * Reward learning (2307.07055 step 1) and pseudo-labelling (step 2). References are closed forms or
 * the generating functions themselves: exact recovery of a noiseless linear reward, the normal
 * equations solved here independently, R² ≈ 1 − σ² for labels with noise σ on a unit-variance reward,
 * a known non-linear function for the MLP, and the noise law of the pseudo-labels.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, splitKey, toHostSync, upload } from "../src/backend/index.js";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import { loadRewardModel, saveRewardModel } from "../src/io/checkpoints/reward.js";
import { fitReward, predictReward, pseudoLabel, rewardModelPlugin } from "../src/rewards/fit.js";
import { rewardGrad } from "../src/rewards/reward.js";
import { fitRidge } from "../src/rewards/ridge.js";
import type { RidgeModel } from "../src/rewards/types.js";
import { hostNormal } from "../src/tasks/host-random.js";
import { makeLinearSubspace, noisyLabels, oracleReward, sampleLinearSubspace } from "../src/tasks/linear-subspace.js";
import { invert } from "./helpers/linalg.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-rewards-"));
beforeAll(ensureBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function gaussianRows(seed: number, n: number, D: number, scale = 1): Promise<HostMatrix> {
  return hostMatrix(n, D, (await hostNormal(keyFromSeed(seed), n, D)).map((v) => v * scale));
}

describe("ridge (closed form)", () => {
  it("recovers a noiseless linear reward θᵀx + b exactly (λ → 0)", async () => {
    const theta = [0.5, -1.25, 2, 0, 0.75];
    const x = await gaussianRows(1, 60, 5);
    const y = Float32Array.from({ length: 60 }, (_, r) => theta.reduce((s, t, j) => s + t * x.data[r * 5 + j]!, 0.3));
    const m = fitRidge(x, y, { kind: "ridge", l2: 1e-10 });
    m.weights.forEach((w, j) => expect(w).toBeCloseTo(theta[j]!, 4));
    expect(m.bias).toBeCloseTo(0.3, 4);
  });

  it("solves (X_cᵀX_c + λnI) θ = X_cᵀy_c: agrees with the normal equations solved independently", async () => {
    const x = await gaussianRows(2, 30, 4);
    const y = Float32Array.from(await hostNormal(keyFromSeed(3), 30, 1));
    const lam = 0.3;
    const m = fitRidge(x, y, { kind: "ridge", l2: lam });
    const xm = [0, 1, 2, 3].map((j) => Array.from({ length: 30 }, (_, r) => x.data[r * 4 + j]!).reduce((s, v) => s + v, 0) / 30);
    const ym = Array.from(y).reduce((s, v) => s + v, 0) / 30;
    const G = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? lam * 30 : 0)));
    const rhs = [0, 0, 0, 0];
    for (let r = 0; r < 30; r++) {
      for (let i = 0; i < 4; i++) {
        rhs[i]! += (x.data[r * 4 + i]! - xm[i]!) * (y[r]! - ym);
        for (let j = 0; j < 4; j++) G[i]![j]! += (x.data[r * 4 + i]! - xm[i]!) * (x.data[r * 4 + j]! - xm[j]!);
      }
    }
    const inv = invert(G);
    const theta = inv.map((row) => row.reduce((s, v, j) => s + v * rhs[j]!, 0));
    m.weights.forEach((w, j) => expect(w).toBeCloseTo(theta[j]!, 8));
    expect(m.bias).toBeCloseTo(ym - theta.reduce((s, t, j) => s + t * xm[j]!, 0), 8);
  });

  it("on the linear-subspace task: θ̂ lies in span A, w = Aᵀθ̂ ≈ β, held-out R² ≈ 1 − σ² and RMSE ≈ σ", async () => {
    const D = 32;
    const d = 6;
    const [k1, k2, k3, k4] = splitKey(keyFromSeed(4), 4);
    const sub = await makeLinearSubspace(k1!, { ambientDim: D, latentDim: d });
    const x = await sampleLinearSubspace(k2!, sub, 2000);
    const sigma = 0.1;
    const y = await noisyLabels(k3!, oracleReward(sub, x), sigma);
    const { model, report } = await fitReward(x, y, { kind: "ridge", l2: 1e-3 }, k4!, { holdout: 0.25 });
    const m = model as RidgeModel;
    const A = sub.A.data;
    const w = Array.from({ length: d }, (_, k) => m.weights.reduce((s, t, i) => s + A[i * d + k]! * t, 0));
    const inSpan = Array.from({ length: D }, (_, i) => w.reduce((s, wk, k) => s + A[i * d + k]! * wk, 0));
    const offNorm = Math.hypot(...m.weights.map((t, i) => t - inSpan[i]!));
    expect(offNorm).toBeLessThan(1e-3);
    w.forEach((wk, k) => expect(Math.abs(wk - sub.beta[k]!)).toBeLessThan(0.02));
    expect(report.train.n).toBe(1500);
    expect(report.heldOut!.n).toBe(500);
    // R² = 1 − σ²/(1 + σ²) for a N(0, 1) reward; RMSE ≈ σ (± a few sampling errors).
    expect(report.heldOut!.r2!).toBeGreaterThan(0.985);
    expect(Math.abs(report.heldOut!.rmse - sigma)).toBeLessThan(0.012);
  });

  it("refuses a singular system (λ = 0 with fewer rows than columns) with a clear message", async () => {
    const x = await gaussianRows(5, 6, 10);
    const y = new Float32Array(6);
    await expect(fitReward(x, y, { kind: "ridge", l2: 0 }, keyFromSeed(0), { holdout: 0 })).rejects.toThrow(/l2 = 0 needs more training rows \(6\) than columns \(10\)/);
  });
});

describe("MLP regressor and deep ensemble", async () => {
  const target = (u: number, v: number) => Math.sin(2 * u) + 0.5 * v * v;
  const x = await gaussianRows(6, 600, 2);
  const y = Float32Array.from({ length: 600 }, (_, r) => target(x.data[2 * r]!, x.data[2 * r + 1]!));
  const spec = { kind: "mlp" as const, hidden: 64, layers: 2, l2: 0, steps: 800, learningRate: 5e-3, batchSize: 128 };

  it("fits a known non-linear function: held-out RMSE far below the label sd, R² > 0.95", async () => {
    const { report } = await fitReward(x, y, spec, keyFromSeed(7), { holdout: 0.2 });
    expect(report.heldOut!.r2!).toBeGreaterThan(0.95);
    // The check can fail: a ridge fit of the same data is far worse.
    const lin = await fitReward(x, y, { kind: "ridge", l2: 1e-3 }, keyFromSeed(7), { holdout: 0.2 });
    expect(lin.report.heldOut!.r2!).toBeLessThan(0.6);
  });

  it("an ensemble's prediction is its members' mean; the spread grows far from the data", async () => {
    const { model } = await fitReward(x, y, { ...spec, kind: "ensemble", members: 4, steps: 400 }, keyFromSeed(8), { holdout: 0 });
    if (model.kind !== "ensemble") throw new Error("expected an ensemble");
    const probe = hostMatrix(4, 2, Float32Array.from([0, 0, 0.5, -0.5, 8, 8, -9, 7]));
    const p = await predictReward(model, probe);
    const members: Float32Array[] = [];
    for (const mm of model.members) members.push((await predictReward(mm, probe)).mean);
    for (let i = 0; i < 4; i++) {
      expect(p.mean[i]).toBeCloseTo(members.reduce((s, m) => s + m[i]!, 0) / members.length, 4);
    }
    const near = Math.max(p.spread![0]!, p.spread![1]!);
    const far = Math.min(p.spread![2]!, p.spread![3]!);
    expect(far).toBeGreaterThan(3 * near);
  });

  it("the MLP plug-in is differentiable: ∇f̂ matches central differences", async () => {
    const { model } = await fitReward(x, y, { ...spec, steps: 200 }, keyFromSeed(9), { holdout: 0 });
    const plug = rewardModelPlugin(model);
    const pts = Float32Array.from([0.3, -0.7, -1.1, 0.4]);
    const g = toHostSync(rewardGrad(plug)(upload(pts, 2, 2)));
    const h = 1e-2;
    for (let i = 0; i < 4; i++) {
      const up = Float32Array.from(pts);
      const dn = Float32Array.from(pts);
      up[i]! += h;
      dn[i]! -= h;
      const fu = (await predictReward(model, hostMatrix(2, 2, up))).mean;
      const fd = (await predictReward(model, hostMatrix(2, 2, dn))).mean;
      const row = Math.floor(i / 2);
      expect(g[i]!).toBeCloseTo((fu[row]! - fd[row]!) / (2 * h), 2);
    }
  });
});

describe("checks on the labeled data", () => {
  it("too few rows for the model, NaN labels and mismatched lengths are one-line errors", async () => {
    const x = await gaussianRows(10, 6, 3);
    await expect(fitReward(x, new Float32Array(6), { kind: "mlp", hidden: 8, layers: 1, l2: 0, steps: 1, learningRate: 1e-3, batchSize: 4 }, keyFromSeed(0))).rejects.toThrow(
      /6 labeled row\(s\) are too few for a mlp reward model: 1 held out .* leaves 5 to fit on \(it needs at least 8 rows to fit on\)/,
    );
    const y = Float32Array.from([1, 2, Number.NaN, 4, 5, 6]);
    await expect(fitReward(x, y, { kind: "ridge", l2: 1e-3 }, keyFromSeed(0))).rejects.toThrow(/label of row 3 is not a finite number/);
    await expect(fitReward(x, new Float32Array(5), { kind: "ridge", l2: 1e-3 }, keyFromSeed(0))).rejects.toThrow(/5 labels for 6 rows/);
    await expect(fitReward(hostMatrix(1, 3), new Float32Array(1), { kind: "ridge", l2: 1e-3 }, keyFromSeed(0))).rejects.toThrow(/1 labeled row\(s\) are too few for a ridge reward model/);
  });
});

describe("pseudo-labels ŷ = f̂(x) + ν ξ", () => {
  it("have residuals with mean 0 and sd ν (within sampling error)", async () => {
    const m: RidgeModel = { kind: "ridge", dim: 3, spec: { kind: "ridge", l2: 0 }, weights: [1, -2, 0.5], bias: 0.1 };
    const x = await gaussianRows(11, 20000, 3);
    const nu = 0.3;
    const yh = await pseudoLabel(m, x, nu, keyFromSeed(12));
    const f = (await predictReward(m, x)).mean;
    const r = Array.from(yh, (v, i) => v - f[i]!);
    const mean = r.reduce((s, v) => s + v, 0) / r.length;
    const sd = Math.sqrt(r.reduce((s, v) => s + (v - mean) ** 2, 0) / (r.length - 1));
    expect(Math.abs(mean)).toBeLessThan(4 * (nu / Math.sqrt(r.length)));
    expect(Math.abs(sd - nu)).toBeLessThan(4 * nu / Math.sqrt(2 * r.length));
    await expect(pseudoLabel(m, x, -1, keyFromSeed(0))).rejects.toThrow(/ν must be a finite number ≥ 0/);
  });
});

describe("reward-model files", () => {
  it("ridge, MLP and ensemble round-trip with identical predictions; a diffusion model is refused", async () => {
    const x = await gaussianRows(13, 40, 3);
    const y = Float32Array.from({ length: 40 }, (_, r) => x.data[3 * r]! - x.data[3 * r + 2]!);
    const probe = await gaussianRows(14, 7, 3);
    const small = { hidden: 8, layers: 2, l2: 0, steps: 20, learningRate: 1e-2, batchSize: 16 };
    for (const spec of [{ kind: "ridge" as const, l2: 1e-3 }, { kind: "mlp" as const, ...small }, { kind: "ensemble" as const, members: 2, ...small }]) {
      const { model, report } = await fitReward(x, y, spec, keyFromSeed(15), { holdout: 0.25 });
      const path = join(dir, `${spec.kind}.safetensors`);
      saveRewardModel(path, model, { columns: ["a", "b", "c"], label: "y", fit: report });
      const back = loadRewardModel(path);
      expect(back.meta.columns).toEqual(["a", "b", "c"]);
      expect(back.meta.fit?.heldOut?.n).toBe(10);
      expect(Array.from((await predictReward(back.model, probe)).mean)).toEqual(Array.from((await predictReward(model, probe)).mean));
    }
    const sidecar = join(dir, "ridge.json");
    const j = JSON.parse(readFileSync(sidecar, "utf8"));
    j.config.kind = "rewardiff-model";
    writeFileSync(sidecar, JSON.stringify(j));
    expect(() => loadRewardModel(join(dir, "ridge.safetensors"))).toThrow(/config\.kind: .*diffusion model, not a reward model/);
  });
});
