/**
 * The classifier-tilt task in `rewardiff run`: method "none" samples the pretrained p_pre(x|c)
 * (trained once per run, saved as pretrained.safetensors, loadable frozen), and the evaluation of a
 * sampler is checked against the exact targets: an exact sampler of p* scores its known accuracy and
 * sits at the distance floor, while a sampler that ignores y scores chance.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { parseConfig } from "../src/runners/config.js";
import { evaluateTiltSampler } from "../src/runners/classifier-tilt/evaluate.js";
import { pretrainedFor, samplePretrained } from "../src/runners/classifier-tilt/pretrained.js";
import { runExperiment } from "../src/runners/experiment.js";
import { newRunState, type MethodContext } from "../src/runners/methods/context.js";
import { taskData } from "../src/runners/task-data.js";
import { classifierTiltTask } from "../src/tasks/classifier-tilt.js";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "rewardiff-tilt-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
beforeAll(async () => {
  await ensureBackend();
});

describe("classifier-tilt evaluation", () => {
  const task = classifierTiltTask({});
  it("an exact sampler of p* gets the exact accuracy and the distance floor; a y-blind one gets chance", async () => {
    const n = 600;
    const exact = await evaluateTiltSampler(task, (c, y, m, key) => task.target(c, y).sample(key, m), { label: "exact", n, key: keyFromSeed(1), plots: false });
    const se = Math.sqrt(0.25 / (4 * n));
    expect(Math.abs((exact.fields.accuracy as number) - (exact.fields.targetAccuracy as number))).toBeLessThan(4 * se);
    expect(exact.fields.targetAccuracy as number).toBeGreaterThan(0.95);
    const sw = exact.fields.targetSlicedWasserstein as { value: number; floor: number; ratio: number };
    expect(sw.ratio).toBeLessThan(1.6);
    const blind = await evaluateTiltSampler(task, (c, _y, m, key) => task.sampleContext(key, c, m), { label: "blind", n, key: keyFromSeed(2), plots: false });
    // Ignoring y, acc(c, 0) + acc(c, 1) = 1 for every context: pooled accuracy 0.5 up to sampling noise.
    expect(Math.abs((blind.fields.accuracy as number) - 0.5)).toBeLessThan(4 * se);
    expect((blind.fields.targetSlicedWasserstein as { ratio: number }).ratio).toBeGreaterThan(3);
    expect(blind.fields.macroF1 as number).toBeLessThan(0.6);
    expect((exact.fields.reward as { mean: number }).mean).toBeGreaterThan((blind.fields.reward as { mean: number }).mean);
  });
});

describe("classifier-tilt in rewardiff run", () => {
  it("{ kind: classifier-tilt } alone is a complete config; none reports the pretrained model at chance and saves it", async () => {
    const cfg = parseConfig(
      {
        seed: 3,
        task: { kind: "classifier-tilt", n: 2000, offline: 500 },
        reward: { kind: "classifier", steps: 150, layers: 1, hidden: 16 },
        model: { hidden: 64, layers: 2, timeEmbedding: 16, train: { steps: 400, batchSize: 256 } },
        // 1200 samples = 300 per (c, y) pair (sampling.samples is split over the C·K pairs).
        sampling: { sampler: "ddpm", steps: 20, samples: 1200 },
      },
      "test config",
    );
    expect(parseConfig({ task: { kind: "classifier-tilt" } }, "c").task).toMatchObject({ contexts: 2, n: 8000, gamma: 1, offline: 2000, grid: 200 });
    const out = fresh();
    const { report, files } = await runExperiment(cfg, out);
    const row = report.results[0]!;
    expect(row.method).toBe("none");
    expect(Math.abs((row.accuracy as number) - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / 1200));
    // The pretrained model is context-conditional: P(class 1 | c) ≈ 0.3 in context 0 and 0.7 in context 1.
    const pa = row.pairAccuracy as Record<string, number>;
    expect(pa["c0,y1"]!).toBeLessThan(0.45);
    expect(pa["c1,y1"]!).toBeGreaterThan(0.55);
    expect(typeof row.reference?.rewardMean).toBe("number");
    expect(files.some((f) => f.endsWith("pretrained.safetensors"))).toBe(true);
    expect(files.some((f) => f.endsWith("classifier.safetensors"))).toBe(true);
    expect((report as unknown as { classifier: { heldOut: { accuracy: number } } }).classifier.heldOut.accuracy).toBeGreaterThan(0.9);

    // Loading it back (frozen) reproduces the same sampler; a mismatched task is refused clearly.
    const data = await taskData(cfg.task, keyFromSeed(0));
    const ctx = { cfg, method: { kind: "none" }, index: 0, data, state: newRunState() } as unknown as MethodContext;
    const p = await pretrainedFor(ctx, { path: join(out, "pretrained.safetensors"), where: "method.pretrained" });
    expect(p.source).toContain("pretrained.safetensors");
    const s = await samplePretrained(p, { sampler: "ddpm", steps: 20, eta: 1 }, 1, 400, keyFromSeed(9));
    const cls = data.classifierTilt!.task.trueClass(s);
    expect(cls.reduce((a, v) => a + v, 0) / 400).toBeGreaterThan(0.55);
    const three = await taskData(parseConfig({ task: { kind: "classifier-tilt", contexts: 3, n: 10, offline: 10 } }, "c").task, keyFromSeed(0));
    const ctx3 = { cfg, method: { kind: "none" }, index: 0, data: three, state: newRunState() } as unknown as MethodContext;
    await expect(pretrainedFor(ctx3, { path: join(out, "pretrained.safetensors"), where: "method.pretrained" })).rejects.toThrow(
      /method\.pretrained: .*pretrained\.safetensors: the model's context condition has dimension 2, but the task has 3 contexts/,
    );
  });
});
