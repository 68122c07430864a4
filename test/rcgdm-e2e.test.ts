/**
 * Issue 3's acceptance run, end to end through the experiment runner (`rewardiff run` with method
 * "rcgdm"): linear subspace D = 32, d = 8, label noise 0.1, ν = 0.1; ridge reward → pseudo-labels →
 * conditional MLP diffusion → samples at targets inside (|a| ≤ 1) and far outside (a ≥ 4) the support.
 * References are the exact E[f*(x) | ŷ = a] of fixtures.md §2 (computed from the fitted θ̂ in the
 * report) and the geometry of the task (off-support 0 for the exact law). ~30–60 s on 2 cores.
 * The size of the fall of the ratio f* ÷ a beyond the support varies with the seed at this scale (measured with this
 * config: 1.000 → 0.931 for seed 0, 0.968 → 0.896 seed 1, 1.002 → 0.947 seed 2, but only
 * 0.988 → 0.982 seed 3); docs/results/rcgdm.md measures it over 5 seeds at D = 64.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend } from "../src/backend/index.js";
import { parseConfig } from "../src/runners/config.js";
import { runExperiment } from "../src/runners/experiment.js";
import type { Report, ResultRow } from "../src/report/types.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-rcgdm-e2e-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let report: Report;
let rows: Map<number, ResultRow>;

beforeAll(async () => {
  await ensureBackend();
  const cfg = parseConfig(
    {
      seed: 0,
      task: { kind: "linear-subspace", ambientDim: 32, latentDim: 8, unlabeled: 10000, labeled: 800, labelNoise: 0.1, pseudoLabelNoise: 0.1 },
      reward: { kind: "ridge" },
      model: { hidden: 128, layers: 3, timeEmbedding: 32, train: { steps: 1500, batchSize: 256, learningRate: 4e-3 } },
      method: { kind: "rcgdm" },
      sampling: { sampler: "ddim", steps: 50, eta: 1, samples: 600, targets: [-1, 0.5, 1, 4, 8] },
    },
    "e2e",
  );
  const res = await runExperiment(cfg, join(dir, "out"));
  report = JSON.parse(readFileSync(join(dir, "out", "report.json"), "utf8")) as Report;
  expect(report.results).toEqual(JSON.parse(JSON.stringify(res.report.results)));
  rows = new Map(report.results.map((r) => [r.target!, r]));
}, 240_000);

describe("rcgdm end to end on a linear subspace (D = 32, d = 8)", () => {
  it("report.json rows follow contract.md: target, reward, proxyReward, offSupport, reference", () => {
    expect(report.results).toHaveLength(5);
    for (const r of report.results) {
      expect(r.method).toBe("rcgdm");
      expect(r.alpha).toBeNull();
      expect(r.samples).toBe(600);
      expect(Object.keys(r.reward!).sort()).toEqual(["mean", "std"]);
      expect(Object.keys(r.proxyReward!).sort()).toEqual(["mean", "std"]);
      expect(typeof r.offSupport!.mean).toBe("number");
      expect(typeof r.reference!.rewardMean).toBe("number");
    }
    const section = report.rcgdm as { reward: { fit: { heldOut: { r2: number } } }; pseudoLabelNoise: number };
    expect(section.pseudoLabelNoise).toBe(0.1);
    expect(section.reward.fit.heldOut.r2).toBeGreaterThan(0.97);
    for (const f of ["report.html", "model-rcgdm.safetensors", "model-rcgdm-reward.safetensors", "samples-rcgdm-a=4.csv"]) {
      expect(existsSync(join(dir, "out", f)), f).toBe(true);
    }
    const html = readFileSync(join(dir, "out", "report.html"), "utf8");
    expect(html).toContain("reward vs target");
    expect(html).toContain("off-support deviation vs target");
  });

  it("the reference is E[f*|ŷ = a] ≈ a/(1+ν²) (the fitted reward is close to the oracle)", () => {
    for (const [a, r] of rows) expect(Math.abs(r.reference!.rewardMean - a / 1.01)).toBeLessThan(0.03 * Math.abs(a) + 0.02);
  });

  it("inside the support (|a| ≤ 1) the mean ground-truth reward is within 10% of the exact reference", () => {
    for (const a of [-1, 0.5, 1]) {
      const r = rows.get(a)!;
      expect(Math.abs(r.reward!.mean - r.reference!.rewardMean), `a = ${a}: ${r.reward!.mean} vs ${r.reference!.rewardMean}`).toBeLessThan(0.1 * Math.abs(r.reference!.rewardMean));
    }
  });

  it("inside the support the mean off-support deviation is below 10% of the mean on-support norm", () => {
    for (const a of [-1, 0.5, 1]) {
      const r = rows.get(a)!;
      const on = (r.onSupport as { mean: number }).mean;
      expect(r.offSupport!.mean, `a = ${a}`).toBeLessThan(0.1 * on);
    }
  });

  it("far outside the support (a ≥ 4) the reward ratio falls and the off-support deviation grows", () => {
    const ratio = (a: number) => rows.get(a)!.rewardRatio as number;
    const off = (a: number) => rows.get(a)!.offSupport!.mean;
    expect(ratio(8)).toBeLessThan(ratio(1) - 0.02);
    expect(ratio(8)).toBeLessThan(ratio(4));
    expect(off(8)).toBeGreaterThan(1.2 * off(1));
    expect(off(8)).toBeGreaterThan(off(4));
  });
});
