/**
 * The command-line workflow of reward-directed conditional diffusion on users' own data:
 * `fit-reward` (labeled CSV → reward model), `train --unlabeled --reward-model` (pseudo-labelled
 * conditional model), `sample --target a [--scale w]`; and their bad-input contract (one line, exit 1,
 * nothing overwritten; commander's usage errors exit 2).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, expectOneLineError, expectUntouched, expectUsageError, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

let dir: string;
let labeled: string;
let unlabeled: string;
let reward: string;
let cond: string;
let uncond: string;

/** A deterministic pseudo-random sequence (no dependence on the library under test). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const tiny = ["--steps", "3", "--hidden", "8", "--layers", "1", "--batch-size", "16", "--quiet"];

beforeAll(async () => {
  dir = tempDir("rcgdm-cli");
  const rnd = lcg(7);
  const rows = Array.from({ length: 120 }, () => [rnd(), rnd(), rnd()]);
  // y = 2 a − b + 0.5 (c does not matter), plus small noise
  labeled = join(dir, "labeled.csv");
  writeFileSync(labeled, `a,b,c,y\n${rows.map((r) => [...r, 2 * r[0]! - r[1]! + 0.5 + 0.01 * rnd()].join(",")).join("\n")}\n`);
  // The unlabeled file has the columns in another order plus an extra one.
  unlabeled = join(dir, "unlabeled.csv");
  writeFileSync(unlabeled, `c,extra,b,a\n${Array.from({ length: 200 }, () => [rnd(), 9, rnd(), rnd()].join(",")).join("\n")}\n`);
  reward = join(dir, "reward.safetensors");
  const f = await cli("fit-reward", "--data", labeled, "--label", "y", "--out", reward, "--quiet");
  expect(f.code, f.stderr).toBe(0);
  cond = join(dir, "cond.safetensors");
  const t = await cli("train", "--unlabeled", unlabeled, "--reward-model", reward, "--out", cond, ...tiny);
  expect(t.code, t.stderr).toBe(0);
  uncond = join(dir, "uncond.safetensors");
  const u = await cli("train", "--task", "moons", "--out", uncond, ...tiny);
  expect(u.code, u.stderr).toBe(0);
});
afterAll(removeTempDirs);

describe("rewardiff fit-reward", () => {
  it("fits a ridge reward, reports the held-out fit and writes the model beside its sidecar", async () => {
    const out = join(tempDir("rcgdm-fit"), "r.safetensors");
    const r = await cli("fit-reward", "--data", labeled, "--label", "y", "--columns", "a,b", "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ridge reward on 2 column\(s\) → "y"/);
    expect(r.stdout).toMatch(/held out +RMSE [0-9.e-]+, R² 0\.99\d* \(24 rows\)/);
    const side = JSON.parse(readFileSync(out.replace(/\.safetensors$/, ".json"), "utf8"));
    expect(side.config).toMatchObject({ kind: "rewardiff-reward", columns: ["a", "b"], label: "y", model: { kind: "ridge", dim: 2 } });
    // the fitted θ̂ ≈ (2, −1): the sidecar's bias is the intercept 0.5
    expect(side.config.model.bias).toBeCloseTo(0.5, 1);
  });

  it("an MLP reward on too few rows is refused with the counts", async () => {
    const small = join(dir, "small.csv");
    writeFileSync(small, "a,y\n1,2\n2,3\n3,4\n4,5\n5,6\n6,7\n");
    const r = await expectUntouched(dir, () => cli("fit-reward", "--data", small, "--label", "y", "--kind", "mlp", "--out", join(dir, "never.safetensors"), "--quiet"));
    expectOneLineError(r, small, "6 labeled row(s) are too few for a mlp reward model", "leaves 5 to fit on", "at least 8");
  });

  it("a NaN label names its line and column", async () => {
    const bad = join(dir, "nan.csv");
    writeFileSync(bad, "a,b,y\n1,2,3\n4,5,nan\n7,8,9\n");
    const r = await expectUntouched(dir, () => cli("fit-reward", "--data", bad, "--label", "y", "--out", join(dir, "never.safetensors")));
    expectOneLineError(r, bad, "line 3", '"y"');
  });

  it("a label column that does not exist lists the columns there are", async () => {
    const r = await expectUntouched(dir, () => cli("fit-reward", "--data", labeled, "--label", "reward", "--out", join(dir, "never.safetensors")));
    expectOneLineError(r, "--label reward", 'no column "reward"', "a, b, c, y");
  });

  it("an existing --out is refused without --force and stays byte-identical", async () => {
    const r = await expectUntouched(dir, () => cli("fit-reward", "--data", labeled, "--label", "y", "--out", reward));
    expectOneLineError(r, reward, "already exists", "--force");
  });

  it("--holdout 1 and --kind foo are commander's usage errors", async () => {
    expectUsageError(await cli("fit-reward", "--data", labeled, "--label", "y", "--out", join(dir, "x.safetensors"), "--holdout", "1"), "--holdout");
    expectUsageError(await cli("fit-reward", "--data", labeled, "--label", "y", "--out", join(dir, "x.safetensors"), "--kind", "foo"), "--kind");
  });
});

describe("rewardiff train --unlabeled --reward-model", () => {
  it("records the conditioning in the sidecar (reward name, ν, dropout) and selects the reward's columns", () => {
    const side = JSON.parse(readFileSync(join(dir, "cond.json"), "utf8"));
    expect(side.config.columns).toEqual(["a", "b", "c"]);
    expect(side.config.model.network.condition).toEqual({ kind: "value", dim: 1, embedding: 32 });
    expect(side.config.conditioning).toMatchObject({ names: ["y"], source: "pseudo-labels", pseudoLabelNoise: 0.1, dropout: 0.1 });
  });

  it("an unlabeled file without the reward's columns is refused naming them", async () => {
    const other = join(dir, "other.csv");
    writeFileSync(other, "a,b\n1,2\n3,4\n5,6\n7,8\n");
    const r = await expectUntouched(dir, () => cli("train", "--unlabeled", other, "--reward-model", reward, "--out", join(dir, "never.safetensors"), ...tiny));
    expectOneLineError(r, other, '"c"', "a, b, c");
  });

  it("--unlabeled without --reward-model, and --rank without the low-rank network, are refused", async () => {
    const r1 = await expectUntouched(dir, () => cli("train", "--unlabeled", unlabeled, "--out", join(dir, "never.safetensors"), ...tiny));
    expectOneLineError(r1, "--reward-model");
    const r2 = await expectUntouched(dir, () => cli("train", "--unlabeled", unlabeled, "--reward-model", reward, "--rank", "2", "--out", join(dir, "never.safetensors"), ...tiny));
    expectOneLineError(r2, "--rank", "low-rank");
    const r3 = await expectUntouched(dir, () => cli("train", "--task", "moons", "--dropout", "0.2", "--out", join(dir, "never.safetensors"), ...tiny));
    expectOneLineError(r3, "--dropout", "--unlabeled");
  });

  it("trains on the data's per-feature transform (default standardize, fitted on --unlabeled) and samples in data units", async () => {
    const d = tempDir("rcgdm-transform");
    // c is offset by 1000 and scaled by 100: a model-space sample maps back near 1000, a raw one near 0.
    const rnd = lcg(11);
    const rows = Array.from({ length: 200 }, () => [rnd(), rnd(), 1000 + 100 * rnd()]);
    const shifted = join(d, "shifted.csv");
    writeFileSync(shifted, `a,b,c\n${rows.map((r) => r.join(",")).join("\n")}\n`);
    // A reward fitted on labeled rows with the same offset column (y does not depend on c).
    const lab = join(d, "labeled.csv");
    writeFileSync(lab, `a,b,c,y\n${Array.from({ length: 120 }, () => [rnd(), rnd(), 1000 + 100 * rnd()]).map((r) => [...r, 2 * r[0]! - r[1]! + 0.5].join(",")).join("\n")}\n`);
    const r2 = join(d, "r.safetensors");
    const f = await cli("fit-reward", "--data", lab, "--label", "y", "--out", r2, "--quiet");
    expect(f.code, f.stderr).toBe(0);
    const m = join(d, "m.safetensors");
    const t = await cli("train", "--unlabeled", shifted, "--reward-model", r2, "--out", m, "--steps", "300", "--hidden", "32", "--layers", "2", "--batch-size", "64", "--quiet");
    expect(t.code, t.stderr).toBe(0);
    const side = JSON.parse(readFileSync(join(d, "m.json"), "utf8"));
    expect(side.config.transform.kind).toBe("standardize");
    for (let j = 0; j < 3; j++) {
      const col = rows.map((r) => r[j]!);
      const mean = col.reduce((a, v) => a + v, 0) / col.length;
      expect(side.config.transform.mean[j]).toBeCloseTo(mean, 4);
    }
    const s = await cli("sample", "--model", m, "--target", "0.5", "--n", "64", "--steps", "20", "--out", join(d, "s.csv"), "--quiet");
    expect(s.code, s.stderr).toBe(0);
    const c = readFileSync(join(d, "s.csv"), "utf8").trimEnd().split("\n").slice(1).map((l) => Number(l.split(",")[2]));
    const cMean = c.reduce((a, v) => a + v, 0) / c.length;
    expect(cMean).toBeGreaterThan(900);
    expect(cMean).toBeLessThan(1100);
    const none = join(d, "none.safetensors");
    const u = await cli("train", "--unlabeled", shifted, "--reward-model", r2, "--transform", "none", "--out", none, ...tiny);
    expect(u.code, u.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(d, "none.json"), "utf8")).config.transform).toBeUndefined();
  });

  it("the low-rank network trains and samples at a target", async () => {
    const d = tempDir("rcgdm-lowrank");
    const m = join(d, "lr.safetensors");
    const t = await cli("train", "--unlabeled", unlabeled, "--reward-model", reward, "--network", "low-rank", "--rank", "2", "--out", m, ...tiny);
    expect(t.code, t.stderr).toBe(0);
    const side = JSON.parse(readFileSync(join(d, "lr.json"), "utf8"));
    expect(side.config.model).toMatchObject({ prediction: "x0", network: { kind: "low-rank", rank: 2 } });
    const s = await cli("sample", "--model", m, "--target", "0.5", "--n", "7", "--steps", "3", "--out", join(d, "s.csv"), "--quiet");
    expect(s.code, s.stderr).toBe(0);
    expect(readFileSync(join(d, "s.csv"), "utf8").trimEnd().split("\n")).toHaveLength(8);
  });
});

describe("rewardiff sample --target", () => {
  it("samples n rows at a target with guidance w, and prints the learned reward of the samples", async () => {
    const d = tempDir("rcgdm-sample");
    const out = join(d, "s.csv");
    const r = await cli("sample", "--model", cond, "--target", "1.5", "--scale", "2", "--n", "9", "--steps", "3", "--out", out, "--reward-model", reward, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("target 1.5, guidance w = 2");
    expect(r.stdout).toMatch(/learned reward f̂ .* of the samples: mean -?[0-9.]+, sd [0-9.]+/);
    const lines = readFileSync(out, "utf8").trimEnd().split("\n");
    expect(lines[0]).toBe("a,b,c");
    expect(lines).toHaveLength(10);
  });

  it("a target that is not a number is commander's usage error naming --target", async () => {
    const r = await expectUntouched(dir, () => cli("sample", "--model", cond, "--target", "high", "--out", join(dir, "never.csv")));
    expectUsageError(r, "--target");
  });

  it("a target of the wrong dimension names both sizes", async () => {
    const r = await expectUntouched(dir, () => cli("sample", "--model", cond, "--target", "1,2", "--out", join(dir, "never.csv"), "--quiet"));
    expectOneLineError(r, "--target has 2 value(s)", "conditioned on 1", "(y)");
  });

  it("a conditional model without --target, and an unconditional one with it, are refused", async () => {
    const r1 = await expectUntouched(dir, () => cli("sample", "--model", cond, "--out", join(dir, "never.csv"), "--quiet"));
    expectOneLineError(r1, cond, "conditional", "--target");
    const r2 = await expectUntouched(dir, () => cli("sample", "--model", uncond, "--target", "1", "--out", join(dir, "never.csv"), "--quiet"));
    expectOneLineError(r2, uncond, "unconditional");
    const r3 = await expectUntouched(dir, () => cli("sample", "--model", uncond, "--scale", "2", "--out", join(dir, "never.csv"), "--quiet"));
    expectOneLineError(r3, "--scale", "--target");
    expect(existsSync(join(dir, "never.csv"))).toBe(false);
  });
});

describe("checkpoints and configs of conditional models", () => {
  it("a sidecar whose conditioning names do not match the condition dimension is refused naming the key", async () => {
    const d = tempDir("rcgdm-sidecar");
    for (const ext of ["safetensors", "json"]) writeFileSync(join(d, `m.${ext}`), readFileSync(join(dir, `cond.${ext}`)));
    const side = JSON.parse(readFileSync(join(d, "m.json"), "utf8"));
    side.config.conditioning.names = ["y", "z"];
    writeFileSync(join(d, "m.json"), JSON.stringify(side));
    const r = await expectUntouched(d, () => cli("sample", "--model", join(d, "m.safetensors"), "--target", "1", "--out", join(d, "s.csv"), "--quiet"));
    expectOneLineError(r, "m.json", "config.conditioning.names", "2 names for a condition of dimension 1");
  });

  it("`run` refuses rcgdm without targets or without labeled data, before any work", async () => {
    const d = tempDir("rcgdm-run");
    const cfg1 = join(d, "no-targets.json");
    writeFileSync(cfg1, JSON.stringify({ task: { kind: "linear-subspace", ambientDim: 8, latentDim: 2 }, method: { kind: "rcgdm" } }));
    expectOneLineError(await expectUntouched(d, () => cli("run", cfg1, "--out", join(d, "out"), "--quiet")), cfg1, "sampling.targets", "rcgdm");
    const cfg2 = join(d, "toy.json");
    writeFileSync(cfg2, JSON.stringify({ task: { kind: "toy2d" }, method: { kind: "rcgdm" }, sampling: { targets: [1] } }));
    expectOneLineError(await expectUntouched(d, () => cli("run", cfg2, "--out", join(d, "out"), "--quiet")), cfg2, "labeled data", "linear-subspace", "fit-reward");
    expect(existsSync(join(d, "out"))).toBe(false);
  });
});
