/** `rewardiff evaluate`: inputs that cannot be compared. */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
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
