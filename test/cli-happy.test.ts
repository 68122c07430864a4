/** The CLI's happy paths, briefly: help, a tiny train → sample round trip, and the real binary. */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cli, removeTempDirs, tempDir, tempLeftovers } from "./fixtures/cli/harness.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const COMMANDS = ["demo", "run", "train", "sample", "evaluate", "fit-reward", "export"];

afterAll(removeTempDirs);

describe("rewardiff --help", () => {
  it("exits 0 and lists every command", async () => {
    const r = await cli("--help");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, "m"));
  });

  it.each(COMMANDS)("%s --help exits 0 and shows its usage", async (c) => {
    const r = await cli(c, "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: rewardiff ${c}`);
  });

  it("an unknown command is a usage error (exit 2)", async () => {
    const r = await cli("bogus");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bogus");
  });
});

describe("rewardiff train + sample", () => {
  it("a tiny model trained on a CSV samples n rows under the data's header", async () => {
    const dir = tempDir("happy");
    const data = join(dir, "data.csv");
    const rows = Array.from({ length: 32 }, (_, i) => `${Math.cos(i)},${Math.sin(i)},${i % 3}`);
    writeFileSync(data, `u,v,w\n${rows.join("\n")}\n`);
    const model = join(dir, "model.safetensors");
    const t = await cli("train", "--data", data, "--columns", "w,u", "--steps", "3", "--hidden", "8", "--layers", "1", "--batch-size", "8", "--out", model, "--quiet");
    expect(t.code, t.stderr).toBe(0);
    expect(existsSync(model)).toBe(true);
    expect(existsSync(join(dir, "model.json"))).toBe(true);
    expect(t.stdout).toContain("wrote");

    const out = join(dir, "samples.csv");
    const s = await cli("sample", "--model", model, "--n", "17", "--steps", "3", "--out", out, "--quiet");
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toBe("");
    const lines = readFileSync(out, "utf8").trimEnd().split("\n");
    expect(lines[0]).toBe("w,u");
    expect(lines).toHaveLength(1 + 17);
    for (const line of lines.slice(1)) {
      const cells = line.split(",").map(Number);
      expect(cells).toHaveLength(2);
      for (const v of cells) expect(Number.isFinite(v)).toBe(true);
    }
    expect(tempLeftovers(dir)).toEqual([]);
  });

  it("a built-in task's model samples with the x1,x2 header; the same seed gives the same file", async () => {
    const dir = tempDir("happy");
    const model = join(dir, "moons.safetensors");
    const t = await cli("train", "--task", "moons", "--steps", "3", "--hidden", "8", "--layers", "1", "--out", model, "--quiet");
    expect(t.code, t.stderr).toBe(0);
    const a = join(dir, "a.csv");
    const b = join(dir, "b.csv");
    for (const out of [a, b]) {
      const s = await cli("sample", "--model", model, "--n", "9", "--steps", "2", "--seed", "4", "--out", out, "--quiet");
      expect(s.code, s.stderr).toBe(0);
    }
    const text = readFileSync(a, "utf8");
    expect(text.split("\n")[0]).toBe("x1,x2");
    expect(text.trimEnd().split("\n")).toHaveLength(10);
    expect(readFileSync(b, "utf8")).toBe(text);
  });
});

describe("bin/rewardiff.js", () => {
  it("`node bin/rewardiff.js --help` exits 0 (needs `npm run build`)", () => {
    expect(existsSync(join(ROOT, "dist", "cli", "main.js")), "dist/ is missing: run `npm run build` first").toBe(true);
    const r = spawnSync(process.execPath, ["bin/rewardiff.js", "--help"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    for (const c of COMMANDS) expect(r.stdout).toContain(c);
  });

  it("the real binary prints one `rewardiff:` line and exits 1 on a missing config", () => {
    const dir = tempDir("bin");
    const cfg = join(dir, "nope.json");
    const r = spawnSync(process.execPath, ["bin/rewardiff.js", "run", cfg, "--out", join(dir, "out")], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`rewardiff: ${cfg}: config file not found\n`);
  });
});
