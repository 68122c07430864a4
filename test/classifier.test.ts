import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, grad, keyFromSeed, np, toHostSync, upload } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { classificationReport, confusionMatrix, expectedCalibrationError } from "../src/eval/classification.js";
import {
  classifierLogProbs,
  classifierProbs,
  fitClassifier,
  fitTemperature,
  temperatureNll,
  type ClassifierModel,
} from "../src/rewards/classifier.js";
import { loadClassifier, saveClassifier } from "../src/io/checkpoints/classifier.js";
import { classifierTiltTask } from "../src/tasks/classifier-tilt.js";
import { hostNormal, hostUniform } from "../src/tasks/host-random.js";

beforeAll(async () => {
  await ensureBackend();
});

describe("classification metrics", () => {
  it("match a hand computation (sklearn's definitions)", () => {
    // truth:     0 0 0 1 1 2
    // predicted: 0 1 0 1 2 2
    const r = classificationReport([0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 2, 2], 3);
    expect(r.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    expect(r.accuracy).toBeCloseTo(4 / 6, 12);
    // class 0: P = 1, R = 2/3, F1 = 0.8; class 1: P = 1/2, R = 1/2, F1 = 1/2; class 2: P = 1/2, R = 1, F1 = 2/3.
    expect(r.perClass[0]!.f1).toBeCloseTo(0.8, 12);
    expect(r.perClass[1]!.precision).toBeCloseTo(0.5, 12);
    expect(r.perClass[2]!.recall).toBeCloseTo(1, 12);
    expect(r.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
    // A class never true and never predicted is left out of the macro average.
    expect(classificationReport([0, 1], [0, 1], 3).macroF1).toBeCloseTo(1, 12);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/truth\[1\] = 3 is not a class in 0\.\.2/);
  });

  it("ECE with equal-width bins", () => {
    // Two rows at confidence 0.9 (one right), two at 0.6 (both right): |0.5 − 0.9|·2/4 + |1 − 0.6|·2/4 = 0.4.
    const probs = [0.9, 0.1, 0.1, 0.9, 0.6, 0.4, 0.4, 0.6];
    expect(expectedCalibrationError(probs, [0, 0, 0, 1], 2, 10)).toBeCloseTo(0.4, 12);
  });
});

describe("classifier p̂(y|x) with temperature scaling", async () => {
  it("temperature scaling recovers the temperature that generated the labels", async () => {
    const n = 20_000;
    const K = 3;
    const logits = (await hostNormal(keyFromSeed(1), n, K)).map((v) => 3 * v);
    const u = hostUniform(keyFromSeed(2), n, 1);
    const T0 = 2.5;
    const y = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const e = [0, 1, 2].map((k) => Math.exp(logits[r * K + k]! / T0));
      const s = e[0]! + e[1]! + e[2]!;
      y[r] = u[r]! < e[0]! / s ? 0 : u[r]! < (e[0]! + e[1]!) / s ? 1 : 2;
    }
    const T = fitTemperature(logits, y, K);
    expect(Math.abs(T - T0) / T0).toBeLessThan(0.05);
    expect(temperatureNll(logits, y, K, 1 / T)).toBeLessThan(temperatureNll(logits, y, K, 1));
  });

  const task = classifierTiltTask({});
  const off = await task.offline(keyFromSeed(5), 2000);
  let model: ClassifierModel;
  beforeAll(async () => {
    model = await fitClassifier(off.x, off.y, { classes: 2, layers: 1, hidden: 32, steps: 300, learningRate: 1e-2 }, keyFromSeed(6));
  });

  it("reaches near-Bayes held-out accuracy on the classifier-tilt offline set and is calibrated", async () => {
    const fit = model.fit!;
    expect(fit.heldOut!.n).toBe(400);
    // Bayes accuracy of the true labeler on fresh data: E[max(p, 1 − p)].
    const fresh = (await task.sampleData(keyFromSeed(7), 20_000)).x;
    const p = task.labelProb(fresh);
    const bayes = p.reduce((a, v) => a + Math.max(v, 1 - v), 0) / p.length;
    const q = await classifierProbs(model, fresh);
    let agree = 0;
    for (let r = 0; r < fresh.rows; r++) agree += (q[2 * r + 1]! > 0.5) === (p[r]! > 0.5) ? 1 : 0;
    expect(agree / fresh.rows).toBeGreaterThan(0.97);
    expect(fit.heldOut!.accuracy).toBeGreaterThan(bayes - 0.04);
    expect(fit.temperature).toBeGreaterThan(0.05);
    expect(fit.heldOut!.nll).toBeLessThanOrEqual(fit.heldOut!.nllUncalibrated + 1e-9);
    expect(fit.heldOut!.ece).toBeLessThan(0.06);
    // Calibrated probabilities near the true p(y=1|x) on average.
    let mad = 0;
    for (let r = 0; r < fresh.rows; r++) mad += Math.abs(q[2 * r + 1]! - p[r]!) / fresh.rows;
    expect(mad).toBeLessThan(0.05);
  });

  it("logProbs is differentiable jax code equal to the host probabilities, with the right gradient", async () => {
    const pts = hostMatrix(3, 2, Float32Array.from([0.2, 1, -1.5, -1, 1.4, 0.3]));
    const lp = toHostSync(classifierLogProbs(model)(upload(pts.data, 3, 2)));
    const q = await classifierProbs(model, pts);
    for (let i = 0; i < 6; i++) expect(lp[i]!).toBeCloseTo(Math.log(q[i]!), 4);
    const f = (x: ReturnType<typeof upload>) => classifierLogProbs(model)(x).slice([], 1).sum();
    const g = toHostSync(grad(f)(upload(pts.data, 3, 2)));
    const h = 1e-2;
    for (let r = 0; r < 3; r++) {
      for (let d = 0; d < 2; d++) {
        const plus = Float32Array.from(pts.data);
        const minus = Float32Array.from(pts.data);
        plus[2 * r + d]! += h;
        minus[2 * r + d]! -= h;
        const fd = (Math.log((await classifierProbs(model, hostMatrix(3, 2, plus)))[2 * r + 1]!) - Math.log((await classifierProbs(model, hostMatrix(3, 2, minus)))[2 * r + 1]!)) / (2 * h);
        expect(Math.abs(g[2 * r + d]! - fd)).toBeLessThan(0.02 * Math.max(1, Math.abs(fd)));
      }
    }
    expect(() => classifierLogProbs(model)(np.zeros([2, 3]))).toThrow(/expected x of shape \[n, 2\], got \[2, 3\]/);
  });

  it("refuses labels outside 0..classes−1, and saves / loads exactly", async () => {
    await expect(fitClassifier(off.x, Int32Array.from(off.y, (v, i) => (i === 7 ? 2 : v)), { classes: 2 }, keyFromSeed(1))).rejects.toThrow(
      /label 7 is 2; labels must be whole numbers in 0\.\.1/,
    );
    const dir = mkdtempSync(join(tmpdir(), "rewardiff-classifier-"));
    const path = join(dir, "c.safetensors");
    saveClassifier(path, model, { columns: ["x1", "x2"], label: "y" });
    const back = loadClassifier(path);
    expect(back.model.temperature).toBe(model.temperature);
    expect(Array.from((await classifierProbs(back.model, off.x)).subarray(0, 20))).toEqual(Array.from((await classifierProbs(model, off.x)).subarray(0, 20)));
    const side = join(dir, "c.json");
    const j = JSON.parse(readFileSync(side, "utf8"));
    j.config.model.spec.hidden = 16;
    writeFileSync(side, JSON.stringify(j));
    expect(() => loadClassifier(path)).toThrow(/tensor "layers\.0\.w" has shape \[4, 32\], expected \[4, 16\]/);
  });
});
