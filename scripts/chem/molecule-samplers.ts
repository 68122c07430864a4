/**
 * Compares sampler settings of a molecule model (docs/molecules.md "Sampler defaults"): in one process, n
 * molecules per setting from the same seed, their metrics against a seeded 1,000 molecules of QM9's test
 * split (novelty against the train split), and the CPU seconds of sampling + decoding. Usage:
 *   npx tsx scripts/chem/molecule-samplers.ts MODEL.safetensors [N = 400] [SETTINGS JSON] [SEED = 1]
 * e.g. '[{"sampler":"ddpm","steps":100,"eta":1},{"sampler":"ddpm","steps":250,"eta":1}]'
 */
import { ensureBackend } from "../../src/backend/init.js";
import { moleculeMetrics, prepareMetricsData } from "../../src/chem/metrics.js";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { loadModel } from "../../src/io/checkpoints/model-files.js";
import { moleculeEvaluationData } from "../../src/runners/molecule-evaluation.js";
import { sampleMolecules } from "../../src/runners/molecule-sampling.js";

await ensureBackend();
const path = process.argv[2];
if (path === undefined) throw new Error("usage: molecule-samplers.ts MODEL.safetensors [N] [SETTINGS JSON] [SEED]");
const n = Number(process.argv[3] ?? 400);
const settings = JSON.parse(process.argv[4] ?? '[{"sampler":"ddpm","steps":100,"eta":1},{"sampler":"ddpm","steps":250,"eta":1}]') as Array<{ sampler: "ddpm" | "ddim"; steps: number; eta: number }>;
const seed = Number(process.argv[5] ?? 1);
const m = loadModel(path);
const rdkit = await loadRDKit();
const data = moleculeEvaluationData(rdkit, { n, referenceSize: 1000, seed: 0 });
const prepared = prepareMetricsData(rdkit, { reference: data.reference.smiles, training: data.training.smiles, ...(data.training.canonical ? { trainingCanonical: data.training.canonical } : {}) });
for (const s of settings) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const mols = await sampleMolecules(m.meta, m.ema, { n, sampler: s, seed });
  const cpu = process.cpuUsage(c0);
  const g = moleculeMetrics(rdkit, mols.map((x) => x.smiles), prepared);
  console.log(JSON.stringify({
    ...s, n, seed, wall: +((performance.now() - t0) / 1000).toFixed(1), cpu: +((cpu.user + cpu.system) / 1e6).toFixed(1),
    validity: g.validity, uniqueness: +g.uniqueness.toFixed(3), novelty: +g.novelty.toFixed(3), fragmented: +g.fragmented.toFixed(3), kl: g.kl ? +g.kl.score.toFixed(3) : null,
  }));
}
