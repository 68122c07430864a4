/** `rewardiff evaluate`: inputs that cannot be compared. */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeNpy } from "../src/io/npy.js";
import { cli, expectOneLineError, expectUntouched, expectUsageError, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

let dir: string;

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** `rows` rows of `cols` columns x1..x<cols> with a header. */
function csv(rows: number, cols: number): string {
  const header = Array.from({ length: cols }, (_, j) => `x${j + 1}`).join(",");
  const body = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => ((i * 7 + j * 3) % 11) / 5 - 1).join(","));
  return `${header}\n${body.join("\n")}\n`;
}

beforeEach(() => {
  dir = tempDir("evaluate");
});
afterAll(removeTempDirs);

describe("rewardiff evaluate: bad input", () => {
  it("samples and data with different column counts are refused, naming both files", async () => {
    const samples = file("samples.csv", csv(20, 2));
    const data = file("data.csv", csv(40, 3));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data));
    expectOneLineError(r, samples, data, "2 columns", "3");
  });

  it("data with too few rows is refused, naming the file and the count", async () => {
    const samples = file("samples.csv", csv(20, 2));
    const data = file("data.csv", csv(3, 2));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data));
    expectOneLineError(r, data, "3 rows", "too few");
  });

  it("a NaN in the samples gives its line and column", async () => {
    const samples = file("samples.csv", "x1,x2\n1,2\nNaN,3\n4,5\n");
    const data = file("data.csv", csv(40, 2));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data));
    expectOneLineError(r, samples, "line 3", 'column "x1"', "NaN");
  });

  it("a missing samples file is named", async () => {
    const samples = join(dir, "nope.csv");
    const data = file("data.csv", csv(40, 2));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data));
    expectOneLineError(r, samples, "not found");
  });

  it("--columns missing from the data file names that file", async () => {
    const samples = file("samples.csv", csv(20, 2));
    const data = file("data.csv", "a,b\n1,2\n3,4\n5,6\n7,8\n9,0\n");
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data, "--columns", "x1,x2"));
    expectOneLineError(r, data, '"x1"', "not found");
  });

  it("a missing --data is commander's usage error naming --data", async () => {
    const samples = file("samples.csv", csv(20, 2));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples));
    expectUsageError(r, "--data");
  });

  it("matching files are compared and the distances printed", async () => {
    const samples = file("samples.csv", csv(20, 2));
    const data = file("data.csv", csv(40, 2));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/sliced Wasserstein\s+\d/);
    expect(r.stdout).toMatch(/MMD²\s+-?\d/);
    expect(r.stdout).toContain("compared 20 samples");
  });
});

/** `rows` rows of two columns on very different scales: a ≈ U(−1, 1), b ≈ 100 + 10·U(−1, 1) (a fixed LCG). */
function scaled(rows: number, seed: number): number[][] {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  return Array.from({ length: rows }, () => [u(), 100 + 10 * u()]);
}

const table = (header: string[], rows: number[][]) => `${header.join(",")}\n${rows.map((r) => r.join(",")).join("\n")}\n`;

describe("rewardiff evaluate: columns are matched by name", () => {
  it("a reordered data header gives exactly the numbers of the ordered one, and positions alone would not", async () => {
    const samples = file("samples.csv", table(["a", "b"], scaled(60, 1)));
    const data = scaled(200, 2);
    const ordered = file("data.csv", table(["a", "b"], data));
    const reordered = file("data-ba.csv", table(["b", "a"], data.map(([a, b]) => [b!, a!])));
    const r1 = await cli("evaluate", "--samples", samples, "--data", ordered);
    const r2 = await cli("evaluate", "--samples", samples, "--data", reordered);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toBe(r1.stdout);
    // The same draw law: the sliced-Wasserstein ratio is near 1 (it is ≫ 1 when b is compared with a).
    const ratio = (out: string) => Number(/ratio (\S+)/.exec(out)![1]);
    expect(ratio(r1.stdout)).toBeLessThan(3);
    // The swapped values under the ordered header: what comparing by position did.
    const swapped = file("data-swapped.csv", table(["a", "b"], data.map(([a, b]) => [b!, a!])));
    const r3 = await cli("evaluate", "--samples", samples, "--data", swapped);
    expect(ratio(r3.stdout)).toBeGreaterThan(20);
  });

  it("different column names are refused in one line naming both files and the names that differ", async () => {
    const samples = file("samples.csv", table(["a", "b"], scaled(20, 1)));
    const data = file("data.csv", table(["a", "c"], scaled(40, 2)));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data));
    expectOneLineError(r, samples, data, '"b"', '"c"', "different column names");
  });

  it('--columns "" means every column (the same numbers as without --columns)', async () => {
    const samples = file("samples.csv", table(["a", "b"], scaled(30, 3)));
    const data = file("data.csv", table(["b", "a"], scaled(80, 4)));
    const all = await cli("evaluate", "--samples", samples, "--data", data);
    const empty = await cli("evaluate", "--samples", samples, "--data", data, "--columns", "");
    expect(all.code, all.stderr).toBe(0);
    expect(empty.stdout).toBe(all.stdout);
    expect(all.stdout).toContain('columns "a", "b"');
  });

  it("--columns picks the named columns from both files, whatever their order", async () => {
    const rows = scaled(80, 5);
    const samples = file("samples.csv", table(["a", "b", "junk"], scaled(30, 6).map((r) => [...r, 7])));
    const data = file("data.csv", table(["b", "a"], rows.map(([a, b]) => [b!, a!])));
    const plain = file("plain.csv", table(["a"], rows.map(([a]) => [a!])));
    const picked = await cli("evaluate", "--samples", samples, "--data", data, "--columns", "a");
    const samplesA = file("samples-a.csv", table(["a"], scaled(30, 6).map(([a]) => [a!])));
    const direct = await cli("evaluate", "--samples", samplesA, "--data", plain);
    expect(picked.code, picked.stderr).toBe(0);
    expect(picked.stdout).toBe(direct.stdout);
  });

  it("a .npy file has no names: compared by position, with equal widths required", async () => {
    const rows = scaled(80, 7);
    const npy = join(dir, "data.npy");
    writeFileSync(npy, encodeNpy([rows.length, 2], Float32Array.from(rows.flat())));
    const samples = file("samples.csv", table(["p", "q"], scaled(30, 8)));
    const asCsv = file("data.csv", table(["p", "q"], rows));
    const r1 = await cli("evaluate", "--samples", samples, "--data", npy);
    const r2 = await cli("evaluate", "--samples", samples, "--data", asCsv);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout.split("\n").slice(1)).toEqual(r2.stdout.split("\n").slice(1));
    const wide = join(dir, "wide.npy");
    writeFileSync(wide, encodeNpy([4, 3], new Float32Array(12).map((_, i) => i)));
    const bad = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", wide));
    expectOneLineError(bad, samples, wide, "2 columns", "3", "by position");
  });

  it("data whose rows mostly coincide are refused naming the file, not an internal function", async () => {
    const samples = file("samples.csv", table(["a", "b"], scaled(20, 1)));
    const data = file("data.csv", table(["a", "b"], Array.from({ length: 40 }, () => [1, 2])));
    const r = await expectUntouched(dir, () => cli("evaluate", "--samples", samples, "--data", data));
    const msg = expectOneLineError(r, data, "median distance is 0");
    expect(msg).not.toMatch(/medianHeuristic|bandwidth/);
  });
});
