/**
 * A run's files (src/io/outputs.ts): RGDM, RWR and DDPO save their trained models as
 * `model-<label>.safetensors`, which `rewardiff sample` loads; the run records what it wrote in
 * run-files.json, and `run --force` into the same folder removes the previous run's files it does not
 * rewrite, never a file it did not write.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { LOCK_FILE, modelFileName, replaceRunFiles, RUN_FILES } from "../src/io/outputs.js";
import { readCsv } from "../src/io/csv.js";
import { loadCheckpoint } from "../src/io/checkpoint.js";
import { cli, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

const task = { kind: "gaussian-mixture", components: [{ weight: 1, mean: [0, 0], std: 1 }], rewardWeights: [1, 0], n: 200 };
const model = { hidden: 8, layers: 1, timeEmbedding: 4, train: { steps: 5, batchSize: 16 } };
const sampling = { sampler: "ddpm", steps: 2, samples: 40 };
/** Labels with characters a file name cannot keep, so the saved names go through fileLabel. */
const RGDM = "rgdm τ=1";
const RWR = "rwr/1";
const DDPO = "ddpo";

function readRunFiles(dir: string): string[] {
  return (JSON.parse(readFileSync(join(dir, RUN_FILES), "utf8")) as { files: string[] }).files;
}

/** The model's `ema.*` weights (every float, in tensor-name order), read from the file; `kind` checked on load. */
function emaWeights(path: string, kind: "training" | "inference"): number[] {
  const m = loadModel(path);
  expect(m.kind).toBe(kind);
  disposeLoadedModel(m);
  const { tensors } = loadCheckpoint(path);
  return Object.keys(tensors)
    .filter((k) => k.startsWith("ema."))
    .sort()
    .flatMap((k) => Array.from(tensors[k]!.data as Float32Array));
}

describe("rewardiff run: trained models and the files of the previous run", () => {
  it("saves RGDM/RWR/DDPO models that `sample` loads; --force with fewer methods removes the rest, not the user's files", async () => {
    const dir = tempDir("runfiles");
    const out = join(dir, "out");
    const cfgA = join(dir, "a.json");
    writeFileSync(cfgA, JSON.stringify({
      seed: 0,
      task,
      model,
      sampling,
      method: [
        { kind: "rgdm", steps: 2, batchSize: 8, monitorSamples: 8, label: RGDM },
        { kind: "rwr", rounds: 1, samplesPerRound: 16, stepsPerRound: 2, batchSize: 8, label: RWR },
        { kind: "ddpo", iterations: 1, batch: 4, epochs: 1, minibatches: 1, label: DDPO },
      ],
    }));
    const a = await cli("run", cfgA, "--out", out, "--quiet");
    expect(a.code, a.stderr).toBe(0);

    const models = [RGDM, RWR, DDPO].map(modelFileName);
    // The file names are the labels' injective forms: "rgdm τ=1" → "rgdm_=1~<8 hex>", "rwr/1" → "rwr_1~<8 hex>".
    expect(models[0]).toMatch(/^model-rgdm_=1~[0-9a-f]{8}\.safetensors$/);
    expect(models[1]).toMatch(/^model-rwr_1~[0-9a-f]{8}\.safetensors$/);
    expect(models[2]).toBe("model-ddpo.safetensors");
    const filesA = readdirSync(out).sort();
    for (const m of models) {
      expect(filesA).toContain(m);
      expect(filesA).toContain(m.replace(/\.safetensors$/, ".json"));
    }
    // The manifest lists exactly what the run wrote (every file but itself; the lock is gone).
    expect(filesA).not.toContain(LOCK_FILE);
    expect(readRunFiles(out).sort()).toEqual(filesA.filter((f) => f !== RUN_FILES));

    // Each tuned model loads, is not the base model's weights, and `sample` draws from it with the data's columns.
    const base = emaWeights(join(out, "model.safetensors"), "training");
    const dataColumns = readCsv(join(out, "samples-ddpo.csv")).header;
    expect(dataColumns.length).toBe(2);
    for (const m of models) {
      const w = emaWeights(join(out, m), "inference");
      expect(w.length).toBe(base.length);
      expect(w.some((v, i) => v !== base[i]), `${m} differs from the base model`).toBe(true);
      const csv = join(dir, `${m}.csv`);
      const s = await cli("sample", "--model", join(out, m), "--n", "12", "--steps", "2", "--out", csv, "--quiet");
      expect(s.code, s.stderr).toBe(0);
      const { header, matrix } = readCsv(csv);
      expect(header).toEqual(dataColumns);
      expect(matrix.rows).toBe(12);
      expect(Array.from(matrix.data).every(Number.isFinite)).toBe(true);
    }

    // The user's own files in the folder: one named like a result, one plain, one folder.
    writeFileSync(join(out, "samples-mine.csv"), "a,b\n1,2\n");
    writeFileSync(join(out, "notes.txt"), "keep\n");
    mkdirSync(join(out, "extra"));
    const cfgB = join(dir, "b.json");
    writeFileSync(cfgB, JSON.stringify({ seed: 1, task, model, sampling, method: { kind: "best-of-n", alpha: 1, candidates: 2 } }));
    const refused = await cli("run", cfgB, "--out", out, "--quiet");
    expect(refused.code).toBe(1);
    const b = await cli("run", cfgB, "--out", out, "--quiet", "--force");
    expect(b.code, b.stderr).toBe(0);
    const filesB = readdirSync(out).sort();
    expect(filesB).toEqual(["extra", "model.json", "model.safetensors", "notes.txt", "report.html", "report.json", RUN_FILES, "samples-mine.csv", "samples.csv"].sort());
    expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("keep\n");
    expect(readRunFiles(out).sort()).toEqual(["model.json", "model.safetensors", "report.html", "report.json", "samples.csv"]);
  });
});

describe("replaceRunFiles", () => {
  it("removes only regular files the previous manifest names, inside the folder", () => {
    const dir = tempDir("runfiles");
    const outside = join(dir, "outside.txt");
    writeFileSync(outside, "outside\n");
    const run = join(dir, "run");
    mkdirSync(run);
    for (const f of ["old.csv", "kept.csv", "user.csv"]) writeFileSync(join(run, f), f);
    mkdirSync(join(run, "old-folder"));
    symlinkSync(outside, join(run, "old-link"));
    writeFileSync(join(run, LOCK_FILE), "1\n");
    // A manifest naming a path outside the folder, a folder, a link, the lock and itself: none is removed.
    writeFileSync(join(run, RUN_FILES), JSON.stringify({ version: 1, files: ["old.csv", "kept.csv", "../outside.txt", "old-folder", "old-link", LOCK_FILE, RUN_FILES, "gone.csv"] }));
    const removed = replaceRunFiles(run, [join(run, "kept.csv"), join(dir, "outside.txt")]);
    expect(removed).toEqual(["old.csv"]);
    expect(readdirSync(run).sort()).toEqual([LOCK_FILE, "kept.csv", "old-folder", "old-link", RUN_FILES, "user.csv"].sort());
    expect(readFileSync(outside, "utf8")).toBe("outside\n");
    // The new manifest lists only what this run wrote in the folder.
    expect(readRunFiles(run)).toEqual(["kept.csv"]);
  });

  it("a missing or unreadable manifest removes nothing", () => {
    const run = tempDir("runfiles");
    writeFileSync(join(run, "a.csv"), "a");
    expect(replaceRunFiles(run, [])).toEqual([]);
    writeFileSync(join(run, RUN_FILES), "{not json");
    expect(replaceRunFiles(run, [])).toEqual([]);
    expect(existsSync(join(run, "a.csv"))).toBe(true);
  });
});
