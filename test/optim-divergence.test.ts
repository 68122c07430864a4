/** The divergence rule (src/optim/divergence.ts) and the size limits checked before allocating (src/runners/resource-bounds.ts). */
import { describe, expect, it } from "vitest";
import { tree } from "../src/backend/jax.js";
import { keyFromSeed, scalar } from "../src/backend/index.js";
import { DIVERGENCE_FACTOR, DivergenceDetector, describeDivergence } from "../src/optim/divergence.js";
import { LossLog } from "../src/optim/loss-log.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { namedLeaves, type Params } from "../src/nn/params.js";
import { checkConfigMemory, denoiserParams, samplingBytes, trainingBytes, type NetworkSize } from "../src/runners/resource-bounds.js";

describe("divergence: non-finite, or |loss| > 1e4 × max(|L₁|, 1)", () => {
  it("takes the first loss as the reference and trips just above the factor, not at it", () => {
    const d = new DivergenceDetector();
    expect(d.observe(1, 2.5)).toBeUndefined();
    expect(d.observe(2, 2.5 * DIVERGENCE_FACTOR)).toBeUndefined();
    expect(d.observe(3, -2.5 * DIVERGENCE_FACTOR)).toBeUndefined();
    const hit = d.observe(4, 2.5 * DIVERGENCE_FACTOR * 1.001);
    expect(hit).toEqual({ step: 4, loss: 2.5 * DIVERGENCE_FACTOR * 1.001, reference: { step: 1, loss: 2.5 } });
    expect(describeDivergence(hit!)).toBe("the loss grew from 2.50 (step 1) to 2.50e+4");
  });

  it("a reference below 1 uses the floor 1, so a run starting near a perfect fit does not trip on noise", () => {
    const d = new DivergenceDetector();
    expect(d.observe(7, 1e-6)).toBeUndefined();
    expect(d.observe(8, 0.5 * DIVERGENCE_FACTOR)).toBeUndefined();
    expect(d.observe(9, 1.01 * DIVERGENCE_FACTOR)?.step).toBe(9);
  });

  it("a non-finite loss trips at once, even as the first one", () => {
    expect(new DivergenceDetector().observe(1, Number.NaN)).toEqual({ step: 1, loss: Number.NaN });
    const d = new DivergenceDetector();
    d.observe(1, 1);
    const inf = d.observe(2, Number.POSITIVE_INFINITY)!;
    expect(describeDivergence(inf)).toBe("the loss is Infinity");
  });

  it("LossLog stops at the first exploding loss it reads (a batch of 3), with the divergence", async () => {
    const seen: number[] = [];
    const log = new LossLog(3, (step, loss, d) => new Error(`step ${step} loss ${loss} ref ${d.reference?.loss}`));
    for (const [i, v] of [1.2, 0.9, 0.8].entries()) seen.push(...(await log.push(i + 1, scalar(v))).map((p) => p.step));
    expect(seen).toEqual([1, 2, 3]);
    await log.push(4, scalar(100));
    await log.push(5, scalar(2e4));
    await expect(log.push(6, scalar(3))).rejects.toThrow(/^step 5 loss 20000 ref 1\.2000000476837158$/);
  });
});

describe("memory estimates before allocating", () => {
  const net: NetworkSize = { dim: 3, hidden: 16, layers: 3, timeEmbedding: 8, fourier: 2 };

  it("denoiserParams counts exactly the residual MLP's parameters", () => {
    const p = initDenoiser(keyFromSeed(0), { kind: "mlp", dataDim: 3, hidden: 16, layers: 3, timeEmbedding: 8, residual: true, norm: "none", fourierFeatures: 2 });
    let count = 0;
    for (const leaf of namedLeaves(p as unknown as Params).values()) count += leaf.shape.reduce((a, b) => a * b, 1);
    tree.dispose(p);
    // input (3·(1 + 4) + 8 = 23 → 16), two 16 → 16 blocks, output 16 → 3, each with a bias.
    expect(count).toBe(24 * 16 + 2 * 17 * 16 + 17 * 3);
    expect(denoiserParams(net)).toBe(count);
  });

  it("training and sampling bytes follow the documented closed forms", () => {
    const P = 24 * 16 + 2 * 17 * 16 + 17 * 3;
    const width = 23 + 3 * 16;
    expect(trainingBytes(net, 64)).toBe(4 * (5 * P + 4 * 64 * width));
    expect(samplingBytes(net, 100)).toBe(4 * (P + 2 * 100 * width + 4 * 100 * 3));
  });

  it("names the key that asks for the most, with the estimate and the limit", () => {
    const issues: string[] = [];
    const add = (path: (string | number)[], message: string) => issues.push(`${path.join(".")}: ${message}`);
    const cfg = (hidden: number, layers: number, batchSize: number, samples: number, n = 100) => ({
      task: { kind: "toy2d", n },
      model: { hidden, layers, timeEmbedding: 8, fourierFeatures: 0, train: { batchSize } },
      sampling: { samples },
    });
    const limit = 1e6;
    checkConfigMemory(cfg(16, 2, 32, 100), add, limit);
    expect(issues).toEqual([]);
    checkConfigMemory(cfg(1000, 2, 32, 100), add, limit);
    checkConfigMemory(cfg(16, 2000, 32, 100), add, limit);
    checkConfigMemory(cfg(16, 2, 4000, 100), add, limit);
    checkConfigMemory(cfg(16, 2, 32, 10000), add, limit);
    checkConfigMemory(cfg(16, 2, 32, 100, 200000), add, limit);
    expect(issues.map((i) => i.split(":")[0])).toEqual(["model.hidden", "model.layers", "model.train.batchSize", "sampling.samples", "task"]);
    // hidden 1000, 2 layers on 2-D data: P = (2 + 8 + 1)·1000 + 1001·1000 + 1001·2, 5 copies of 4 bytes.
    const P = 11 * 1000 + 1001 * 1000 + 1001 * 2;
    expect(issues[0]).toContain(`about ${((20 * P) / 1e6).toPrecision(3)} MB`);
    expect(issues[0]).toContain("limit of 1.00 MB");
  });
});
