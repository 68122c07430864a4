/**
 * Reward-model and classifier sidecars are validated strictly (zod, src/io/checkpoints/schemas.ts): a
 * saved file round-trips, and an unknown key or a wrong type anywhere in its config is refused in one
 * line naming the sidecar and the key.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { loadClassifier, saveClassifier } from "../src/io/checkpoints/classifier.js";
import { loadRewardModel, saveRewardModel } from "../src/io/checkpoints/reward.js";
import { fitClassifier } from "../src/rewards/classifier.js";
import { fitReward } from "../src/rewards/fit.js";
import { classifierTiltTask } from "../src/tasks/classifier-tilt.js";

const dir = mkdtempSync(join(tmpdir(), "rewardiff-reward-ckpt-"));
beforeAll(ensureBackend);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function edited(base: string, name: string, edit: (j: Record<string, any>) => void): string {
  for (const ext of ["safetensors", "json"]) writeFileSync(join(dir, `${name}.${ext}`), readFileSync(join(dir, `${base}.${ext}`)));
  const sidecar = join(dir, `${name}.json`);
  const j = JSON.parse(readFileSync(sidecar, "utf8"));
  edit(j);
  writeFileSync(sidecar, JSON.stringify(j));
  return join(dir, `${name}.safetensors`);
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("reward-model sidecars", () => {
  const x = hostMatrix(40, 3, Float32Array.from({ length: 120 }, (_, i) => Math.sin(i * 1.7)));
  const y = Float32Array.from({ length: 40 }, (_, r) => x.data[3 * r]! - 2 * x.data[3 * r + 1]!);

  it("round-trip (ridge, mlp, ensemble) and refuse unknown keys and wrong types", async () => {
    const small = { hidden: 8, layers: 1, l2: 0, steps: 5, learningRate: 1e-2, batchSize: 16 };
    for (const spec of [{ kind: "ridge" as const, l2: 1e-3 }, { kind: "mlp" as const, ...small }, { kind: "ensemble" as const, members: 2, ...small }]) {
      const { model, report } = await fitReward(x, y, spec, keyFromSeed(1), { holdout: 0.25 });
      saveRewardModel(join(dir, `${spec.kind}.safetensors`), model, { columns: ["a", "b", "c"], label: "y", fit: report, data: "test" });
      expect(loadRewardModel(join(dir, `${spec.kind}.safetensors`)).model.kind).toBe(spec.kind);
    }
    const at = (name: string) => join(dir, `${name}.json`);
    expect(errorOf(() => loadRewardModel(edited("ridge", "r1", (j) => (j.config.model.spec.lambda = 1))))).toBe(`${at("r1")}: config.model.spec: unknown key "lambda"`);
    expect(errorOf(() => loadRewardModel(edited("ridge", "r2", (j) => (j.config.model.bias = "0.5"))))).toBe(`${at("r2")}: config.model.bias: expected a number, got "0.5"`);
    expect(errorOf(() => loadRewardModel(edited("mlp", "r3", (j) => (j.config.model.spec.batchSize = "abc"))))).toBe(`${at("r3")}: config.model.spec.batchSize: expected a number, got "abc"`);
    expect(errorOf(() => loadRewardModel(edited("ensemble", "r4", (j) => (j.config.model.members[1].extra = true))))).toBe(`${at("r4")}: config.model.members[1]: unknown key "extra"`);
    expect(errorOf(() => loadRewardModel(edited("ridge", "r5", (j) => (j.config.fit.train.rsme = 1))))).toBe(`${at("r5")}: config.fit.train: unknown key "rsme"`);
  });
});

describe("classifier sidecars", () => {
  it("round-trip and refuse unknown keys and wrong types", async () => {
    const off = await classifierTiltTask({}).offline(keyFromSeed(5), 300);
    const model = await fitClassifier(off.x, off.y, { classes: 2, layers: 1, hidden: 8, steps: 20, learningRate: 1e-2 }, keyFromSeed(6));
    saveClassifier(join(dir, "clf.safetensors"), model, { columns: ["x1", "x2"], label: "y" });
    expect(loadClassifier(join(dir, "clf.safetensors")).model.temperature).toBe(model.temperature);
    const at = (name: string) => join(dir, `${name}.json`);
    expect(errorOf(() => loadClassifier(edited("clf", "c1", (j) => (j.config.model.spec.dropout = 0.1))))).toBe(`${at("c1")}: config.model.spec: unknown key "dropout"`);
    expect(errorOf(() => loadClassifier(edited("clf", "c2", (j) => (j.config.model.temperature = "1"))))).toBe(`${at("c2")}: config.model.temperature: expected a number, got "1"`);
    expect(errorOf(() => loadClassifier(edited("clf", "c3", (j) => (j.config.owner = "me"))))).toBe(`${at("c3")}: config: unknown key "owner"`);
  });
});
