/**
 * `rewardiff train --help` prints the defaults training uses: the numbers in the help text are compared
 * with the config schema's defaults (what the unconditional path parses) and with the library defaults
 * the conditional path (`--unlabeled --reward-model`) trains with.
 */
import { describe, expect, it } from "vitest";
import { defaultConditionalNetwork } from "../src/training/rcgdm.js";
import { defaultConfig } from "../src/runners/config.js";
import { defaultTrainConfig } from "../src/training/trainer.js";
import { cli } from "./fixtures/cli/harness.js";

/**
 * The number after "(default " in the help entry of `flag` (its lines joined: commander wraps long
 * descriptions), and the "conditional model N" one if any.
 */
function helpDefault(help: string, flag: string): { main: number; conditional?: number } {
  const lines = help.split("\n");
  const at = lines.findIndex((l) => l.trimStart().startsWith(flag));
  if (at < 0) throw new Error(`no help line for ${flag}`);
  const end = lines.findIndex((l, i) => i > at && /^\s*-/.test(l));
  const line = lines.slice(at, end < 0 ? undefined : end).map((l) => l.trim()).join(" ");
  const m = /\(default ([0-9.e+-]+)(?:; conditional model ([0-9.e+-]+))?\)/.exec(line);
  if (!m) throw new Error(`no default in the help line of ${flag}: ${line}`);
  return { main: Number(m[1]), ...(m[2] !== undefined ? { conditional: Number(m[2]) } : {}) };
}

describe("rewardiff train --help", () => {
  it("states the defaults that are trained", async () => {
    const r = await cli("train", "--help");
    expect(r.code).toBe(0);
    const model = defaultConfig().model;
    expect(helpDefault(r.stdout, "--steps").main).toBe(model.train.steps);
    expect(helpDefault(r.stdout, "--batch-size").main).toBe(model.train.batchSize);
    expect(helpDefault(r.stdout, "--lr").main).toBe(model.train.learningRate);
    expect(helpDefault(r.stdout, "--hidden")).toEqual({ main: model.hidden, conditional: defaultConditionalNetwork.hidden });
    expect(helpDefault(r.stdout, "--layers")).toEqual({ main: model.layers, conditional: defaultConditionalNetwork.layers });
    // The conditional path trains with the library's defaults: the same optimisation numbers.
    expect(defaultTrainConfig.steps).toBe(model.train.steps);
    expect(defaultTrainConfig.batchSize).toBe(model.train.batchSize);
    expect(defaultTrainConfig.learningRate).toBe(model.train.learningRate);
  });
});
