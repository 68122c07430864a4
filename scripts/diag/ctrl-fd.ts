/**
 * Diagnosis of the CTRL chain gradient on the shipped QM9 model in the molecules-ctrl config's path (issue 13 §3;
 * docs/molecules.md "CTRL: a new control", the probes): trainable "control" (its tables moved by
 * 0.05 sin(i + 1)), STEPS DDPM steps (50) in recomputation segments of SEG steps (unset: one pass), a fixed
 * 2-class log-softmax objective on one-hot labels, CHAINS chains (8) and one noise key, so the loss is a deterministic
 * function of the tables. Prints ‖∇‖ and the central difference of the loss along ĝ = ∇/‖∇‖ for each step h in HS.
 * TRUNC: the final steps that carry gradient (default all STEPS). CHAINS: chains (default 8; one noise key for all). MODE: "control" (default), "embedding" or "all". A single pass over 50 steps compiles for many minutes; use SEG.
 * Run: `STEPS=50 SEG=10 HS=0.0005,0.001,0.005 npx tsx scripts/diag/ctrl-fd.ts` (≈ 1 min).
 */
import { ensureBackend, keyFromSeed, np, tree } from "../../src/backend/index.js";
import { oneHot, initTrainable, denoiserChainModel, type PolicySpec, type TrainableParams } from "../../src/finetune/policy.js";
import { loadModel } from "../../src/io/checkpoints/model-files.js";
import type { DenoiserParams } from "../../src/nn/denoiser.js";
import { resolveModelPath } from "../../src/runners/molecule-sampling.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { noiseHookOf } from "../../src/diffusion/noise-space.js";
import { samplerPlan } from "../../src/diffusion/sample.js";
import { makeChain, type ChainObjective } from "../../src/finetune/chain.js";
import { paramsFromHost, paramsToHost } from "../../src/nn/params.js";

await ensureBackend();
const loaded = loadModel(resolveModelPath("qm9"));
const model = loaded.meta.model;
const D = model.network.dataDim;
const schedule = makeSchedule(model.schedule);
const S = Number(process.env.STEPS ?? 50);
const plan = samplerPlan(schedule, { sampler: "ddpm", steps: S, eta: 1 });
const W = np.array(Float32Array.from({ length: D * 2 }, (_, i) => Math.sin(0.37 * i + 0.1) * 0.3), { shape: [D, 2] });
const objective: ChainObjective = (x, aux) => {
  const logits = np.matmul(x.reshape([x.shape[0]!, D]), W.ref);
  const lse = np.log(np.sum(np.exp(logits.ref), -1, { keepdims: true }));
  return np.sum(logits.sub(lse).mul(aux[0]!), -1);
};
const spec: PolicySpec = { model, mode: (process.env.MODE ?? "control") as PolicySpec["mode"], rank: 1, controlClasses: 2 };
const p0 = initTrainable(spec, loaded.ema, keyFromSeed(1));
const host = await paramsToHost(p0);
for (const t of host.values()) for (let i = 0; i < t.data.length; i++) t.data[i] += 0.05 * Math.sin(i + 1);
const p = paramsFromHost(p0, host, "start");
tree.dispose(p0);
const f = { base: tree.ref(loaded.ema) as DenoiserParams };
const noise = noiseHookOf(model.noise);
const seg = process.env.SEG ? Number(process.env.SEG) : undefined;
const chain = makeChain(denoiserChainModel(spec), objective, plan, schedule.T, D, { objectiveScale: 1, klWeight: 1, truncation: Number(process.env.TRUNC ?? S), ...(seg ? { segment: seg } : {}), ...(noise ? { noise } : {}) }, "fd");
const y = Int32Array.from({ length: Number(process.env.CHAINS ?? 8) }, (_, i) => [0, 1, 0, 1, 1, 0, 0, 1][i % 8]!);
const aux = () => { const l = new Float32Array(2 * y.length); y.forEach((v, i) => (l[i * 2 + v] = 1)); return [np.array(l, { shape: [y.length, 2] })]; };
const lossAt = (q: TrainableParams) => chain.lossAndGrad(q, f, [oneHot(y, 2)], aux(), y.length, keyFromSeed(11));
const g = await lossAt(p);
const gh = await paramsToHost(g.grads);
tree.dispose(g.grads);
const norm = Math.hypot(...[...gh.values()].flatMap((t) => Array.from(t.data)));
console.log("loss", g.loss, "kl", g.kl, "norm", norm, "keys", [...gh.keys()].length);
for (const h of (process.env.HS ?? "0.01,0.04").split(",").map(Number)) {
  const at = async (sign: number) => {
    const q = paramsFromHost(p, new Map([...host].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data, (v, i) => v + (sign * h * gh.get(k)!.data[i]!) / norm) }])), "fd");
    const r = await lossAt(q); tree.dispose(r.grads); tree.dispose(q); return r.loss;
  };
  const lp = await at(1), lm = await at(-1);
  console.log(`h ${h}: L(+h) ${lp} L(-h) ${lm} fd ${(lp - lm) / (2 * h)} vs norm ${norm}`);
}
