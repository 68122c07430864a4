/**
 * Sampling molecule models (docs/molecules.md "Sampling"): decoding graph rows into SMILES and properties
 * (checked against RDKit Python's golden values), the samples CSV, and a tiny model trained here whose
 * samples are checked row by row against an independent reading of the same rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { encodeSmiles, graphRowLength, graphShape, graphToRow, kekuleTopology, QM9_VOCABULARY } from "../src/chem/graph.js";
import { canonicalSmiles, loadRDKit, withMol, type RDKit } from "../src/chem/rdkit.js";
import { elementSymbol } from "../src/chem/elements.js";
import { hostMatrix } from "../src/data/matrix.js";
import { defaultSampleBatch, generate } from "../src/diffusion/generate.js";
import { loadModel, saveModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { MoleculeModelSchema, MoleculeSamplingSchema } from "../src/runners/config-schemas.js";
import { smilesTrainData } from "../src/runners/molecule-data.js";
import { moleculeModelFromConfig } from "../src/runners/model-config.js";
import {
  decodeMoleculeRows, formatMoleculeSamplesCsv, MOLECULE_SAMPLE_COLUMNS, moleculeSampler, moleculeVocabulary, resolveModelPath, sampleMolecules,
} from "../src/runners/molecule-sampling.js";
import { disposeTrainState, initTrainState, trainSteps } from "../src/training/trainer.js";
import { readFileSync } from "node:fs";

let rdkit: RDKit;
const dir = mkdtempSync(join(tmpdir(), "rewardiff-molsample-"));
beforeAll(async () => {
  rdkit = await loadRDKit();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Rows of golden molecules (RDKit 2022.09 Python values) that QM9's vocabulary encodes. */
function goldenRows(k: number): Array<Record<string, string>> {
  // The first line is a comment; '#' also occurs in SMILES (triple bonds), so it is dropped by hand.
  const text = readFileSync("test/fixtures/chem/qed-golden.csv", "utf8").split("\n").slice(1).join("\n");
  const rows = parse(text, { columns: true }) as Array<Record<string, string>>;
  return rows.filter((r) => encodeSmiles(rdkit, r.smiles!, QM9_VOCABULARY).ok).slice(0, k);
}

describe("decodeMoleculeRows", () => {
  it("decodes encoded molecules to their canonical SMILES with RDKit Python's properties", () => {
    const golden = goldenRows(6);
    expect(golden.length).toBe(6);
    const width = graphRowLength(QM9_VOCABULARY);
    const data = new Float32Array(golden.length * width);
    golden.forEach((g, i) => {
      const e = encodeSmiles(rdkit, g.smiles!, QM9_VOCABULARY);
      if (!e.ok) throw new Error("unreachable");
      data.set(graphToRow(e.graph), i * width);
    });
    const out = decodeMoleculeRows(rdkit, hostMatrix(golden.length, width, data), QM9_VOCABULARY);
    golden.forEach((g, i) => {
      const s = out[i]!;
      expect(s.valid).toBe(true);
      expect(s.smiles).toBe(canonicalSmiles(rdkit, g.smiles!, { stereo: false }));
      expect(s.fragments).toBe(g.smiles!.split(".").length);
      expect(Math.abs(s.qed! - Number(g.qed))).toBeLessThan(1e-9);
      expect(Math.abs(s.logp! - Number(g.logp))).toBeLessThan(1e-9);
      expect(Math.abs(s.tpsa! - Number(g.tpsa))).toBeLessThan(1e-9);
      expect(Math.abs(s.mw! - Number(g.amw))).toBeLessThan(1e-9);
    });
  });

  it("marks a pentavalent carbon and an empty graph invalid (no valence correction), counts fragments", () => {
    const v = QM9_VOCABULARY;
    const { nodeFeatures, chargeFeatures, edgeFeatures } = graphShape(v);
    const n = v.maxAtoms;
    const blank = () => {
      const nodes = new Float32Array(n * nodeFeatures);
      const charges = new Float32Array(n * chargeFeatures);
      const edges = new Float32Array(n * n * edgeFeatures);
      for (let i = 0; i < n; i++) {
        nodes[i * nodeFeatures + nodeFeatures - 1] = 1;
        charges[i * chargeFeatures] = 1;
        for (let j = 0; j < n; j++) edges[(i * n + j) * edgeFeatures] = 1;
      }
      return { nodes, charges, edges };
    };
    const setAtom = (g: ReturnType<typeof blank>, i: number, col: number) => {
      g.nodes[i * nodeFeatures + nodeFeatures - 1] = 0;
      g.nodes[i * nodeFeatures + col] = 1;
    };
    const bond = (g: ReturnType<typeof blank>, i: number, j: number, order: number) => {
      for (const [a, b] of [[i, j], [j, i]] as const) {
        g.edges[(a * n + b) * edgeFeatures] = 0;
        g.edges[(a * n + b) * edgeFeatures + order] = 1;
      }
    };
    // C bonded to five carbons: valence 5, which RDKit refuses.
    const penta = blank();
    for (let i = 0; i < 6; i++) setAtom(penta, i, 0);
    for (let i = 1; i < 6; i++) bond(penta, 0, i, 1);
    // Two fragments: C-O and N.
    const frag = blank();
    setAtom(frag, 0, 0);
    setAtom(frag, 1, 2);
    setAtom(frag, 4, 1);
    bond(frag, 0, 1, 1);
    const rows = [penta, blank(), frag].map(graphToRow);
    const width = graphRowLength(v);
    const data = new Float32Array(rows.length * width);
    rows.forEach((r, i) => data.set(r, i * width));
    const [a, b, c] = decodeMoleculeRows(rdkit, hostMatrix(3, width, data), v);
    expect(a).toMatchObject({ valid: false, smiles: null, atoms: 6, fragments: 1, qed: null, logp: null, tpsa: null, mw: null });
    expect(a!.graphSmiles).not.toBeNull();
    expect(b).toMatchObject({ valid: false, smiles: null, atoms: 0, fragments: 0, graphSmiles: null });
    expect(c).toMatchObject({ valid: true, atoms: 3, fragments: 2 });
    expect(c!.smiles).toBe(canonicalSmiles(rdkit, "CO.N", { stereo: false }));
    // Methanol + ammonia: 32.042 + 17.031 (average weights: C 12.011, O 15.999, N 14.007, H 1.008).
    expect(c!.mw!).toBeCloseTo(12.011 + 15.999 + 14.007 + 7 * 1.008, 9);
  });

  it("formats the CSV with the documented columns, empty cells where invalid", () => {
    const text = formatMoleculeSamplesCsv([
      { smiles: "CCO", valid: true, fragments: 1, atoms: 3, qed: 0.4, logp: -0.0014, tpsa: 20.23, mw: 46.069, graphSmiles: "CCO" },
      { smiles: null, valid: false, fragments: 1, atoms: 6, qed: null, logp: null, tpsa: null, mw: null, graphSmiles: "C(C)(C)(C)(C)C" },
    ]);
    const rows = parse(text) as string[][];
    expect(rows[0]).toEqual([...MOLECULE_SAMPLE_COLUMNS]);
    expect(rows[0]).toEqual(["smiles", "valid", "fragments", "atoms", "qed", "logp", "tpsa", "mw", "graph_smiles"]);
    expect(rows[1]).toEqual(["CCO", "1", "1", "3", "0.4", "-0.0014", "20.23", "46.069", "CCO"]);
    expect(rows[2]).toEqual(["", "0", "1", "6", "", "", "", "", "C(C)(C)(C)(C)C"]);
  });
});

describe("sampling a tiny molecule model", () => {
  it("decodes every sampled row as an independent reading of the same rows says", async () => {
    await ensureBackend();
    const csv = join(dir, "tri.csv");
    writeFileSync(csv, "smiles\nCCO\nCC=O\nCCN\nC=CO\nCCC\nOCO\n");
    const data = await smilesTrainData(csv);
    const cfg = MoleculeModelSchema.parse({ hidden: 16, layers: 1, train: { steps: 120, learningRate: 0.01, warmupSteps: 10 } });
    const model = moleculeModelFromConfig(cfg, data.layout);
    const state = await trainSteps(model, cfg.train, initTrainState(model, keyFromSeed(0)), { x: data.train });
    const path = join(dir, "tri.safetensors");
    await saveModel(path, { model, train: cfg.train, columns: data.columns, data: data.name, seed: 0, molecules: data.vocabulary }, state);
    disposeTrainState(state);
    const loaded = loadModel(path);
    try {
      const sampler = { sampler: "ddpm" as const, steps: 20, eta: 1 };
      const n = 24;
      const samples = await sampleMolecules(loaded.meta, loaded.ema, { n, sampler, seed: 3 });
      const rows = await generate(loaded.meta.model, loaded.ema, sampler, n, keyFromSeed(3));
      expect(samples.length).toBe(n);
      const v = data.vocabulary;
      const { nodeFeatures, edgeFeatures } = graphShape(v);
      const nodeCount = v.maxAtoms * nodeFeatures;
      const chargeCount = v.maxAtoms * 3;
      const argmax = (a: Float32Array, off: number, w: number) => {
        let best = 0;
        for (let k = 1; k < w; k++) if (a[off + k]! > a[off + best]!) best = k;
        return best;
      };
      let valid = 0;
      for (let r = 0; r < n; r++) {
        const row = rows.data.subarray(r * rows.cols, (r + 1) * rows.cols);
        const elements: string[] = [];
        const real: boolean[] = [];
        for (let i = 0; i < v.maxAtoms; i++) {
          const col = argmax(row, i * nodeFeatures, nodeFeatures);
          real.push(col < v.atoms.length);
          if (col < v.atoms.length) elements.push(v.atoms[col]!);
        }
        const orders: number[] = [];
        for (let i = 0; i < v.maxAtoms; i++) {
          for (let j = i + 1; j < v.maxAtoms; j++) {
            const col = argmax(row, nodeCount + chargeCount + (i * v.maxAtoms + j) * edgeFeatures, edgeFeatures);
            if (col > 0 && real[i] && real[j]) orders.push(v.bonds[col - 1]!);
          }
        }
        const s = samples[r]!;
        expect(s.atoms).toBe(elements.length);
        expect(s.valid).toBe(s.smiles !== null);
        if (!s.valid) continue;
        valid++;
        const topo = withMol(rdkit, s.smiles!, (mol) => kekuleTopology(mol))!;
        expect(topo.z.map(elementSymbol).sort()).toEqual([...elements].sort());
        expect(topo.bonds.map((b) => b[2]).sort()).toEqual([...orders].sort());
        expect(s.fragments).toBe(s.smiles!.split(".").length);
      }
      // 120 steps on six three-atom molecules: most samples are molecules.
      expect(valid).toBeGreaterThan(n / 2);
    } finally {
      disposeLoadedModel(loaded);
    }
  });

  it("samples more QM9 molecules than one batch fits in jax-js's 4 GiB wasm heap (batched by the edge budget)", async () => {
    // One batch of 4,096 QM9 graphs raised "Allocation exceeds the 4 GiB memory32 limit" (measured with
    // `rewardiff sample --model qm9 --n 5000`); the default batch keeps each under the edge budget.
    const loaded = loadModel(join(process.cwd(), "models", "qm9.safetensors"));
    try {
      expect(defaultSampleBatch(loaded.meta.model.network)).toBe(1024);
      const n = 4100;
      const x = await generate(loaded.meta.model, loaded.ema, { sampler: "ddpm", steps: 1, eta: 1 }, n, keyFromSeed(3));
      expect(x.rows).toBe(n);
      expect(x.data.every((v) => Number.isFinite(v))).toBe(true);
    } finally {
      disposeLoadedModel(loaded);
    }
  }, 60_000);

  it("refuses a model without a vocabulary, naming what it was trained on", () => {
    const meta = { data: "toy2d:moons" } as Parameters<typeof moleculeVocabulary>[0];
    expect(() => moleculeVocabulary(meta, "m.safetensors")).toThrow(/^m\.safetensors: not a molecule model \(trained on toy2d:moons;/);
  });

  it("takes the schema's sampler defaults and resolves the shipped model's name", () => {
    expect(moleculeSampler({})).toEqual(MoleculeSamplingSchema.parse({}));
    expect(moleculeSampler({ steps: 7, sampler: undefined })).toEqual({ ...MoleculeSamplingSchema.parse({}), steps: 7 });
    expect(resolveModelPath("some/model.safetensors")).toBe("some/model.safetensors");
    const shipped = join(process.cwd(), "models", "qm9.safetensors");
    if (existsSync(shipped)) expect(resolveModelPath("qm9")).toBe(shipped);
    else expect(() => resolveModelPath("qm9")).toThrow(/^--model qm9: the shipped model models\/qm9\.safetensors is not in this installation/);
  });
});
