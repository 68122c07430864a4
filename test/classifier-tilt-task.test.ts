import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { mixtureMoments } from "../src/tasks/gaussian-mixture.js";
import { classifierTiltTask } from "../src/tasks/classifier-tilt.js";
import { parseConfig } from "../src/runners/config.js";

beforeAll(async () => {
  await ensureBackend();
});

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe("classifier-tilt task (fixtures.md §4)", () => {
  const task = classifierTiltTask({});

  it("γ = 0 gives back each context's mixture moments exactly", () => {
    for (let c = 0; c < task.contexts; c++) {
      for (const y of [0, 1]) {
        const t = task.target(c, y, 0);
        const ref = mixtureMoments(task.mixtures[c]!);
        expect(t.logZ).toBeCloseTo(0, 8);
        for (let i = 0; i < 2; i++) {
          expect(Math.abs(t.mean[i]! - ref.mean[i]!)).toBeLessThan(1e-8);
          for (let j = 0; j < 2; j++) expect(Math.abs(t.cov[i]![j]! - ref.cov[i]![j]!)).toBeLessThan(1e-8);
        }
      }
    }
  });

  it("the grid normaliser matches a Monte Carlo of p(y|x) under p(x|c), and the moments an importance-weighted estimate", async () => {
    const n = 100_000;
    for (let c = 0; c < task.contexts; c++) {
      const x = await task.sampleContext(keyFromSeed(10 + c), c, n);
      const p1 = task.labelProb(x);
      for (const y of [0, 1]) {
        const t = task.target(c, y);
        // γ = 1: Z = E[p(y|x)] = P(y | c).
        let s = 0, s2 = 0, wx0 = 0, wx1 = 0;
        for (let r = 0; r < n; r++) {
          const w = y === 1 ? p1[r]! : 1 - p1[r]!;
          s += w;
          s2 += w * w;
          wx0 += w * x.data[2 * r]!;
          wx1 += w * x.data[2 * r + 1]!;
        }
        const mc = s / n;
        const se = Math.sqrt(s2 / n - mc * mc) / Math.sqrt(n);
        expect(Math.abs(Math.exp(t.logZ) - mc)).toBeLessThan(4 * se);
        expect(Math.abs(t.classProb - mc)).toBeLessThan(4 * se);
        // Self-normalised importance weights p(y|x) on draws of p(x|c): E_{p*}[x].
        expect(Math.abs(t.mean[0]! - wx0 / s)).toBeLessThan(0.03);
        expect(Math.abs(t.mean[1]! - wx1 / s)).toBeLessThan(0.03);
      }
    }
    // The default benchmark: both classes have mass in every context (0.3 / 0.7 by design).
    expect(task.target(0, 1).classProb).toBeGreaterThan(0.25);
    expect(task.target(0, 1).classProb).toBeLessThan(0.35);
    expect(task.target(1, 1).classProb).toBeGreaterThan(0.65);
  });

  it("γ > 1 sharpens: Z = E[p(y|x)^γ] by Monte Carlo, and the exact accuracy rises with γ", async () => {
    const n = 50_000;
    const x = await task.sampleContext(keyFromSeed(3), 0, n);
    const p1 = task.labelProb(x);
    const g = 3;
    let s = 0;
    for (let r = 0; r < n; r++) s += p1[r]! ** g;
    const t = task.target(0, 1, g);
    expect(Math.abs(Math.exp(t.logZ) - s / n) / (s / n)).toBeLessThan(0.03);
    expect(task.target(0, 1, 0).exactAccuracy).toBeLessThan(0.35);
    expect(task.target(0, 1, 1).exactAccuracy).toBeGreaterThan(0.95);
    expect(task.target(0, 1, 3).exactAccuracy).toBeGreaterThan(task.target(0, 1, 1).exactAccuracy);
  });

  it("the exact sampler draws p*: moments and labeler accuracy match the quadrature", async () => {
    const t = task.target(1, 0);
    const n = 40_000;
    const s = await t.sample(keyFromSeed(7), n);
    let m0 = 0, m1 = 0;
    for (let r = 0; r < n; r++) {
      m0 += s.data[2 * r]! / n;
      m1 += s.data[2 * r + 1]! / n;
    }
    const se0 = Math.sqrt(t.cov[0][0] / n);
    const se1 = Math.sqrt(t.cov[1][1] / n);
    expect(Math.abs(m0 - t.mean[0])).toBeLessThan(4 * se0 + 1e-3);
    expect(Math.abs(m1 - t.mean[1])).toBeLessThan(4 * se1 + 1e-3);
    const cls = task.trueClass(s);
    const acc = cls.reduce((a, v) => a + (v === 0 ? 1 : 0), 0) / n;
    expect(Math.abs(acc - t.exactAccuracy)).toBeLessThan(4 * Math.sqrt(0.25 / n) + 1e-3);
  });

  it("log-density is normalised and equals γ log p(y|x) + log p(x|c) − log Z", () => {
    const t = task.target(0, 1);
    const G = t.grid.size;
    const pts = new Float32Array(2 * G * G);
    for (let j = 0; j < G; j++) for (let i = 0; i < G; i++) {
      pts[2 * (j * G + i)] = t.grid.xs[i]!;
      pts[2 * (j * G + i) + 1] = t.grid.ys[j]!;
    }
    const ld = t.logDensity(hostMatrix(G * G, 2, pts));
    let total = 0;
    for (const v of ld) total += Math.exp(v) * t.grid.hx * t.grid.hy;
    expect(total).toBeCloseTo(1, 3);
    // One point by hand: x = (1.5, 1) in context 0.
    const x = [1.5, 1];
    const prior = 0.3 * Math.exp(-0) / (2 * Math.PI * 0.25) + 0.7 * Math.exp(-(9 / (2 * 0.25))) / (2 * Math.PI * 0.25);
    const want = Math.log(sigmoid(4 * 1.5)) + Math.log(prior) - t.logZ;
    expect(t.logDensity(hostMatrix(1, 2, Float32Array.from(x)))[0]).toBeCloseTo(want, 5);
  });

  it("data, offline labels and errors", async () => {
    const d = await task.sampleData(keyFromSeed(1), 1001);
    expect(d.contexts.filter((c) => c === 0).length).toBe(501);
    const off = await task.offline(keyFromSeed(2), 20_000);
    const p = task.labelProb(off.x);
    const meanP = p.reduce((a, v) => a + v, 0) / p.length;
    const freq = off.y.reduce((a, v) => a + v, 0) / off.y.length;
    expect(Math.abs(freq - meanP)).toBeLessThan(4 * Math.sqrt(0.25 / 20_000));
    expect(() => task.target(2, 0)).toThrow(/context must be a whole number in 0\.\.1/);
    expect(() => task.target(0, 2)).toThrow(/label y must be 0 or 1/);
    expect(() => classifierTiltTask({ contexts: 3, mixtures: [[{ weight: 1, mean: [0, 0], std: 1 }]] })).toThrow(/mixtures has 1 entries but contexts is 3/);
    expect(classifierTiltTask({ contexts: 3 }).mixtures.length).toBe(3);
  });

  it("config: defaults form the benchmark; bad settings are one-line errors naming the key", () => {
    const err = (task: unknown) => {
      try {
        parseConfig({ task }, "cfg.json");
      } catch (e) {
        return (e as Error).message;
      }
      return "no error";
    };
    const one = [{ weight: 1, mean: [0, 0], std: 1 }];
    expect(err({ kind: "classifier-tilt", contexts: 3, mixtures: [one, one] })).toMatch(/^cfg\.json: task\.contexts: is 3 but mixtures has 2 entries/);
    expect(err({ kind: "classifier-tilt", contexts: 1, mixtures: [[{ weight: 1, mean: [0, 0, 0], std: 1 }]] })).toMatch(/^cfg\.json: task\.mixtures\[0\]\[0\]\.mean: has 3 coordinates; this task is 2-D/);
    expect(err({ kind: "classifier-tilt", labeler: { weights: [1] } })).toMatch(/^cfg\.json: task\.labeler\.weights/);
    expect(err({ kind: "classifier-tilt", sharp: 2 })).toMatch(/^cfg\.json: task: unknown key "sharp" \(allowed: .*"sharpness"/);
  });
});
