/**
 * Every shipped config (configs/*.json) parses with the method modules' schemas (an experiment section's own
 * config, e.g. molecules-ctrl.json, with its schema) and passes the checks
 * `rewardiff run` makes before any work (task reward, unique row labels; a molecule run's: its model file,
 * unique labels and file names); and duplicate row labels are
 * refused before any work with one line naming method[i].label.
 */
import { mkdtempSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig, readConfig } from "../src/runners/config.js";
import { checkMethodsAvailable, runExperiment } from "../src/runners/experiment.js";
import { methodLabels } from "../src/runners/labels.js";
import { readMoleculeConfig } from "../src/runners/molecule-run-config.js";
import { checkMoleculeInputs } from "../src/runners/molecule-run.js";
import { readMoleculeCtrlConfig } from "../src/runners/molecule-ctrl-config.js";

/** Configs of `npm run experiments` sections with their own schema (not `rewardiff run` configs), by file. */
const EXPERIMENT_CONFIGS: Record<string, (path: string) => unknown> = { "molecules-ctrl.json": readMoleculeCtrlConfig };

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const CONFIGS = readdirSync("configs").filter((f) => f.endsWith(".json")).sort();

describe("shipped configs", () => {
  it("there are configs to check", () => expect(CONFIGS.length).toBeGreaterThan(0));
  it.each(CONFIGS)("configs/%s parses and passes the pre-run checks", (file) => {
    const experiment = EXPERIMENT_CONFIGS[file];
    if (experiment) {
      expect(() => experiment(join("configs", file))).not.toThrow();
      return;
    }
    // A molecule run's config (task.kind qm9 or smiles) has its own schema and checks.
    const molecules = readMoleculeConfig(join("configs", file));
    if (molecules) {
      expect(() => checkMoleculeInputs(molecules, "configs", file)).not.toThrow();
      return;
    }
    const cfg = readConfig(join("configs", file));
    expect(() => checkMethodsAvailable(cfg, file)).not.toThrow();
    const labels = methodLabels(cfg);
    expect(new Set(labels).size).toBe(labels.length);
  });
});

describe("method requirements and refinements", () => {
  it("are checked when the config is parsed, naming the key", () => {
    const tilt = { kind: "classifier-tilt" };
    expect(() => parseConfig({ task: tilt, method: [{ kind: "none" }, { kind: "ctrl", cfgScale: 2 }] }, "c.json")).toThrow(
      /^c\.json: method\[1\]\.cfgScale: classifier-free guidance against the null control needs training with it: set nullProbability > 0/,
    );
    expect(() => parseConfig({ task: tilt, method: { kind: "ctrl", cfgScale: 2, nullProbability: 0.1 } }, "c.json")).not.toThrow();
    expect(() => parseConfig({ task: { kind: "toy2d" }, method: { kind: "dps-classifier" } }, "c.json")).toThrow(/^c\.json: method\.kind: "dps-classifier" needs task\.kind "classifier-tilt"/);
    expect(() => parseConfig({ method: { kind: "dps-normalised" }, sampling: { sampler: "ddim", eta: 0 } }, "c.json")).toThrow(/^c\.json: sampling\.eta: is 0 \(deterministic DDIM\), but method "dps-normalised" needs stochastic sampler steps/);
    expect(() => parseConfig({ method: { kind: "best-of-n", candidates: 4, matchBudget: "x" } }, "c.json")).toThrow(/^c\.json: method\.matchBudget: give either candidates or matchBudget, not both$/);
  });
});

describe("row labels", () => {
  const mixture = { kind: "gaussian-mixture", components: [{ weight: 1, mean: [0, 0], std: 1 }], rewardWeights: [1, 0] };

  it("default to the kind, with #i where a default repeats; given labels are kept", () => {
    const cfg = parseConfig({ task: mixture, method: [{ kind: "none" }, { kind: "dps" }, { kind: "dps" }, { kind: "svdd", label: "mine" }, { kind: "exact-guidance", base: "exact" }] }, "c");
    expect(methodLabels(cfg)).toEqual(["none", "dps#1", "dps#2", "mine", "exact-guidance (exact ε)"]);
  });

  it("a duplicate label is refused before any work, naming method[i].label", async () => {
    const cfg = parseConfig({ task: mixture, method: [{ kind: "dps", label: "x" }, { kind: "svdd", label: "x" }] }, "c");
    expect(() => checkMethodsAvailable(cfg, "cfg.json")).toThrow(/^cfg\.json: method\[1\]\.label: "x" is already the label of method\[0\]; row labels must be unique in a run$/);
    // A given label that equals another entry's default label is a duplicate too.
    const clash = parseConfig({ task: mixture, method: [{ kind: "dps" }, { kind: "svdd", label: "dps" }] }, "c");
    expect(() => checkMethodsAvailable(clash, "cfg.json")).toThrow(/method\[1\]\.label: "dps" is already the label of method\[0\]/);
    const out = join(mkdtempSync(join(tmpdir(), "rewardiff-labels-")), "run");
    dirs.push(out);
    await expect(runExperiment(cfg, out, { where: "cfg.json" })).rejects.toThrow(/method\[1\]\.label/);
    expect(existsSync(out)).toBe(false);
  });
});
