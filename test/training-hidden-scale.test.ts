/**
 * User data whose columns hide their scales (1e-3 … 1e6, offsets, a log-normal column, correlations):
 * `rewardiff train --data` with the default transform (standardize), then `rewardiff sample`, must land
 * within 2× of the data-vs-data floor, per column and jointly; the same run with `--transform none` is
 * far off. Distances are sliced W₂ (src/eval) after standardising samples and data by the data law's
 * per-column std (computed here, in float64, from a fresh draw); floors are the same metric between two
 * independent draws of the data law. Defaults throughout (network, learning rate, batch size, sampler)
 * but the step count: STEPS instead of the default 4000, to keep the test under ~40 s of CPU.
 * Then: the transform travels with the checkpoint (resume re-applies it, `run` writes data units) and
 * bad transform options are refused before any work.
 */
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import { readCsv } from "../src/io/csv.js";
import { slicedWasserstein } from "../src/eval/sliced-wasserstein.js";
import { cli, expectOneLineError, expectUntouched, expectUsageError, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";
import { uniforms } from "./helpers/uniforms.js";

const STEPS = 800;
const TRAIN_ROWS = 2000;
const SAMPLES = 1000;
/** Independent (reference, floor) pairs the distances are averaged over. */
const PAIRS = 4;
const COLUMNS = ["tiny", "rooms", "year", "price", "income", "share"];

/** `n` rows of the hidden-scale law (seeded). */
function draw(n: number, seed: number): HostMatrix {
  const u = uniforms(seed);
  const g = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const out = new Float32Array(n * COLUMNS.length);
  for (let r = 0; r < n; r++) {
    const [g1, g2, g3, g4, g5] = [g(), g(), g(), g(), g()];
    const row = [
      0.5 + 1e-3 * g1, // scale 1e-3 on an offset
      3 + 0.8 * (0.6 * g1 + 0.8 * g2), // correlated with tiny
      1990 + 15 * g3,
      3e6 + 1e6 * (0.6 * g2 + 0.8 * g4), // scale 1e6, correlated with rooms
      40_000 * Math.exp(0.6 * g5 + 0.3 * g1), // log-normal
      0.05 + 0.02 * (0.5 * g4 - 0.866 * g3),
    ];
    out.set(row, r * COLUMNS.length);
  }
  return hostMatrix(n, COLUMNS.length, out);
}

/** Divides every column by `std` (float64, rounded to float32 once). */
function scaled(m: HostMatrix, std: readonly number[]): HostMatrix {
  return hostMatrix(m.rows, m.cols, Float32Array.from(m.data, (v, i) => v / std[i % m.cols]!));
}

function column(m: HostMatrix, c: number): HostMatrix {
  return hostMatrix(m.rows, 1, Float32Array.from({ length: m.rows }, (_, r) => m.data[r * m.cols + c]!));
}

/** Each column's population std, in float64. */
function stds(m: HostMatrix): number[] {
  return Array.from({ length: m.cols }, (_, c) => {
    let mean = 0;
    for (let r = 0; r < m.rows; r++) mean += m.data[r * m.cols + c]! / m.rows;
    let s = 0;
    for (let r = 0; r < m.rows; r++) s += (m.data[r * m.cols + c]! - mean) ** 2;
    return Math.sqrt(s / m.rows);
  });
}

/** Mean sliced W₂ of the samples and of a fresh draw (the floor) to fresh reference draws, jointly and per column. */
function distances(samples: HostMatrix, std: readonly number[]): { joint: [number, number]; columns: [number, number][] } {
  const s = scaled(samples, std);
  const joint: [number, number] = [0, 0];
  const columns: [number, number][] = COLUMNS.map(() => [0, 0]);
  for (let p = 0; p < PAIRS; p++) {
    const a = scaled(draw(SAMPLES, 1000 + p), std);
    const b = scaled(draw(SAMPLES, 2000 + p), std);
    joint[0] += slicedWasserstein(s, a, { seed: p }) / PAIRS;
    joint[1] += slicedWasserstein(b, a, { seed: p }) / PAIRS;
    COLUMNS.forEach((_, c) => {
      columns[c]![0] += slicedWasserstein(column(s, c), column(a, c), { projections: 1 }) / PAIRS;
      columns[c]![1] += slicedWasserstein(column(b, c), column(a, c), { projections: 1 }) / PAIRS;
    });
  }
  return { joint, columns };
}

function writeData(path: string, m: HostMatrix): void {
  const lines = [COLUMNS.join(",")];
  for (let r = 0; r < m.rows; r++) lines.push(Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols), (v) => String(v)).join(","));
  writeFileSync(path, lines.join("\n") + "\n");
}

/** train --data (with `extra` flags), then sample; returns the samples as read back from the CSV. */
async function trainAndSample(dir: string, data: string, name: string, ...extra: string[]): Promise<HostMatrix> {
  const model = join(dir, `${name}.safetensors`);
  const out = join(dir, `${name}.csv`);
  const t = await cli("train", "--data", data, "--out", model, "--steps", String(STEPS), "--quiet", ...extra);
  expect(t.stderr).toBe("");
  expect(t.code).toBe(0);
  const s = await cli("sample", "--model", model, "--n", String(SAMPLES), "--out", out, "--seed", "3", "--quiet");
  expect(s.code).toBe(0);
  const csv = readCsv(out);
  expect(csv.header).toEqual(COLUMNS);
  return csv.matrix;
}

afterAll(removeTempDirs);

describe("train --data on hidden-scale columns", () => {
  const dir = tempDir("hidden-scale");
  const data = join(dir, "houses.csv");
  writeData(data, draw(TRAIN_ROWS, 1));
  const std = stds(draw(20_000, 3000));

  it("with the default transform, samples come within 2× of the data-vs-data floor, per column and jointly", async () => {
    const x = await trainAndSample(dir, data, "default");
    const sidecar = JSON.parse(readFileSync(join(dir, "default.json"), "utf8")) as { config: { transform?: { kind: string; mean: number[] } } };
    expect(sidecar.config.transform?.kind).toBe("standardize");
    // Samples are in data units (the price column's mean ≈ 3e6, not ≈ 0).
    const priceMean = Array.from({ length: x.rows }, (_, r) => x.data[r * x.cols + 3]!).reduce((s, v) => s + v, 0) / x.rows;
    expect(Math.abs(priceMean - 3e6)).toBeLessThan(2e5);
    const d = distances(x, std);
    console.log(`hidden-scale, standardize: joint ${d.joint[0].toFixed(4)} (floor ${d.joint[1].toFixed(4)}); columns ${d.columns.map(([v, f]) => (v / f).toFixed(2)).join(", ")}`);
    expect(d.joint[0]).toBeLessThan(2 * d.joint[1]);
    d.columns.forEach(([v, f], c) => expect(v, COLUMNS[c]).toBeLessThan(2 * f));
  }, 120_000);

  it("with --transform none, the same data and settings are far off", async () => {
    const x = await trainAndSample(dir, data, "none", "--transform", "none");
    const sidecar = JSON.parse(readFileSync(join(dir, "none.json"), "utf8")) as { config: { transform?: unknown } };
    expect(sidecar.config.transform).toBeUndefined();
    const d = distances(x, std);
    console.log(`hidden-scale, none: joint ${d.joint[0].toFixed(4)} (floor ${d.joint[1].toFixed(4)})`);
    expect(d.joint[0]).toBeGreaterThan(10 * d.joint[1]);
  }, 120_000);
});

/** Column means and population stds of a matrix (float64). */
function moments(m: HostMatrix): { mean: number[]; std: number[] } {
  const mean = Array.from({ length: m.cols }, (_, c) => {
    let s = 0;
    for (let r = 0; r < m.rows; r++) s += m.data[r * m.cols + c]!;
    return s / m.rows;
  });
  return { mean, std: stds(m) };
}

describe("the data transform travels with the model", () => {
  const dir = tempDir("hidden-scale-ck");
  const data = join(dir, "houses.csv");
  writeData(data, draw(400, 5));
  const tiny = ["--hidden", "8", "--layers", "1", "--batch-size", "16", "--quiet"];
  const model = join(dir, "q.safetensors");
  const sidecarOf = (path: string) => JSON.parse(readFileSync(path.replace(/\.safetensors$/, ".json"), "utf8")) as { config: Record<string, unknown> };

  it("train --resume re-applies the stored transform (loss on the unit scale) and keeps it", async () => {
    expect((await cli("train", "--data", data, "--out", model, "--steps", "3", "--transform", "quantile", ...tiny)).code).toBe(0);
    const fitted = sidecarOf(model).config.transform as { kind: string; normal: number[]; values: number[][] };
    expect(fitted.kind).toBe("quantile");
    expect(fitted.values).toHaveLength(COLUMNS.length);
    const resumed = join(dir, "q2.safetensors");
    const r = await cli("train", "--resume", model, "--data", data, "--out", resumed, "--steps", "6", ...tiny);
    expect(r.code).toBe(0);
    // ε-prediction MSE on the transformed data is O(1); on raw units (price ≈ 3e6) it would be ≈ 1e12.
    const loss = Number(/final loss ([-0-9.e+]+)/.exec(r.stdout)![1]);
    expect(loss).toBeLessThan(10);
    expect(sidecarOf(resumed).config.transform).toEqual(fitted);
  }, 60_000);

  it("run on a csv task trains through the transform and writes samples and model in data units", async () => {
    const cfg = join(dir, "cfg.json");
    writeFileSync(cfg, JSON.stringify({ task: { kind: "csv", path: "houses.csv" }, model: { train: { steps: 300, batchSize: 128, ema: 0.9 } }, sampling: { samples: 200, steps: 20 } }));
    const out = join(dir, "run");
    expect((await cli("run", cfg, "--out", out, "--quiet")).code).toBe(0);
    expect((sidecarOf(join(out, "model.safetensors")).config.transform as { kind: string }).kind).toBe("standardize");
    const x = moments(readCsv(join(out, "samples.csv")).matrix);
    const d = moments(draw(20_000, 3000));
    // Means within one data std and stds within a factor 3 of the data's, in every column (raw model
    // space would give means ≈ 0 and stds ≈ 1: price is off by 3 data stds, tiny's std by 1000×).
    COLUMNS.forEach((name, c) => {
      expect(Math.abs(x.mean[c]! - d.mean[c]!), name).toBeLessThan(d.std[c]!);
      expect(x.std[c]! / d.std[c]!, name).toBeGreaterThan(1 / 3);
      expect(x.std[c]! / d.std[c]!, name).toBeLessThan(3);
    });
  }, 60_000);

  it("refuses --transform with --task, a different --transform on --resume, and an unknown kind", async () => {
    expectOneLineError(await expectUntouched(dir, () => cli("train", "--task", "moons", "--transform", "minmax", "--out", join(dir, "m.safetensors"), ...tiny)), "--transform applies to --data only");
    expectOneLineError(
      await expectUntouched(dir, () => cli("train", "--resume", model, "--data", data, "--transform", "standardize", "--out", join(dir, "m.safetensors"), "--steps", "6", ...tiny)),
      "--transform standardize",
      'trained with the "quantile" transform',
    );
    expectUsageError(await expectUntouched(dir, () => cli("train", "--data", data, "--transform", "log", "--out", join(dir, "m.safetensors"), ...tiny)), "--transform");
  }, 60_000);

  it("refuses a model whose stored transform is malformed, naming the sidecar key", async () => {
    const bad = join(dir, "bad.safetensors");
    expect((await cli("train", "--data", data, "--out", bad, "--steps", "2", ...tiny)).code).toBe(0);
    const side = sidecarOf(bad);
    (side.config.transform as { std: number[] }).std[4] = 0;
    writeFileSync(bad.replace(/\.safetensors$/, ".json"), JSON.stringify(side));
    const r = await expectUntouched(dir, () => cli("sample", "--model", bad, "--n", "5", "--out", join(dir, "s.csv"), "--quiet"));
    expectOneLineError(r, "bad.json", "config.transform.std[4]: must be > 0, got 0");
  }, 60_000);
});
