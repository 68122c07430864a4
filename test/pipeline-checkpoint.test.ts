/**
 * model.train.checkpointEvery: the runner saves the base model every k steps; chunked training must
 * give exactly the same model and loss curve as one uninterrupted run.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { parseConfig } from "../src/runners/config.js";
import { runExperiment } from "../src/runners/experiment.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (every: number) =>
  parseConfig(
    {
      task: { kind: "toy2d", name: "moons", n: 200 },
      model: { hidden: 8, layers: 1, timeEmbedding: 4, train: { steps: 12, batchSize: 16, checkpointEvery: every } },
      sampling: { steps: 2, samples: 50 },
    },
    "test",
  );

it("checkpointEvery = 5 trains the same model as one run, keeping every loss", async () => {
  const a = await runExperiment(config(0), join(dir, "a"));
  const b = await runExperiment(config(5), join(dir, "b"));
  const lossA = (a.report as unknown as { training: { loss: { loss: number }[] } }).training.loss;
  const lossB = (b.report as unknown as { training: { loss: { loss: number }[] } }).training.loss;
  expect(lossB.length).toBe(12);
  expect(lossB).toEqual(lossA);
  const sideA = JSON.parse(readFileSync(join(dir, "a", "model.json"), "utf8"));
  const sideB = JSON.parse(readFileSync(join(dir, "b", "model.json"), "utf8"));
  expect(sideB.config.step).toBe(12);
  expect(sideB.sha256).toBe(sideA.sha256);
}, 60_000);
