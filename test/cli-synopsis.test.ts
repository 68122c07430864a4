/**
 * README.md's command-line synopsis lists every command and every flag that commander knows (and no
 * other), so it cannot drift from src/cli/main.ts.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { program } from "../src/cli/main.js";

/** The synopsis block of README.md (the first ```text block under "## Command line"): command → flags. */
function synopsis(): Map<string, Set<string>> {
  const readme = readFileSync("README.md", "utf8");
  const section = readme.slice(readme.indexOf("## Command line"));
  const block = /```text\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error("README.md: no ```text block under ## Command line");
  const out = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of block[1]!.split("\n")) {
    const start = /^rewardiff (\S+)/.exec(line);
    if (start) {
      current = new Set();
      out.set(start[1]!, current);
    } else if (line.trim() !== "" && !current) {
      throw new Error(`README.md synopsis: a continuation line before any command: ${line}`);
    }
    for (const flag of line.matchAll(/--[a-z][a-z0-9-]*/g)) current?.add(flag[0]);
  }
  return out;
}

describe("README synopsis", () => {
  it("names every command and every one of its flags, as commander defines them", () => {
    const readme = synopsis();
    const commands = program().commands;
    expect([...readme.keys()].sort()).toEqual(commands.map((c) => c.name()).sort());
    for (const c of commands) {
      const flags = c.options.map((o) => o.long!).filter((f) => f !== "--help").sort();
      expect([...readme.get(c.name())!].sort(), `rewardiff ${c.name()}`).toEqual(flags);
    }
  });
});

describe("rewardiff train --help", () => {
  it("describes both models it trains, not only the unconditional one", () => {
    const train = program().commands.find((c) => c.name() === "train")!;
    expect(train.description()).not.toMatch(/^train an unconditional/);
    expect(train.description()).toContain("conditional");
  });
});
