/** `rewardiff sample`: missing, truncated, corrupt or inconsistent checkpoints and bad options. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, expectOneLineError, expectUntouched, expectUsageError, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

/** A tiny real model, trained once: `shared/model.safetensors` + `shared/model.json`. */
let shared: string;
let dir: string;
/** This test's copy of the model. */
let model: string;
let sidecar: string;
let out: string;

const fast = ["--n", "5", "--steps", "2", "--quiet"];

beforeAll(async () => {
  shared = tempDir("sample-model");
  const r = await cli("train", "--task", "moons", "--steps", "3", "--hidden", "8", "--layers", "1", "--out", join(shared, "model.safetensors"), "--quiet");
  expect(r.code, r.stderr).toBe(0);
});

beforeEach(() => {
  dir = tempDir("sample");
  model = join(dir, "model.safetensors");
  sidecar = join(dir, "model.json");
  copyFileSync(join(shared, "model.safetensors"), model);
  copyFileSync(join(shared, "model.json"), sidecar);
  out = join(dir, "samples.csv");
});
afterAll(removeTempDirs);

/** Rewrites this test's sidecar through `edit` (the weights stay as trained). */
function editSidecar(edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(readFileSync(sidecar, "utf8"));
  edit(j);
  writeFileSync(sidecar, JSON.stringify(j, null, 2));
}

const sample = (...args: string[]) => expectUntouched(dir, () => cli("sample", "--model", model, "--out", out, ...fast, ...args));

describe("rewardiff sample: bad checkpoints", () => {
  it("a missing model is named", async () => {
    const missing = join(dir, "nope.safetensors");
    const r = await expectUntouched(dir, () => cli("sample", "--model", missing, "--out", out, ...fast));
    expectOneLineError(r, "nope.safetensors", "not found");
  });

  it("a model whose weights file is missing (sidecar present) is named", async () => {
    const weightsOnly = join(dir, "other.safetensors");
    copyFileSync(sidecar, join(dir, "other.json"));
    const r = await expectUntouched(dir, () => cli("sample", "--model", weightsOnly, "--out", out, ...fast));
    expectOneLineError(r, weightsOnly, "not found");
  });

  it("a truncated .safetensors is refused as corrupt", async () => {
    const bytes = readFileSync(model);
    writeFileSync(model, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const r = await sample();
    expectOneLineError(r, model, /corrupt|truncated/);
  });

  it("one changed byte in the weights fails the sha256 check", async () => {
    const bytes = readFileSync(model);
    bytes[bytes.length - 7] ^= 0x40;
    writeFileSync(model, bytes);
    const r = await sample();
    expectOneLineError(r, model, "sha256", /corrupt or modified/);
  });

  it("an invalid sidecar JSON gives the file, line and column", async () => {
    writeFileSync(sidecar, '{\n  "format": "rewardiff-checkpoint",\n  "config": {\n');
    const r = await sample();
    expectOneLineError(r, sidecar, /line \d+/, /column \d+/);
  });

  it("a sidecar of another format is refused", async () => {
    writeFileSync(sidecar, '{"format": "something-else"}\n');
    const r = await sample();
    expectOneLineError(r, sidecar, "not a rewardiff checkpoint");
  });

  it("tensor shapes that do not match the sidecar's config (hidden edited) are refused", async () => {
    editSidecar((j) => {
      j.config.model.network.hidden = 16;
    });
    const r = await sample();
    expectOneLineError(r, model, "shape", "[52, 8]", "[52, 16]");
  });

  it("a model path that is neither .safetensors nor .json is refused", async () => {
    const r = await expectUntouched(dir, () => cli("sample", "--model", join(dir, "model"), "--out", out, ...fast));
    expectOneLineError(r, ".safetensors", ".json");
  });
});

describe("rewardiff sample: bad options", () => {
  it("--steps larger than the model's schedule is refused", async () => {
    const r = await sample("--steps", "5000");
    expectOneLineError(r, "--steps 5000", "1000");
  });

  it("--sampler foo is commander's usage error listing the choices", async () => {
    const r = await sample("--sampler", "foo");
    expectUsageError(r, "--sampler", "foo", "ddpm", "ddim");
  });

  it("--n 0 is commander's usage error naming --n", async () => {
    const r = await sample("--n", "0");
    expectUsageError(r, "--n");
  });

  it("an existing --out is refused without --force and stays byte-identical", async () => {
    writeFileSync(out, "keep,me\n1,2\n");
    const r = await sample();
    expectOneLineError(r, out, "already exists", "--force");
    expect(readFileSync(out, "utf8")).toBe("keep,me\n1,2\n");
  });

  it("--force replaces an existing --out", async () => {
    writeFileSync(out, "keep,me\n1,2\n");
    const r = await cli("sample", "--model", model, "--out", out, ...fast, "--force");
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, "utf8").split("\n")[0]).toBe("x1,x2");
  });
});

/** Sidecars edited by hand (or by another tool): each problem is named with the sidecar file and key. */
describe("rewardiff sample: inconsistent sidecars", () => {
  it("a sidecar without config.model.schedule names the file, not a TypeError", async () => {
    editSidecar((j) => {
      delete j.config.model.schedule;
    });
    const r = await sample();
    expectOneLineError(r, sidecar, "schedule");
  });

  it("a sidecar without config.columns names the file, not a TypeError", async () => {
    editSidecar((j) => {
      delete j.config.columns;
    });
    const r = await sample();
    expectOneLineError(r, sidecar, "columns");
  });

  it("a sidecar whose columns do not match the data dimension names the model, not --out", async () => {
    editSidecar((j) => {
      j.config.columns = ["only-one"];
    });
    const r = await sample();
    expectOneLineError(r, sidecar, "columns");
  });

  it("an invalid network spec in the sidecar names the file", async () => {
    editSidecar((j) => {
      j.config.model.network.hidden = 0;
    });
    const r = await sample();
    expectOneLineError(r, sidecar, "hidden");
  });
});
