import { describe, expect, it } from "vitest";
import { BUSY_OTHER_CORES, busyVerdict, collectLoads, resultsPath } from "../bench/load-rule.js";

describe("bench busy rule (bench/load-rule.ts)", () => {
  const run = (a: number, b: number | null) => ({
    when: "x",
    sample10k: { rewardiff: { load: { machineCores: 1.2, selfCores: 1, otherCores: a } }, torch: { available: true, load: { otherCores: b } } },
    threads: { cases: { train512: { rewardiff: { runs: [{ load: { otherCores: 0.01 } }, { load: { otherCores: 0.02 } }] } } } },
  });

  it("finds every measurement's load, however deep, with its path", () => {
    const loads = collectLoads(run(0.1, 0.2));
    expect(loads.map((l) => l.path).sort()).toEqual(["sample10k.rewardiff.load", "sample10k.torch.load", "threads.cases.train512.rewardiff.runs.0.load", "threads.cases.train512.rewardiff.runs.1.load"]);
    expect(loads.find((l) => l.path === "sample10k.torch.load")?.otherCores).toBe(0.2);
  });

  it("is quiet only when every measurement saw other processes below 0.3 cores", () => {
    expect(BUSY_OTHER_CORES).toBe(0.3);
    const quiet = busyVerdict(run(0.29, 0.1));
    expect(quiet.busy).toBe(false);
    expect(quiet.worstOtherCores).toBe(0.29);
    expect(quiet.measurements).toBe(4);
    const busy = busyVerdict(run(0.1, 0.3));
    expect(busy.busy).toBe(true);
    expect(busy.contended).toEqual([{ path: "sample10k.torch.load", otherCores: 0.3 }]);
  });

  it("counts an unknown load (null in JSON, NaN) or no load at all as busy", () => {
    const v = busyVerdict(run(0.1, null));
    expect(v.busy).toBe(true);
    expect(v.contended.map((c) => c.path)).toEqual(["sample10k.torch.load"]);
    expect(Number.isNaN(v.worstOtherCores)).toBe(true);
    expect(busyVerdict({ a: 1 }).busy).toBe(true);
  });

  it("writes a busy run to busy-<UTC time>.json, a quiet one to latest.json", () => {
    const when = new Date(Date.UTC(2026, 11, 2, 22, 5, 9, 123));
    expect(resultsPath("/r", true, when)).toBe("/r/busy-2026-12-02T22-05-09Z.json");
    expect(resultsPath("/r", false, when)).toBe("/r/latest.json");
  });
});
