/**
 * best-of-n `matchBudget`: N is set from an earlier row's reward + gradient evaluations (an equal
 * reward-evaluation budget), and naming a row that does not exist earlier is a clear one-line error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/runners/config.js";
import { runExperiment } from "../src/runners/experiment.js";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "rewardiff-bon-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const base = {
  seed: 3,
  task: { kind: "gaussian-mixture", components: [{ weight: 1, mean: [0, 0], std: 1 }], rewardWeights: [1, 0], n: 1000 },
  model: { hidden: 32, layers: 2, timeEmbedding: 8, train: { steps: 300, batchSize: 256 } },
  sampling: { sampler: "ddpm", steps: 10, samples: 40 },
};

describe("best-of-n matchBudget", () => {
  it("takes N = budget / samples from the named earlier row", async () => {
    const cfg = parseConfig({
      ...base,
      method: [
        { kind: "rwr", alpha: 1, rounds: 2, samplesPerRound: 100, stepsPerRound: 5, label: "rwr" },
        { kind: "best-of-n", alpha: 1, matchBudget: "rwr", label: "bon" },
      ],
    }, "cfg.json");
    const { report } = await runExperiment(cfg, fresh(), { where: "cfg.json" });
    const rows = report.results as Record<string, unknown>[];
    const rwr = rows.find((r) => r.label === "rwr")!;
    const bon = rows.find((r) => r.label === "bon")!;
    const cost = rwr.cost as { rewardEvals: number; gradEvals: number };
    // Independent of the code under test: RWR scores every sample of every round once.
    expect(cost.rewardEvals + cost.gradEvals).toBe(2 * 100);
    expect(bon.candidates).toBe(Math.round(200 / 40));
    expect(bon.matchedBudget).toBe(200);
    expect((bon.cost as { rewardEvals: number }).rewardEvals).toBe(5 * 40);
  }, 60_000);

  it("refuses a row that is not earlier in the run, naming the key", async () => {
    const cfg = parseConfig({ ...base, method: [{ kind: "none" }, { kind: "best-of-n", matchBudget: "rgdm τ=1" }] }, "cfg.json");
    await expect(runExperiment(cfg, fresh(), { where: "cfg.json" })).rejects.toThrow(/^method\[1\]\.matchBudget: no earlier row is labelled "rgdm τ=1" \(earlier rows: "none"\)$/);
  }, 60_000);
});
