import { describe, expect, it } from "vitest";
import { FAR_FROM_FLOOR_RATIO, headlineMetrics, NEAR_FLOOR_RATIO, reportHeadlines } from "../src/report/headline.js";
import type { ResultRow } from "../src/report/types.js";

// Rows shaped as the runners write them (src/runners/methods/guidance-common.ts guidanceOutput,
// ctrl-eval.ts tiltEvaluation, none.ts, src/runners/rcgdm-metrics.ts subspaceTargetRow, rcgdm.ts).

/** docs/guidance.md's default benchmark, cfg row: the mean reward is on target, the law is not. */
const cfgCollapsed: ResultRow = {
  method: "cfg",
  label: "cfg",
  target: 1.927,
  alpha: 1,
  samples: 2000,
  reward: { mean: 1.924, std: 0.094 },
  rewardName: "r(x) = wᵀx",
  reference: { rewardMean: 1.927 },
  rewardGap: { gap: -0.004, standardError: 0.0021, z: -1.8 },
  swToTilted: { value: 0.679, floor: 0.081, ratio: 8.383, pairs: 4 },
  mmd2ToTilted: { value: 0.1163, floor: 0.0003, pairs: 4 },
  klToPretrained: 3.097,
  klGuidedDeterministicStep: true,
  cost: { rewardEvals: 0, gradEvals: 0, valueEvals: 0, modelEvals: 400000, seconds: 4.4, trainSeconds: 50 },
};

const exactGuidance: ResultRow = {
  ...cfgCollapsed,
  method: "exact-guidance",
  label: "exact-guidance",
  target: null,
  reward: { mean: 1.926, std: 1.058 },
  rewardGap: { gap: -0.001, standardError: 0.0237, z: -0.1 },
  swToTilted: { value: 0.091, floor: 0.081, ratio: 1.1235, pairs: 4 },
  klToPretrained: 1.078,
  cost: { rewardEvals: 0, gradEvals: 200000, valueEvals: 200000, modelEvals: 200000, seconds: 3.9, trainSeconds: 0 },
};

const noneRow: ResultRow = {
  method: "none",
  label: "none",
  target: null,
  alpha: null,
  samples: 400,
  slicedWasserstein: { value: 0.3, floor: 0.12, pairs: 4 }, // no ratio key: derived
  mmd2: { value: 0.0002, floor: 0.0001, pairs: 4 },
  reward: { mean: 1, std: 2 },
  reference: { rewardMean: 0.9 }, // no rewardGap: z derived = (1 − 0.9) / (2 / √400) = 1
};

const ctrlRow: ResultRow = {
  method: "ctrl",
  label: "ctrl",
  target: null,
  alpha: 1,
  samples: 2000,
  reward: { mean: -0.196, std: 0.747 },
  rewardName: "log p(y | x) (ground-truth labeler)",
  accuracy: 0.932,
  macroF1: 0.9318,
  reference: { rewardMean: -0.0664, accuracy: 0.9813, kl: 0.7086 },
  targetSlicedWasserstein: { value: 0.1773, floor: 0.08759 },
  targetMmd2: { value: 0.001, floor: 0.0002 },
  pairAccuracy: { "c0,y0": 0.9 },
  gamma: 1,
  klToPretrained: 0.9243,
  cost: { seconds: 0.46, trainSeconds: 16.15 },
};

const rcgdmRow: ResultRow = {
  method: "rcgdm",
  label: "rcgdm",
  target: 8,
  alpha: null,
  samples: 500,
  reward: { mean: 7.376, std: 0.278 },
  proxyReward: { mean: 7.35, std: 0.28 },
  offSupport: { mean: 0.32, std: 0.046 },
  reference: { rewardMean: 7.949, rewardStd: 0.1, offSupport: 0 },
  rewardError: -0.573,
  network: "mlp",
  scale: 1,
};

describe("headlineMetrics", () => {
  it("flags the collapsed cfg row: reward on target, distance far above the floor", () => {
    const h = headlineMetrics(cfgCollapsed);
    expect(h.reward!.mean).toEqual({ value: 1.924, from: "reward.mean" });
    expect(h.reward!.exact).toEqual({ value: 1.927, from: "reference.rewardMean" });
    expect(h.reward!.z).toEqual({ value: -1.8, from: "rewardGap.z" }); // the row's own z, not recomputed
    expect(h.distance).toMatchObject({ against: "target", verdict: "far above floor" });
    expect(h.distance!.ratio).toEqual({ value: 8.383, from: "swToTilted.ratio" });
    expect(h.distance!.value).toEqual({ value: 0.679, from: "swToTilted.value" });
    expect(h.distance!.floor).toEqual({ value: 0.081, from: "swToTilted.floor" });
    expect(h.target).toBeUndefined(); // its target is the exact value: shown once, as "exact"
    expect(h.kl).toEqual({ value: { value: 3.097, from: "klToPretrained" } });
    expect(h.cost).toEqual({
      rewardEvals: { value: 0, from: "cost.rewardEvals" },
      seconds: { value: 4.4, from: "cost.seconds" },
      trainSeconds: { value: 50, from: "cost.trainSeconds" },
    });
    expect(h.meaning).toMatch(/matches its exact value/);
    expect(h.meaning).toMatch(/far from the target law/);
    expect(h.meaning).toMatch(/wrong distribution/);
    // The exact method on the same task is not flagged.
    const ok = headlineMetrics(exactGuidance);
    expect(ok.distance!.verdict).toBe("at floor");
    expect(ok.meaning).not.toMatch(/⚠|wrong distribution/);
  });

  it("prefers the distance to the target law over the one to the data", () => {
    const both = headlineMetrics({ ...cfgCollapsed, slicedWasserstein: { value: 0.05, floor: 0.05, ratio: 1 } });
    expect(both.distance!.against).toBe("target");
    expect(both.distance!.ratio.from).toBe("swToTilted.ratio");
  });

  it("derives what the row lacks from its own numbers, and says so", () => {
    const h = headlineMetrics(noneRow);
    expect(h.distance!.against).toBe("data");
    expect(h.distance!.ratio.from).toBe("derived");
    expect(h.distance!.ratio.value).toBeCloseTo(2.5, 12); // 0.3 / 0.12
    expect(h.distance!.verdict).toBe("above floor");
    expect(h.reward!.z!.from).toBe("derived");
    expect(h.reward!.z!.value).toBeCloseTo(1, 12); // (1 − 0.9) / (2 / √400)
    expect(h.kl).toBeUndefined();
    expect(h.classification).toBeUndefined();
    expect(h.cost).toBeUndefined(); // no cost and no timings given: absent, not 0
  });

  it("takes a method's whole time from the report's timings where its row has no cost", () => {
    const heads = reportHeadlines({ results: [noneRow], timings: { totalSeconds: 20, noneSeconds: 13.5 } });
    expect(heads[0]!.cost).toEqual({ methodSeconds: { value: 13.5, from: "timings.noneSeconds" } });
  });

  it("shows accuracy and macro-F1 for classification tilts, with the exact accuracy", () => {
    const h = headlineMetrics(ctrlRow);
    expect(h.classification).toEqual({
      accuracy: { value: 0.932, from: "accuracy" },
      macroF1: { value: 0.9318, from: "macroF1" },
      exactAccuracy: { value: 0.9813, from: "reference.accuracy" },
    });
    expect(h.kl).toEqual({ value: { value: 0.9243, from: "klToPretrained" }, exact: { value: 0.7086, from: "reference.kl" } });
    expect(h.distance!.against).toBe("target");
    expect(h.distance!.ratio.value).toBeCloseTo(0.1773 / 0.08759, 12);
    // z from the summary: (−0.196 + 0.0664) / (0.747 / √2000)
    expect(h.reward!.z!.value).toBeCloseTo((-0.196 + 0.0664) / (0.747 / Math.sqrt(2000)), 10);
    expect(h.meaning).toMatch(/93\.2%/);
  });

  it("gives conditioning rows their error to the requested target", () => {
    const h = headlineMetrics(rcgdmRow);
    expect(h.target!.target).toEqual({ value: 8, from: "target" });
    expect(h.target!.error.from).toBe("derived");
    expect(h.target!.error.value).toBeCloseTo(7.376 - 8, 12);
    expect(h.reward!.exact!.value).toBe(7.949);
    expect(h.distance).toBeUndefined(); // not measured: never invented
    expect(h.meaning).toMatch(/off the requested 8/);
    expect(h.name).toBe("rcgdm target=8");
  });

  it("says a diverged row diverged and shows no numbers", () => {
    const h = headlineMetrics({ method: "rcgdm", variant: "target-guidance", target: 4, alpha: null, samples: 0, label: "tg", scale: 50, diverged: true });
    expect(h.diverged).toBe(true);
    expect(h.reward).toBeUndefined();
    expect(h.distance).toBeUndefined();
    expect(h.meaning).toMatch(/^Diverged/);
  });

  it("ignores non-numbers and non-finite values instead of showing them", () => {
    const h = headlineMetrics({ method: "x", target: null, alpha: null, samples: 10, reward: { mean: Number.NaN, std: 1 }, klToPretrained: null, accuracy: "high" as unknown as number });
    expect(h.reward).toBeUndefined();
    expect(h.kl).toBeUndefined();
    expect(h.classification).toBeUndefined();
    expect(h.meaning).toBe("No headline metric measured for this row.");
  });

  it("classifies ratios at the documented thresholds", () => {
    const at = (ratio: number) => headlineMetrics({ method: "m", target: null, alpha: null, samples: 1, slicedWasserstein: { value: ratio, floor: 1, ratio } }).distance!.verdict;
    expect(at(NEAR_FLOOR_RATIO)).toBe("at floor");
    expect(at(NEAR_FLOOR_RATIO + 1e-9)).toBe("above floor");
    expect(at(FAR_FROM_FLOOR_RATIO)).toBe("above floor");
    expect(at(FAR_FROM_FLOOR_RATIO + 1e-9)).toBe("far above floor");
  });
});
