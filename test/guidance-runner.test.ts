/**
 * The guidance methods in `rewardiff run` (runExperiment): a tiny gaussian-mixture config with every
 * guidance kind runs end to end and reports, per row, the mean reward beside the exact E_p*[r], the
 * gap, the distance to exact p* samples with its floor, and the cost; the page shows each method's
 * samples over the p* density. Refusals surface as clear errors before sampling.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/runners/config.js";
import { runExperiment } from "../src/runners/experiment.js";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "rewardiff-guidance-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const TASK = {
  kind: "gaussian-mixture",
  components: [
    { weight: 2, mean: [-1.5, 0], std: 0.5 },
    { weight: 1, mean: [1.5, 1], std: 0.5 },
    { weight: 1, mean: [0.5, -1.5], std: 0.4 },
  ],
  rewardWeights: [1, 0.5],
  n: 1000,
};
const MODEL = { hidden: 32, layers: 2, timeEmbedding: 8, train: { steps: 300, batchSize: 128 } };
const SAMPLING = { sampler: "ddpm", steps: 10, samples: 200 };

describe("guidance runners", () => {
  it("every guidance kind runs and reports reward vs exact, gap, distance to p* with its floor, and cost", async () => {
    const cfg = parseConfig(
      {
        seed: 1,
        task: TASK,
        model: MODEL,
        method: [
          { kind: "exact-guidance", alpha: 1, base: "exact" },
          { kind: "exact-guidance", alpha: 1 },
          { kind: "classifier-guidance", trainSteps: 20, hidden: 8 },
          { kind: "classifier-guidance", head: "classification", reward: "indicator", threshold: 1, trainSteps: 20, hidden: 8 },
          { kind: "dps", jacobian: "identity", start: 0.5 },
          { kind: "target-guidance", target: 1, trainSteps: 20, hidden: 8 },
          { kind: "svdd", candidates: 2 },
          { kind: "svdd", candidates: 2, value: "exact", label: "svdd-exact" },
          { kind: "svdd", candidates: 2, reward: "indicator", threshold: 1, label: "svdd-indicator" },
          { kind: "best-of-n", candidates: 2, select: "softmax" },
          { kind: "cfg", scale: 2, trainSteps: 20 },
        ],
        sampling: SAMPLING,
      },
      "test config",
    );
    const out = fresh();
    const { report } = await runExperiment(cfg, out);
    const rows = report.results;
    // `label` names the row (the entry's label, else the kind, "#i" when a default repeats); `method` is the kind.
    expect(rows.map((r) => r.method)).toEqual(cfg.method instanceof Array ? cfg.method.map((m) => m.kind) : []);
    expect(rows.map((r) => r.label)).toEqual([
      "exact-guidance (exact ε)",
      "exact-guidance",
      "classifier-guidance#2",
      "classifier-guidance#3",
      "dps",
      "target-guidance",
      "svdd",
      "svdd-exact",
      "svdd-indicator",
      "best-of-n",
      "cfg",
    ]);
    for (const row of rows) {
      expect(row.alpha).toBe(1);
      expect(row.samples).toBe(200);
      expect(typeof row.reference?.rewardMean).toBe("number");
      expect(row.rewardGap).toMatchObject({ gap: expect.any(Number), z: expect.any(Number) });
      expect(row.swToTilted).toMatchObject({ value: expect.any(Number), floor: expect.any(Number), pairs: 4 });
      expect(row.cost).toMatchObject({ rewardEvals: expect.any(Number), gradEvals: expect.any(Number), seconds: expect.any(Number) });
    }
    const byName = Object.fromEntries(rows.map((r) => [r.label, r]));
    expect(byName["svdd-indicator"]!.rewardName).toBe("indicator[r > 1]");
    // Path KL to the base chain: positive for mean-shifting guidance, absent for selection methods.
    for (const name of ["dps", "cfg", "classifier-guidance#2", "target-guidance"]) {
      expect(byName[name]!.klToPretrained as number).toBeGreaterThan(0);
      expect(typeof byName[name]!.klGuidedDeterministicStep).toBe("boolean");
    }
    for (const name of ["svdd-indicator", "best-of-n"]) expect(byName[name]!.klToPretrained).toBeUndefined();
    expect(byName["target-guidance"]!.target).toBe(1);
    // cfg defaults its target to the exact E_p*[r].
    expect(byName["cfg"]!.target).toBeCloseTo(byName["cfg"]!.reference!.rewardMean, 10);
    // The exact oracle on the exact ε sits on p*, even with 10 steps and 200 samples.
    expect(Math.abs((byName["exact-guidance (exact ε)"]!.rewardGap as { z: number }).z)).toBeLessThan(4);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toContain("svdd-exact: samples over the exact p*");
    expect(html).toContain("swToTilted");
  });

  it("refusals: SVDD on DDIM with η = 0, DPS with the indicator reward, exact-guidance off the mixture task", async () => {
    const svdd = parseConfig({ seed: 0, task: TASK, model: MODEL, method: { kind: "svdd" }, sampling: { ...SAMPLING, sampler: "ddim", eta: 0 } }, "c1");
    await expect(runExperiment(svdd, fresh())).rejects.toThrow(/guidance term "svdd" draws its 8 candidates from a stochastic step \(σ > 0\), but step 1 of 10 of the ddim sampler with eta = 0 is deterministic/);
    const dps = parseConfig({ seed: 0, task: TASK, model: MODEL, method: { kind: "dps", reward: "indicator" }, sampling: SAMPLING }, "c2");
    await expect(runExperiment(dps, fresh())).rejects.toThrow(/guidance term "dps" needs a differentiable reward, but reward "indicator\[r > 0\]" is not differentiable/);
    expect(() => parseConfig({ task: { kind: "toy2d" }, method: { kind: "exact-guidance" } }, "c3")).toThrow(/needs the closed-form soft value/);
    expect(() => parseConfig({ task: TASK, method: { kind: "svdd", candidate: 3 } }, "c4")).toThrow(/unknown key "candidate"/);
  });
});
