/** `rewardiff run CONFIG.json`: bad configs and protected output folders (contract.md "Bad input"). */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, expectOneLineError, expectUntouched, expectUsageError, fingerprint, removeTempDirs, tempDir, tempLeftovers } from "./fixtures/cli/harness.js";

/** A config that trains and samples in about a second. */
const TINY = {
  seed: 0,
  task: { kind: "toy2d", name: "moons", n: 200 },
  model: { hidden: 8, layers: 1, timeEmbedding: 4, train: { steps: 5, batchSize: 16 } },
  sampling: { steps: 2, samples: 50 },
};

const SENTINEL = '{"sentinel": "an earlier result that must survive"}\n';

let dir: string;
let out: string;

/** Writes `text` to `dir/name` and returns the path. */
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

beforeEach(() => {
  dir = tempDir("run");
  // An output folder that already holds a result: every failing run must leave it as it is.
  out = join(dir, "out");
  mkdirSync(out);
  writeFileSync(join(out, "report.json"), SENTINEL);
});
afterAll(removeTempDirs);

describe("rewardiff run: bad config files", () => {
  it("a missing config file is named", async () => {
    const cfg = join(dir, "nope.json");
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    expectOneLineError(r, cfg, "not found");
  });

  it("malformed JSON gives the line and column", async () => {
    const cfg = file("bad.json", '{\n  "seed": 0,\n  "task": { "kind": "toy2d",, }\n}\n');
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    const msg = expectOneLineError(r, cfg, /line 3\b/, /column \d+/);
    expect(msg).toMatch(/invalid JSON|JSON/);
  });

  it("an unknown top-level key is refused and named", async () => {
    const cfg = file("unknown.json", JSON.stringify({ ...TINY, sead: 1 }));
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    expectOneLineError(r, cfg, "unknown key", '"sead"');
  });

  it('an unknown nested key (model.hiden) is refused with its path and a suggestion', async () => {
    const cfg = file("nested.json", JSON.stringify({ ...TINY, model: { ...TINY.model, hiden: 8 } }));
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    expectOneLineError(r, cfg, "model", '"hiden"', "hidden");
  });

  it("an unknown task kind is refused with the known kinds", async () => {
    const cfg = file("task.json", JSON.stringify({ ...TINY, task: { kind: "mnist" } }));
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    expectOneLineError(r, cfg, "task.kind", '"mnist"', "toy2d");
  });

  it("an unknown method kind is refused with the known kinds", async () => {
    const cfg = file("method.json", JSON.stringify({ ...TINY, method: { kind: "magic" } }));
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    expectOneLineError(r, cfg, "method", '"magic"', "none");
  });

  it("a method that needs a reward on a task without one is refused before any work", async () => {
    const cfg = file("ddpo.json", JSON.stringify({ ...TINY, method: { kind: "ddpo" } }));
    const fresh = join(dir, "fresh");
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", fresh, "--quiet"));
    expectOneLineError(r, cfg, "method.kind", '"ddpo" needs a reward', 'task.kind "toy2d" has none');
    expect(existsSync(fresh)).toBe(false);
  });

  it("one inapplicable method in a list of methods refuses the whole run before any work", async () => {
    const cfg = file("list.json", JSON.stringify({ ...TINY, method: [{ kind: "none" }, { kind: "ctrl" }] }));
    const fresh = join(dir, "fresh");
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", fresh, "--quiet"));
    expectOneLineError(r, cfg, "method[1].kind", '"ctrl"', 'needs task.kind "classifier-tilt"');
    expect(existsSync(fresh)).toBe(false);
  });

  it("a duplicate key is refused with its line", async () => {
    const cfg = file("dup.json", '{\n  "seed": 1,\n  "seed": 2\n}\n');
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    expectOneLineError(r, cfg, "duplicate", '"seed"', /line 3\b/);
  });

  it("a config that is not an object is refused", async () => {
    const cfg = file("list-config.json", "[1, 2]\n");
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", join(dir, "fresh"), "--quiet"));
    expectOneLineError(r, cfg, "object");
  });

  it("a missing config argument is commander's usage error", async () => {
    const r = await expectUntouched(dir, () => cli("run"));
    expectUsageError(r, "config");
  });
});

describe("rewardiff run: existing results", () => {
  it("--out holding report.json is refused and the file is untouched", async () => {
    const cfg = file("tiny.json", JSON.stringify(TINY));
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", out, "--quiet"));
    expectOneLineError(r, out, "report.json", "--force");
    expect(readFileSync(join(out, "report.json"), "utf8")).toBe(SENTINEL);
  });

  it("--out that is a file is refused", async () => {
    const cfg = file("tiny.json", JSON.stringify(TINY));
    const target = file("not-a-folder", "keep me\n");
    const r = await expectUntouched(dir, () => cli("run", cfg, "--out", target, "--quiet"));
    expectOneLineError(r, target, "not a folder");
  });

  it("--force replaces the results in --out (and only then)", async () => {
    const cfg = file("tiny.json", JSON.stringify(TINY));
    const r = await cli("run", cfg, "--out", out, "--quiet", "--force");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.version).toBe(1);
    expect(report.config.task).toMatchObject({ kind: "toy2d", name: "moons", n: 200 });
    expect(report.results[0].samples).toBe(50);
    const files = readdirSync(out);
    for (const f of ["report.json", "report.html", "samples.csv"]) expect(files).toContain(f);
    expect(tempLeftovers(dir)).toEqual([]);
    // The same run again without --force is refused and leaves the new results alone.
    const after = fingerprint(out);
    const again = await cli("run", cfg, "--out", out, "--quiet");
    expectOneLineError(again, out, "--force");
    expect(fingerprint(out)).toEqual(after);
  });
});
