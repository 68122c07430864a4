/**
 * Does RCGDM's conditional molecule model use its condition late in the chain? (issue 13 §1; follows
 * scripts/diag/rcgdm-spread.ts, whose branching put most of the logP spread in the steps after t ≈ 500.)
 * Real QM9 molecules x_0 with RDKit logP ℓ are noised to step k of the DDPM-100 plan, and the conditional
 * model (saved by rcgdm-spread.ts in DIR) finishes the chain with the condition ℓ (their own), ℓ ± SHIFT, and ∅.
 * Per k and condition: the decoded molecules' logP − ℓ (mean, sd), validity, and the share that came back as
 * the original molecule. Env: DIR (/work/probes/spread), N (96), AT (50,70,80), SHIFT (1.5).
 * Run: `REWARDIFF_THREADS=1 npx tsx scripts/diag/rcgdm-late.ts`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBackend } from "../../src/backend/init.js";
import { np } from "../../src/backend/jax.js";
import { keyFromSeed, splitKey } from "../../src/backend/keys.js";
import { toHost } from "../../src/backend/ownership.js";
import { canonicalSmiles, loadRDKit } from "../../src/chem/rdkit.js";
import { propertyOfSmiles } from "../../src/chem/oracles.js";
import { hostMatrix } from "../../src/data/matrix.js";
import { modelOutput } from "../../src/diffusion/model.js";
import { noiseHookOf } from "../../src/diffusion/noise-space.js";
import { drawNoise, sample, samplerPlan } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { loadModel } from "../../src/io/checkpoints/model-files.js";
import { qm9TrainData } from "../../src/runners/molecule-data.js";
import { decodeMoleculeRows } from "../../src/runners/molecule-sampling.js";

const DIR = process.env.DIR ?? "/work/probes/spread";
const N = Number(process.env.N ?? 96);
const at = (process.env.AT ?? "50,70,80").split(",").map(Number);
const SHIFT = Number(process.env.SHIFT ?? 1.5);
await ensureBackend();
const rdkit = await loadRDKit();
const loaded = loadModel(join(DIR, "model.safetensors"));
const { mu, sigma } = JSON.parse(readFileSync(join(DIR, "condition.json"), "utf8")) as { mu: number; sigma: number };
const model = loaded.meta.model;
const D = model.network.dataDim;
const data = await qm9TrainData({ rows: N, seed: 31 });
const ell = Float32Array.from(propertyOfSmiles(rdkit, data.smiles, "logp"));
const original = data.smiles.map((s) => canonicalSmiles(rdkit, s, { stereo: false }));
const plan = samplerPlan(makeSchedule(model.schedule), { sampler: "ddpm", steps: 100, eta: 1 });
const noise = noiseHookOf(model.noise);

const conditions: { name: string; z: (l: number) => number; keep: number }[] = [
  { name: "own ℓ", z: (l) => (l - mu) / sigma, keep: 1 },
  { name: `ℓ + ${SHIFT}`, z: (l) => (l + SHIFT - mu) / sigma, keep: 1 },
  { name: `ℓ − ${SHIFT}`, z: (l) => (l - SHIFT - mu) / sigma, keep: 1 },
  { name: "∅", z: () => 0, keep: 0 },
];
for (const k of at) {
  const ab = plan[k]!.t.alphaBar;
  for (const c of conditions) {
    const [kn, ks] = splitKey(keyFromSeed(500 + k), 2);
    // The same noised rows for every condition (same key): x_k = √ᾱ x_0 + √(1−ᾱ) P z.
    const eps = drawNoise(kn!, [N, D], noise);
    const xk = np.array(data.train.data, { shape: [N, D] }).mul(Math.sqrt(ab)).add(eps.mul(Math.sqrt(1 - ab)));
    const values = Float32Array.from(ell, (l) => c.z(l));
    const apply = modelOutput(model, loaded.ema, (n) => ({ kind: "value", value: np.array(values, { shape: [n, 1] }), keep: np.array(new Float32Array(n).fill(c.keep)) }));
    const x0 = await sample({ model: apply, plan: plan.slice(k), n: N, eventShape: [D], key: ks!, xT: xk, ...(noise ? { hooks: { noise } } : {}) });
    const mols = decodeMoleculeRows(rdkit, hostMatrix(N, D, await toHost(x0)), data.vocabulary);
    const d: number[] = [];
    let same = 0;
    mols.forEach((m, i) => {
      if (!m.valid || m.logp === null || !Number.isFinite(m.logp) || !Number.isFinite(ell[i]!)) return;
      d.push(m.logp - ell[i]!);
      if (m.smiles && canonicalSmiles(rdkit, m.smiles, { stereo: false }) === original[i]) same++;
    });
    const mean = d.reduce((s, x) => s + x, 0) / d.length;
    const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1));
    const mad = d.reduce((s, x) => s + Math.abs(x), 0) / d.length;
    console.log(JSON.stringify({ k, t: plan[k]!.t.index, alphaBar: +ab.toFixed(3), condition: c.name, validity: d.length / N, meanShift: +mean.toFixed(3), sd: +sd.toFixed(3), meanAbs: +mad.toFixed(3), original: +(same / N).toFixed(3) }));
  }
}
