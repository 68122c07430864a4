/**
 * Can the conditional molecule model be held to its target by feeding back the current molecule's property?
 * (issue 13 §1; scripts/diag/rcgdm-late.ts found that the model reads the condition imprecisely late in the
 * chain, where the spread is made.) The saved RCGDM model (MODEL, default the shipped qm9-logp-stage1, on which
 * docs/molecules.md measured it) is sampled at each target a with a per-sample condition c_i that, from step FROM
 * of the DDPM-100 plan on, is corrected from f̂(x̂_0) (the ridge reward model on atom-environment counts, fitted here on LABELED QM9 molecules as the runner
 * does): proportional "p:κ" c_i = a − κ (f̂_i − a); integral "i:g" c_i ← c_i − g (f̂_i − a) each step. The oracle
 * (RDKit logP of the decoded valid molecules) then gives MAE, bias and sd per target. Same sampling key per target
 * across settings. Env: MODEL (qm9-logp-stage1), N (200), FROM (50), SETTINGS ("none,p:0.5,p:1,i:0.1"), TARGETS.
 * Run: `REWARDIFF_THREADS=1 npx tsx scripts/diag/rcgdm-feedback.ts`.
 */
import { ensureBackend } from "../../src/backend/init.js";
import { np } from "../../src/backend/jax.js";
import { keyFromSeed } from "../../src/backend/keys.js";
import { toHost } from "../../src/backend/ownership.js";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { propertyOfSmiles } from "../../src/chem/oracles.js";
import { hostMatrix } from "../../src/data/matrix.js";
import { mean, std } from "../../src/eval/stats.js";
import { modelOutput } from "../../src/diffusion/model.js";
import { noiseHookOf } from "../../src/diffusion/noise-space.js";
import { sample, samplerPlan, type StepInfo } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { loadModel } from "../../src/io/checkpoints/model-files.js";
import { fitReward, predictReward } from "../../src/rewards/fit.js";
import { graphFeatureMap } from "../../src/rewards/graph-features.js";
import { qm9TrainData } from "../../src/runners/molecule-data.js";
import { decodeMoleculeRows, resolveModelPath } from "../../src/runners/molecule-sampling.js";

const N = Number(process.env.N ?? 200);
const FROM = Number(process.env.FROM ?? 50);
const settings = (process.env.SETTINGS ?? "none,p:0.5,p:1,i:0.1").split(",");
const targets = (process.env.TARGETS ?? "-1.45,-0.5,0.18,0.75,1.58").split(",").map(Number);
const LABELED = Number(process.env.LABELED ?? 2000);
await ensureBackend();
const rdkit = await loadRDKit();
const loaded = loadModel(resolveModelPath(process.env.MODEL ?? "qm9-logp-stage1"));
const model = loaded.meta.model;
const D = model.network.dataDim;
const st = loaded.meta.conditioning!.standardization!;
const mu = st.mean[0]!;
const sigma = st.std[0]!;
const data = await qm9TrainData({ rows: LABELED, seed: 4242 });
const vocab = { atoms: data.vocabulary.atoms, bonds: data.vocabulary.bonds, maxAtoms: data.vocabulary.maxAtoms };
const features = graphFeatureMap(data.train, vocab);
const y = Float32Array.from(propertyOfSmiles(rdkit, data.smiles, "logp"));
const { model: f } = await fitReward(features.featurize(data.train), y, { kind: "ridge", l2: 1e-4 }, keyFromSeed(1), { holdout: 0.2 });
const plan = samplerPlan(makeSchedule(model.schedule), { sampler: "ddpm", steps: 100, eta: 1 });
const noise = noiseHookOf(model.noise);

const summary: Record<string, number[]> = {};
for (const setting of settings) {
  const [kind, gainText] = setting.split(":");
  const gain = Number(gainText ?? 0);
  for (const [ti, a] of targets.entries()) {
    const za = (a - mu) / sigma;
    const c = new Float32Array(N).fill(za);
    const apply = modelOutput(model, loaded.ema, (n) => ({ kind: "value", value: np.array(Float32Array.from(c.subarray(0, n)), { shape: [n, 1] }), keep: np.array(new Float32Array(n).fill(1)) }));
    const onStep = async (info: StepInfo) => {
      if (kind === "none" || info.i + 1 < FROM) return;
      const x0 = await toHost(info.x0Hat.ref);
      const p = (await predictReward(f, features.featurize(hostMatrix(N, D, x0)))).mean;
      for (let k = 0; k < N; k++) {
        const e = (p[k]! - a) / sigma;
        c[k] = kind === "p" ? za - gain * e : c[k]! - gain * e;
        c[k] = Math.max(za - 3, Math.min(za + 3, c[k]!));
      }
    };
    const x = await sample({ model: apply, plan, n: N, eventShape: [D], key: keyFromSeed(900 + ti), hooks: { ...(noise ? { noise } : {}), onStep } });
    const rows = hostMatrix(N, D, await toHost(x));
    const mols = decodeMoleculeRows(rdkit, rows, data.vocabulary);
    // f̂ on the final graphs: how far f̂ is from a (what the model controls) and the oracle from f̂ (f̂'s own error
    // on generated molecules, which no conditional model can remove).
    const pf = (await predictReward(f, features.featurize(rows))).mean;
    const ok = mols.map((m) => m.valid && m.logp !== null && Number.isFinite(m.logp));
    const hatToTarget = mean(Array.from(pf).flatMap((q, k) => (ok[k] ? [Math.abs(q - a)] : [])));
    const oracleToHat = mean(mols.flatMap((m, k) => (ok[k] ? [Math.abs(m.logp! - pf[k]!)] : [])));
    const v = mols.flatMap((m, k) => (ok[k] ? [m.logp!] : []));
    const avg = mean(v);
    const sd = std(v);
    const mae = mean(v.map((q) => Math.abs(q - a)));
    const frag = mols.filter((m) => m.valid && m.fragments > 1).length / Math.max(1, v.length);
    (summary[setting] ??= []).push(mae);
    console.log(JSON.stringify({ setting, from: FROM, a, validity: v.length / N, mean: +avg.toFixed(3), sd: +sd.toFixed(3), mae: +mae.toFixed(3), bias: +(avg - a).toFixed(3), fragmented: +frag.toFixed(3), hatToTarget: +hatToTarget.toFixed(3), oracleToHat: +oracleToHat.toFixed(3), unique: new Set(mols.filter((m) => m.valid).map((m) => m.smiles)).size / Math.max(1, v.length) }));
  }
  console.log(`== ${setting} from ${FROM}: inside MAE ${mean(summary[setting]!).toFixed(3)}`);
}
