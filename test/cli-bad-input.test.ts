/**
 * The bad-input battery: every command (run, demo, train, sample, evaluate, fit-reward) fed malformed
 * files, wrong options, tampered sidecars, impossible sizes and a diverging learning rate. Each case
 * asserts the CLI contract: a non-zero exit, nothing on stdout, exactly ONE stderr line starting
 * `rewardiff: ` that names the file or option at fault, no stack trace or internal name, and every file
 * in the case's folder byte-identical afterwards (SHA-256 before and after, nothing new written).
 * The CLI runs in-process (`main(argv)`); the last cases spawn the real binary to check the same
 * contract end to end. The older test/cli-*.test.ts files keep their own bad-input cases; none is
 * repeated here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cli, expectUntouched, removeTempDirs, tempDir, type CliResult } from "./fixtures/cli/harness.js";

/** A tiny trained model and a ridge reward model, made once and copied into the cases that need them. */
let shared: string;

beforeAll(async () => {
  shared = tempDir("battery-shared");
  const train = await cli("train", "--task", "moons", "--steps", "3", "--hidden", "8", "--layers", "1", "--out", join(shared, "model.safetensors"), "--quiet");
  expect(train.code, train.stderr).toBe(0);
  writeFileSync(join(shared, "labeled.csv"), table(["x1", "x2", "y"], rows(40, 3, 11)));
  const fit = await cli("fit-reward", "--data", join(shared, "labeled.csv"), "--label", "y", "--out", join(shared, "reward.safetensors"), "--quiet");
  expect(fit.code, fit.stderr).toBe(0);
});
afterAll(removeTempDirs);

// -------------------------------------------------------------------------------------------- helpers

/** `n` rows of `cols` numbers from a fixed LCG (values in (−1, 1)). */
function rows(n: number, cols: number, seed: number): number[][] {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Number(((s / 2 ** 32) * 2 - 1).toFixed(4));
  };
  return Array.from({ length: n }, () => Array.from({ length: cols }, u));
}

function table(header: string[], body: (number | string)[][]): string {
  return `${header.join(",")}\n${body.map((r) => r.join(",")).join("\n")}\n`;
}

/** A .npy file's bytes with a hand-written header (for dtypes and layouts rewardiff refuses). */
function npy(descr: string, shape: number[], data: Uint8Array, fortran = false): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

/** The case's folder: files written by `setup`, each path returned by `file`. */
interface CaseDir {
  dir: string;
  file(name: string, content: string | Uint8Array): string;
  path(name: string): string;
  /** Copies the shared model (and its sidecar) in; returns the weights' path. */
  model(name?: string): string;
  /** Copies the shared reward model in; returns the weights' path. */
  reward(name?: string): string;
  /** Rewrites a copied sidecar through `edit`. */
  editSidecar(weights: string, edit: (j: Record<string, any>) => void): void;
}

function caseDir(): CaseDir {
  const dir = tempDir("battery");
  const copyPair = (from: string, name: string) => {
    copyFileSync(join(shared, `${from}.safetensors`), join(dir, `${name}.safetensors`));
    copyFileSync(join(shared, `${from}.json`), join(dir, `${name}.json`));
    return join(dir, `${name}.safetensors`);
  };
  return {
    dir,
    file(name, content) {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
    path: (name) => join(dir, name),
    model: (name = "model") => copyPair("model", name),
    reward: (name = "reward") => copyPair("reward", name),
    editSidecar(weights, edit) {
      const p = weights.replace(/\.safetensors$/, ".json");
      const j = JSON.parse(readFileSync(p, "utf8"));
      edit(j);
      writeFileSync(p, JSON.stringify(j, null, 2));
    },
  };
}

/**
 * The contract: non-zero exit, empty stdout, exactly one stderr line `rewardiff: …` holding every needle,
 * no stack trace, no JavaScript error names, no internal function names, at most 400 characters.
 */
function expectContract(r: CliResult, needles: (string | RegExp)[]): void {
  expect(r.code, `exit code (stderr: ${r.stderr})`).not.toBe(0);
  expect(r.stdout).toBe("");
  expect(r.stderr, "one line").toMatch(/^rewardiff: [^\n]+\n$/);
  const msg = r.stderr.slice("rewardiff: ".length, -1);
  expect(msg.length, msg).toBeLessThan(400);
  expect(msg).not.toMatch(/\bat .*:\d+:\d+\)?|TypeError|ReferenceError|RangeError|Cannot read properties|undefined|\bmedianHeuristic\b|\bmmd2\b|pass a bandwidth/);
  // An internal function name as a message prefix (`distanceWithFloor: …`), as opposed to a key path (`model.train.batchSize: …`).
  expect(msg).not.toMatch(/(^|[\s(])[a-z]+[A-Z][A-Za-z0-9]*:/);
  for (const n of needles) {
    if (typeof n === "string") expect(msg).toContain(n);
    else expect(msg).toMatch(n);
  }
}

interface Case {
  name: string;
  /** Writes the case's files; returns the argv and the needles the one line must hold. */
  setup(d: CaseDir): { argv: string[]; needles: (string | RegExp)[] };
}

function battery(command: string, cases: Case[]): void {
  describe(`rewardiff ${command}: bad input`, () => {
    for (const c of cases) {
      it(c.name, async () => {
        const d = caseDir();
        const { argv, needles } = c.setup(d);
        const r = await expectUntouched(d.dir, () => cli(...argv));
        expectContract(r, needles);
      });
    }
  });
}

const HUGE = "9".repeat(1_000_000);
const tinyTrain = ["--steps", "3", "--hidden", "8", "--layers", "1", "--quiet"];

// ---------------------------------------------------------------------------------------------- train

battery("train", [
  {
    name: "a 1 MB cell is named by line and column, cut short (never echoed whole)",
    setup: (d) => {
      const data = d.file("data.csv", table(["a", "b"], [[1, 2], [`x${HUGE}`, 3], [4, 5]]));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "line 3", '"a"', "…"] };
    },
  },
  {
    name: "a float32-overflowing 1 MB number is cut short too",
    setup: (d) => {
      const data = d.file("data.csv", table(["a", "b"], [[1, 2], [HUGE, 3], [4, 5]]));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "line 3", "too large", "…"] };
    },
  },
  {
    name: "a duplicate header name is refused naming both columns",
    setup: (d) => {
      const data = d.file("data.csv", table(["a", "b", "a"], rows(10, 3, 1)));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "duplicate column name", '"a"', "columns 1 and 3"] };
    },
  },
  {
    name: "a 100 kB duplicate header name is cut short",
    setup: (d) => {
      const long = "c".repeat(100_000);
      const data = d.file("data.csv", table([long, long], rows(10, 2, 1)));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "duplicate column name", "…"] };
    },
  },
  {
    name: "a header column without a name is refused",
    setup: (d) => {
      const data = d.file("data.csv", table(["a", "", "b"], rows(10, 3, 1)));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "column 2 has no name"] };
    },
  },
  {
    name: "an unclosed quote is malformed CSV, naming the file",
    setup: (d) => {
      const data = d.file("data.csv", 'a,b\n1,2\n"3,4\n5,6\n');
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "malformed CSV"] };
    },
  },
  {
    name: "--data that is a folder is refused",
    setup: (d) => {
      const data = d.path("data.csv");
      mkdirSync(data);
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "is a folder"] };
    },
  },
  {
    name: "a .npy of strings (<U4) is an unsupported dtype",
    setup: (d) => {
      const data = d.file("data.npy", npy("<U4", [2, 1], new Uint8Array(32)));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "unsupported dtype", "<U4"] };
    },
  },
  {
    name: "a 3-D .npy is refused with its shape",
    setup: (d) => {
      const data = d.file("data.npy", npy("<f4", [2, 2, 2], f32([1, 2, 3, 4, 5, 6, 7, 8])));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "1-D or 2-D", "(2, 2, 2)"] };
    },
  },
  {
    name: "a Fortran-order .npy is refused with the fix",
    setup: (d) => {
      const data = d.file("data.npy", npy("<f4", [2, 2], f32([1, 2, 3, 4]), true));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "Fortran-order"] };
    },
  },
  {
    name: "a .npy with bytes after its data is refused",
    setup: (d) => {
      const data = d.file("data.npy", npy("<f4", [2, 2], f32([1, 2, 3, 4, 5])));
      return { argv: ["train", "--data", data, "--out", d.path("m.safetensors"), ...tinyTrain], needles: [data, "unexpected bytes"] };
    },
  },
  {
    name: "--lr 1e6 diverges: stopped with the step and the learning rate named, no model written",
    setup: (d) => ({
      argv: ["train", "--task", "moons", "--steps", "40", "--hidden", "8", "--layers", "1", "--lr", "1e6", "--out", d.path("m.safetensors"), "--quiet"],
      needles: ["diverged at step", "--lr", "learning rate"],
    }),
  },
  {
    name: "--lr 1e6 with --force over an existing model leaves the old model untouched",
    setup: (d) => {
      const model = d.model();
      return { argv: ["train", "--task", "moons", "--steps", "40", "--hidden", "8", "--layers", "1", "--lr", "1e6", "--out", model, "--force", "--quiet"], needles: ["diverged", "--lr"] };
    },
  },
  {
    name: "--hidden 100000 is refused before allocating, with the estimate and the limit",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--hidden", "100000", "--out", d.path("m.safetensors"), "--quiet"], needles: ["--hidden", /about [\d.]+ GB/, "limit"] }),
  },
  {
    name: "--batch-size 100000000 is refused before allocating",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--batch-size", "100000000", "--out", d.path("m.safetensors"), "--quiet"], needles: ["--batch-size", "GB", "limit"] }),
  },
  {
    name: "--layers 100000 of width 512 is refused before allocating",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--hidden", "512", "--layers", "100000", "--out", d.path("m.safetensors"), "--quiet"], needles: ["--layers", "100000 with model.hidden 512", "limit"] }),
  },
  {
    name: "--steps above the maximum is refused naming --steps",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--steps", "20000000", "--out", d.path("m.safetensors"), "--quiet"], needles: ["--steps", "10000000"] }),
  },
  {
    name: "--steps 1.5 is a usage error naming --steps",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--steps", "1.5", "--out", d.path("m.safetensors")], needles: ["--steps", "1.5"] }),
  },
  {
    name: "--seed -1 is a usage error naming --seed",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--seed", "-1", "--out", d.path("m.safetensors")], needles: ["--seed"] }),
  },
  {
    name: "--batch-size 0 is a usage error naming --batch-size",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--batch-size", "0", "--out", d.path("m.safetensors")], needles: ["--batch-size"] }),
  },
  {
    name: "--hidden abc is a usage error naming --hidden",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--hidden", "abc", "--out", d.path("m.safetensors")], needles: ["--hidden", "abc"] }),
  },
  {
    name: "--lr NaN is a usage error naming --lr",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--lr", "NaN", "--out", d.path("m.safetensors")], needles: ["--lr", "must be a number"] }),
  },
  {
    name: "--lr Infinity is a usage error naming --lr",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--lr", "Infinity", "--out", d.path("m.safetensors")], needles: ["--lr"] }),
  },
  {
    name: "--network bogus lists the choices",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--network", "bogus", "--out", d.path("m.safetensors")], needles: ["--network", "mlp, low-rank"] }),
  },
  {
    name: "--dropout 1 is refused as outside [0, 1)",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--dropout", "1", "--out", d.path("m.safetensors")], needles: ["--dropout", "[0, 1)"] }),
  },
  {
    name: "--rank without conditional training is refused naming --rank",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--rank", "2", "--out", d.path("m.safetensors")], needles: ["--rank", "conditional training only"] }),
  },
  {
    name: "a misspelt option gets a suggestion, on the same line",
    setup: (d) => ({ argv: ["train", "--task", "moons", "--stpes", "3", "--out", d.path("m.safetensors")], needles: ["--stpes", "--steps"] }),
  },
  {
    name: "an extra argument is a usage error",
    setup: (d) => ({ argv: ["train", "extra", "--task", "moons", "--out", d.path("m.safetensors")], needles: ["too many arguments"] }),
  },
  {
    name: "--reward-model that is a diffusion model is refused naming it",
    setup: (d) => {
      const model = d.model();
      const data = d.file("x.csv", table(["x1", "x2"], rows(20, 2, 3)));
      return { argv: ["train", "--unlabeled", data, "--reward-model", model, "--out", d.path("c.safetensors"), ...tinyTrain], needles: [/model\.(json|safetensors)/, /reward/] };
    },
  },
  {
    name: "conditional training with --hidden 100000 is refused before allocating, naming the flags",
    setup: (d) => {
      const data = d.file("x.csv", table(["x1", "x2"], rows(20, 2, 3)));
      return { argv: ["train", "--unlabeled", data, "--reward-model", d.reward(), "--hidden", "100000", "--out", d.path("c.safetensors"), "--quiet"], needles: ["--hidden 100000", "GB", "limit"] };
    },
  },
  {
    name: "--resume of a missing model is named",
    setup: (d) => {
      const data = d.file("x.csv", table(["x1", "x2"], rows(20, 2, 3)));
      return { argv: ["train", "--resume", d.path("nope.safetensors"), "--data", data, "--out", d.path("m.safetensors"), "--quiet"], needles: ["nope.safetensors", "not found"] };
    },
  },
  {
    name: 'a sidecar with train.batchSize "abc" names the sidecar and the key',
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.config.train.batchSize = "abc"));
      const data = d.file("x.csv", table(["x1", "x2"], rows(20, 2, 3)));
      return { argv: ["train", "--resume", model, "--data", data, "--steps", "6", "--out", d.path("m2.safetensors"), "--quiet"], needles: [d.path("model.json"), "train.batchSize", '"abc"'] };
    },
  },
  {
    name: "a sidecar with train.learningRate -1 names the key and the bound",
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.config.train.learningRate = -1));
      const data = d.file("x.csv", table(["x1", "x2"], rows(20, 2, 3)));
      return { argv: ["train", "--resume", model, "--data", data, "--steps", "6", "--out", d.path("m2.safetensors"), "--quiet"], needles: [d.path("model.json"), "train.learningRate", "> 0"] };
    },
  },
  {
    name: "--resume with data of another width names the data file and both widths",
    setup: (d) => {
      const model = d.model();
      const data = d.file("x.csv", table(["x1", "x2", "x3"], rows(20, 3, 3)));
      return { argv: ["train", "--resume", model, "--data", data, "--steps", "6", "--out", d.path("m2.safetensors"), "--quiet"], needles: [data, "3 columns", "2"] };
    },
  },
  {
    name: "--resume with --steps not beyond the checkpoint names --steps",
    setup: (d) => {
      const model = d.model();
      const data = d.file("x.csv", table(["x1", "x2"], rows(20, 2, 3)));
      return { argv: ["train", "--resume", model, "--data", data, "--steps", "2", "--out", d.path("m2.safetensors"), "--quiet"], needles: ["--steps 2", "step 3"] };
    },
  },
  {
    name: "--resume of a reward model says it is not a diffusion model",
    setup: (d) => {
      const reward = d.reward();
      const data = d.file("x.csv", table(["x1", "x2"], rows(20, 2, 3)));
      return { argv: ["train", "--resume", reward, "--data", data, "--steps", "6", "--out", d.path("m2.safetensors"), "--quiet"], needles: [d.path("reward.json"), "reward model"] };
    },
  },
]);

// --------------------------------------------------------------------------------------------- sample

battery("sample", [
  {
    name: "--n 10000000000 is refused before allocating, naming --n",
    setup: (d) => ({ argv: ["sample", "--model", d.model(), "--n", "10000000000", "--out", d.path("s.csv"), "--quiet"], needles: ["--n", "GB", "limit"] }),
  },
  {
    name: "--steps 0 is a usage error naming --steps",
    setup: (d) => ({ argv: ["sample", "--model", d.model(), "--steps", "0", "--out", d.path("s.csv")], needles: ["--steps"] }),
  },
  {
    name: "--eta -1 is a usage error naming --eta",
    setup: (d) => ({ argv: ["sample", "--model", d.model(), "--eta", "-1", "--out", d.path("s.csv")], needles: ["--eta", "≥ 0"] }),
  },
  {
    name: "--eta abc is a usage error naming --eta",
    setup: (d) => ({ argv: ["sample", "--model", d.model(), "--eta", "abc", "--out", d.path("s.csv")], needles: ["--eta", "abc"] }),
  },
  {
    name: "--seed 1.5 is a usage error naming --seed",
    setup: (d) => ({ argv: ["sample", "--model", d.model(), "--seed", "1.5", "--out", d.path("s.csv")], needles: ["--seed"] }),
  },
  {
    name: "--context on a plain model names --context (a CTRL-only option)",
    setup: (d) => ({ argv: ["sample", "--model", d.model(), "--context", "0", "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: ["--context", "CTRL"] }),
  },
  {
    name: "--cfg-scale on a plain model names --cfg-scale",
    setup: (d) => ({ argv: ["sample", "--model", d.model(), "--cfg-scale", "2", "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: ["--cfg-scale"] }),
  },
  {
    name: "--reward-model that does not exist is named, and no samples file is written",
    setup: (d) => ({
      argv: ["sample", "--model", d.model(), "--reward-model", d.path("nope.safetensors"), "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"],
      needles: ["nope", "not found"],
    }),
  },
  {
    name: 'a reward model whose sidecar has model.spec.l2 "abc" is refused before sampling, naming the sidecar and the key',
    setup: (d) => {
      const reward = d.reward();
      d.editSidecar(reward, (j) => (j.config.model.spec.l2 = "abc"));
      return { argv: ["sample", "--model", d.model(), "--reward-model", reward, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [d.path("reward.json"), "model.spec.l2"] };
    },
  },
  {
    name: "--reward-model taking other columns than the model's samples is refused before sampling",
    setup: (d) => {
      const reward = d.reward();
      d.editSidecar(reward, (j) => (j.config.columns = ["u", "v"]));
      return { argv: ["sample", "--model", d.model(), "--reward-model", reward, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: ["--reward-model", "columns u, v", "x1, x2"] };
    },
  },
  {
    name: "--model that is a folder is refused",
    setup: (d) => {
      mkdirSync(d.path("m.safetensors"));
      return { argv: ["sample", "--model", d.path("m.safetensors"), "--out", d.path("s.csv")], needles: [d.path("m"), /folder|not found/] };
    },
  },
  {
    name: 'sidecar tampering: train.batchSize "abc" names the sidecar and the key',
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.config.train.batchSize = "abc"));
      return { argv: ["sample", "--model", model, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [d.path("model.json"), "config.train.batchSize", '"abc"'] };
    },
  },
  {
    name: 'sidecar tampering: model.prediction "foo" lists the allowed values',
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.config.model.prediction = "foo"));
      return { argv: ["sample", "--model", model, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [d.path("model.json"), "model.prediction", '"eps"'] };
    },
  },
  {
    name: "sidecar tampering: an unknown key in train is refused by name",
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.config.train.lerningRate = 1));
      return { argv: ["sample", "--model", model, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [d.path("model.json"), "unknown key", "lerningRate"] };
    },
  },
  {
    name: 'sidecar tampering: step "abc" names the key',
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.config.step = "abc"));
      return { argv: ["sample", "--model", model, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [d.path("model.json"), "config.step"] };
    },
  },
  {
    name: "sidecar tampering: a plausible but wrong sha256 fails the check naming both files",
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.sha256 = "0".repeat(64)));
      return { argv: ["sample", "--model", model, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [model, "sha256", d.path("model.json")] };
    },
  },
  {
    name: "sidecar tampering: a tensor missing from the list is named",
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => delete j.tensors[Object.keys(j.tensors)[0]!]);
      return { argv: ["sample", "--model", model, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [model, "not listed"] };
    },
  },
  {
    name: "sidecar tampering: created that is not a date is named",
    setup: (d) => {
      const model = d.model();
      d.editSidecar(model, (j) => (j.created = "yesterday"));
      return { argv: ["sample", "--model", model, "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [d.path("model.json"), "created"] };
    },
  },
  {
    name: "a reward model given as --model is refused as the wrong kind",
    setup: (d) => ({ argv: ["sample", "--model", d.reward(), "--out", d.path("s.csv"), "--n", "4", "--steps", "2", "--quiet"], needles: [d.path("reward.json"), "reward model"] }),
  },
]);

// ------------------------------------------------------------------------------------------- evaluate

battery("evaluate", [
  {
    name: "headers with one differing name are refused naming both files and the names",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b", "c"], rows(10, 3, 1)));
      const data = d.file("d.csv", table(["a", "b", "z"], rows(20, 3, 2)));
      return { argv: ["evaluate", "--samples", s, "--data", data], needles: [s, data, '"c"', '"z"'] };
    },
  },
  {
    name: "--columns with an empty name is refused naming --columns",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
      const data = d.file("d.csv", table(["a", "b"], rows(20, 2, 2)));
      return { argv: ["evaluate", "--samples", s, "--data", data, "--columns", "a,,b"], needles: ["--columns", "empty"] };
    },
  },
  {
    name: "--columns with a .npy file is refused (no names there)",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
      const data = d.file("d.npy", npy("<f4", [4, 2], f32([1, 2, 3, 4, 5, 6, 7, 8])));
      return { argv: ["evaluate", "--samples", s, "--data", data, "--columns", "a"], needles: ["--columns", data, ".npy"] };
    },
  },
  {
    name: "--data that is a folder is refused",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
      mkdirSync(d.path("d.csv"));
      return { argv: ["evaluate", "--samples", s, "--data", d.path("d.csv")], needles: [d.path("d.csv"), "is a folder"] };
    },
  },
  {
    name: "a 1 MB cell in the samples is cut short",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], [[1, 2], [3, `y${HUGE}`]]));
      const data = d.file("d.csv", table(["a", "b"], rows(20, 2, 2)));
      return { argv: ["evaluate", "--samples", s, "--data", data], needles: [s, "line 3", '"b"', "…"] };
    },
  },
  {
    name: "a NaN in a .npy data file gives its position",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
      const data = d.file("d.npy", npy("<f4", [4, 2], f32([1, 2, 3, Number.NaN, 5, 6, 7, 8])));
      return { argv: ["evaluate", "--samples", s, "--data", data], needles: [data, "non-finite", "NaN"] };
    },
  },
  {
    name: "--seed abc is a usage error naming --seed",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
      return { argv: ["evaluate", "--samples", s, "--data", s, "--seed", "abc"], needles: ["--seed"] };
    },
  },
  {
    name: "a single sample row is too few, naming the samples file",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(1, 2, 1)));
      const data = d.file("d.csv", table(["a", "b"], rows(20, 2, 2)));
      return { argv: ["evaluate", "--samples", s, "--data", data], needles: [s, "too few"] };
    },
  },
  {
    name: "a misspelt --colums gets a suggestion",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
      return { argv: ["evaluate", "--samples", s, "--data", s, "--colums", "a"], needles: ["--colums", "--columns"] };
    },
  },
  {
    name: "a duplicate header in the samples is refused naming the file",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "a"], rows(10, 2, 1)));
      const data = d.file("d.csv", table(["a", "b"], rows(20, 2, 2)));
      return { argv: ["evaluate", "--samples", s, "--data", data], needles: [s, "duplicate column name"] };
    },
  },
  {
    name: "a ragged data row gives its line",
    setup: (d) => {
      const s = d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
      const data = d.file("d.csv", "a,b\n1,2\n3\n4,5\n6,7\n8,9\n");
      return { argv: ["evaluate", "--samples", s, "--data", data], needles: [data, "line 3", "1 value"] };
    },
  },
  {
    name: "an empty samples file is refused",
    setup: (d) => {
      const s = d.file("s.csv", "");
      const data = d.file("d.csv", table(["a", "b"], rows(20, 2, 2)));
      return { argv: ["evaluate", "--samples", s, "--data", data], needles: [s, "empty"] };
    },
  },
]);

// ----------------------------------------------------------------------------------------- fit-reward

battery("fit-reward", [
  {
    name: "a .npy --data is refused (the label is a named column)",
    setup: (d) => {
      const data = d.file("l.npy", npy("<f4", [2, 2], f32([1, 2, 3, 4])));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--out", d.path("r.safetensors")], needles: [data, "CSV"] };
    },
  },
  {
    name: "--columns that include the label are refused naming --columns",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--columns", "x1,y", "--out", d.path("r.safetensors")], needles: ["--columns", '"y"'] };
    },
  },
  {
    name: "--steps 0 is a usage error naming --steps",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--kind", "mlp", "--steps", "0", "--out", d.path("r.safetensors")], needles: ["--steps"] };
    },
  },
  {
    name: "--holdout -0.1 is a usage error naming --holdout",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--holdout", "-0.1", "--out", d.path("r.safetensors")], needles: ["--holdout"] };
    },
  },
  {
    name: "--l2 -1 is a usage error naming --l2",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--l2", "-1", "--out", d.path("r.safetensors")], needles: ["--l2"] };
    },
  },
  {
    name: "--members 0 is a usage error naming --members",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--kind", "ensemble", "--members", "0", "--out", d.path("r.safetensors")], needles: ["--members"] };
    },
  },
  {
    name: "an Inf feature cell gives its line and column",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], [...rows(10, 2, 1), ["Inf", 1], ...rows(10, 2, 2)]));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--out", d.path("r.safetensors")], needles: [data, "line 12", '"x1"'] };
    },
  },
  {
    name: "--lr 1e6 makes the MLP diverge: stopped naming the learning rate, no reward model written",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "x2", "y"], rows(64, 3, 5)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--kind", "mlp", "--hidden", "8", "--layers", "1", "--steps", "60", "--lr", "1e6", "--out", d.path("r.safetensors"), "--quiet"], needles: ["diverged", "--lr"] };
    },
  },
  {
    name: "--kind mlp --hidden 100000 is refused before allocating, naming the flags",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--kind", "mlp", "--hidden", "100000", "--out", d.path("r.safetensors")], needles: ["--hidden 100000", "GB", "limit"] };
    },
  },
  {
    name: "--kind ensemble with too many members is refused naming --members",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--kind", "ensemble", "--hidden", "2048", "--members", "1000", "--out", d.path("r.safetensors")], needles: ["--members 1000", "limit"] };
    },
  },
  {
    name: "--steps above the maximum is refused naming --steps",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--kind", "mlp", "--steps", "20000000", "--out", d.path("r.safetensors")], needles: ["--steps 20000000", "10000000"] };
    },
  },
  {
    name: "--kind foo lists the choices",
    setup: (d) => {
      const data = d.file("l.csv", table(["x1", "y"], rows(20, 2, 1)));
      return { argv: ["fit-reward", "--data", data, "--label", "y", "--kind", "forest", "--out", d.path("r.safetensors")], needles: ["--kind", "ridge, mlp, ensemble"] };
    },
  },
]);

// ------------------------------------------------------------------------------------------------ run

/**
 * A config file in the case's folder; `--out` points inside the folder (it must not be created). The
 * line names the config file unless `named` is false (then a needle names the key).
 */
function runCase(name: string, config: unknown, needles: (string | RegExp)[], named = true): Case {
  return {
    name,
    setup: (d) => {
      const cfg = d.file("cfg.json", typeof config === "string" ? config : JSON.stringify(config));
      return { argv: ["run", cfg, "--out", d.path("out"), "--quiet"], needles: named ? [cfg, ...needles] : needles };
    },
  };
}

const tiny = { hidden: 8, layers: 1, train: { steps: 3 } };

battery("run", [
  runCase('model.hidden "abc" names the key and the type', { model: { hidden: "abc" } }, ["model.hidden", "a number", '"abc"']),
  runCase("model.train.steps 0 is refused (at least one step)", { model: { train: { steps: 0 } } }, ["model.train.steps", "≥ 1"]),
  runCase("model.train.steps above the maximum is refused", { model: { train: { steps: 20000000 } } }, ["model.train.steps", "≤ 10000000"]),
  runCase("model.hidden 100000 is refused before allocating, with the estimate", { model: { hidden: 100000 } }, ["model.hidden", "GB", "limit"]),
  runCase("sampling.samples 1000000000 is refused before allocating", { model: tiny, sampling: { samples: 1000000000 } }, ["sampling.samples", "GB", "limit"]),
  runCase("task.n 2000000000 is refused before allocating", { task: { kind: "toy2d", n: 2000000000 }, model: tiny }, ["task", "rows", "limit"]),
  runCase("sampling.eta -1 names the key", { sampling: { eta: -1 } }, ["sampling.eta", "≥ 0"]),
  runCase("sampling.steps beyond the schedule names both keys", { model: { schedule: { steps: 100 } }, sampling: { steps: 200 } }, ["sampling.steps", "model.schedule.steps"]),
  runCase("seed -1 names the key", { seed: -1 }, ["seed", "≥ 0"]),
  runCase('a custom schedule without betas names "betas"', { model: { schedule: { kind: "custom" } } }, ["model.schedule.betas", "missing"]),
  runCase("model.fourierFeatures 17 names the key", { model: { fourierFeatures: 17 } }, ["model.fourierFeatures"]),
  runCase("reward.holdout 1 names the key", { task: { kind: "linear-subspace" }, reward: { kind: "ridge", holdout: 1 } }, ["reward.holdout"]),
  runCase("an empty config file is refused", "", [/empty|JSON/]),
  runCase("model.train.learningRate 1e6 diverges before any file is written", { task: { kind: "toy2d", n: 200 }, model: { ...tiny, train: { steps: 40, learningRate: 1e6 } }, sampling: { samples: 10, steps: 2 } }, [
    "diverged",
    "model.train.learningRate",
  ], false),
  {
    name: "a csv task whose file is missing is named before any work",
    setup: (d) => {
      const cfg = d.file("cfg.json", JSON.stringify({ task: { kind: "csv", path: "nope.csv" }, model: tiny }));
      return { argv: ["run", cfg, "--out", d.path("out"), "--quiet"], needles: ["nope.csv", "not found"] };
    },
  },
  {
    name: "a csv task with a duplicate header is named",
    setup: (d) => {
      d.file("data.csv", table(["a", "a"], rows(20, 2, 1)));
      const cfg = d.file("cfg.json", JSON.stringify({ task: { kind: "csv", path: "data.csv" }, model: tiny }));
      return { argv: ["run", cfg, "--out", d.path("out"), "--quiet"], needles: ["data.csv", "duplicate column name"] };
    },
  },
  {
    name: "a config that is a folder is refused",
    setup: (d) => {
      mkdirSync(d.path("cfg.json"));
      return { argv: ["run", d.path("cfg.json"), "--out", d.path("out")], needles: [d.path("cfg.json"), "is a folder"] };
    },
  },
  {
    name: "--seed abc is a usage error naming --seed",
    setup: (d) => {
      const cfg = d.file("cfg.json", "{}");
      return { argv: ["run", cfg, "--seed", "abc", "--out", d.path("out")], needles: ["--seed"] };
    },
  },
]);

// ----------------------------------------------------------------------------------------------- demo

battery("demo", [
  {
    name: "--seed abc is a usage error naming --seed",
    setup: (d) => ({ argv: ["demo", "--seed", "abc", "--out", d.path("out")], needles: ["--seed"] }),
  },
  {
    name: "--out that is a file is refused",
    setup: (d) => {
      const out = d.file("out", "not a folder");
      return { argv: ["demo", "--quick", "--out", out, "--quiet"], needles: [out, "is a file"] };
    },
  },
  {
    name: "an unknown option is a usage error naming it",
    setup: (d) => ({ argv: ["demo", "--quik", "--out", d.path("out")], needles: ["--quik"] }),
  },
  {
    name: "--out holding a report is refused without --force",
    setup: (d) => {
      mkdirSync(d.path("out"));
      d.file("out/report.json", "{}");
      return { argv: ["demo", "--quick", "--out", d.path("out"), "--quiet"], needles: [d.path("out"), "--force"] };
    },
  },
]);

// --------------------------------------------------------------------------- the real binary, end to end

describe("rewardiff (the built binary): the same contract end to end", () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const bin = join(root, "bin", "rewardiff.js");
  const run = (d: CaseDir, ...argv: string[]): CliResult => {
    expect(existsSync(join(root, "dist", "cli", "main.js")), "dist/ is missing: run `npm run build` first").toBe(true);
    const p = spawnSync(process.execPath, [bin, ...argv], { cwd: d.dir, encoding: "utf8", timeout: 60_000 });
    return { code: p.status ?? -1, stdout: p.stdout, stderr: p.stderr };
  };

  it("a usage error: one line, exit 2 (needs `npm run build`)", async () => {
    const d = caseDir();
    const r = await expectUntouched(d.dir, async () => run(d, "train", "--task", "moons", "--stpes", "3", "--out", "m.safetensors"));
    expect(r.code).toBe(2);
    expectContract(r, ["--stpes", "--steps"]);
  });

  it("an evaluate header mismatch: one line, exit 1 (needs `npm run build`)", async () => {
    const d = caseDir();
    d.file("s.csv", table(["a", "b"], rows(10, 2, 1)));
    d.file("d.csv", table(["b", "c"], rows(20, 2, 2)));
    const r = await expectUntouched(d.dir, async () => run(d, "evaluate", "--samples", "s.csv", "--data", "d.csv"));
    expect(r.code).toBe(1);
    expectContract(r, ["s.csv", "d.csv", '"a"', '"c"']);
  });
});
