/**
 * When along the shipped QM9 model's DDPM chain is a molecule's label settled? (issue 13 §3; docs/molecules.md
 * "CTRL: a new control", the truncation probes.) Draws N chains of the pretrained model (50 DDPM steps, as the
 * molecules-ctrl config samples), decodes x̂_0 after every step with RDKit, and prints per step the share of chains
 * whose x̂_0 decodes to a valid molecule and, among chains valid both then and at the end, the share whose label
 * (RDKit NumRings ≥ ATLEAST, default 2) already equals the final molecule's.
 * Run: `N=256 npx tsx scripts/diag/ring-commit.ts` (≈ 1 min).
 */
import { ensureBackend, keyFromSeed } from "../../src/backend/index.js";
import { toHost } from "../../src/backend/ownership.js";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { hostMatrix } from "../../src/data/matrix.js";
import { modelEps } from "../../src/diffusion/model.js";
import { noiseHookOf } from "../../src/diffusion/noise-space.js";
import { sample, samplerPlan } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { loadModel } from "../../src/io/checkpoints/model-files.js";
import { eventShapeOf } from "../../src/nn/denoisers/types.js";
import { oracleLabels } from "../../src/runners/molecule-ctrl.js";
import { decodeMoleculeRows, moleculeVocabulary, resolveModelPath } from "../../src/runners/molecule-sampling.js";

await ensureBackend();
const rdkit = await loadRDKit();
const path = resolveModelPath("qm9");
const loaded = loadModel(path);
const model = loaded.meta.model;
const vocab = moleculeVocabulary(loaded.meta, path);
const D = model.network.dataDim;
const N = Number(process.env.N ?? 256);
const label = { property: "rings" as const, atLeast: Number(process.env.ATLEAST ?? 2) };
const plan = samplerPlan(makeSchedule(model.schedule), { sampler: "ddpm", steps: 50, eta: 1 });
const noise = noiseHookOf(model.noise);
const perStep: Float32Array[] = [];
const x = await sample({
  model: modelEps(model, loaded.ema),
  plan,
  n: N,
  eventShape: eventShapeOf(model.network),
  key: keyFromSeed(Number(process.env.SEED ?? 3)),
  hooks: { ...(noise ? { noise } : {}), onStep: async (info) => void perStep.push(await toHost(info.x0Hat.ref)) },
});
x.dispose();
const labelsOf = (rows: Float32Array) => oracleLabels(rdkit, decodeMoleculeRows(rdkit, hostMatrix(N, D, rows), vocab).map((m) => m.smiles), label);
const final = labelsOf(perStep[perStep.length - 1]!);
const finalValid = final.filter((v) => v !== null).length;
console.log(`${N} chains; final: ${finalValid} valid, label 1 in ${final.filter((v) => v === 1).length}`);
console.log("step  t    valid  agree (both valid)  n");
perStep.forEach((rows, i) => {
  const now = labelsOf(rows);
  let both = 0;
  let agree = 0;
  now.forEach((v, r) => {
    if (v === null || final[r] === null) return;
    both++;
    if (v === final[r]) agree++;
  });
  const valid = now.filter((v) => v !== null).length / N;
  console.log(`${String(i + 1).padStart(4)} ${String(plan[i]!.t.index).padStart(4)}  ${valid.toFixed(3)}  ${(both ? agree / both : NaN).toFixed(3)}  ${both}`);
});
