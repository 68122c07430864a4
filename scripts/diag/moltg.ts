/**
 * Diagnosis of target-value guidance on the shipped QM9 model (issue 13 §1; docs/molecules.md "Comparison row:
 * target-value guidance"). Env: N molecules (64), SCALES, TARGETS (logP), ROWS and PSTEPS of the noisy regressor
 * (4,000 QM9 rows labelled by RDKit logP, 1,500 steps), NORMS=1 per-step norms of the gradient, SKIP_NOTERM=1.
 * Run: `nice -n 10 npx tsx scripts/diag/moltg.ts`.
 */
import { ensureBackend } from "../../src/backend/init.js";
import { grad, np, type JArray } from "../../src/backend/jax.js";
import { keyFromSeed } from "../../src/backend/keys.js";
import { toHost } from "../../src/backend/ownership.js";
import { propertyOfSmiles } from "../../src/chem/oracles.js";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { hostMatrix } from "../../src/data/matrix.js";
import { generateWithEps } from "../../src/diffusion/generate.js";
import { modelEps, modelOutput } from "../../src/diffusion/model.js";
import { noiseHookOf } from "../../src/diffusion/noise-space.js";
import { samplerPlan } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { trainNoisyPredictor } from "../../src/guidance/noisy-predictor.js";
import { guidedSample } from "../../src/guidance/sampler.js";
import { gradientTerm } from "../../src/guidance/terms.js";
import { loadModel } from "../../src/io/checkpoints/model-files.js";
import { qm9TrainData } from "../../src/runners/molecule-data.js";
import { decodeMoleculeRows, resolveModelPath } from "../../src/runners/molecule-sampling.js";

const N = Number(process.env.N ?? 64);
const scales = (process.env.SCALES ?? "0,1e-6,1,4").split(",").map(Number);
const targets = (process.env.TARGETS ?? "0.5").split(",").map(Number);
await ensureBackend();
const rdkit = await loadRDKit();
const loaded = loadModel(resolveModelPath("qm9"));
const model = loaded.meta.model;
const weights = loaded.ema;
const noise = noiseHookOf(model.noise)!;
const D = model.network.dataDim;
const sampler = { sampler: "ddpm" as const, steps: 100, eta: 1 };
const plan = samplerPlan(makeSchedule(model.schedule), sampler);
const vocab = { atoms: ["C", "N", "O", "F"], bonds: [1, 2, 3], maxAtoms: 9 };
console.log(`D=${D} plan first steps:`, plan.slice(0, 3).map((c) => ({ t: c.t.index, abT: c.t.alphaBar, s: c.s.index, abS: c.s.alphaBar, sigma: c.sigma, shiftPerG: Math.sqrt(c.s.alphaBar / c.t.alphaBar) * (1 - c.t.alphaBar / c.s.alphaBar) })));

const stats = (x: Float32Array, rows: number, target?: number) => {
  const mols = decodeMoleculeRows(rdkit, hostMatrix(rows, D, x), vocab);
  const valid = mols.filter((m) => m.valid);
  const lp = valid.map((m) => m.logp!);
  const mean = lp.reduce((a, b) => a + b, 0) / Math.max(1, lp.length);
  const mae = target === undefined ? NaN : lp.reduce((a, b) => a + Math.abs(b - target), 0) / Math.max(1, lp.length);
  return `validity ${(valid.length / rows).toFixed(3)} meanLogP ${mean.toFixed(3)} MAE ${mae.toFixed(3)}`;
};

// Unguided, the molecule sampler's path (x̂_0 straight from the network).
let t0 = performance.now();
const ref = await generateWithEps(modelOutput(model, weights), model, sampler, N, keyFromSeed(11));
console.log(`unguided (modelOutput, x0 path): ${stats(ref.data, N)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
if (!process.env.SKIP_NOTERM) {
const noTerm = await guidedSample({ eps: modelEps(model, weights), plan, terms: [], n: N, dim: D, key: keyFromSeed(11), noise });
const nt = await toHost(noTerm.x);
let md = 0;
for (let i = 0; i < nt.length; i++) md = Math.max(md, Math.abs(nt[i]! - ref.data[i]!));
console.log(`guidedSample, no terms (eps path): ${stats(nt, N)}; max |Δ| vs unguided ${md.toExponential(2)}`);
}

// A noisy regressor on QM9 rows labelled with RDKit logP.
const data = await qm9TrainData({ rows: Number(process.env.ROWS ?? 4000), seed: 5 });
const y = Float32Array.from(propertyOfSmiles(rdkit, data.smiles, "logp"));
t0 = performance.now();
const pred = await trainNoisyPredictor({ head: "regression", x: data.train, y, schedule: model.schedule, key: keyFromSeed(3), hidden: 256, layers: 3, steps: Number(process.env.PSTEPS ?? 1500), batchSize: 256, learningRate: 1e-3, logEvery: 100, noise });
console.log(`predictor trained in ${((performance.now() - t0) / 1000).toFixed(0)} s, final loss ${pred.losses.at(-1)?.loss}`);

for (const a of targets) {
  for (const s of scales) {
    const recs: { i: number; g: JArray; x: JArray }[] = [];
    let step = 0;
    const logH = (x: JArray, time: { index: number; alphaBar: number }) => np.square(pred.predict(x, time).sub(a)).mul(-0.5);
    const term = gradientTerm((x, time) => logH(x, time), {
      name: "tg",
      scale: s,
      where: "xt",
      gradLogH: (x, time) => {
        const g = grad((z: JArray) => logH(z, time).sum())(x.ref);
        recs.push({ i: step++, g: g.ref, x });
        return g;
      },
    });
    t0 = performance.now();
    const out = await guidedSample({ eps: modelEps(model, weights), plan, terms: [term], n: N, dim: D, key: keyFromSeed(11), noise });
    const xh = await toHost(out.x);
    console.log(`a=${a} s=${s}: ${stats(xh, N, a)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    if (process.env.NORMS && s > 0) {
      for (const r of recs) {
        const g = await toHost(r.g);
        const pg = await toHost(noise(np.array(g, { shape: [N, D] })));
        const xv = await toHost(r.x);
        const c = plan[r.i]!;
        let gn = 0, off = 0, xn = 0;
        for (let k = 0; k < g.length; k++) { gn += g[k]! ** 2; off += (g[k]! - pg[k]!) ** 2; xn += xv[k]! ** 2; }
        const per = (v: number) => Math.sqrt(v / N);
        const fac = Math.sqrt(c.s.alphaBar / c.t.alphaBar) * (1 - c.t.alphaBar / c.s.alphaBar);
        if (r.i < 6 || r.i % 10 === 0 || r.i > 95)
          console.log(`  step ${r.i} t=${c.t.index} ab=${c.t.alphaBar.toExponential(2)} |g|=${per(gn).toFixed(3)} off-space ${per(off).toFixed(3)} |Δε|=${(per(gn) * Math.sqrt(1 - c.t.alphaBar) * s).toFixed(3)} |Δμ|=${(per(gn) * fac * s).toFixed(3)} σ√D=${(c.sigma * Math.sqrt(D)).toFixed(3)} |x|=${per(xn).toFixed(2)}`);
      }
    } else for (const r of recs) { r.g.dispose(); r.x.dispose(); }
  }
}
