/**
 * The molecule panel's engine and serving in Node (docs/browser.md, "Molecule panel"): the settings'
 * checks; a model without a vocabulary refused; the static server's policy ('unsafe-eval' for the
 * molecule worker's script only, which RDKit's embind bindings need) and the wasm MIME type; the
 * steering reward; and SVDD steering towards a logP of 1 on the QM9 model (the package's
 * models/qm9.safetensors or REWARDIFF_QM9_MODEL; skipped, saying why, without it), each molecule's value and
 * reward recomputed from its SMILES with RDKit.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MOLECULE_WORKER_CSP, PLAYGROUND_CSP, servePlayground } from "../playground/serve.js";
import { checkMoleculeSettings, panelRewardOf, panelVocabulary, runMolecules, type MoleculeSettings } from "../playground/src/molecules.js";
import { loadRDKit, propertyOfSmiles } from "../src/chem/index.js";
import { disposeLoadedModel, ensureBackend, loadModelFromBytes } from "../src/index.js";

const MODEL = process.env.REWARDIFF_QM9_MODEL ?? "models/qm9.safetensors";
const modelSkipReason = existsSync(MODEL) ? undefined : `no molecule model at ${MODEL} (the package's QM9 model; REWARDIFF_QM9_MODEL names another)`;
if (modelSkipReason) console.log(`playground-molecules.test.ts: the SVDD check is skipped: ${modelSkipReason}`);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const good: MoleculeSettings = { property: "qed", method: "best-of-n", candidates: 4, alpha: 0.05, steps: 50, n: 32, seed: 0 };

describe("the molecule panel", () => {
  it("checks its settings, naming the setting", () => {
    expect(() => checkMoleculeSettings(good)).not.toThrow();
    const bad = (patch: Partial<MoleculeSettings>) => () => checkMoleculeSettings({ ...good, ...patch } as MoleculeSettings);
    expect(bad({ property: "tpsa" as never })).toThrow(/^property must be one of qed, logp, got "tpsa"$/);
    expect(bad({ method: "dps" as never })).toThrow(/^method must be one of best-of-n, svdd, got "dps"$/);
    expect(bad({ steps: 1 })).toThrow(/^steps must be a whole number in \[2, 1000\], got 1$/);
    expect(bad({ n: 0 })).toThrow(/^molecules must be a whole number in \[1, 256\], got 0$/);
    expect(bad({ candidates: 2.5 })).toThrow(/^candidates must be a whole number in \[1, 32\], got 2\.5$/);
    expect(bad({ seed: -1 })).toThrow(/^seed must be/);
    expect(bad({ alpha: 0 })).toThrow(/^α must be a number > 0, got 0$/);
    expect(bad({ target: 1.5 })).toThrow(/^target must be a number in \[0, 1\] \(the qed range\), got 1\.5$/);
    expect(() => checkMoleculeSettings({ ...good, property: "logp", target: -3 })).not.toThrow();
  });

  it("rewards the property, or its distance to a target; an invalid molecule scores the worst", () => {
    expect(panelRewardOf("qed", undefined, 0.7)).toBe(0.7);
    expect(panelRewardOf("qed", undefined, null)).toBe(0);
    expect(panelRewardOf("logp", undefined, null)).toBe(-10);
    expect(panelRewardOf("logp", 1, 3.25)).toBe(-2.25);
    expect(panelRewardOf("logp", 1, -0.5)).toBe(-1.5);
    expect(panelRewardOf("logp", 1, null)).toBe(-20);
    expect(panelRewardOf("qed", 0.5, null)).toBe(-1);
  });

  it("refuses a model without a molecule vocabulary", async () => {
    await ensureBackend();
    const model = await loadModelFromBytes(new Uint8Array(readFileSync("playground/models/moons.safetensors")), readFileSync("playground/models/moons.json", "utf8"));
    try {
      expect(() => panelVocabulary(model)).toThrow(/^not a molecule model \(its sidecar has no "molecules" vocabulary; trained on toy2d moons/);
    } finally {
      disposeLoadedModel(model);
    }
  });

  it("serves the molecule worker with 'unsafe-eval' added, everything else with the strict policy, wasm as application/wasm", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rewardiff-molserve-"));
    dirs.push(dir);
    for (const f of ["index.html", "worker.js", "molecule-worker.js", "RDKit_minimal.wasm"]) writeFileSync(join(dir, f), "x");
    const { server, url } = await servePlayground(dir);
    try {
      const head = async (f: string) => {
        const r = await fetch(`${url}${f}`);
        await r.arrayBuffer();
        return { csp: r.headers.get("content-security-policy"), type: r.headers.get("content-type") };
      };
      expect(MOLECULE_WORKER_CSP).toBe(PLAYGROUND_CSP.replace("script-src 'self' 'wasm-unsafe-eval';", "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval';"));
      expect(PLAYGROUND_CSP).not.toContain("'unsafe-eval'");
      expect((await head("molecule-worker.js")).csp).toBe(MOLECULE_WORKER_CSP);
      for (const f of ["index.html", "worker.js", "RDKit_minimal.wasm"]) expect((await head(f)).csp).toBe(PLAYGROUND_CSP);
      expect((await head("RDKit_minimal.wasm")).type).toBe("application/wasm");
    } finally {
      server.close();
    }
  });

  it.skipIf(modelSkipReason !== undefined)(
    "SVDD towards a logP of 1 raises the mean reward −|logP − 1| over plain sampling; every value and reward recomputed from the SMILES",
    async () => {
      await ensureBackend();
      const rdkit = await loadRDKit();
      const model = await loadModelFromBytes(new Uint8Array(readFileSync(MODEL)), readFileSync(MODEL.replace(/\.safetensors$/, ".json"), "utf8"));
      try {
        const steps: string[] = [];
        const s: MoleculeSettings = { property: "logp", method: "svdd", candidates: 4, alpha: 0.1, steps: 20, n: 16, seed: 5, target: 1 };
        const r = await runMolecules(rdkit, model, s, (phase, done, total) => steps.push(`${phase} ${done}/${total}`));
        expect(steps[0]).toBe("plain 1/20");
        expect(steps.at(-1)).toBe("steered 20/20");
        expect(steps).toHaveLength(40);
        for (const set of [r.plain, r.steered]) {
          const logp = propertyOfSmiles(rdkit, set.molecules.map((m) => m.smiles), "logp", { invalidReward: Number.NaN });
          // Invalid: the worst distance over logP's range [−10, 10].
          const want = Array.from(logp, (v) => (Number.isNaN(v) ? -20 : -Math.abs(v - 1)));
          set.molecules.forEach((m, i) => {
            expect(m.valid).toBe(!Number.isNaN(logp[i]!));
            expect(m.valid).toBe(m.smiles !== null);
            expect(m.value).toBe(m.valid ? logp[i] : null);
            expect(m.reward).toBeCloseTo(want[i]!, 12);
            expect(m.svg !== undefined).toBe(m.valid);
          });
          expect(set.rewardMean).toBeCloseTo(want.reduce((a, v) => a + v, 0) / s.n, 12);
          expect(set.validity).toBe(set.molecules.filter((m) => m.valid).length / s.n);
        }
        // SVDD evaluates M candidates per step with the ε-model: M times plain's model evaluations, plus x̂₀'s.
        expect(r.plain.cost.modelEvals).toBe(s.n * s.steps);
        expect(r.steered.cost.modelEvals).toBeGreaterThan(s.candidates * s.n * (s.steps - 1));
        expect(r.steered.rewardMean).toBeGreaterThan(r.plain.rewardMean);
        process.stdout.write(
          `playground molecules (Node): 16 × 20 DDPM steps, mean −|logP − 1| plain ${r.plain.rewardMean.toFixed(2)} (validity ${r.plain.validity.toFixed(3)}, ${r.plain.cost.seconds.toFixed(2)} s), ` +
            `SVDD M = 4 ${r.steered.rewardMean.toFixed(2)} (validity ${r.steered.validity.toFixed(3)}, ${r.steered.cost.seconds.toFixed(2)} s)\n`,
        );
      } finally {
        disposeLoadedModel(model);
      }
    },
    60_000,
  );
});
