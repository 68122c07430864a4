/**
 * Long jobs that resume (README "Long jobs"): `train --checkpoint-every`, Ctrl-C that saves a checkpoint
 * and says how to resume (exit 130), `train --resume` / `run --resume` continuing to exactly what an
 * uninterrupted run gives, and the refusals (other data, other architecture, other config). Ctrl-C is a
 * real SIGINT sent to `node bin/rewardiff.js` (needs `npm run build`).
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { makeProgress } from "../src/cli/progress.js";
import { watchInterrupts } from "../src/cli/interrupt.js";
import { cli, expectOneLineError, expectUntouched, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI, sends `signals` once `ready()` holds (polled every 20 ms) and resolves when it
 * exits. Fails if it exits before being signalled (the run was too short to interrupt).
 */
function interrupted(args: string[], ready: () => boolean, signals: NodeJS.Signals[] = ["SIGINT"]): Promise<Spawned & { signalled: boolean }> {
  return new Promise((resolveRun, reject) => {
    // The resumed and straight runs below run in-process (`cli`), without the relaxed SIMD the built CLI
    // turns on (src/cli/relaxed-simd.ts): keep it off here too, so that all three compute the same bits.
    const child = spawn(process.execPath, ["bin/rewardiff.js", ...args], { cwd: ROOT, env: { ...process.env, REWARDIFF_RELAXED_SIMD: "0" } });
    let stdout = "";
    let stderr = "";
    let signalled = false;
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const poll = setInterval(() => {
      if (!signalled && ready()) {
        signalled = true;
        for (const s of signals) child.kill(s);
      }
    }, 20);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(poll);
      resolveRun({ code, stdout, stderr, signalled });
    });
  });
}

/** The words of the resume command the stop message gives ("… resume with: rewardiff A B C"). */
function resumeWords(stderr: string): string[] {
  const m = /resume with: rewardiff (.+)$/m.exec(stderr);
  expect(m, stderr).not.toBeNull();
  return m![1]!.trim().split(/\s+/);
}

function stepOf(sidecar: string): number {
  return (JSON.parse(readFileSync(sidecar, "utf8")) as { config: { step: number } }).config.step;
}

/** report.json without what depends on the clock. */
function reportWithoutTimings(path: string): unknown {
  const r = JSON.parse(readFileSync(path, "utf8")) as { timings?: unknown; results: { cost?: Record<string, unknown> }[] };
  delete r.timings;
  for (const row of r.results) {
    if (row.cost) for (const k of Object.keys(row.cost)) if (/Seconds$/.test(k)) delete row.cost[k];
  }
  return r;
}

let dir: string;
beforeAll(() => {
  expect(existsSync(join(ROOT, "dist", "cli", "main.js")), "dist/ is missing: run `npm run build` first").toBe(true);
  dir = tempDir("resume");
});
afterAll(removeTempDirs);

describe("rewardiff train: Ctrl-C, --checkpoint-every, --resume", () => {
  const TRAIN = ["--task", "moons", "--steps", "1500", "--batch-size", "32", "--hidden", "16", "--layers", "1"];
  let stopped: string;
  let stoppedAt = 0;

  it("Ctrl-C after the first checkpoint saves one, prints where and how to resume, exits 130; the resumed run equals a straight one bit for bit", async () => {
    stopped = join(dir, "m.safetensors");
    const sidecar = join(dir, "m.json");
    const r = await interrupted(["train", ...TRAIN, "--checkpoint-every", "10", "--out", stopped], () => existsSync(sidecar));
    expect(r.signalled, "the run ended before the first checkpoint was seen").toBe(true);
    expect(r.code, r.stderr).toBe(130);
    const lines = r.stderr.trim().split("\n");
    expect(lines, r.stderr).toHaveLength(1);
    const m = /^rewardiff: stopped at step (\d+) of 1500; checkpoint saved to (\S+); resume with: rewardiff train --resume (\S+) --out (\S+) --task moons$/.exec(lines[0]!);
    expect(m, lines[0]).not.toBeNull();
    stoppedAt = Number(m![1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(10);
    expect(stoppedAt).toBeLessThan(1500);
    expect([m![2], m![3], m![4]]).toEqual([stopped, stopped, stopped]);
    // The checkpoint on disk is the state at the step the message names, and it loads.
    expect(stepOf(sidecar)).toBe(stoppedAt);
    const loaded = loadModel(stopped);
    expect(loaded.kind).toBe("training");
    expect(loaded.state!.step).toBe(stoppedAt);
    disposeLoadedModel(loaded);

    const resumed = await cli(...resumeWords(r.stderr), "--quiet");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`resuming ${stopped.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} at step ${stoppedAt} of 1500: keeps its model \\(mlp 16×1\\)`));
    const straightPath = join(dir, "straight.safetensors");
    const straight = await cli("train", ...TRAIN, "--out", straightPath, "--quiet");
    expect(straight.code, straight.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(dir, "straight.json"), "utf8"));
    const b = JSON.parse(readFileSync(sidecar, "utf8"));
    expect(b.config).toEqual(a.config);
    // sha256 of the safetensors bytes: every tensor (weights, EMA, Adam moments, key) bit for bit.
    expect(b.sha256).toBe(a.sha256);
  }, 60_000);

  it("--resume with other data is refused naming both, before any work", async () => {
    const other = join(dir, "other.csv");
    writeFileSync(other, "x1,x2\n" + Array.from({ length: 50 }, (_, i) => `${i / 10},${-i / 7}`).join("\n") + "\n");
    const byTask = await expectUntouched(dir, () => cli("train", "--resume", stopped, "--out", stopped, "--task", "8gaussians", "--steps", "1600", "--quiet"));
    expectOneLineError(byTask, "--task 8gaussians", "toy2d:moons", "toy2d:8gaussians", stopped, "not the data");
    const byFile = await expectUntouched(dir, () => cli("train", "--resume", stopped, "--out", stopped, "--data", other, "--steps", "1600", "--quiet"));
    expectOneLineError(byFile, `--data ${other}`, "toy2d:moons", stopped, "not the data");
  });

  it("--resume refuses a conflicting architecture flag and says which options it ignored", async () => {
    const hidden = await expectUntouched(dir, () => cli("train", "--resume", stopped, "--out", stopped, "--task", "moons", "--hidden", "32", "--quiet"));
    expectOneLineError(hidden, "--hidden 32", "hidden 16", stopped);
    const out = join(dir, "replanned.safetensors");
    const r = await cli("train", "--resume", stopped, "--out", out, "--task", "moons", "--lr", "0.5", "--steps", "1510", "--quiet");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/keeps its model .* batch size 32 and seed 0; ignored: --lr 0\.5$/);
    expect(lines[1]).toMatch(/^--steps 1510 re-plans the learning-rate schedule \(the checkpoint planned 1500 steps\)/);
    expect(stepOf(join(dir, "replanned.json"))).toBe(1510);
  }, 30_000);
});

describe("rewardiff run --resume", () => {
  const CONFIG = {
    seed: 3,
    task: { kind: "gaussian-mixture", components: [{ weight: 1, mean: [-1, 0], std: 0.4 }, { weight: 1, mean: [1, 0.5], std: 0.4 }], rewardWeights: [1, 0], n: 300 },
    model: { hidden: 16, layers: 1, timeEmbedding: 4, train: { steps: 2000, batchSize: 32, checkpointEvery: 20 } },
    sampling: { steps: 5, samples: 100 },
    method: { kind: "none" },
  };
  let cfg: string;
  let runDir: string;

  it("Ctrl-C during the base model's training, then run --resume: the same report, samples and model as an uninterrupted run", async () => {
    cfg = join(dir, "run.json");
    writeFileSync(cfg, JSON.stringify(CONFIG));
    runDir = join(dir, "run");
    const r = await interrupted(["run", cfg, "--out", runDir, "--quiet"], () => existsSync(join(runDir, "model.json")));
    expect(r.signalled).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    const m = /^rewardiff: stopped during the base model's training; base model at step (\d+) of 2000, checkpoint saved to (\S+); resume with: rewardiff run (\S+) --resume (\S+)$/.exec(r.stderr.trim());
    expect(m, r.stderr).not.toBeNull();
    expect([m![2], m![3], m![4]]).toEqual([join(runDir, "model.safetensors"), cfg, runDir]);
    expect(stepOf(join(runDir, "model.json"))).toBe(Number(m![1]));
    expect(existsSync(join(runDir, "report.json"))).toBe(false);
    expect(existsSync(join(runDir, "run-state.json"))).toBe(true);
    // Another config (here: another seed) is refused naming the run's state file, and nothing changes.
    const other = join(dir, "other-run.json");
    writeFileSync(other, JSON.stringify({ ...CONFIG, seed: 4 }));
    const refused = await expectUntouched(dir, () => cli("run", other, "--resume", runDir, "--quiet"));
    expectOneLineError(refused, `--resume ${runDir}`, "run-state.json", "another config", other);

    const resumed = await cli(...resumeWords(r.stderr), "--quiet");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(existsSync(join(runDir, "run-state.json")), "a finished run keeps no run state").toBe(false);
    const straightDir = join(dir, "straight-run");
    const straight = await cli("run", cfg, "--out", straightDir, "--quiet");
    expect(straight.code, straight.stderr).toBe(0);
    expect(reportWithoutTimings(join(runDir, "report.json"))).toEqual(reportWithoutTimings(join(straightDir, "report.json")));
    for (const f of ["samples.csv", "model.safetensors"]) {
      expect(readFileSync(join(runDir, f)).equals(readFileSync(join(straightDir, f))), f).toBe(true);
    }
  }, 60_000);

  it("refuses a finished folder whose report has another config, and a folder with no run, before any work", async () => {
    const other = join(dir, "other-run.json");
    const r = await expectUntouched(dir, () => cli("run", other, "--resume", runDir, "--quiet"));
    expectOneLineError(r, `--resume ${runDir}`, "report.json", "another config", other);
    const seeded = await expectUntouched(dir, () => cli("run", cfg, "--resume", runDir, "--seed", "9", "--quiet"));
    expectOneLineError(seeded, "another config");
    const empty = tempDir("resume-empty");
    const none = await expectUntouched(empty, () => cli("run", cfg, "--resume", empty, "--quiet"));
    expectOneLineError(none, `--resume ${empty}`, "no run to resume");
  });
});

it("a second Ctrl-C (or SIGTERM) exits at once: the bar is stopped, the terminal restored, the code 128 + the first signal's number", () => {
  const stopped: string[] = [];
  const exit = vi.spyOn(process, "exit").mockImplementation(((code?: number) => {
    stopped.push(`exit ${code}`);
  }) as typeof process.exit);
  const err = vi.spyOn(process.stderr, "write").mockImplementation(((chunk: string) => {
    stopped.push(chunk.trim());
    return true;
  }) as typeof process.stderr.write);
  const before = process.listenerCount("SIGINT");
  const watch = watchInterrupts(() => stopped.push("bar stopped"));
  try {
    process.emit("SIGINT", "SIGINT");
    expect(watch.signal.aborted).toBe(true);
    expect(stopped.filter((s) => s.startsWith("exit") || s === "bar stopped")).toEqual([]);
    expect(watch.exitCode()).toBe(130);
    process.emit("SIGTERM", "SIGTERM");
    expect(stopped).toContain("bar stopped");
    expect(stopped).toContain("rewardiff: terminated; nothing saved after the last checkpoint");
    expect(stopped.at(-1)).toBe("exit 130");
  } finally {
    watch.dispose();
    exit.mockRestore();
    err.mockRestore();
  }
  expect(process.listenerCount("SIGINT")).toBe(before);
  const term = watchInterrupts(() => {});
  process.emit("SIGTERM", "SIGTERM");
  expect(term.exitCode()).toBe(143);
  term.dispose();
});

it("the progress bar keeps one bar whose total follows the plan, and done() restores the cursor and line wrap", () => {
  const s = new PassThrough() as unknown as NodeJS.WriteStream;
  Object.assign(s, { isTTY: true, columns: 100 });
  let text = "";
  (s as unknown as PassThrough).on("data", (c: Buffer) => (text += c.toString()));
  const p = makeProgress(false, s);
  p.update("train", 10, 500, { loss: 1 });
  p.update("train", 757, 1000, { loss: 1 });
  p.done();
  expect(text).toContain("757/1000");
  expect(text).not.toContain("757/500");
  expect(text.endsWith("\x1b[?25h\x1b[?7h")).toBe(true);
});

it("Ctrl-C during `sample` (nothing to save) exits at once with 130, writes nothing and leaves no lock", async () => {
  const dir = tempDir("sample-sigint");
  const model = join(dir, "m.safetensors");
  const t = await cli("train", "--task", "moons", "--steps", "3", "--hidden", "8", "--layers", "1", "--batch-size", "16", "--out", model, "--quiet");
  expect(t.code, t.stderr).toBe(0);
  const out = join(dir, "s.csv");
  const start = Date.now();
  // 200,000 points × 1000 steps would run for minutes: the signal must cut it short.
  const r = await interrupted(["sample", "--model", model, "--n", "200000", "--steps", "1000", "--out", out, "--quiet"], () => Date.now() - start > 2500);
  expect(r.signalled).toBe(true);
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr.trim().split("\n")).toEqual(["rewardiff: interrupted; nothing was written"]);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(dir).sort()).toEqual(["m.json", "m.safetensors"]);
});

it("Ctrl-C during a molecule run's rcgdm fine-tuning keeps its training checkpoint and says how to resume from it", async () => {
  const dir = tempDir("mol-sigint");
  const molecules = ["CCO", "CC(=O)O", "CCN", "CC#N", "OCCO", "CCCC", "C1CCC1", "CC(C)O", "NCC(=O)O", "C1CCOC1", "CCOC", "CC(N)=O", "OC1CC1", "C=CC=O", "CNC=O", "CCCO", "CCF", "FC(F)F", "CC(F)CO", "OCC(O)CO", "CC#CC", "c1ccncc1", "CCCCO", "CN(C)C"];
  writeFileSync(join(dir, "mols.csv"), ["smiles", ...molecules].join("\n") + "\n");
  const config = join(dir, "run.json");
  // 100,000 fine-tuning steps would run for long: the signal must cut it short, after the first checkpoint.
  const method = { kind: "rcgdm", targets: [0.5], molecules: { labeled: 16, heldOut: 0, checkpointEvery: 5, train: { steps: 100000, batchSize: 8, warmupSteps: 1 } } };
  writeFileSync(config, JSON.stringify({ task: { kind: "smiles", path: "mols.csv", maxAtoms: 9 }, model: { pretrained: "qm9" }, reward: { kind: "property", property: "logp" }, method, sampling: { steps: 4, samples: 4 } }));
  const out = join(dir, "out");
  const checkpoint = join(out, "model-rcgdm-train.safetensors");
  const r = await interrupted(["run", config, "--out", out, "--quiet"], () => existsSync(join(out, "model-rcgdm-train.json")));
  expect(r.signalled).toBe(true);
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr.trim().split("\n")).toEqual([`rewardiff: interrupted; the fine-tuning checkpoint ${checkpoint} is kept (nothing else was written); resume with: rewardiff run ${config} --resume ${out}`]);
  expect(readdirSync(out).sort()).toEqual(["model-rcgdm-train.json", "model-rcgdm-train.safetensors"]);
  const kept = loadModel(checkpoint);
  expect(kept.kind).toBe("training");
  expect(kept.meta.step % 5).toBe(0);
  disposeLoadedModel(kept);
}, 120_000);
