/**
 * The data-vs-data floor of the molecule metrics on QM9: the metrics of N validation-split molecules in
 * place of generated ones, against the test split (reference) and the train split (novelty). Molecules
 * RDKit rejects are left out of the samples (they are not valid data). Usage:
 *   npx tsx scripts/chem/floor.ts [N = 10000]
 */
import { canonicalize, moleculeMetrics, prepareMetricsData } from "../../src/chem/metrics.js";
import { qm9Splits } from "../../src/chem/qm9-node.js";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { splitIndices } from "../../src/chem/splits.js";

const n = Number(process.argv[2] ?? 10000);
const rdkit = await loadRDKit();
const t0 = Date.now();
const { train, validation, test } = qm9Splits();
const parsable = (xs: string[]) => xs.filter((s) => canonicalize(rdkit, [s])[0] !== null);
const pick = (xs: string[], seed: number) => {
  const ix = splitIndices(xs.length, { validation: 0, test: Math.min(1, n / xs.length), seed }).test;
  return ix.map((i) => xs[i]!);
};
const reference = pick(parsable(test), 1);
const sample = pick(parsable(validation), 2);
const data = prepareMetricsData(rdkit, { reference, training: train });
const m = moleculeMetrics(rdkit, sample, data);
console.log(`QM9 data-vs-data floor: ${sample.length} validation vs ${reference.length} test molecules, novelty against ${train.length} train (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
console.log(JSON.stringify({ ...m, kl: m.kl }, null, 2));
