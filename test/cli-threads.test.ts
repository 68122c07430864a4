/**
 * The CLI's worker-pool policy (src/cli/threads-policy.ts): its decisions at the thresholds, its overrides,
 * and, through bin/rewardiff.js (needs `npm run build`), that the pool it picks really starts and changes
 * no number of the output.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  parseArgv,
  resolveThreads,
  SAMPLE_MIN_FLOP_PER_STEP,
  GRAPH_SAMPLE_MIN_FLOP_PER_STEP,
  graphFlopPerSample,
  threadsFor,
  TRAIN_MIN_FLOP_PER_STEP,
  TRAIN_SIZE_DEFAULTS,
} from "../src/cli/threads-policy.js";
import { trainDefaults } from "../src/cli/train-defaults.js";
import { removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

const ROOT = join(import.meta.dirname, "..");

/** A sidecar reader that knows one model: an MLP hidden × layers trained at batch `batch`. */
function model(hidden: number, layers: number, batch = 512) {
  return (path: string) =>
    path === "m.json" ? { config: { model: { network: { kind: "mlp", hidden, layers } }, train: { batchSize: batch } } } : undefined;
}

const decide = (line: string, cores = 2, readJson: (path: string) => unknown = model(256, 3)) => {
  const { command, options } = parseArgv(line.split(" "));
  return threadsFor(command, options, cores, readJson);
};

describe("threadsFor", () => {
  it("sample: on from 2·n·hidden²·layers ≥ SAMPLE_MIN_FLOP_PER_STEP (MLP 256×3: n = 992), with as many workers as cores", () => {
    // 2·n·256²·3 ≥ 3.9e8 ⇔ n ≥ 3.9e8 / 393216 = 991.8
    const nMin = Math.ceil(SAMPLE_MIN_FLOP_PER_STEP / (2 * 256 ** 2 * 3));
    expect(nMin).toBe(992);
    expect(decide(`sample --model m.safetensors --n ${nMin} --out s.csv`).threads).toBe(2);
    expect(decide(`sample --model m.safetensors --n ${nMin - 1} --out s.csv`).threads).toBe(0);
    expect(decide(`sample --model m.safetensors --out s.csv`).threads).toBe(2); // --n defaults to 1000: 1.17–1.33× measured
    expect(decide(`sample --model m.safetensors --n 500 --out s.csv`).threads).toBe(0); // 2.0e8: 0.95–1.07×
    expect(decide(`sample --model m.safetensors --n 2000 --out s.csv`, 4).threads).toBe(4);
    // the default model (128×3): 2·n·128²·3 ≥ 3.9e8 ⇔ n ≥ 3.9e8 / 98304 = 3967.3
    const small = model(128, 3);
    expect(decide(`sample --model m.safetensors --n 3968 --out s.csv`, 2, small).threads).toBe(2);
    expect(decide(`sample --model m.safetensors --n 3967 --out s.csv`, 2, small).threads).toBe(0);
    expect(decide(`sample --model m.safetensors --out s.csv`, 2, small).threads).toBe(0); // 1,000 points: 0.91–1.17×
    expect(decide(`sample --model m.safetensors --n=10000 --out s.csv`, 2, small).threads).toBe(2);
  });

  it("sample: off without readable MLP sizes", () => {
    expect(decide(`sample --model other.safetensors --n 100000 --out s.csv`).threads).toBe(0);
    const graph = () => ({ config: { model: { network: { kind: "graph", hidden: 512, layers: 8 } } } });
    expect(decide(`sample --model m.safetensors --n 100000 --out s.csv`, 2, graph).threads).toBe(0);
  });

  it("sample of a graph transformer: on from n · graphFlopPerSample ≥ GRAPH_SAMPLE_MIN_FLOP_PER_STEP; `--model qm9` reads the shipped sidecar", () => {
    const qm9 = { maxNodes: 9, nodeBlocks: [5, 3], edgeFeatures: 4, hidden: 96, edgeHidden: 48, heads: 8, layers: 4 };
    // Counted by hand, multiply-adds per layer: nodes 9·96·(3·96 + 96 + 4·96 + 2·48) = 746,496; pairs
    // 81·48·(8 + 4·48) = 777,600; attention 2·81·96 = 15,552. In/out: 2·9·8·96 + 2·81·4·48 + 96·48 = 49,536.
    const macs = 4 * (746_496 + 777_600 + 15_552) + 49_536;
    expect(graphFlopPerSample(qm9)).toBe(2 * macs);
    const sidecar = () => ({ config: { model: { network: { kind: "graph-transformer", ...qm9 } } } });
    const nMin = Math.ceil(GRAPH_SAMPLE_MIN_FLOP_PER_STEP / graphFlopPerSample(qm9));
    expect(nMin).toBe(194); // 200 molecules, the smallest size measured to pay, is on
    expect(decide(`sample --model m.safetensors --n ${nMin} --out s.csv`, 2, sidecar).threads).toBe(2);
    expect(decide(`sample --model m.safetensors --n ${nMin - 1} --out s.csv`, 2, sidecar).threads).toBe(0);
    expect(decide(`sample --model m.safetensors --out s.csv`, 2, sidecar).threads).toBe(2); // --n defaults to 1000
    // "qm9" names the shipped model when no file of that name exists: its sidecar is read from models/.
    const read = (path: string) => (path.endsWith("/models/qm9.json") ? sidecar() : undefined);
    expect(decide(`sample --model qm9 --n 1000 --out s.csv`, 2, read).threads).toBe(2);
    expect(decide(`sample --model qm9 --n 1000 --out s.csv`, 1, read).threads).toBe(0);
  });

  it("train: on from 6·batch·hidden²·layers ≥ TRAIN_MIN_FLOP_PER_STEP; the default step stays off", () => {
    expect(6 * 512 * 128 ** 2 * 3).toBeLessThan(TRAIN_MIN_FLOP_PER_STEP);
    expect(decide("train --task moons --out m.safetensors").threads).toBe(0);
    expect(decide("train --task moons --hidden 256 --out m.safetensors").threads).toBe(2); // 6.0e8: 1.38–1.57×
    expect(decide("train --task moons --hidden 256 --batch-size 256 --out m.safetensors").threads).toBe(0); // 3.0e8: 1.02–1.10×
    expect(decide("train --task moons --hidden 512 --out m.safetensors").threads).toBe(2); // 2.4e9: 1.51–1.59×
    // the threshold itself: 6·batch·256²·3 ≥ 6e8 ⇔ batch ≥ 508.6
    expect(decide("train --task moons --hidden 256 --batch-size 509 --out m.safetensors").threads).toBe(2);
    expect(decide("train --task moons --hidden 256 --batch-size 508 --out m.safetensors").threads).toBe(0);
    expect(decide("train --task moons --hidden 512 --out m.safetensors", 1).threads).toBe(0); // one core: never
  });

  it("train --resume: the checkpoint's sizes", () => {
    expect(decide("train --task moons --resume m.safetensors --out m.safetensors", 2, model(512, 3)).threads).toBe(2);
    expect(decide("train --task moons --resume m.safetensors --out m.safetensors", 2, model(128, 3)).threads).toBe(0);
    expect(decide("train --task moons --resume m.safetensors --batch-size 8192 --out m.safetensors", 2, model(128, 3)).threads).toBe(2);
  });

  it("the other commands stay off", () => {
    for (const line of ["run cfg.json", "demo --quick", "evaluate --samples a.csv --data b.csv", "fit-reward --data d.csv --label y --out r.safetensors", "--help"]) {
      expect(decide(line).threads, line).toBe(0);
    }
    expect(decide("train --unlabeled u.csv --reward-model r.safetensors --hidden 1024 --out m.safetensors").threads).toBe(0);
  });

  it("restates train's defaults exactly", () => {
    const d = trainDefaults();
    expect(TRAIN_SIZE_DEFAULTS).toEqual({ batchSize: d.batchSize, hidden: d.hidden, layers: d.layers });
  });
});

describe("resolveThreads", () => {
  const big = ["sample", "--model", "m.safetensors", "--n", "10000", "--out", "s.csv"];
  it("--threads wins, then REWARDIFF_THREADS, then the policy", () => {
    expect(resolveThreads([...big, "--threads", "0"], { REWARDIFF_THREADS: "2" }, 2, model(256, 3)).value).toBe("0");
    expect(resolveThreads(["--threads", "3", ...big], {}, 2, model(8, 1)).value).toBe("3");
    expect(resolveThreads(big, { REWARDIFF_THREADS: "0" }, 2, model(256, 3)).value).toBe("0");
    expect(resolveThreads(big, {}, 2, model(256, 3)).value).toBe("2");
    expect(resolveThreads([...big, "--threads", "auto"], { REWARDIFF_THREADS: "0" }, 2, model(256, 3)).value).toBe("2");
    expect(resolveThreads(big, { REWARDIFF_THREADS: "" }, 2, model(8, 1)).value).toBe("0");
  });

  it("rejects a bad --threads value in one line", () => {
    expect(() => resolveThreads([...big, "--threads", "two"], {}, 2)).toThrow(/^--threads must be auto, 0 or a thread count, got "two"$/);
    expect(() => resolveThreads([...big, "--threads", "-1"], {}, 2)).toThrow(/--threads must be/);
    expect(() => resolveThreads([...big, "--threads"], {}, 2)).toThrow(/got nothing/);
  });
});

describe.runIf(availableParallelism() >= 2)("bin/rewardiff.js with the pool the policy picks", () => {
  afterAll(removeTempDirs);

  function cli(args: string[], env: Record<string, string | undefined>) {
    const e: Record<string, string | undefined> = { ...process.env, REWARDIFF_THREADS: undefined, REWARDIFF_THREADS_REPORT: "1", ...env };
    for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
    return spawnSync(process.execPath, ["bin/rewardiff.js", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: e as NodeJS.ProcessEnv });
  }

  it("sample --n 8192 of an MLP 256×1: workers start, and the CSV is byte-identical to REWARDIFF_THREADS=0", () => {
    expect(existsSync(join(ROOT, "dist", "cli", "threads-policy.js")), "dist/ is missing: run `npm run build` first").toBe(true);
    const dir = tempDir("threads");
    const m = join(dir, "m.safetensors");
    const t = cli(["train", "--task", "moons", "--steps", "3", "--hidden", "256", "--layers", "1", "--out", m, "--quiet"], {});
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/^threads: REWARDIFF_THREADS=0 \(train: .*< 6\.0e\+8\); 0 workers started$/m);

    const args = (out: string) => ["sample", "--model", m, "--n", "8192", "--steps", "3", "--eta", "1", "--out", join(dir, out), "--quiet"];
    const single = cli(args("single.csv"), { REWARDIFF_THREADS: "0" });
    expect(single.status, single.stderr).toBe(0);
    expect(single.stderr).toMatch(/^threads: REWARDIFF_THREADS=0 \(REWARDIFF_THREADS=0\); 0 workers started$/m);
    const auto = cli(args("auto.csv"), {});
    expect(auto.status, auto.stderr).toBe(0);
    // 2·8192·256²·1 ≈ 1.1e9 ≥ 3.9e8: the policy asks for one thread per core, and jax-js starts one worker fewer
    // (the calling thread computes a share of each pooled kernel: patches/README.md item 10)
    const cores = availableParallelism();
    expect(auto.stderr).toMatch(new RegExp(`^threads: REWARDIFF_THREADS=${cores} \\(sample: 8192 points .* ≥ 3\\.9e\\+8\\); ${cores - 1} workers started \\(${cores} threads with the calling one\\)$`, "m"));

    const a = readFileSync(join(dir, "single.csv"));
    const b = readFileSync(join(dir, "auto.csv"));
    expect(a.toString().split("\n").filter((l) => l !== "").length).toBe(8193); // header + 8192 rows
    expect(b.equals(a)).toBe(true);
  }, 180_000);
});
