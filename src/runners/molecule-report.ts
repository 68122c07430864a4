/**
 * The molecule report (docs/molecules.md "The report"): report.json (version 1, with a `molecules` section)
 * and report.html of an evaluation (./molecule-evaluation.ts), with RDKit depictions of the first samples.
 */
import { basename } from "node:path";
import type { MoleculeMetrics } from "../chem/metrics.js";
import { parseMol, type RDKit } from "../chem/rdkit.js";
import {
  renderMoleculeReportHtml, typeHistogramChart,
  type MoleculeAnchor, type MoleculeMetricKey, type MoleculeMetricPair, type MoleculeReportSection, type MoleculeTile,
} from "../report/molecules-html.js";
import type { Report } from "../report/types.js";
import type { MoleculeEvaluation, MoleculeSamplesFile } from "./molecule-evaluation.js";

/**
 * Published QM9 results to read the numbers against (kekulised, no hydrogens, validity without correction):
 * GDSS (Jo et al., ICML 2022), as quoted in docs/molecules.md.
 */
export const MOLECULE_ANCHORS: readonly MoleculeAnchor[] = [{ name: "GDSS", values: { validity: 0.957, uniqueness: 0.985, novelty: 0.863 } }];

/** Depiction size of a grid tile, in pixels. */
const TILE = { width: 200, height: 160 };

/** The metric values of one set; the ones defined on valid molecules are null when none is valid. */
function metricValues(m: MoleculeMetrics): Record<MoleculeMetricKey, number | null> {
  const anyValid = m.validity > 0;
  return {
    validity: m.validity,
    uniqueness: anyValid ? m.uniqueness : null,
    novelty: anyValid ? m.novelty : null,
    fragmented: anyValid ? m.fragmented : null,
    klScore: m.kl?.score ?? null,
    atomTypeTV: anyValid ? m.atomTypes.totalVariation : null,
    bondTypeTV: anyValid && Object.keys(m.bondTypes.generated).length > 0 ? m.bondTypes.totalVariation : null,
  };
}

/** RDKit's SVG of a SMILES, sanitised or (for an invalid sample's graph) as written; null when RDKit cannot draw it. */
function depict(rdkit: RDKit, smiles: string, sanitize: boolean): string | null {
  const mol = sanitize ? parseMol(rdkit, smiles) : rdkit.get_mol(smiles, JSON.stringify({ sanitize: false }));
  if (mol === null) return null;
  try {
    return mol.get_svg(TILE.width, TILE.height);
  } catch {
    return null;
  } finally {
    mol.delete();
  }
}

/** The first `k` samples as grid tiles: valid ones drawn from their SMILES, invalid ones from their graph. */
export function moleculeTiles(rdkit: RDKit, samples: MoleculeSamplesFile, k: number): MoleculeTile[] {
  const tiles: MoleculeTile[] = [];
  for (let i = 0; i < Math.min(k, samples.smiles.length); i++) {
    const s = samples.smiles[i]!;
    const svg = s === "" ? null : depict(rdkit, s, true);
    if (svg !== null) {
      tiles.push({ svg, smiles: s, valid: true, line: samples.lines[i]! });
      continue;
    }
    const graph = samples.graphSmiles[i] ?? (s === "" ? null : s);
    tiles.push({ svg: graph === null ? null : depict(rdkit, graph, false), smiles: graph ?? "", valid: false, line: samples.lines[i]! });
  }
  return tiles;
}

/** report.json's `molecules` section of an evaluation. */
export function moleculeReportSection(e: MoleculeEvaluation, samples: MoleculeSamplesFile, tiles: readonly MoleculeTile[]): MoleculeReportSection {
  const g = metricValues(e.generated);
  const f = metricValues(e.floor);
  const metrics = Object.fromEntries((Object.keys(g) as MoleculeMetricKey[]).map((k) => [k, { value: g[k], floor: f[k] }])) as Record<MoleculeMetricKey, MoleculeMetricPair>;
  return {
    samples: samples.path,
    reference: e.reference,
    training: e.training,
    floorSample: e.floorSample,
    metrics,
    kl: { generated: e.generated.kl?.kl ?? null, floor: e.floor.kl?.kl ?? null },
    atomTypes: { generated: e.generated.atomTypes.generated, reference: e.generated.atomTypes.data, floor: e.floor.atomTypes.generated },
    bondTypes: { generated: e.generated.bondTypes.generated, reference: e.generated.bondTypes.data, floor: e.floor.bondTypes.generated },
    anchors: MOLECULE_ANCHORS.map((a) => ({ name: a.name, values: { ...a.values } })),
    grid: tiles.map((t) => ({ line: t.line, smiles: t.smiles, valid: t.valid })),
  };
}

/** Options of {@link moleculeReport}. */
export interface MoleculeReportOptions {
  title: string;
  /** The inputs and settings, as report.json's `config`. */
  config: Record<string, unknown>;
  /** Molecules depicted in the grid (the first ones of the file). */
  gridMolecules: number;
  /** Seconds by phase (e.g. sampling), added to the evaluation's; `totalSeconds` is the whole command's. */
  timings: { totalSeconds: number; [k: string]: number };
  notes?: string[];
}

/** report.json and report.html of an evaluation. */
export async function moleculeReport(rdkit: RDKit, samples: MoleculeSamplesFile, e: MoleculeEvaluation, o: MoleculeReportOptions): Promise<{ report: Report; html: string }> {
  const tiles = moleculeTiles(rdkit, samples, o.gridMolecules);
  const section = moleculeReportSection(e, samples, tiles);
  const report: Report = {
    version: 1,
    config: o.config,
    results: [{ method: "molecules", label: basename(samples.path), target: null, alpha: null, samples: e.generated.samples, ...section.metrics }],
    timings: { ...o.timings, prepareSeconds: e.seconds.prepare, metricsSeconds: e.seconds.generated, floorSeconds: e.seconds.floor },
    molecules: section,
  };
  const tv = (k: "atomTypeTV" | "bondTypeTV") => `total variation ${section.metrics[k].value?.toFixed(4) ?? "—"} (floor ${section.metrics[k].floor?.toFixed(4) ?? "—"})`;
  const histograms = [
    { title: "Atom types", caption: `Element with formal charge, over all atoms of the valid molecules; ${tv("atomTypeTV")}.`, svg: await typeHistogramChart("Atom types", section.atomTypes.generated, section.atomTypes.reference) },
    { title: "Bond types", caption: `Kekulé bond orders over all bonds of the valid molecules; ${tv("bondTypeTV")}.`, svg: await typeHistogramChart("Bond types", section.bondTypes.generated, section.bondTypes.reference) },
  ];
  const html = renderMoleculeReportHtml({ title: o.title, report, section, histograms, tiles, ...(o.notes ? { notes: o.notes } : {}) });
  return { report, html };
}
