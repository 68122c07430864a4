/**
 * Training quality with the default settings (foundation issue): a model trained on 8gaussians produces
 * samples whose sliced-Wasserstein distance to fresh data is within 2× the data-vs-data floor.
 * The floor is the same metric between two independent draws of fresh data of the same size as the
 * samples (the default 1000), both averaged over four independent pairs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { parseConfig } from "../src/runners/config.js";
import { runExperiment } from "../src/runners/experiment.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-quality-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("8gaussians: SW(samples, data) ≤ 2 × SW(data, data) with default settings", async () => {
  const cfg = parseConfig({ task: { kind: "toy2d", name: "8gaussians" } }, "test"); // every setting at its default
  const { report } = await runExperiment(cfg, dir);
  const sw = report.results[0]!.slicedWasserstein as { value: number; floor: number; ratio: number };
  // value and floor are each averaged over four independent fresh-data pairs (src/runners/metrics.ts)
  console.log(`8gaussians: SW ${sw.value.toFixed(4)}, floor ${sw.floor.toFixed(4)}, ratio ${(sw.value / sw.floor).toFixed(2)}`);
  expect(sw.floor).toBeGreaterThan(0);
  expect(sw.value / sw.floor).toBeLessThan(2);
}, 300_000);
