/**
 * `rewardiff evaluate --molecules mols.csv`: the molecule metrics of docs/molecules.md ("Evaluating") against
 * QM9's test split (or `--reference`), novelty against QM9's train split (or `--training`), each beside its
 * data-vs-data floor; with `--out DIR`, report.json and report.html.
 */
import { loadRDKit } from "../chem/rdkit.js";
import { lockFolder } from "../io/outputs.js";
import { writeReport } from "../report/write.js";
import { MOLECULE_METRICS } from "../report/molecules-html.js";
import { formatNumber } from "../report/format.js";
import { MoleculeEvaluationSchema, type MoleculeEvaluationConfig } from "../runners/config-schemas.js";
import { evaluateMolecules, moleculeEvaluationData, readMoleculeSamples, readMoleculeSet, type MoleculeSamplesFile } from "../runners/molecule-evaluation.js";
import { moleculeReport, MOLECULE_ANCHORS } from "../runners/molecule-report.js";
import { checkOutDir } from "./output.js";
import type { Progress } from "./progress.js";
import { makeProgress } from "./progress.js";

import { log } from "./log.js";

export interface MoleculeEvaluateOptions {
  molecules: string;
  reference?: string;
  training?: string;
  referenceSize?: number;
  out?: string;
  seed?: number;
  force?: boolean;
  quiet?: boolean;
}

/** The settings of an evaluation: the flags over MoleculeEvaluationSchema's defaults. */
export function moleculeEvaluationConfig(o: { referenceSize?: number; seed?: number }): MoleculeEvaluationConfig {
  return MoleculeEvaluationSchema.parse({ ...(o.referenceSize !== undefined ? { referenceSize: o.referenceSize } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) });
}

/** What {@link evaluateMoleculeSamples} needs beside the samples. */
export interface EvaluateMoleculesRun {
  samples: MoleculeSamplesFile;
  reference?: string;
  training?: string;
  settings: MoleculeEvaluationConfig;
  /** Folder for report.json / report.html (checked and locked by the caller), or none. */
  out?: string;
  title: string;
  /** Extra inputs for report.json's config (e.g. the model and sampler of a demo). */
  config?: Record<string, unknown>;
  /** Seconds of earlier phases (e.g. sampling) for the report's timings. */
  timings?: Record<string, number>;
  started: number;
  progress: Progress;
  notes?: string[];
}

/** Evaluates the samples, prints the metrics table and writes the report when `out` is set. */
export async function evaluateMoleculeSamples(r: EvaluateMoleculesRun): Promise<void> {
  const rdkit = await loadRDKit();
  // The user's sets are read (and refused) before the long part.
  const reference = r.reference !== undefined ? readMoleculeSet(rdkit, r.reference, "--reference") : undefined;
  const training = r.training !== undefined ? readMoleculeSet(rdkit, r.training, "--training") : undefined;
  r.progress.stage(`preparing the reference (${reference?.name ?? "qm9:test"}) and the training set (${training?.name ?? "qm9:train"})`);
  const data = moleculeEvaluationData(rdkit, {
    n: r.samples.smiles.length,
    ...(reference ? { reference } : {}),
    ...(training ? { training } : {}),
    ...(r.settings.referenceSize !== undefined ? { referenceSize: r.settings.referenceSize } : {}),
    seed: r.settings.seed,
  });
  r.progress.stage(`computing the metrics of ${r.samples.smiles.length} samples and of the floor`);
  const e = evaluateMolecules(rdkit, r.samples.smiles, data);
  r.progress.done();
  const config = {
    ...r.config,
    molecules: r.samples.path,
    reference: e.reference.name,
    training: e.training.name,
    ...r.settings,
  };
  const { report, html } = await moleculeReport(rdkit, r.samples, e, {
    title: r.title,
    config,
    gridMolecules: r.settings.gridMolecules,
    timings: { totalSeconds: (performance.now() - r.started) / 1000, ...r.timings },
    ...(r.notes ? { notes: r.notes } : {}),
  });
  const section = report.molecules as { metrics: Record<string, { value: number | null; floor: number | null }> };
  log(`${r.samples.path}: ${e.generated.samples} samples vs ${e.reference.molecules} reference molecules (${e.reference.name}); novelty vs ${e.training.name}; floor: ${e.floorSample.molecules} molecules of ${e.floorSample.name}`);
  const cell = (v: number | null | undefined) => (v === null || v === undefined ? "—" : formatNumber(v)).padStart(10);
  log(`${"metric".padEnd(16)}${"generated".padStart(10)}${"floor".padStart(10)}${MOLECULE_ANCHORS.map((a) => a.name.padStart(10)).join("")}`);
  for (const m of MOLECULE_METRICS) {
    const p = section.metrics[m.key]!;
    log(`${m.name.padEnd(16)}${cell(p.value)}${cell(p.floor)}${MOLECULE_ANCHORS.map((a) => cell(a.values[m.key])).join("")}`);
  }
  if (r.out !== undefined) {
    const written = writeReport(r.out, { report, html });
    log(`wrote ${written.json} and ${written.html}`);
  }
}

/** `rewardiff evaluate --molecules FILE [--reference REF.csv] [--training TRAIN.csv] [--reference-size N] [--out DIR]`. */
export async function moleculeEvaluateCommand(o: MoleculeEvaluateOptions): Promise<number> {
  const started = performance.now();
  const settings = moleculeEvaluationConfig(o);
  if (o.out !== undefined) checkOutDir(o.out, !!o.force);
  const samples = readMoleculeSamples(o.molecules);
  const release = o.out !== undefined ? lockFolder(o.out) : () => {};
  const progress = makeProgress(!!o.quiet);
  try {
    await evaluateMoleculeSamples({
      samples,
      ...(o.reference !== undefined ? { reference: o.reference } : {}),
      ...(o.training !== undefined ? { training: o.training } : {}),
      settings,
      ...(o.out !== undefined ? { out: o.out } : {}),
      title: `rewardiff evaluate: ${samples.path}`,
      started,
      progress,
    });
  } finally {
    progress.done();
    release();
  }
  return 0;
}
