/**
 * Molecule models end to end (docs/molecules.md): `train --smiles` writes a graph transformer with a
 * categorical x̂₀ output, the cross-entropy loss and the vocabulary read from the data; bad molecule files
 * are refused with counts and lines; and the whole chain (graph noise, cross-entropy training, x̂₀ sampling,
 * argmax decoding by RDKit) reproduces a molecule it was trained on, charges included.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keyFromSeed } from "../src/backend/keys.js";
import { canonicalSmiles, loadRDKit } from "../src/chem/rdkit.js";
import { decodeGraph, encodeSmiles, graphFromRow, graphToRow, type GraphVocabulary } from "../src/chem/graph.js";
import { hostMatrix } from "../src/data/matrix.js";
import { checkModelMeta } from "../src/io/checkpoints/model.js";
import { generate } from "../src/diffusion/generate.js";
import { MoleculeModelSchema } from "../src/runners/config-schemas.js";
import { moleculeModelFromConfig } from "../src/runners/model-config.js";
import { moleculeLayout } from "../src/runners/molecule-data.js";
import { disposeTrainState, initTrainState, trainSteps } from "../src/training/trainer.js";
import { cli, expectOneLineError, expectUntouched, removeTempDirs, tempDir } from "./fixtures/cli/harness.js";

afterAll(removeTempDirs);

const SMALL = ["smiles", "CCO", "CC(=O)O", "c1ccccc1", "C[NH3+]", "CC#N", "OCC(F)F"].join("\n") + "\n";

describe("train --smiles", () => {
  it("writes a categorical graph model with the data's vocabulary, and resumes it", async () => {
    const dir = tempDir("mol-train");
    const data = join(dir, "small.csv");
    writeFileSync(data, SMALL);
    const out = join(dir, "m.safetensors");
    const t = await cli("train", "--smiles", data, "--steps", "3", "--hidden", "16", "--layers", "1", "--batch-size", "8", "--out", out, "--quiet");
    expect(t.code, t.stderr).toBe(0);
    const meta = JSON.parse(readFileSync(join(dir, "m.json"), "utf8")).config;
    expect(meta.molecules).toEqual({ atoms: ["C", "N", "O", "F"], bonds: [1, 2, 3], maxAtoms: 6 });
    expect(meta.model.prediction).toBe("x0");
    expect(meta.model.loss).toEqual({ kind: "cross-entropy", blockWeights: [1, 1, 5] });
    expect(meta.model.network).toMatchObject({ kind: "graph-transformer", maxNodes: 6, nodeBlocks: [5, 3], edgeFeatures: 4, output: "categorical", dataDim: 6 * 8 + 36 * 4 });
    expect(meta.model.noise).toEqual({ kind: "graph", maxNodes: 6, nodeBlocks: [5, 3], edgeFeatures: 4 });
    expect(meta.columns[0]).toBe("atom0=C");
    const r = await cli("train", "--resume", out, "--out", out, "--smiles", data, "--steps", "5", "--quiet");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "m.json"), "utf8")).config.step).toBe(5);
    const wrong = await cli("train", "--resume", out, "--out", out, "--task", "moons", "--steps", "7", "--quiet");
    expect(wrong.code).toBe(1);
    // The sidecar's cross-field checks: cross-entropy needs x̂₀ prediction; the vocabulary must fit the network.
    const sidecar = JSON.parse(readFileSync(join(dir, "m.json"), "utf8"));
    const bad = (f: (c: Record<string, any>) => void) => {
      const c = structuredClone(sidecar.config);
      f(c);
      return () => checkModelMeta(c, "m.json");
    };
    expect(bad((c) => (c.model.prediction = "eps"))).toThrow(/m\.json: config\.model\.loss: cross-entropy needs x̂_0 prediction, but model\.prediction is "eps"/);
    expect(bad((c) => (c.model.loss.blockWeights = [1, 5]))).toThrow(/config\.model\.loss\.blockWeights: 2 weights for 3 categorical blocks/);
    expect(bad((c) => (c.molecules.atoms = ["C", "N", "O"]))).toThrow(/config\.molecules: a vocabulary of 3 atoms/);
    expect(bad((c) => (c.model.network.output = "values"))).toThrow(/config\.model\.loss: cross-entropy needs a network with a categorical output/);
    // A lineage (startedFrom) needs a weights hash of 64 hex digits; a good one is accepted.
    const sha = "ab".repeat(32);
    expect(() => checkModelMeta({ ...structuredClone(sidecar.config), startedFrom: [{ model: "a.safetensors", sha256: sha, step: 3 }] }, "m.json")).not.toThrow();
    expect(bad((c) => (c.startedFrom = [{ model: "a.safetensors", sha256: "abc", step: 3 }]))).toThrow(/^m\.json: .*startedFrom/);
    expect(bad((c) => (c.startedFrom = []))).toThrow(/^m\.json: .*startedFrom/);
  }, 60_000);

  it("refuses a molecule file with bad rows, naming the counts and lines, and writes nothing", async () => {
    const dir = tempDir("mol-bad");
    const data = join(dir, "bad.csv");
    writeFileSync(data, ["smiles", "CCO", "C1CC", "C(C", "CCO"].join("\n") + "\n");
    const out = join(dir, "m.safetensors");
    const r = await expectUntouched(dir, () => cli("train", "--smiles", data, "--steps", "2", "--out", out, "--quiet"));
    expectOneLineError(r, "2 of 4 rows refused", "2 unparsable SMILES (lines 3, 4)");
    const small = join(dir, "small.csv");
    writeFileSync(small, SMALL);
    const big = await expectUntouched(dir, () => cli("train", "--smiles", small, "--max-atoms", "2", "--steps", "2", "--out", out, "--quiet"));
    expectOneLineError(big, "5 of 6 rows refused: 5 molecules over maxAtoms (lines 2, 3, 4, 6, 7)");
    const mixed = await cli("train", "--smiles", small, "--prediction", "eps", "--out", out, "--quiet");
    expectOneLineError(mixed, "--prediction eps", "cross-entropy");
  }, 60_000);
});

describe("the molecule chain", () => {
  // The peroxide dianion: two charged atoms and a bond. A molecule whose atoms differ is ambiguous for a
  // permutation-equivariant network (which node becomes which atom is decided by the noise), and learning to
  // break that symmetry takes thousands of steps (formate [O-]C=O: 3 of 8 samples right after 300 steps, 7 of
  // 8 after 800); with identical atoms a short run must get it right.
  it("a model trained on one charged molecule samples it back (noise, cross-entropy, x̂₀ sampling, decoding)", async () => {
    const rdkit = await loadRDKit();
    const vocab: GraphVocabulary = { atoms: ["C", "N", "O"], bonds: [1, 2, 3], maxAtoms: 2 };
    const target = "[O-][O-]";
    const e = encodeSmiles(rdkit, target, vocab);
    if (!e.ok) throw new Error(e.detail);
    const row = graphToRow(e.graph);
    const x = hostMatrix(32, row.length, new Float32Array(32 * row.length).map((_, i) => row[i % row.length]!));
    const cfg = MoleculeModelSchema.parse({ hidden: 16, edgeHidden: 8, heads: 2, layers: 1, train: { steps: 150, batchSize: 32, learningRate: 3e-3, warmupSteps: 10, ema: 0.9 } });
    const model = moleculeModelFromConfig(cfg, moleculeLayout(vocab));
    const state = await trainSteps(model, cfg.train, initTrainState(model, keyFromSeed(0)), { x });
    const out = await generate(model, state.params, { sampler: "ddim", steps: 20, eta: 1 }, 16, keyFromSeed(1));
    disposeTrainState(state);
    const want = canonicalSmiles(rdkit, target, { stereo: false });
    let same = 0;
    for (let i = 0; i < out.rows; i++) {
      const d = decodeGraph(rdkit, graphFromRow(out.data.subarray(i * out.cols, (i + 1) * out.cols), vocab), vocab);
      if (d.smiles === want) same++;
    }
    // An untrained network decodes to this molecule with probability ~0; a broken loss/sampler/decoder gives 0.
    expect(same, `${same} of 16 samples decode to ${want}`).toBeGreaterThanOrEqual(14);
  }, 120_000);
});
