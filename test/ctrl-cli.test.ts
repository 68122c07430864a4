/**
 * CTRL and DRaFT end to end through the command line, on tiny models:
 *  - `rewardiff run` on the classifier-tilt task: CTRL raises the accuracy under the ground-truth
 *    labeler (not the learned classifier) from chance (the "none" row, p_pre ignoring y) to clearly
 *    above it; every row uses the same samples per (c, y) pair; the fine-tuned model is saved.
 *  - `rewardiff sample` of the saved CTRL model with --context c --control y draws the requested class
 *    (scored by the ground-truth labeler); bad input (a label outside the classifier's classes, a
 *    context out of range, no --control, CFG without a null control) is one line, exit 1, nothing
 *    written or overwritten.
 *  - a pretrained checkpoint whose shape does not match (`method[0].pretrained`) is refused in one line
 *    and leaves an existing output folder untouched.
 *  - DRaFT: the saved model samples like an unconditional one; its row reports klToPretrained (path KL)
 *    and reference.kl (exact KL(p*‖p)) as numbers.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { parseCsv } from "../src/io/csv.js";
import { pretrainedModelConfig } from "../src/runners/classifier-tilt/pretrained.js";
import { saveModel } from "../src/io/checkpoints/model-files.js";
import { classifierTiltTask } from "../src/tasks/classifier-tilt.js";
import { defaultTrainConfig, disposeTrainState, initTrainState } from "../src/training/trainer.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { cli, expectOneLineError, expectUntouched, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

beforeAll(ensureBackend);
afterAll(removeTempDirs);

const task = classifierTiltTask({});
const tiny = { hidden: 32, layers: 2, timeEmbedding: 16, schedule: { steps: 100, betaEnd: 0.05 } };

function writeConfig(dir: string, cfg: unknown): string {
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(cfg));
  return path;
}

/** Fraction of the CSV's rows the ground-truth labeler puts in class y. */
function labelerShare(path: string, y: number): number {
  const t = parseCsv(readFileSync(path), path);
  const cls = task.trueClass(t.matrix);
  return cls.reduce((s, v) => s + (v === y ? 1 : 0), 0) / cls.length;
}

describe("ctrl from the command line", () => {
  let run: string;
  let model: string;

  it("rewardiff run: CTRL raises the labeler accuracy from chance, same samples per pair, saves the model", async () => {
    run = tempDir("ctrl-run");
    const cfg = writeConfig(run, {
      seed: 1,
      task: { kind: "classifier-tilt", n: 2000, offline: 500 },
      reward: { kind: "classifier", steps: 150, layers: 1, hidden: 16 },
      model: { ...tiny, train: { steps: 300, batchSize: 256 } },
      method: [{ kind: "none" }, { kind: "ctrl", trainable: "all", steps: 25, batchSize: 64, learningRate: 0.01 }],
      sampling: { sampler: "ddpm", steps: 10, samples: 800 },
    });
    const out = join(run, "out");
    const r = await cli("run", cfg, "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    const [none, ctrl] = report.results;
    expect(none.samples).toBe(800);
    expect(ctrl.samples).toBe(800);
    // Before: p_pre ignores y, chance up to noise (4 standard errors of 800 Bernoulli(0.5) draws).
    expect(Math.abs(none.accuracy - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / 800));
    // After: clearly above chance, toward the exact p*'s accuracy (≈ 0.98).
    expect(ctrl.accuracy).toBeGreaterThan(0.75);
    expect(ctrl.accuracy).toBeLessThanOrEqual(1);
    expect(typeof ctrl.klToPretrained).toBe("number");
    expect(ctrl.klToPretrained).toBeGreaterThan(0);
    expect(typeof ctrl.reference.kl).toBe("number");
    model = join(out, "model-ctrl.safetensors");
    const side = JSON.parse(readFileSync(join(out, "model-ctrl.json"), "utf8"));
    expect(side.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(side.config.finetuned).toMatchObject({ method: "ctrl", control: { classes: 2, nullProbability: 0 }, context: { contexts: 2 } });
    expect(side.config.model.network.control).toEqual({ classes: 2 });
  }, 60_000);

  it("rewardiff sample --context c --control y draws the requested class; bad input is refused", async () => {
    const dir = tempDir("ctrl-sample");
    const s = (name: string) => join(dir, name);
    const fast = ["--sampler", "ddpm", "--steps", "10", "--n", "400", "--quiet"];
    let r = await cli("sample", "--model", model, "--context", "0", "--control", "1", "--out", s("c0y1.csv"), ...fast);
    expect(r.code, r.stderr).toBe(0);
    r = await cli("sample", "--model", model, "--context", "1", "--control", "0", "--out", s("c1y0.csv"), ...fast);
    expect(r.code, r.stderr).toBe(0);
    // p_pre puts 30% of its mass in class 1 in context 0 and 30% in class 0 in context 1.
    expect(labelerShare(s("c0y1.csv"), 1)).toBeGreaterThan(0.7);
    expect(labelerShare(s("c1y0.csv"), 0)).toBeGreaterThan(0.7);

    // Bad input: one line, exit 1, the existing output (even with --force) and the folder untouched.
    const bad = (...args: string[]) => expectUntouched(dir, () => cli("sample", "--model", model, "--out", s("c0y1.csv"), "--force", ...fast, ...args));
    expectOneLineError(await bad("--context", "0", "--control", "2"), "--control 2 is outside the classifier's classes 0..1");
    expectOneLineError(await bad("--context", "5", "--control", "1"), "--context 5 is outside the model's contexts 0..1");
    expectOneLineError(await bad("--context", "0"), "pass --control y");
    expectOneLineError(await bad("--control", "1"), "pass --context c");
    expectOneLineError(await bad("--context", "0", "--control", "1", "--cfg-scale", "2"), "without the null control");
    expectOneLineError(await bad("--context", "0", "--control", "1", "--sampler", "ddim", "--eta", "0"), "use --eta > 0");

    // A model whose sidecar says it was trained with the null control accepts --cfg-scale, and w ≠ 1
    // changes the samples while w = 1 reproduces plain conditional sampling under the same seed.
    const nullModel = join(dir, "m.safetensors");
    copyFileSync(model, nullModel);
    const sc = JSON.parse(readFileSync(model.replace(/safetensors$/, "json"), "utf8"));
    sc.config.finetuned.control.nullProbability = 0.2;
    writeFileSync(join(dir, "m.json"), JSON.stringify(sc));
    const cfgRun = async (w: string, file: string) => {
      const r = await cli("sample", "--model", nullModel, "--context", "0", "--control", "1", "--cfg-scale", w, "--out", s(file), ...fast);
      expect(r.code, r.stderr).toBe(0);
      return parseCsv(readFileSync(s(file)), file).matrix.data;
    };
    const plainRows = parseCsv(readFileSync(s("c0y1.csv")), "c0y1.csv").matrix.data;
    const w1 = await cfgRun("1", "w1.csv");
    const w2 = await cfgRun("2", "w2.csv");
    expect(Array.from(w1)).toEqual(Array.from(plainRows));
    expect(w2.some((v, i) => Math.abs(v - w1[i]!) > 1e-3)).toBe(true);
  }, 30_000);

  it("a pretrained checkpoint whose shape does not match is refused in one line, naming method[0].pretrained", async () => {
    const dir = tempDir("ctrl-pretrained");
    const base: ModelConfig = { network: { kind: "mlp", dataDim: 2, hidden: 8, layers: 1, timeEmbedding: 8, residual: true, norm: "none" }, prediction: "eps", schedule: { kind: "linear", steps: 50 } };
    const train = { ...defaultTrainConfig, steps: 1 };
    const wrong: [string, ModelConfig, string[], RegExp][] = [
      ["three-contexts.safetensors", pretrainedModelConfig(base, 3), ["x1", "x2"], /context condition has dimension 3, but the task has 2 contexts/],
      ["three-d.safetensors", pretrainedModelConfig({ ...base, network: { ...base.network, dataDim: 3 } }, 2), ["x1", "x2", "x3"], /3-dimensional data, but the classifier-tilt task is 2-D/],
    ];
    const out = join(dir, "out");
    // An earlier run's results in the output folder: a failed run with --force must leave them alone.
    const prior = await cli("train", "--task", "moons", "--steps", "2", "--hidden", "8", "--layers", "1", "--out", join(out, "model.safetensors"), "--quiet");
    expect(prior.code, prior.stderr).toBe(0);
    writeFileSync(join(out, "report.json"), "{}\n");
    for (const [file, m, columns, needle] of wrong) {
      const st = initTrainState(m, keyFromSeed(0));
      await saveModel(join(dir, file), { model: m, train, columns, data: "test" }, st);
      disposeTrainState(st);
      const cfg = writeConfig(dir, {
        task: { kind: "classifier-tilt", n: 200, offline: 100 },
        model: tiny,
        method: [{ kind: "ctrl", pretrained: join(dir, file), steps: 1 }],
        sampling: { sampler: "ddpm", steps: 5, samples: 40 },
      });
      const r = await expectUntouched(out, () => cli("run", cfg, "--out", out, "--force", "--quiet"));
      expectOneLineError(r, "method[0].pretrained", file, needle);
    }
  }, 30_000);
});

describe("draft from the command line", () => {
  it("saves the fine-tuned model, samples it like an unconditional one, reports klToPretrained and reference.kl", async () => {
    const dir = tempDir("draft-run");
    const cfg = writeConfig(dir, {
      seed: 0,
      task: { kind: "gaussian-mixture", components: [{ weight: 1, mean: [-1, 0], std: 0.4 }, { weight: 1, mean: [1, 0.5], std: 0.4 }], rewardWeights: [1, 0] },
      model: { ...tiny, train: { steps: 150, batchSize: 256 } },
      method: [{ kind: "draft", alpha: 1, steps: 5, batchSize: 32, trainable: "adapters", rank: 2 }],
      sampling: { sampler: "ddpm", steps: 10, samples: 200 },
    });
    const out = join(dir, "out");
    let r = await cli("run", cfg, "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    const row = JSON.parse(readFileSync(join(out, "report.json"), "utf8")).results[0];
    expect(typeof row.klToPretrained).toBe("number");
    expect(typeof row.reference.kl).toBe("number");
    // Exact KL(p*‖p) of the linear tilt is positive and finite.
    expect(row.reference.kl).toBeGreaterThan(0);
    const model = join(out, "model-draft.safetensors");
    r = await cli("sample", "--model", model, "--sampler", "ddpm", "--steps", "10", "--n", "50", "--out", join(dir, "s.csv"), "--quiet");
    expect(r.code, r.stderr).toBe(0);
    expect(parseCsv(readFileSync(join(dir, "s.csv")), "s.csv").matrix.rows).toBe(50);
    const r2 = await expectUntouched(dir, () => cli("sample", "--model", model, "--control", "0", "--n", "5", "--out", join(dir, "t.csv"), "--quiet"));
    expectOneLineError(r2, "--control: ", "DRaFT model without a context or control input");
  }, 30_000);
});
