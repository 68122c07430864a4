import { describe, expect, it } from "vitest";
import { resultsTable } from "../src/cli/table.js";
import { formatNumber } from "../src/report/format.js";
import type { Report } from "../src/report/types.js";

const report = (results: Report["results"], timings: Report["timings"] = { totalSeconds: 1 }): Report => ({ version: 1, config: {}, results, timings });

/** Cells of each line, split on runs of two or more spaces (cells themselves have single spaces). */
const cells = (text: string): string[][] => text.split("\n").map((l) => l.split(/ {2,}/));

describe("resultsTable (console)", () => {
  it("shows the ctrl row's accuracy and macro-F1, the same headline numbers as the HTML summary", () => {
    const t = resultsTable(
      report([
        {
          method: "ctrl",
          label: "ctrl",
          target: null,
          alpha: 1,
          samples: 2000,
          reward: { mean: -0.196, std: 0.747 },
          accuracy: 0.934,
          macroF1: 0.9318,
          reference: { rewardMean: -0.0664, accuracy: 0.981, kl: 0.7086 },
          targetSlicedWasserstein: { value: 0.1773, floor: 0.08759 },
          klToPretrained: 0.9243,
          cost: { seconds: 0.46, trainSeconds: 16.15 },
        },
      ]),
    );
    const [head, row] = cells(t);
    expect(head).toEqual(["method", "reward (mean ± std)", "exact (z)", "sliced-W₂ ÷ floor", "KL (nats)", "accuracy", "macro-F1", "seconds"]);
    const at = (h: string): string => row![head!.indexOf(h)]!;
    expect(at("accuracy")).toBe(formatNumber(0.934));
    expect(at("macro-F1")).toBe(formatNumber(0.9318));
    expect(at("reward (mean ± std)")).toBe(`${formatNumber(-0.196)} ± ${formatNumber(0.747)}`);
    expect(at("KL (nats)")).toBe(`${formatNumber(0.9243)} (exact ${formatNumber(0.7086)})`);
    expect(at("sliced-W₂ ÷ floor")).toBe(`${formatNumber(0.1773 / 0.08759)}× (${formatNumber(0.1773)} / ${formatNumber(0.08759)}, to p*)`);
    expect(at("seconds")).toBe(`${formatNumber(0.46)} sampling + ${formatNumber(16.15)} training`);
  });

  it("marks the collapsed row, and prints — for what a row did not measure", () => {
    const t = resultsTable(
      report(
        [
          { method: "none", label: "none", target: null, alpha: null, samples: 10, slicedWasserstein: { value: 0.1, floor: 0.08, ratio: 1.25 } },
          {
            method: "cfg",
            label: "cfg",
            target: 1.927,
            alpha: 1,
            samples: 2000,
            reward: { mean: 1.924, std: 0.094 },
            reference: { rewardMean: 1.927 },
            rewardGap: { gap: -0.003, standardError: 0.0021, z: -1.8 },
            swToTilted: { value: 0.679, floor: 0.081, ratio: 8.383 },
            cost: { rewardEvals: 8000, seconds: 4.4, trainSeconds: 50 },
          },
        ],
        { totalSeconds: 70, noneSeconds: 12.5 },
      ),
    );
    const lines = cells(t);
    const head = lines[0]!;
    expect(head).toContain("reward evals");
    const none = lines[1]!;
    expect(none[head.indexOf("reward (mean ± std)")]).toBe("—");
    expect(none[head.indexOf("reward evals")]).toBe("—");
    expect(none[head.indexOf("seconds")]).toBe(`${formatNumber(12.5)} method`);
    const cfg = lines[2]!;
    expect(cfg[head.indexOf("exact (z)")]).toBe(`${formatNumber(1.927)} (-1.8)`);
    expect(cfg[head.indexOf("sliced-W₂ ÷ floor")]).toMatch(/^8\.383× .* !$/);
    expect(cfg[head.indexOf("reward evals")]).toBe("8,000");
    expect(t).toMatch(/! = more than 3× the floor/);
  });
});
