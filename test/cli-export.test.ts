/** `rewardiff export`: the EMA weights of a training checkpoint as an inference checkpoint that samples the same. */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { cli, expectOneLineError, expectUntouched, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

it("exports an inference checkpoint that samples exactly like the training checkpoint, and refuses to overwrite", async () => {
  const dir = tempDir("export");
  const train = join(dir, "t.safetensors");
  const inf = join(dir, "i.safetensors");
  expect((await cli("train", "--task", "moons", "--steps", "20", "--hidden", "32", "--layers", "2", "--out", train, "--quiet")).code).toBe(0);
  const e = await cli("export", "--model", train, "--out", inf);
  expect(e.code, e.stderr).toBe(0);
  const meta = JSON.parse(readFileSync(join(dir, "i.json"), "utf8")).config;
  expect(meta.checkpoint).toBe("inference");
  expect(meta.step).toBe(20);
  expect(meta.dataSeed).toBeUndefined();
  // params + ema + two Adam moments → ema only: about a quarter of the bytes.
  expect(statSync(inf).size).toBeLessThan(0.3 * statSync(train).size);
  for (const [m, out] of [[train, "a.csv"], [inf, "b.csv"]] as const) {
    const s = await cli("sample", "--model", m, "--n", "16", "--steps", "5", "--seed", "3", "--out", join(dir, out), "--quiet");
    expect(s.code, s.stderr).toBe(0);
  }
  expect(readFileSync(join(dir, "b.csv"), "utf8")).toBe(readFileSync(join(dir, "a.csv"), "utf8"));
  const again = await expectUntouched(dir, () => cli("export", "--model", train, "--out", inf));
  expectOneLineError(again, "already exists");
  const twice = await expectUntouched(dir, () => cli("export", "--model", inf, "--out", join(dir, "j.safetensors")));
  expectOneLineError(twice, "already an inference checkpoint");
}, 60_000);
