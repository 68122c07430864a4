/**
 * Where the spread of RCGDM's conditional molecules comes from (issue 13 §1; docs/molecules.md "RCGDM on a
 * property"). Fine-tunes the conditional model exactly as the runner does (the rcgdm row of CONFIG, default
 * configs/molecules-rcgdm-logp.json; src/runners/molecule-rcgdm.ts), then, on that model:
 *  1. sampler variants at the five inside targets (N molecules each, the same key per target): DDPM/DDIM settings
 *     and classifier-free guidance on the whole chain or only where t < `below`; the oracle logP's MAE, bias, sd
 *     and validity per variant. With a model already saved in OUT, no fine-tuning: the variants run on it;
 *  2. branching: N chains run to step k of the DDPM plan, then M continuations each from the same x_k with other
 *     noise; the within-chain sd of the oracle logP (what the steps after k add) against the total sd.
 * Env: N (200), M (8), BRANCH_N (48), BRANCH_AT (comma list of k, default 25,50,75,90), VARIANTS (comma list),
 * OUT (a folder for the log JSON). Run: `REWARDIFF_THREADS=1 npx tsx scripts/diag/rcgdm-spread.ts`.
 */
import { existsSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBackend } from "../../src/backend/init.js";
import { np, type JArray } from "../../src/backend/jax.js";
import { keyFromSeed, splitKey } from "../../src/backend/keys.js";
import { toHost } from "../../src/backend/ownership.js";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { hostMatrix } from "../../src/data/matrix.js";
import { generateWithEps } from "../../src/diffusion/generate.js";
import { modelOutput, type ModelConfig } from "../../src/diffusion/model.js";
import type { EpsFn, ModelFn } from "../../src/diffusion/types.js";
import { noiseHookOf } from "../../src/diffusion/noise-space.js";
import { sample, samplerPlan, type SamplerConfig } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import type { DenoiserParams } from "../../src/nn/denoiser.js";
import { loadModel, saveInferenceModel } from "../../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../../src/io/checkpoints/model.js";
import type { RcgdmMethodConfig } from "../../src/runners/methods/rcgdm.js";
import { qm9TrainData } from "../../src/runners/molecule-data.js";
import { runMoleculeRcgdm } from "../../src/runners/molecule-rcgdm.js";
import { parseMoleculeConfig } from "../../src/runners/molecule-run-config.js";
import { decodeMoleculeRows, resolveModelPath } from "../../src/runners/molecule-sampling.js";
import { cfgEps } from "../../src/training/rcgdm.js";

const N = Number(process.env.N ?? 200);
const M = Number(process.env.M ?? 8);
const BN = Number(process.env.BRANCH_N ?? 48);
const branchAt = (process.env.BRANCH_AT ?? "25,50,75,90").split(",").filter(Boolean).map(Number);
const OUT = process.env.OUT ?? "/tmp/rcgdm-spread";
const configPath = process.env.CONFIG ?? "configs/molecules-rcgdm-logp.json";
mkdirSync(OUT, { recursive: true });
const log: Record<string, unknown>[] = [];
const note = (r: Record<string, unknown>) => {
  log.push(r);
  console.log(JSON.stringify(r));
  writeFileSync(join(OUT, "spread.json"), JSON.stringify(log, null, 1));
};

await ensureBackend();
const rdkit = await loadRDKit();
const cfg = parseMoleculeConfig(JSON.parse(readFileSync(configPath, "utf8")), configPath);
const method = [cfg.method].flat().find((m) => m.kind === "rcgdm" && (m as RcgdmMethodConfig).variant === "conditional") as RcgdmMethodConfig;
const loaded = loadModel(resolveModelPath("qm9"));
const data = await qm9TrainData();
const vocab = data.vocabulary;
const D = loaded.meta.model.network.dataDim;

const logp = (x: Float32Array, rows: number) =>
  decodeMoleculeRows(rdkit, hostMatrix(rows, D, x), vocab).map((m) => (m.valid ? (m.logp ?? NaN) : NaN));
const stats = (v: number[], a: number) => {
  const ok = v.filter(Number.isFinite);
  const mean = ok.reduce((s, x) => s + x, 0) / ok.length;
  const sd = Math.sqrt(ok.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, ok.length - 1));
  const mae = ok.reduce((s, x) => s + Math.abs(x - a), 0) / ok.length;
  return { validity: ok.length / v.length, mean, bias: mean - a, sd, mae };
};

interface Variant {
  name: string;
  sampler: SamplerConfig;
  /** CFG scale w, on every step, or only on the steps with t < `below` (training index). */
  w: number;
  below?: number;
}
const ddpm = (steps: number): SamplerConfig => ({ sampler: "ddpm", steps, eta: 1 });
const all: Variant[] = [
  { name: "ddpm100", sampler: ddpm(100), w: 1 },
  { name: "ddpm500", sampler: ddpm(500), w: 1 },
  { name: "ddim100-eta0", sampler: { sampler: "ddim", steps: 100, eta: 0 }, w: 1 },
  { name: "ddim100-eta0.5", sampler: { sampler: "ddim", steps: 100, eta: 0.5 }, w: 1 },
  { name: "cfg2", sampler: ddpm(100), w: 2 },
  { name: "cfg2-below500", sampler: ddpm(100), w: 2, below: 500 },
  { name: "cfg4-below500", sampler: ddpm(100), w: 4, below: 500 },
  { name: "cfg4-below300", sampler: ddpm(100), w: 4, below: 300 },
  { name: "cfg8-below500", sampler: ddpm(100), w: 8, below: 500 },
];
const pick = process.env.VARIANTS?.split(",");
const variants = pick ? all.filter((v) => pick.includes(v.name)) : all;

async function study(model: ModelConfig, ema: DenoiserParams, mu: number, sigma: number) {
  const targets = inside;
  const cond = (z: number) => (n: number) => ({ kind: "value" as const, value: np.array(new Float32Array(n).fill(z), { shape: [n, 1] }), keep: np.array(new Float32Array(n).fill(1)) });
  for (const v of variants) {
    const per: Record<string, unknown>[] = [];
    for (const [i, a] of targets.entries()) {
      const z = (a - mu) / sigma;
      const guided = cfgEps(model, ema, [z], v.w);
      const plain = cfgEps(model, ema, [z], 1);
      const below = v.below;
      const eps: EpsFn | ModelFn =
        v.w === 1 ? modelOutput(model, ema, cond(z)) : below === undefined ? guided : (x, t) => (t.index < below ? guided(x, t) : plain(x, t));
      const t0 = performance.now();
      const x = await generateWithEps(eps, model, v.sampler, N, keyFromSeed(1000 + i));
      per.push({ a, ...stats(logp(x.data, N), a), seconds: (performance.now() - t0) / 1000 });
    }
    const mae = per.reduce((s, r) => s + (r.mae as number), 0) / per.length;
    note({ variant: v.name, insideMae: mae, per });
  }
  // Branching at the middle target.
  const a = inside[2]!;
  const z = (a - mu) / sigma;
  const plan = samplerPlan(makeSchedule(model.schedule), ddpm(100));
  const noise = noiseHookOf(model.noise);
  const apply = modelOutput(model, ema, cond(z));
  for (const k of branchAt) {
    const [k0, ...kb] = splitKey(keyFromSeed(77 + k), M + 1);
    const xk = k === 0 ? undefined : await sample({ model: apply, plan: plan.slice(0, k), n: BN, eventShape: [D], key: k0!, ...(noise ? { hooks: { noise } } : {}) });
    if (k === 0) k0!.dispose();
    const host = xk ? await toHost(xk.ref) : undefined;
    const vals: number[][] = [];
    for (const key of kb) {
      const start = host ? np.array(host, { shape: [BN, D] }) : undefined;
      const x0: JArray = await sample({ model: apply, plan: plan.slice(k), n: BN, eventShape: [D], key, ...(start ? { xT: start } : {}), ...(noise ? { hooks: { noise } } : {}) });
      vals.push(logp(await toHost(x0), BN));
    }
    xk?.dispose();
    // Within-chain sd (over continuations, valid ones), pooled; total sd over all.
    let within = 0;
    let dof = 0;
    const flat: number[] = [];
    for (let c = 0; c < BN; c++) {
      const xs = vals.map((r) => r[c]!).filter(Number.isFinite);
      flat.push(...xs);
      if (xs.length < 2) continue;
      const m = xs.reduce((s, x) => s + x, 0) / xs.length;
      within += xs.reduce((s, x) => s + (x - m) ** 2, 0);
      dof += xs.length - 1;
    }
    note({ branchAt: k, of: plan.length, a, withinSd: Math.sqrt(within / dof), total: stats(flat, a) });
  }
}

const saved = join(OUT, "model.safetensors");
// The inside targets of configs/molecules-rcgdm-logp.json (the labels' 10–90% quantiles, seed 0; the run's section lists them).
const inside = (process.env.TARGETS ?? "-1.45,-0.5,0.18,0.75,1.58").split(",").map(Number);
if (existsSync(saved)) {
  // A model saved by an earlier run of this script: study it again without fine-tuning.
  const again = loadModel(saved);
  const { mu, sigma } = JSON.parse(readFileSync(join(OUT, "condition.json"), "utf8")) as { mu: number; sigma: number };
  await study(again.meta.model, again.ema, mu, sigma);
  disposeLoadedModel(again);
} else {
  // The runner's targets come from the labels; sample nothing there (1 molecule per target) and study the model.
  const m: RcgdmMethodConfig = { ...method };
  const t0 = performance.now();
  await runMoleculeRcgdm({
    method: m,
    label: "rcgdm",
    key: keyFromSeed(cfg.seed + 101),
    rdkit,
    property: "logp",
    data,
    model: loaded.meta.model,
    weights: loaded.ema,
    sampler: ddpm(10),
    samples: 1,
    seed: cfg.seed,
    hooks: { onStage: (s) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}`), onTrain: (p) => { if (p.step % 200 === 0) console.log(`train ${p.step}/${p.total} loss ${p.loss.toFixed(4)}`); } },
    onConditionalModel: async ({ model, ema, mean, std }) => {
      note({ stage: "trained", seconds: (performance.now() - t0) / 1000, mu: mean, sigma: std });
      await saveInferenceModel(saved, { model, train: loaded.meta.train, columns: data.columns, data: data.name, molecules: vocab, conditioning: { names: ["logp"], source: "pseudo-labels", pseudoLabelNoise: method.pseudoLabelNoise ?? 0.1, dropout: method.dropout } }, ema, 0);
      writeFileSync(join(OUT, "condition.json"), JSON.stringify({ mu: mean, sigma: std }));
      await study(model, ema, mean, std);
    },
  });
}
disposeLoadedModel(loaded);
