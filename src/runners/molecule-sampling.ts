/**
 * Molecules from a molecule model (docs/molecules.md "Sampling"): draw graph rows with the model's sampler,
 * decode each row by argmax (src/chem/graph.ts `decodeGraph`, no valence correction: a row RDKit cannot
 * sanitise is invalid), and compute the properties of the valid ones. Node-only (the shipped model's path).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { keyFromSeed } from "../backend/keys.js";
import { decodeGraph, graphFromRow, graphRowLength, graphToMolblock, type GraphVocabulary } from "../chem/graph.js";
import { moleculeProperty, type MoleculeProperty } from "../chem/oracles.js";
import { loadRDKit, withMol, type RDKit } from "../chem/rdkit.js";
import type { HostMatrix } from "../data/matrix.js";
import { generate, generateWithEps } from "../diffusion/generate.js";
import { conditionalOutput } from "../training/rcgdm.js";
import type { ModelMeta } from "../io/checkpoints/model.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { MoleculeSamplingSchema, type MoleculeSamplingConfig } from "./config-schemas.js";
import { SHIPPED_MODELS } from "../io/shipped-models.js";

/** One decoded sample: the molecule and its properties (null where it is invalid). */
export interface MoleculeSample {
  /** RDKit's canonical SMILES without stereo; null when RDKit cannot sanitise the graph (or it has no atom). */
  readonly smiles: string | null;
  readonly valid: boolean;
  /** Connected components of the graph (0 for a graph with no atom); counted on invalid graphs too. */
  readonly fragments: number;
  /** Heavy atoms (non-padding nodes). */
  readonly atoms: number;
  /** QED, Crippen logP, TPSA and average molecular weight of a valid molecule; null when invalid. */
  readonly qed: number | null;
  readonly logp: number | null;
  readonly tpsa: number | null;
  readonly mw: number | null;
  /** The decoded graph as SMILES before sanitisation (what RDKit refused, for invalid rows); null with no atom. */
  readonly graphSmiles: string | null;
}

/** The properties written per valid molecule, in column order (src/chem/oracles.ts). */
export const MOLECULE_SAMPLE_PROPERTIES: readonly MoleculeProperty[] = ["qed", "logp", "tpsa", "mw"];

/** The columns of a molecule samples CSV, in order. */
export const MOLECULE_SAMPLE_COLUMNS = ["smiles", "valid", "fragments", "atoms", ...MOLECULE_SAMPLE_PROPERTIES, "graph_smiles"] as const;

/** The vocabulary of a molecule model; throws naming `where` when the model is not one. */
export function moleculeVocabulary(meta: ModelMeta, where: string): GraphVocabulary {
  const v = meta.molecules;
  if (!v) throw new Error(`${where}: not a molecule model (trained on ${meta.data}; a molecule model comes from \`rewardiff train --task qm9\` or \`--smiles FILE\`)`);
  return { atoms: [...v.atoms], bonds: [...v.bonds], maxAtoms: v.maxAtoms };
}

/** The SMILES of a molblock parsed without sanitisation (null when RDKit cannot even read it). */
function unsanitizedSmiles(rdkit: RDKit, block: string): string | null {
  const mol = rdkit.get_mol(block, JSON.stringify({ sanitize: false, removeHs: false }));
  if (mol === null) return null;
  try {
    return mol.get_smiles();
  } catch {
    return null;
  } finally {
    mol.delete();
  }
}

/** Decodes graph rows (one `graphToRow` graph per row) into molecules with their properties. */
export function decodeMoleculeRows(rdkit: RDKit, x: HostMatrix, vocab: GraphVocabulary): MoleculeSample[] {
  const width = graphRowLength(vocab);
  if (x.cols !== width) throw new Error(`decodeMoleculeRows: a graph row of vocabulary [${vocab.atoms.join(", ")}] with maxAtoms ${vocab.maxAtoms} has ${width} values, got ${x.cols}`);
  const out: MoleculeSample[] = [];
  for (let i = 0; i < x.rows; i++) {
    const graph = graphFromRow(x.data.subarray(i * width, (i + 1) * width), vocab);
    const decoded = decodeGraph(rdkit, graph, vocab, { stereo: false });
    const block = graphToMolblock(graph, vocab);
    const graphSmiles = block === null ? null : unsanitizedSmiles(rdkit, block);
    const source = decoded.smiles ?? graphSmiles;
    const fragments = source === null ? 0 : source.split(".").length;
    const props = decoded.smiles === null ? null : withMol(rdkit, decoded.smiles, (mol) => MOLECULE_SAMPLE_PROPERTIES.map((p) => moleculeProperty(rdkit, mol, p)));
    const [qed, logp, tpsa, mw] = props ?? [null, null, null, null];
    out.push({ smiles: props === null ? null : decoded.smiles, valid: props !== null, fragments, atoms: decoded.atoms, qed: qed!, logp: logp!, tpsa: tpsa!, mw: mw!, graphSmiles });
  }
  return out;
}

/** A CSV cell: quoted (RFC 4180) when it holds a comma, a quote or a line break. */
function cell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The samples as CSV text (header {@link MOLECULE_SAMPLE_COLUMNS}; empty cells where a value is null). */
export function formatMoleculeSamplesCsv(samples: readonly MoleculeSample[]): string {
  const num = (v: number | null) => (v === null ? "" : String(v));
  const lines = [MOLECULE_SAMPLE_COLUMNS.join(",")];
  for (const s of samples) {
    lines.push([cell(s.smiles ?? ""), s.valid ? "1" : "0", String(s.fragments), String(s.atoms), num(s.qed), num(s.logp), num(s.tpsa), num(s.mw), cell(s.graphSmiles ?? "")].join(","));
  }
  return `${lines.join("\n")}\n`;
}

/** Options of {@link sampleMolecules}. */
export interface SampleMoleculesOptions {
  n: number;
  /** Sampler settings; missing ones take MoleculeSamplingSchema's defaults. */
  sampler?: Partial<MoleculeSamplingConfig>;
  seed?: number;
  onStep?: (done: number, total: number) => void;
  /**
   * A conditional model's target a (one value per condition dimension, in the units of `meta.conditioning`:
   * standardised with its `standardization` before it reaches the network) and CFG strength w (default 1).
   */
  target?: readonly number[];
  scale?: number;
}

/** The condition the network reads for a target in the model's units: (a − mean) / std with a standardisation, else a. */
export function networkTarget(meta: ModelMeta, target: readonly number[]): number[] {
  const st = meta.conditioning?.standardization;
  return target.map((a, i) => (st ? (a - st.mean[i]!) / st.std[i]! : a));
}

/** The sampler of a molecule run: the given settings over MoleculeSamplingSchema's defaults. */
export function moleculeSampler(given: Partial<MoleculeSamplingConfig> = {}): MoleculeSamplingConfig {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return MoleculeSamplingSchema.parse(defined);
}

/**
 * Samples `n` molecules from a molecule model (`meta.molecules` set) with `weights` (borrowed; e.g. the
 * loaded model's EMA weights) and decodes them.
 */
export async function sampleMolecules(meta: ModelMeta, weights: DenoiserParams, o: SampleMoleculesOptions): Promise<MoleculeSample[]> {
  const vocab = moleculeVocabulary(meta, "sampleMolecules");
  const sampler = moleculeSampler(o.sampler);
  if (sampler.steps > meta.model.schedule.steps) throw new Error(`sampleMolecules: ${sampler.steps} steps exceed the model's ${meta.model.schedule.steps} training timesteps`);
  const conditional = meta.model.network.condition !== undefined;
  if (conditional !== (o.target !== undefined)) {
    throw new Error(conditional ? "sampleMolecules: a conditional molecule model needs a target" : "sampleMolecules: a target applies to a conditional model only");
  }
  const rdkit = await loadRDKit();
  const output = o.target ? conditionalOutput(meta.model, weights, networkTarget(meta, o.target), o.scale ?? 1) : undefined;
  const opts = o.onStep ? { onStep: o.onStep } : {};
  const x = output
    ? await generateWithEps(output, meta.model, sampler, o.n, keyFromSeed(o.seed ?? 0), opts)
    : await generate(meta.model, weights, sampler, o.n, keyFromSeed(o.seed ?? 0), opts);
  return decodeMoleculeRows(rdkit, x, vocab);
}

export { SHIPPED_MODELS };

/** The package root (from src/runners or dist/runners). */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..");
}

/**
 * The model file `--model` names: a shipped model's name (`qm9`) resolves to its file at the package root
 * unless a file of that name exists; anything else is a path. Throws one line when a shipped model is absent.
 */
export function resolveModelPath(arg: string, where = `--model ${arg}`): string {
  const rel = SHIPPED_MODELS[arg];
  if (rel === undefined || existsSync(arg)) return arg;
  const path = join(packageRoot(), rel);
  if (!existsSync(path)) {
    const remake = arg === "qm9" ? `\`rewardiff train --task ${arg} --out ${arg}.safetensors\` trains one (docs/molecules.md), to sample with --model ${arg}.safetensors` : "models/README.md says how it is made";
    throw new Error(`${where}: the shipped model ${rel} is not in this installation (looked for ${path}); ${remake}`);
  }
  return path;
}
