/**
 * The plain MLP of the reward regressor and the classifier (src/nn/mlp.ts) reads inputs padded with zero
 * columns to a multiple of 4 (jax-js's SIMD path):
 *  - the first weight's padding rows start at zero and its other rows are the draws of the unpadded layer;
 *  - after fitting (AdamW with weight decay) the padding rows are still exactly zero;
 *  - the same weights without the padding rows (the layout earlier releases saved) give the same
 *    predictions, on the host path and as differentiable jax code, and load from files;
 *  - the device standardisation into the padded width equals (x − x̄)/s_x recomputed in float64.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, splitKey, toHostSync, tree } from "../src/backend/index.js";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import { loadClassifier, saveClassifier } from "../src/io/checkpoints/classifier.js";
import { loadRewardModel, saveRewardModel } from "../src/io/checkpoints/reward.js";
import { initDense } from "../src/nn/dense.js";
import { initMlp, mlpInputWidth, padColumns, standardiseInto } from "../src/nn/mlp.js";
import { classifierLogProbs, classifierProbs, fitClassifier, type ClassifierModel } from "../src/rewards/classifier.js";
import { fitMlp, mlpRewardFn, predictMlp } from "../src/rewards/mlp.js";
import type { HostTensor, MlpModel } from "../src/rewards/types.js";

beforeAll(ensureBackend);
const dir = mkdtempSync(join(tmpdir(), "rewardiff-mlp-width-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n rows of 2-D data with a non-linear label, deterministic. */
function data(n: number): { x: HostMatrix; y: Float64Array; labels: Int32Array } {
  const x = Float32Array.from({ length: 2 * n }, (_, i) => 3 + 2 * Math.sin(i * 1.37 + 0.2));
  const y = Float64Array.from({ length: n }, (_, r) => Math.sin(x[2 * r]!) + 0.5 * x[2 * r + 1]!);
  const labels = Int32Array.from(y, (v) => (v > 2.2 ? 1 : 0));
  return { x: hostMatrix(n, 2, x), y, labels };
}

/** The first weight's padding rows (D..W−1), as saved. */
const paddingRows = (t: HostTensor, D: number) => Array.from(t.data.subarray(D * t.shape[1]!));
/** The tensors as earlier releases saved them: the first weight without its padding rows. */
function unpadded(tensors: Record<string, HostTensor>, first: string, D: number): Record<string, HostTensor> {
  const t = tensors[first]!;
  return { ...tensors, [first]: { shape: [D, t.shape[1]!], data: t.data.slice(0, D * t.shape[1]!) } };
}

describe("MLP input width (multiple of 4)", () => {
  it("pads the first weight with zero rows below the unpadded draws", () => {
    expect([1, 2, 3, 4, 5, 9].map(mlpInputWidth)).toEqual([4, 4, 4, 4, 8, 12]);
    for (const layers of [2, 0]) {
      const p = initMlp(keyFromSeed(4), 2, 8, layers, 3);
      const first = layers > 0 ? p.layers[0]! : p.out;
      expect(first.w.shape).toEqual([4, layers > 0 ? 8 : 3]);
      const w = toHostSync(first.w.ref);
      const ref = initDense(splitKey(keyFromSeed(4), layers + 1)[0]!, 2, layers > 0 ? 8 : 3);
      expect(Array.from(w.subarray(0, ref.w.shape[0]! * ref.w.shape[1]!))).toEqual(Array.from(toHostSync(ref.w)));
      ref.b.dispose();
      expect(Array.from(w.subarray(2 * ref.w.shape[1]!)).every((v) => v === 0)).toBe(true);
      tree.dispose(p);
    }
    expect(Array.from(padColumns(Float32Array.from([1, 2, 3, 4, 5, 6]), 3, 4))).toEqual([1, 2, 3, 0, 4, 5, 6, 0]);
  });

  it("standardises into the padded width: (x − x̄)/s_x in float64, zeros beyond D", () => {
    const mean = [1000.5, -3];
    const std = [0.25, 7];
    const xs = [1000.75, 2, 999.5, -10, 1003, 0.5];
    const u = toHostSync(standardiseInto(np.array(Float32Array.from(xs), { shape: [3, 2] }), mean, std, 4));
    for (let r = 0; r < 3; r++) {
      for (let j = 0; j < 4; j++) {
        const want = j < 2 ? (Math.fround(xs[2 * r + j]!) - Math.fround(mean[j]!)) / std[j]! : 0;
        expect(Math.abs(u[r * 4 + j]! - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
      }
    }
  });

  it("a fitted reward MLP keeps its padding rows at zero and predicts as its unpadded (earlier-release) copy", async () => {
    const { x, y } = data(200);
    const m = await fitMlp(x, y, { kind: "mlp", hidden: 16, layers: 2, l2: 1e-2, steps: 60, learningRate: 1e-2, batchSize: 64 }, keyFromSeed(2));
    expect(m.tensors["layers.0.w"]!.shape).toEqual([4, 16]);
    expect(paddingRows(m.tensors["layers.0.w"]!, 2).every((v) => v === 0)).toBe(true);
    const old: MlpModel = { ...m, tensors: unpadded(m.tensors, "layers.0.w", 2) };
    const path = join(dir, "old-reward.safetensors");
    saveRewardModel(path, old, { columns: ["a", "b"], label: "y" });
    const loaded = loadRewardModel(path).model as MlpModel;
    expect(loaded.tensors["layers.0.w"]!.shape).toEqual([2, 16]);
    const a = await predictMlp(m, x);
    const b = await predictMlp(loaded, x);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(a[i]!)));
    const xs = np.array(x.data.slice(0, 40), { shape: [20, 2] });
    const fa = toHostSync(mlpRewardFn(m)(xs.ref));
    const fb = toHostSync(mlpRewardFn(loaded)(xs));
    for (let i = 0; i < 20; i++) {
      expect(Math.abs(fa[i]! - fb[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(fa[i]!)));
      expect(Math.abs(fa[i]! - a[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(a[i]!)));
    }
  });

  it("a fitted classifier keeps its padding rows at zero and predicts as its unpadded (earlier-release) copy", async () => {
    const { x, labels } = data(300);
    for (const layers of [1, 0]) {
      const m = await fitClassifier(x, labels, { classes: 2, hidden: 8, layers, steps: 60, learningRate: 2e-2, batchSize: 64, holdout: 0.2 }, keyFromSeed(3));
      const first = layers > 0 ? "layers.0.w" : "out.w";
      expect(m.tensors[first]!.shape[0]).toBe(4);
      expect(paddingRows(m.tensors[first]!, 2).every((v) => v === 0)).toBe(true);
      const old: ClassifierModel = { ...m, tensors: unpadded(m.tensors, first, 2) };
      const path = join(dir, `old-classifier-${layers}.safetensors`);
      saveClassifier(path, old, { columns: ["a", "b"], label: "y" });
      const loaded = loadClassifier(path).model;
      expect(loaded.tensors[first]!.shape[0]).toBe(2);
      const pa = await classifierProbs(m, x);
      const pb = await classifierProbs(loaded, x);
      for (let i = 0; i < pa.length; i++) expect(Math.abs(pa[i]! - pb[i]!)).toBeLessThanOrEqual(1e-6);
      const xs = np.array(x.data.slice(0, 40), { shape: [20, 2] });
      const la = toHostSync(classifierLogProbs(m)(xs.ref));
      const lb = toHostSync(classifierLogProbs(loaded)(xs));
      for (let i = 0; i < la.length; i++) {
        expect(Math.abs(la[i]! - lb[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(la[i]!)));
        expect(Math.abs(Math.exp(la[i]!) - pa[i]!)).toBeLessThanOrEqual(1e-5);
      }
    }
  });
});
