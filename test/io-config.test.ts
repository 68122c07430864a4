import { describe, it, expect } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig, methodsOf, parseConfig, readConfig, type ExperimentConfig } from "../src/runners/config.js";

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

const err = (json: unknown) => errorOf(() => parseConfig(json, "cfg.json"));

const mixture = {
  kind: "gaussian-mixture",
  components: [
    { weight: 1, mean: [0, 0], std: 1 },
    { weight: 2, mean: [3, 1], std: 0.5 },
  ],
  rewardWeights: [1, 0],
};

describe("defaults", () => {
  it("fills every default of contract.md / the brief", () => {
    const expected: ExperimentConfig = {
      seed: 0,
      task: { kind: "toy2d", name: "8gaussians", n: 8000 },
      model: {
        hidden: 128,
        layers: 3,
        timeEmbedding: "auto",
        residual: true,
        norm: "none",
        fourierFeatures: "auto",
        prediction: "eps",
        schedule: { kind: "linear", steps: 1000, betaStart: 1e-4, betaEnd: 0.02 },
        train: {
          steps: 4000,
          batchSize: 512,
          learningRate: 2e-3,
          weightDecay: 0,
          gradClip: 1,
          lrSchedule: "cosine",
          warmupSteps: 0,
          ema: 0.995,
          checkpointEvery: 0,
        },
      },
      method: { kind: "none" },
      sampling: { sampler: "ddim", steps: 50, eta: 1, samples: 1000 },
    };
    expect(defaultConfig()).toEqual(expected);
    expect(parseConfig({}, "x")).toEqual(expected);
  });

  it("fills task defaults per kind", () => {
    expect(parseConfig({ task: { kind: "linear-subspace" } }, "x").task).toEqual({
      kind: "linear-subspace",
      ambientDim: 64,
      latentDim: 16,
      unlabeled: 20000,
      labeled: 1000,
      labelNoise: 0.1,
      pseudoLabelNoise: 0.1,
    });
    expect(parseConfig({ task: { kind: "classifier-tilt" } }, "x").task).toEqual({ kind: "classifier-tilt", contexts: 2, n: 8000, gamma: 1, offline: 2000, sharpness: 4, grid: 200 });
    expect(parseConfig({ task: mixture }, "x").task).toEqual({ ...mixture, n: 8000 });
    expect(parseConfig({ task: { kind: "csv", path: "d.csv", columns: ["a"] } }, "x").task).toEqual({ kind: "csv", path: "d.csv", columns: ["a"], transform: "standardize" });
  });

  it("keeps given values and merges partial nested objects with defaults", () => {
    const c = parseConfig({ seed: 7, model: { hidden: 32, schedule: { kind: "cosine" }, train: { steps: 10 } }, sampling: { sampler: "ddpm", targets: [1, 2] } }, "x");
    expect(c.seed).toBe(7);
    expect(c.model.hidden).toBe(32);
    expect(c.model.layers).toBe(3);
    expect(c.model.schedule).toEqual({ kind: "cosine", steps: 1000, betaStart: 1e-4, betaEnd: 0.02 });
    expect(c.model.train.steps).toBe(10);
    expect(c.model.train.batchSize).toBe(512);
    expect(c.sampling).toEqual({ sampler: "ddpm", steps: 50, eta: 1, samples: 1000, targets: [1, 2] });
  });

  it("accepts one method or a list, and methodsOf always gives a list", () => {
    const one = parseConfig({ method: { kind: "cfg", scale: 2 } }, "x");
    // The method's schema fills its own defaults (α = 1, condition dropout 0.1: docs/config.md).
    expect(methodsOf(one)).toEqual([{ kind: "cfg", scale: 2, alpha: 1, dropout: 0.1 }]);
    const many = parseConfig({ task: mixture, method: [{ kind: "exact-guidance", alpha: 0.5 }, { kind: "svdd", alpha: 1 }, { kind: "best-of-n" }] }, "x");
    expect(methodsOf(many).map((m) => m.kind)).toEqual(["exact-guidance", "svdd", "best-of-n"]);
  });

  it("is idempotent: a validated config validates to itself (report.json can be re-run)", () => {
    const inputs = [{}, { task: mixture, model: { schedule: { kind: "custom", betas: [0.1, 0.2, 0.3] } }, sampling: { steps: 3 } }];
    for (const input of inputs) {
      const once = parseConfig(input, "x");
      expect(parseConfig(JSON.parse(JSON.stringify(once)), "x")).toEqual(once);
    }
  });
});

describe("custom schedules", () => {
  it("takes T from betas", () => {
    const c = parseConfig({ model: { schedule: { kind: "custom", betas: [0.1, 0.2, 0.5] } }, sampling: { steps: 3 } }, "x");
    expect(c.model.schedule.steps).toBe(3);
    expect(c.model.schedule.betas).toEqual([0.1, 0.2, 0.5]);
  });

  it("requires betas iff kind is custom, each in (0, 1), matching steps", () => {
    expect(err({ model: { schedule: { kind: "custom" } } })).toBe('cfg.json: model.schedule.betas: missing, required when kind is "custom"');
    expect(err({ model: { schedule: { betas: [0.1] } } })).toBe('cfg.json: model.schedule.betas: only used when kind is "custom" (kind is "linear")');
    expect(err({ model: { schedule: { kind: "custom", betas: [0.1, 1] } }, sampling: { steps: 2 } })).toBe(
      "cfg.json: model.schedule.betas[1]: must be < 1, got 1",
    );
    expect(err({ model: { schedule: { kind: "custom", betas: [0, 0.1] } }, sampling: { steps: 2 } })).toBe(
      "cfg.json: model.schedule.betas[0]: must be > 0, got 0",
    );
    expect(err({ model: { schedule: { kind: "custom", betas: [0.1, 0.2], steps: 3 } }, sampling: { steps: 2 } })).toBe(
      "cfg.json: model.schedule.steps: is 3 but betas has 2 entries (leave steps out for a custom schedule)",
    );
  });

  it("refuses more sampling steps than schedule steps", () => {
    expect(err({ model: { schedule: { kind: "custom", betas: [0.1, 0.2] } } })).toBe(
      "cfg.json: sampling.steps: 50 sampling steps exceed the schedule's 2 (model.schedule.steps)",
    );
    expect(err({ model: { schedule: { steps: 20 } } })).toMatch(/sampling\.steps: 50 sampling steps exceed the schedule's 20/);
  });
});

describe("one-line errors", () => {
  it("wrong enum value", () => {
    expect(err({ task: { kind: "toy2d", name: "moon" } })).toBe(
      'cfg.json: task.name: expected one of "moons" | "8gaussians" | "swissroll" | "checkerboard", got "moon"',
    );
    expect(err({ model: { prediction: "score" } })).toBe('cfg.json: model.prediction: expected one of "eps" | "x0" | "v", got "score"');
  });

  it("unknown keys at the top level and nested, with a suggestion", () => {
    expect(err({ model: { hiden: 3 } })).toBe('cfg.json: model: unknown key "hiden" (did you mean "hidden"?)');
    expect(err({ seeed: 1 })).toBe('cfg.json: unknown key "seeed" (did you mean "seed"?)');
    expect(err({ comment: "x" })).toBe('cfg.json: unknown key "comment" (allowed: "seed", "task", "reward", "model", "method", "sampling")');
    expect(err({ model: { schedule: { beta_end: 0.01 } } })).toBe('cfg.json: model.schedule: unknown key "beta_end" (did you mean "betaEnd"?)');
    expect(err({ model: { train: { lr: 0.1 } } })).toMatch(/^cfg\.json: model\.train: unknown key "lr" \(allowed: "steps", /);
    expect(err({ task: { ...mixture, components: [{ weight: 1, mean: [0], std: 1, sd: 2 }], rewardWeights: [1] } })).toBe(
      'cfg.json: task.components[0]: unknown key "sd" (did you mean "std"?)',
    );
    expect(err({ method: [{ kind: "none" }, { kind: "cfg", alpah: 1 }] })).toBe('cfg.json: method[1]: unknown key "alpah" (did you mean "alpha"?)');
    expect(err({ method: { kind: "svdd", alpah: 1 } })).toBe('cfg.json: method: unknown key "alpah" (did you mean "alpha"?)');
  });

  it("reports an unknown key before the problems it causes", () => {
    expect(err({ task: { kind: "csv", paht: "d.csv" } })).toBe('cfg.json: task: unknown key "paht" (did you mean "path"?)');
  });

  it("wrong types", () => {
    expect(err({ seed: "1" })).toBe('cfg.json: seed: expected a number, got "1"');
    expect(err({ seed: 1.5 })).toBe("cfg.json: seed: expected an integer, got 1.5");
    expect(err({ model: { residual: "yes" } })).toBe('cfg.json: model.residual: expected true or false, got "yes"');
    expect(err({ sampling: 3 })).toBe("cfg.json: sampling: expected an object, got 3");
    expect(err([])).toBe("cfg.json: expected an object, got a list");
    expect(err(null)).toBe("cfg.json: expected an object, got null");
    expect(err({ sampling: { targets: [1, "2"] } })).toBe('cfg.json: sampling.targets[1]: expected a number, got "2"');
  });

  it("ranges", () => {
    expect(err({ seed: -1 })).toBe("cfg.json: seed: must be ≥ 0, got -1");
    expect(err({ model: { train: { ema: 1 } } })).toBe("cfg.json: model.train.ema: must be < 1, got 1");
    expect(err({ model: { train: { learningRate: 0 } } })).toBe("cfg.json: model.train.learningRate: must be > 0, got 0");
    expect(err({ sampling: { eta: -0.5 } })).toBe("cfg.json: sampling.eta: must be ≥ 0, got -0.5");
    expect(err({ reward: { kind: "ridge", l2: -1 } })).toBe("cfg.json: reward.l2: must be ≥ 0, got -1");
    expect(err({ task: { kind: "toy2d", n: 1 } })).toBe("cfg.json: task.n: must be ≥ 2, got 1");
    expect(err({ method: { kind: "ctrl", alpha: 0 } })).toBe("cfg.json: method.alpha: must be > 0, got 0");
    expect(err({ method: { kind: "rwr", alpha: 0 } })).toBe("cfg.json: method.alpha: (τ) must be > 0, got 0");
    expect(err({ method: { kind: "rgdm", rho: -1 } })).toBe("cfg.json: method.rho: (ρ) must be ≥ 0, got -1");
    expect(err({ method: { kind: "cfg", scale: -1 } })).toBe("cfg.json: method.scale: must be ≥ 0, got -1");
  });

  it("task kinds and required fields", () => {
    expect(err({ task: { kind: "image" } })).toBe(
      'cfg.json: task.kind: expected one of "toy2d" | "gaussian-mixture" | "linear-subspace" | "csv" | "classifier-tilt", got "image"',
    );
    expect(err({ task: {} })).toMatch(/^cfg\.json: task\.kind: missing, expected one of "toy2d" \| /);
    expect(err({ task: { kind: "csv" } })).toBe("cfg.json: task.path: missing, expected a string");
    expect(err({ task: { kind: "gaussian-mixture", rewardWeights: [1] } })).toBe("cfg.json: task.components: missing, expected a list");
    expect(err({ reward: {} })).toBe('cfg.json: reward.kind: missing, expected one of "oracle" | "ridge" | "mlp" | "ensemble" | "classifier"');
  });

  it("method kinds, empty lists and non-objects", () => {
    expect(err({ method: { kind: "ppo" } })).toMatch(/^cfg\.json: method\.kind: expected one of "rcgdm" \| "cfg" \| .* \| "none", got "ppo"$/);
    expect(err({ method: [{ kind: "none" }, { kind: "ppo" }] })).toMatch(/^cfg\.json: method\[1\]\.kind: expected one of .*, got "ppo"$/);
    expect(err({ method: [] })).toBe("cfg.json: method: needs at least 1 item, got 0");
    expect(err({ method: "cfg" })).toBe('cfg.json: method: expected an object or a list, got "cfg"');
  });

  it("linear-subspace refuses latentDim > ambientDim", () => {
    expect(err({ task: { kind: "linear-subspace", ambientDim: 8, latentDim: 9 } })).toBe(
      "cfg.json: task.latentDim: latentDim (9) must be ≤ ambientDim (8)",
    );
    expect(err({ task: { kind: "linear-subspace", latentDim: 65 } })).toBe("cfg.json: task.latentDim: latentDim (65) must be ≤ ambientDim (64)");
    expect(parseConfig({ task: { kind: "linear-subspace", ambientDim: 8, latentDim: 8 } }, "x").task).toMatchObject({ latentDim: 8 });
  });

  it("gaussian-mixture needs consistent dimensions and at least one component", () => {
    expect(err({ task: { ...mixture, components: [{ weight: 1, mean: [0, 0], std: 1 }, { weight: 1, mean: [0], std: 1 }] } })).toBe(
      "cfg.json: task.components[1].mean: has 1 coordinate but components[0].mean has 2; all means need the same length",
    );
    expect(err({ task: { ...mixture, rewardWeights: [1, 2, 3] } })).toBe("cfg.json: task.rewardWeights: has 3 entries but the means have 2 coordinates");
    expect(err({ task: { ...mixture, components: [] } })).toBe("cfg.json: task.components: needs at least 1 item, got 0");
    expect(err({ task: { ...mixture, components: [{ weight: 0, mean: [0, 0], std: 1 }] } })).toBe(
      "cfg.json: task.components[0].weight: must be > 0, got 0",
    );
  });

  it("exact-guidance only with a gaussian-mixture task", () => {
    expect(err({ method: { kind: "exact-guidance" } })).toBe(
      'cfg.json: method.kind: "exact-guidance" needs the closed-form soft value of a "gaussian-mixture" task, but task.kind is "toy2d"',
    );
    expect(err({ method: [{ kind: "none" }, { kind: "exact-guidance" }] })).toMatch(/^cfg\.json: method\[1\]\.kind: "exact-guidance" needs/);
  });

  it("never crashes and always answers in one line naming the file (mutation sweep)", () => {
    const base = {
      seed: 1,
      task: mixture,
      reward: { kind: "ridge", l2: 0.1 },
      model: { hidden: 8, schedule: { kind: "custom", betas: [0.1, 0.2, 0.3] }, train: { ema: 0.9 } },
      method: [{ kind: "exact-guidance", alpha: 1, scale: 1 }, { kind: "svdd", alpha: 2 }],
      sampling: { steps: 3, targets: [1, 2] },
    };
    const replacements = [undefined, null, 0, -1, 1.5, "x", "", [], [1], {}, { kind: "x" }, true, 1e300];
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, p: (string | number)[]) => {
      if (p.length > 0) paths.push(p);
      if (v && typeof v === "object") for (const [k, c] of Object.entries(v)) walk(c, [...p, Array.isArray(v) ? Number(k) : k]);
    };
    walk(base, []);
    let failures = 0;
    for (const p of paths) {
      for (const r of replacements) {
        const c = structuredClone(base) as any;
        let o = c;
        for (const k of p.slice(0, -1)) o = o[k];
        if (r === undefined && !Array.isArray(o)) delete o[p[p.length - 1]!];
        else o[p[p.length - 1]!] = r ?? null;
        try {
          parseConfig(c, "cfg.json");
        } catch (e) {
          failures++;
          const m = (e as Error).message;
          expect(m, JSON.stringify(p)).toMatch(/^cfg\.json: /);
          expect(m).not.toContain("\n");
          expect(m).not.toMatch(/undefined|\[object|Cannot read/);
        }
      }
    }
    expect(failures).toBeGreaterThan(paths.length * 5);
  });
});

describe("readConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "rewardiff-cfg-"));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it("reads, validates and fills a file", () => {
    const p = file("ok.json", JSON.stringify({ seed: 3, task: { kind: "linear-subspace", ambientDim: 32, latentDim: 4 } }, null, 2));
    const c = readConfig(p);
    expect(c.seed).toBe(3);
    expect(c.task).toMatchObject({ kind: "linear-subspace", ambientDim: 32, latentDim: 4, labeled: 1000 });
  });

  it("names the file in every error", () => {
    const bad = file("bad.json", '{\n  "seed": 1,\n  "task": { "kind": "toy2d", }\n}');
    expect(errorOf(() => readConfig(bad))).toBe(`${bad}: invalid JSON at line 3 column 30: trailing comma before "}"`);
    const dup = file("dup.json", '{"seed": 1, "seed": 2}');
    expect(errorOf(() => readConfig(dup))).toBe(`${dup}: line 1 column 13: duplicate key "seed"`);
    const unknown = file("unknown.json", '{"model": {"hiden": 3}}');
    expect(errorOf(() => readConfig(unknown))).toBe(`${unknown}: model: unknown key "hiden" (did you mean "hidden"?)`);
    expect(errorOf(() => readConfig(join(dir, "none.json")))).toBe(`${join(dir, "none.json")}: config file not found`);
  });
});
