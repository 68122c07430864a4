/** `rewardiff train --schedule` and `--prediction`: what the saved model uses, the schema's defaults, refusals. */
import { afterAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel, type ModelMeta } from "../src/io/checkpoints/model.js";
import { defaultConfig } from "../src/runners/config.js";
import { defaultConditionalNetwork } from "../src/training/rcgdm.js";
import { readCsv } from "../src/io/csv.js";
import { cli, expectOneLineError, expectUntouched, expectUsageError, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

const tiny = ["--steps", "2", "--hidden", "4", "--layers", "1", "--batch-size", "4", "--quiet"];

function setup() {
  const dir = tempDir("schedule");
  const data = join(dir, "data.csv");
  writeFileSync(data, "a,b,y\n" + Array.from({ length: 40 }, (_, i) => `${(i % 7) / 7},${((i * 3) % 5) / 5},${(i % 7) / 7 + ((i * 3) % 5) / 5}`).join("\n") + "\n");
  return { dir, data };
}

function meta(path: string): ModelMeta {
  const m = loadModel(path);
  disposeLoadedModel(m);
  return m.meta;
}

describe("rewardiff train --schedule --prediction", () => {
  it("the saved model has the schedule and parameterisation asked for, else the config schema's defaults", async () => {
    const { dir, data } = setup();
    const defaults = defaultConfig().model;
    const plain = join(dir, "plain.safetensors");
    const r0 = await cli("train", "--data", data, "--columns", "a,b", "--out", plain, ...tiny);
    expect(r0.code, r0.stderr).toBe(0);
    expect(meta(plain).model.schedule.kind).toBe(defaults.schedule.kind);
    expect(meta(plain).model.prediction).toBe(defaults.prediction);

    for (const [schedule, prediction] of [["cosine", "v"], ["scaled-linear", "x0"]] as const) {
      expect([schedule, prediction]).not.toEqual([defaults.schedule.kind, defaults.prediction]);
      const out = join(dir, `${schedule}-${prediction}.safetensors`);
      const r = await cli("train", "--data", data, "--columns", "a,b", "--out", out, "--schedule", schedule, "--prediction", prediction, ...tiny);
      expect(r.code, r.stderr).toBe(0);
      const m = meta(out);
      expect(m.model.schedule.kind).toBe(schedule);
      expect(m.model.prediction).toBe(prediction);
      // Only the kind changes: T and the β range stay the schema's.
      expect(m.model.schedule.steps).toBe(defaults.schedule.steps);
      // The model samples, with the data's columns.
      const csv = join(dir, `${schedule}.csv`);
      const s = await cli("sample", "--model", out, "--n", "6", "--steps", "3", "--out", csv, "--quiet");
      expect(s.code, s.stderr).toBe(0);
      expect(readCsv(csv).header).toEqual(["a", "b"]);
    }
  });

  it("refuses --schedule/--prediction with --resume, and a kind that is not offered", async () => {
    const { dir, data } = setup();
    const first = join(dir, "first.safetensors");
    const r0 = await cli("train", "--data", data, "--columns", "a,b", "--out", first, ...tiny);
    expect(r0.code, r0.stderr).toBe(0);
    const next = join(dir, "next.safetensors");
    const r = await expectUntouched(dir, () => cli("train", "--data", data, "--columns", "a,b", "--resume", first, "--steps", "4", "--schedule", "cosine", "--out", next, "--quiet"));
    expectOneLineError(r, "--schedule cosine", "--resume");
    const u = await expectUntouched(dir, () => cli("train", "--data", data, "--out", next, "--schedule", "custom", ...tiny));
    expectUsageError(u, "--schedule", "custom");
    const p = await expectUntouched(dir, () => cli("train", "--data", data, "--out", next, "--prediction", "score", ...tiny));
    expectUsageError(p, "--prediction", "score");
  });

  it("the conditional model (--unlabeled --reward-model) takes them too; the low-rank network refuses a prediction but x0", async () => {
    const { dir, data } = setup();
    const reward = join(dir, "r.safetensors");
    const f = await cli("fit-reward", "--data", data, "--label", "y", "--holdout", "0", "--out", reward, "--quiet");
    expect(f.code, f.stderr).toBe(0);
    const unlabeled = join(dir, "u.csv");
    writeFileSync(unlabeled, "a,b\n" + Array.from({ length: 32 }, (_, i) => `${(i % 5) / 5},${(i % 3) / 3}`).join("\n") + "\n");
    const out = join(dir, "cond.safetensors");
    const r = await cli("train", "--unlabeled", unlabeled, "--reward-model", reward, "--out", out, "--schedule", "cosine", "--prediction", "v", ...tiny);
    expect(r.code, r.stderr).toBe(0);
    const m = meta(out);
    expect(m.model.schedule).toEqual({ ...defaultConditionalNetwork.schedule, kind: "cosine" });
    expect(m.model.prediction).toBe("v");
    const bad = join(dir, "lowrank.safetensors");
    const lr = await expectUntouched(dir, () => cli("train", "--unlabeled", unlabeled, "--reward-model", reward, "--out", bad, "--network", "low-rank", "--rank", "1", "--prediction", "eps", ...tiny));
    expectOneLineError(lr, "--prediction eps", "low-rank");
  });
});
