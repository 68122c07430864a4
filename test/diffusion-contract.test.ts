/**
 * The sampler contract (in the spirit of diffusers' SchedulerCommonTest): for one model and each
 * sampler (DDPM, DDIM η = 0, DDIM η = 1), every loop of the library run with no guidance and the
 * pretrained weights draws the same x_0 as the plain sampling loop for the same key — the guided
 * sampler with no terms, the fine-tuning chain (DRaFT/CTRL) at θ = pretrained, the DDPO rollout, and
 * CTRL's classifier-free chain while its conditionals are equal — and the rollout's log-probabilities
 * and path KLs agree with the Gaussian formulas recomputed here in float64 from host copies.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, tree, upload, type JArray } from "../src/backend/index.js";
import { modelEps, modelOutput, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan, type SamplerConfig } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import type { StepCoefficients } from "../src/diffusion/step.js";
import type { EpsFn } from "../src/diffusion/types.js";
import { makeChain } from "../src/finetune/chain.js";
import { sampleFinetuned, type FinetunedModel } from "../src/finetune/finetuned.js";
import { denoiserChainModel, initTrainable, type PolicySpec } from "../src/finetune/policy.js";
import { guidedSample } from "../src/guidance/sampler.js";
import { rollout } from "../src/finetune/ddpo.js";
import { initDenoiser, type DenoiserParams } from "../src/nn/denoiser.js";

beforeAll(ensureBackend);

const D = 2;
const n = 24;
const model: ModelConfig = {
  network: { kind: "mlp", dataDim: D, hidden: 16, layers: 2, timeEmbedding: 8, residual: true, norm: "none" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 50, betaStart: 1e-4, betaEnd: 0.1 },
};
const schedule = makeSchedule(model.schedule);
const samplers: [string, SamplerConfig][] = [
  ["ddpm", { sampler: "ddpm", steps: 10, eta: 1 }],
  ["ddim η=0", { sampler: "ddim", steps: 10, eta: 0 }],
  ["ddim η=1", { sampler: "ddim", steps: 10, eta: 1 }],
];

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** μ of one step in float64 from host x_t and ε̂ (x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t). */
function mean64(c: StepCoefficients, x: Float32Array, eps: Float32Array): Float64Array {
  const a = Math.sqrt(c.t.alphaBar);
  const s = Math.sqrt(1 - c.t.alphaBar);
  return Float64Array.from(x, (xv, i) => {
    const x0 = (xv - s * eps[i]!) / a;
    return c.cX0 * x0 + c.cEps * eps[i]! + c.cXt * xv;
  });
}

const epsHost = (eps: EpsFn, x: Float32Array, c: StepCoefficients) => toHostSync(eps(upload(x, n, D), c.t));

describe("every loop draws the plain sampler's x_0 for the same key", () => {
  let base: DenoiserParams;
  let other: DenoiserParams;
  beforeAll(() => {
    base = initDenoiser(keyFromSeed(1), model.network);
    other = initDenoiser(keyFromSeed(2), model.network);
  });

  for (const [name, cfg] of samplers) {
    it(`${name}`, async () => {
      const plan = samplerPlan(schedule, cfg);
      const stochastic = plan.slice(0, -1).every((c) => c.sigma > 0);
      const eps = modelEps(model, base);
      const plain = toHostSync(await sample({ model: eps, plan, n, eventShape: [D], key: keyFromSeed(7) }));
      // The network output path (x̂_0 straight from the output) equals the ε path for an ε-model.
      const viaOutput = toHostSync(await sample({ model: modelOutput(model, base), plan, n, eventShape: [D], key: keyFromSeed(7) }));
      expect(maxAbsDiff(viaOutput, plain)).toBe(0);
      const guided = toHostSync((await guidedSample({ eps, plan, terms: [], n, dim: D, key: keyFromSeed(7) })).x);
      expect(maxAbsDiff(guided, plain)).toBe(0);
      if (!stochastic) {
        await expect(rollout({ policy: eps, plan, n, dim: D, key: keyFromSeed(7) })).rejects.toThrow(/needs a stochastic sampler/);
        expect(() => makeChain(denoiserChainModel({ model, mode: "all", rank: 2 }), (x) => x, plan, schedule.T, D, { objectiveScale: 0, klWeight: 0 })).toThrow(
          /needs a stochastic sampler/,
        );
        return;
      }
      // DDPO rollout (policy = reference = pretrained).
      const tr = await rollout({ policy: eps, reference: eps, plan, n, dim: D, key: keyFromSeed(7) });
      expect(maxAbsDiff(tr.x0.data, plain)).toBe(0);
      for (const k of tr.kl!) expect(Math.max(...k)).toBe(0);

      // The fine-tuning chain at θ = pretrained (DRaFT's policy, all weights trainable).
      const spec: PolicySpec = { model, mode: "all", rank: 2 };
      const p = initTrainable(spec, base, keyFromSeed(3));
      const chain = makeChain(denoiserChainModel(spec), (x) => x, plan, schedule.T, D, { objectiveScale: 0, klWeight: 0 });
      const fwd = await chain.forward(p, { base }, [], n, keyFromSeed(7));
      expect(fwd.klTotal).toBe(0);
      expect(maxAbsDiff(toHostSync(fwd.x0), plain)).toBeLessThan(1e-6);
      chain.dispose();
      tree.dispose(p);

      // CTRL's classifier-free chain at initialisation (ε(y) = ε(∅)), at w = 0 and w = 2.
      const cspec: PolicySpec = { model, mode: "all", rank: 2, controlClasses: 2 };
      const m: FinetunedModel = { spec: cspec, p: initTrainable(cspec, base, keyFromSeed(4)), f: { base: tree.ref(base) }, plan, T: schedule.T, dim: D };
      const control = (rows: number) => [np.array(Float32Array.from({ length: rows * 3 }, (_, i) => (i % 3 === 1 ? 1 : 0)), { shape: [rows, 3] }) as JArray];
      for (const w of [0, 2]) {
        const s = await sampleFinetuned(m, n, keyFromSeed(7), control, { cfgScale: w });
        expect(s.kl).toBe(0);
        expect(maxAbsDiff(s.samples.data, plain)).toBeLessThan(1e-6);
      }
      tree.dispose(m.p);
      tree.dispose(m.f);
    }, 60_000);
  }

  for (const [name, cfg] of samplers.filter(([, c]) => c.eta > 0)) {
    it(`${name}: the rollout's log-probabilities (sum and mean) and path KLs equal the float64 formulas`, async () => {
      const plan = samplerPlan(schedule, cfg);
      const policy = modelEps(model, base);
      const reference = modelEps(model, other);
      const tr = await rollout({ policy, reference, plan, n, dim: D, key: keyFromSeed(9) });
      const trMean = await rollout({ policy, reference, plan, n, dim: D, key: keyFromSeed(9), reduce: "mean" });
      expect(tr.steps.length).toBe(plan.length - 1);
      let worstLp = 0;
      let worstKl = 0;
      tr.steps.forEach((c, k) => {
        const mu = mean64(c, tr.xt[k]!, epsHost(policy, tr.xt[k]!, c));
        const muRef = mean64(c, tr.xt[k]!, epsHost(reference, tr.xt[k]!, c));
        const s2 = c.sigma * c.sigma;
        for (let i = 0; i < n; i++) {
          let q = 0;
          let g = 0;
          for (let d = 0; d < D; d++) {
            q += (tr.xs[k]![i * D + d]! - mu[i * D + d]!) ** 2;
            g += (mu[i * D + d]! - muRef[i * D + d]!) ** 2;
          }
          const lp = -q / (2 * s2) - D * Math.log(c.sigma) - (D / 2) * Math.log(2 * Math.PI);
          const kl = g / (2 * s2);
          worstLp = Math.max(worstLp, Math.abs(tr.logProbs[k]![i]! - lp) / (1 + Math.abs(lp)), Math.abs(trMean.logProbs[k]![i]! - lp / D) / (1 + Math.abs(lp / D)));
          worstKl = Math.max(worstKl, Math.abs(tr.kl![k]![i]! - kl) / (1e-3 + kl));
        }
      });
      expect(worstLp).toBeLessThan(1e-5);
      expect(worstKl).toBeLessThan(1e-3);
      // The two reductions saw the same chain.
      expect(maxAbsDiff(trMean.x0.data, tr.x0.data)).toBe(0);
    }, 60_000);
  }
});
