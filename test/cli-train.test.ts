/** `rewardiff train`: bad data files and options (contract.md "Bad input"). */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeNpy } from "../src/io/npy.js";
import { cli, expectOneLineError, expectUntouched, expectUsageError, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

let dir: string;
let model: string;
/** A model file that already exists: a failing `train --out` must leave it alone. */
let existing: string;

function file(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const GOOD_CSV = "a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n";
const tiny = ["--steps", "2", "--hidden", "4", "--layers", "1", "--batch-size", "4", "--quiet"];

/** `train --data FILE --out model.safetensors`, checking that nothing in the folder changes. */
async function trainFails(data: string, ...extra: string[]) {
  const r = await expectUntouched(dir, () => cli("train", "--data", data, "--out", model, ...tiny, ...extra));
  expect(existsSync(model)).toBe(false);
  return r;
}

beforeEach(() => {
  dir = tempDir("train");
  model = join(dir, "model.safetensors");
  existing = file("existing.safetensors", "weights from an earlier run\n");
  file("existing.json", '{"an": "earlier sidecar"}\n');
});
afterAll(removeTempDirs);

describe("rewardiff train --data: bad data", () => {
  it("a missing data file is named", async () => {
    const data = join(dir, "missing.csv");
    expectOneLineError(await trainFails(data), data, "not found");
  });

  it("a ragged CSV row gives its line number", async () => {
    const data = file("ragged.csv", "a,b\n1,2\n3,4,5\n6,7\n8,9\n");
    expectOneLineError(await trainFails(data), data, "line 3", /3 values|columns/);
  });

  it("a non-numeric cell gives its line and column", async () => {
    const data = file("text.csv", "a,b\n1,2\n3,4\n5,oops\n7,8\n");
    expectOneLineError(await trainFails(data), data, "line 4", 'column "b"', '"oops"', "not a number");
  });

  it("a NaN value gives its line and column", async () => {
    const data = file("nan.csv", "a,b\n1,2\n3,NaN\n5,6\n7,8\n");
    expectOneLineError(await trainFails(data), data, "line 3", 'column "b"', "NaN", "finite");
  });

  it("an Inf value gives its line and column", async () => {
    const data = file("inf.csv", "a,b\n1,2\n3,4\nInf,6\n7,8\n");
    expectOneLineError(await trainFails(data), data, "line 4", 'column "a"', "Inf", "finite");
  });

  it("a value that overflows float32 (1e999) is refused as non-finite", async () => {
    const data = file("huge.csv", "a,b\n1,2\n3,4\n5,6\n7,1e999\n");
    expectOneLineError(await trainFails(data), data, "line 5", 'column "b"', "finite");
  });

  it("an empty file is refused", async () => {
    const data = file("empty.csv", "");
    expectOneLineError(await trainFails(data), data, "empty");
  });

  it("a CSV with a header but no rows is refused", async () => {
    const data = file("header-only.csv", "a,b\n");
    expectOneLineError(await trainFails(data), data, "no data rows");
  });

  it("a CSV without a header row is refused with a hint", async () => {
    const data = file("no-header.csv", "1,2\n3,4\n5,6\n7,8\n");
    expectOneLineError(await trainFails(data), data, "line 1", "header");
  });

  it("too few rows to train on are refused", async () => {
    const data = file("few.csv", "a,b\n1,2\n3,4\n");
    expectOneLineError(await trainFails(data), data, "too few");
  });

  it("a .npy file with bad magic bytes is refused", async () => {
    const bytes = encodeNpy([6, 2], Float32Array.from({ length: 12 }, (_, i) => i));
    bytes[1] = 0x41;
    const data = file("bad-magic.npy", bytes);
    expectOneLineError(await trainFails(data), data, "magic");
  });

  it("a truncated .npy file is refused with the sizes", async () => {
    const bytes = encodeNpy([6, 2], Float32Array.from({ length: 12 }, (_, i) => i));
    const data = file("truncated.npy", bytes.subarray(0, bytes.length - 5));
    expectOneLineError(await trainFails(data), data, "truncated", "48", "43");
  });

  it("a NaN in a .npy file gives its row and column", async () => {
    const bytes = encodeNpy([6, 2], Float32Array.from({ length: 12 }, (_, i) => i));
    // The writer refuses NaN, so patch it in: flat index 9 = row 5, column 2 (1-based), little-endian f4.
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setFloat32(bytes.length - 3 * 4, NaN, true);
    const data = file("nan.npy", bytes);
    expectOneLineError(await trainFails(data), data, "NaN", "row 5", "column 2");
  });

  it("--columns naming a column that does not exist lists the columns there are", async () => {
    const data = file("good.csv", GOOD_CSV);
    expectOneLineError(await trainFails(data, "--columns", "a,c"), data, '"c"', "not found", '"a", "b"');
  });

  it("--columns naming a column twice is refused", async () => {
    const data = file("good.csv", GOOD_CSV);
    expectOneLineError(await trainFails(data, "--columns", "a,a"), data, '"a"', "twice");
  });
});

describe("rewardiff train: bad options", () => {
  it("--out not ending in .safetensors is refused before any work", async () => {
    const data = file("good.csv", GOOD_CSV);
    const bad = join(dir, "model.pt");
    const r = await expectUntouched(dir, () => cli("train", "--data", data, "--out", bad, ...tiny));
    expectOneLineError(r, bad, ".safetensors");
  });

  it("an existing --out is refused without --force and stays byte-identical", async () => {
    const data = file("good.csv", GOOD_CSV);
    const r = await expectUntouched(dir, () => cli("train", "--data", data, "--out", existing, ...tiny));
    expectOneLineError(r, existing, "already exists", "--force");
    expect(readFileSync(existing, "utf8")).toBe("weights from an earlier run\n");
  });

  it("neither --task nor --data is refused", async () => {
    const r = await expectUntouched(dir, () => cli("train", "--out", model, ...tiny));
    expectOneLineError(r, "--task", "--data");
  });

  it("both --task and --data are refused", async () => {
    const data = file("good.csv", GOOD_CSV);
    const r = await expectUntouched(dir, () => cli("train", "--task", "moons", "--data", data, "--out", model, ...tiny));
    expectOneLineError(r, "--task", "--data", "exactly one");
  });

  it("an unknown --task name is refused with the known names", async () => {
    const r = await expectUntouched(dir, () => cli("train", "--task", "circles", "--out", model, ...tiny));
    expectOneLineError(r, '"circles"', "moons", "8gaussians");
  });

  it("--steps -3 is commander's usage error naming --steps", async () => {
    const r = await expectUntouched(dir, () => cli("train", "--task", "moons", "--out", model, "--steps", "-3"));
    expectUsageError(r, "--steps", "-3");
  });

  it("--steps abc is commander's usage error naming --steps", async () => {
    const r = await expectUntouched(dir, () => cli("train", "--task", "moons", "--out", model, "--steps", "abc"));
    expectUsageError(r, "--steps", "abc");
  });

  it("--lr 0 is commander's usage error naming --lr", async () => {
    const r = await expectUntouched(dir, () => cli("train", "--task", "moons", "--out", model, "--lr", "0"));
    expectUsageError(r, "--lr");
  });

  it("an unknown option is commander's usage error naming it", async () => {
    const r = await expectUntouched(dir, () => cli("train", "--task", "moons", "--out", model, "--bogus"));
    expectUsageError(r, "--bogus");
  });

  it("a missing --out is commander's usage error naming --out", async () => {
    const r = await expectUntouched(dir, () => cli("train", "--task", "moons"));
    expectUsageError(r, "--out");
  });

  it("--columns with a .npy file is refused", async () => {
    const data = file("good.npy", encodeNpy([6, 2], Float32Array.from({ length: 12 }, (_, i) => i)));
    expectOneLineError(await trainFails(data, "--columns", "a"), data, "columns", "CSV");
  });
});
