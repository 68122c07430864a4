/** Output files: labels map to file names injectively, and every --out is checked before the work (src/io/outputs.ts). */
import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { LOCK_FILE } from "../src/io/outputs.js";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { checkDistinctFileNames, fileLabel, lockFile, lockFileOf, modelFileName, modelFileNames, rewardModelFileName } from "../src/io/outputs.js";
import { finetunedFileName } from "../src/io/checkpoints/finetuned.js";
import { samplesFileName } from "../src/runners/experiment.js";
import { cli, expectOneLineError, expectUntouched, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

describe("label file names", () => {
  it("keeps already-safe labels unchanged", () => {
    expect(samplesFileName("rcgdm-a=0.5")).toBe("samples-rcgdm-a=0.5.csv");
    expect(finetunedFileName("ctrl")).toBe("model-ctrl.safetensors");
    expect(fileLabel("none#0")).not.toBe("none#0");
  });

  it("two labels that sanitise alike get two names, each with the SHA-256 of its own label", () => {
    const a = fileLabel("g τ=1");
    const b = fileLabel("g σ=1");
    expect(a).not.toBe(b);
    const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex").slice(0, 8);
    expect(a).toBe(`g_=1~${sha("g τ=1")}`);
    expect(b).toBe(`g_=1~${sha("g σ=1")}`);
    // A safe label equal to the sanitised text keeps its name and differs from both.
    expect(fileLabel("g_=1")).toBe("g_=1");
    expect(finetunedFileName("g τ=1")).not.toBe(finetunedFileName("g σ=1"));
  });

  it("refuses labels whose file names coincide, naming both", () => {
    expect(() => checkDistinctFileNames(["a b", "a-c"], () => "same.csv", "cfg.json")).toThrow(/cfg\.json: labels "a b" and "a-c" would both be written to same\.csv/);
    expect(() => checkDistinctFileNames(["g τ=1", "g σ=1"], samplesFileName, "cfg.json")).not.toThrow();
  });
});

describe("rewardiff run: labels that sanitise alike", () => {
  it("writes two samples files, one per label", async () => {
    const dir = tempDir("outputs");
    const cfg = join(dir, "cfg.json");
    writeFileSync(cfg, JSON.stringify({
      seed: 0,
      task: { kind: "gaussian-mixture", components: [{ weight: 1, mean: [0, 0], std: 1 }], rewardWeights: [1, 0], n: 200 },
      model: { hidden: 8, layers: 1, timeEmbedding: 4, train: { steps: 5, batchSize: 16 } },
      sampling: { steps: 2, samples: 50 },
      method: [{ kind: "best-of-n", alpha: 1, candidates: 2, label: "g τ=1" }, { kind: "best-of-n", alpha: 2, candidates: 2, label: "g σ=1" }],
    }));
    const out = join(dir, "out");
    const r = await cli("run", cfg, "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    const csvs = readdirSync(out).filter((f) => f.startsWith("samples-")).sort();
    expect(csvs).toEqual([samplesFileName("g τ=1"), samplesFileName("g σ=1")].sort());
    // Each file holds its own method's 50 samples (header + 50 rows), and the two differ (α = 1 vs 2).
    const texts = csvs.map((f) => readFileSync(join(out, f), "utf8").trim().split("\n"));
    for (const t of texts) expect(t.length).toBe(51);
    expect(texts[0]!.join("\n")).not.toBe(texts[1]!.join("\n"));
  });
});

describe("every --out is checked before the first step", () => {
  /** A folder holding a regular file `blocker`, a folder `taken.safetensors`, a config and a data file. */
  function setup() {
    const dir = tempDir("outputs");
    const blocker = join(dir, "blocker");
    writeFileSync(blocker, "keep me\n");
    const folder = join(dir, "taken.safetensors");
    mkdirSync(folder);
    writeFileSync(join(folder, "inside.txt"), "keep me too\n");
    const cfg = join(dir, "cfg.json");
    writeFileSync(cfg, JSON.stringify({ seed: 0, task: { kind: "toy2d", name: "moons", n: 200 }, model: { hidden: 8, layers: 1, timeEmbedding: 4, train: { steps: 5, batchSize: 16 } }, sampling: { steps: 2, samples: 50 } }));
    const data = join(dir, "data.csv");
    writeFileSync(data, "a,b,y\n" + Array.from({ length: 40 }, (_, i) => `${i % 7},${(i * 3) % 5},${i % 2}`).join("\n") + "\n");
    return { dir, blocker, folder, cfg, data };
  }
  const tiny = ["--steps", "2", "--hidden", "4", "--layers", "1", "--batch-size", "4", "--quiet"];

  /** Runs the CLI, asserting a one-line error naming --out and the path, in under 2 s, with `dir` unchanged. */
  async function refused(dir: string, argv: string[], ...needles: string[]): Promise<void> {
    const t0 = performance.now();
    const r = await expectUntouched(dir, () => cli(...argv));
    expect(performance.now() - t0).toBeLessThan(2000);
    expectOneLineError(r, "--out", ...needles);
  }

  it("run: a folder under a regular file", async () => {
    const { dir, blocker, cfg } = setup();
    await refused(dir, ["run", cfg, "--out", join(blocker, "out"), "--quiet"], join(blocker, "out"), "is a file, not a folder");
  });

  it("demo: a folder under a regular file", async () => {
    const { dir, blocker } = setup();
    await refused(dir, ["demo", "--out", join(blocker, "a", "b"), "--quiet"], join(blocker, "a", "b"), "is a file, not a folder");
  });

  it("train: a model file under a regular file, and a model path that is a folder (EISDIR)", async () => {
    const { dir, blocker, folder, data } = setup();
    await refused(dir, ["train", "--data", data, "--out", join(blocker, "m.safetensors"), ...tiny], "is a file, not a folder");
    await refused(dir, ["train", "--data", data, "--out", folder, "--force", ...tiny], folder, "is a folder, not a file");
  });

  it("sample: an output file that is a folder (EISDIR)", async () => {
    const { dir } = setup();
    const folder = join(dir, "samples.csv");
    mkdirSync(folder);
    await refused(dir, ["sample", "--model", join(dir, "no-model.safetensors"), "--out", folder, "--force", "--quiet"], folder, "is a folder, not a file");
  });

  it("fit-reward: a reward file under a regular file", async () => {
    const { dir, blocker, data } = setup();
    await refused(dir, ["fit-reward", "--data", data, "--label", "y", "--out", join(blocker, "r.safetensors"), "--quiet"], "is a file, not a folder");
  });

  it("run: a read-only folder", async (t) => {
    if (process.getuid?.() === 0) {
      console.log("skipped: running as root, where a read-only mode (0555) does not stop writes");
      t.skip();
      return;
    }
    const { dir, cfg } = setup();
    const ro = join(dir, "ro");
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    try {
      await refused(dir, ["run", cfg, "--out", join(ro, "out"), "--quiet"], "not writable");
    } finally {
      chmodSync(ro, 0o755);
    }
  });
});

describe("rewardiff run: one run per --out at a time", () => {
  it("a second process is refused while the first holds the lock; a killed holder's lock is stale", async () => {
    const dir = tempDir("outputs");
    const cfg = join(dir, "cfg.json");
    writeFileSync(cfg, JSON.stringify({ seed: 0, task: { kind: "toy2d", name: "moons", n: 200 }, model: { hidden: 8, layers: 1, timeEmbedding: 4, train: { steps: 5, batchSize: 16 } }, sampling: { steps: 2, samples: 50 } }));
    const out = join(dir, "out");
    // Another process takes the lock (the built module, as `rewardiff run` does) and holds it.
    const lib = resolve("dist/io/outputs.js");
    const holder = spawn(process.execPath, ["--input-type=module", "-e", `import { lockFolder } from ${JSON.stringify(lib)}; lockFolder(${JSON.stringify(out)}); console.log("locked"); setInterval(() => {}, 1000);`], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((ok, fail) => {
        holder.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && ok());
        holder.on("exit", (c) => fail(new Error(`holder exited ${c}`)));
      });
      expect(readFileSync(join(out, LOCK_FILE), "utf8").trim()).toBe(String(holder.pid));
      const r = await expectUntouched(dir, () => cli("run", cfg, "--out", out, "--quiet"));
      expectOneLineError(r, "--out", out, `pid ${holder.pid}`);
    } finally {
      holder.kill("SIGKILL");
      await new Promise((ok) => (holder.exitCode !== null || holder.signalCode !== null ? ok(null) : holder.on("exit", ok)));
    }
    // SIGKILL runs no exit handler: the lock stays, naming a pid that is gone; the next run takes it over.
    expect(existsSync(join(out, LOCK_FILE))).toBe(true);
    const r = await cli("run", cfg, "--out", out, "--quiet");
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, "report.json"))).toBe(true);
    // Released on exit.
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });
});

describe("model file names", () => {
  it("every model name of a run goes through fileLabel (DRaFT's label was mangled to model-draft_all_K_=_all_)", () => {
    const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex").slice(0, 8);
    expect(modelFileName("draft[all K = all]")).toBe(`model-draft_all_K_=_all_~${sha("draft[all K = all]")}.safetensors`);
    expect(rewardModelFileName("rcgdm low-rank")).toBe(`model-rcgdm_low-rank~${sha("rcgdm low-rank")}-reward.safetensors`);
    expect(modelFileName("rcgdm")).toBe("model-rcgdm.safetensors");
    expect(rewardModelFileName("rcgdm")).toBe("model-rcgdm-reward.safetensors");
    expect(finetunedFileName("draft[all K = all]")).toBe(modelFileName("draft[all K = all]"));
  });

  it("refuses, before any work, a label whose model would be another label's reward model", () => {
    expect(() => checkDistinctFileNames(["x", "x-reward"], modelFileNames, "cfg.json")).toThrow(/cfg\.json: labels "x" and "x-reward" would both be written to model-x-reward\.safetensors/);
    expect(() => checkDistinctFileNames(["x", "x-rewards"], modelFileNames, "cfg.json")).not.toThrow();
    expect(() => checkDistinctFileNames(["x", "x-train"], modelFileNames, "cfg.json")).toThrow(/cfg\.json: labels "x" and "x-train" would both be written to model-x-train\.safetensors/);
  });
});

describe("train, sample, fit-reward: one writer per --out file", () => {
  /** Another process holding `<file>.lock` with its own pid (what lockFile writes), until killed. */
  async function holdLocks(files: string[]) {
    const script = `const fs = require("node:fs"); for (const f of ${JSON.stringify(files.map(lockFileOf))}) fs.writeFileSync(f, process.pid + "\\n"); console.log("locked"); setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((ok, fail) => {
      holder.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && ok());
      holder.on("exit", (c) => fail(new Error(`holder exited ${c}`)));
    });
    const kill = async () => {
      holder.kill("SIGKILL");
      await new Promise((ok) => (holder.exitCode !== null || holder.signalCode !== null ? ok(null) : holder.on("exit", ok)));
    };
    return { pid: holder.pid!, kill };
  }

  it("a second writer is refused while the first holds the lock; a dead holder's lock is taken over and released", async () => {
    const dir = tempDir("outputs");
    const data = join(dir, "data.csv");
    writeFileSync(data, "a,b,y\n" + Array.from({ length: 40 }, (_, i) => `${i % 7},${(i * 3) % 5},${i % 2}`).join("\n") + "\n");
    const model = join(dir, "m.safetensors");
    const samples = join(dir, "s.csv");
    const reward = join(dir, "r.safetensors");
    const tiny = ["--steps", "2", "--hidden", "4", "--layers", "1", "--batch-size", "4", "--quiet"];
    const holder = await holdLocks([model, samples, reward]);
    try {
      for (const [argv, out] of [
        [["train", "--data", data, "--out", model, ...tiny], model],
        [["sample", "--model", model, "--out", samples, "--quiet"], samples],
        [["fit-reward", "--data", data, "--label", "y", "--out", reward, "--quiet", "--force"], reward],
      ] as const) {
        const r = await expectUntouched(dir, () => cli(...argv));
        expectOneLineError(r, "--out", out, `pid ${holder.pid}`, lockFileOf(out));
      }
    } finally {
      await holder.kill();
    }
    // The holder is gone; its locks are stale: each command takes one over, writes, and removes it.
    const t = await cli("train", "--data", data, "--out", model, ...tiny);
    expect(t.code, t.stderr).toBe(0);
    const s = await cli("sample", "--model", model, "--n", "5", "--steps", "2", "--out", samples, "--quiet");
    expect(s.code, s.stderr).toBe(0);
    const f = await cli("fit-reward", "--data", data, "--label", "y", "--out", reward, "--quiet");
    expect(f.code, f.stderr).toBe(0);
    for (const p of [model, samples, reward]) {
      expect(existsSync(p)).toBe(true);
      expect(existsSync(lockFileOf(p))).toBe(false);
    }
  });

  it("in one process: the lock refuses a second taker until released, and a failed command releases it", async () => {
    const dir = tempDir("outputs");
    const out = join(dir, "sub", "m.safetensors");
    const release = lockFile(out);
    expect(readFileSync(lockFileOf(out), "utf8").trim()).toBe(String(process.pid));
    expect(() => lockFile(out)).toThrow(/--out .*m\.safetensors: another rewardiff \(pid \d+\) is writing it/);
    release();
    // The folder the lock created is removed with it when nothing else was written there.
    expect(existsSync(join(dir, "sub"))).toBe(false);
    const r = await expectUntouched(dir, () => cli("train", "--data", join(dir, "missing.csv"), "--out", out, "--quiet"));
    expectOneLineError(r, "missing.csv");
    expect(existsSync(lockFileOf(out))).toBe(false);
  });
});
