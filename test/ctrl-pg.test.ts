/**
 * CTRL with the policy-gradient estimator (src/finetune/ctrl-pg.ts): the PPO side's per-row log-probability
 * under the control policy equals the rollout's for both labels with a non-zero control (ratio 1 at θ_old);
 * the grouped advantages match a float64 recomputation; at θ = 0 the first round's KL is 0 and no PPO row is
 * clipped; and on a two-mode toy task with an exact logistic classifier the control learns both labels: the
 * samples asked for y = 1 move to x₁ > 0 and those asked for y = 0 to x₁ < 0.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, toHostSync, tree, upload } from "../src/backend/index.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { controlStepLogProb, ctrlPolicyGradient } from "../src/finetune/ctrl-pg.js";
import { advantages, rollout } from "../src/finetune/ddpo.js";
import { sampleFinetuned } from "../src/finetune/finetuned.js";
import { denoiserChainModel, initTrainable, oneHot, type PolicySpec } from "../src/finetune/policy.js";
import { initDenoiser } from "../src/nn/denoiser.js";
import { pretrainedTwoModes } from "./helpers/two-modes.js";
import { disposeTrainState } from "../src/training/trainer.js";

beforeAll(ensureBackend);

const schedule = { kind: "linear" as const, steps: 100, betaStart: 1e-4, betaEnd: 0.02 };

describe("ctrl policy gradient: pieces", () => {
  it("the PPO log-probability equals the rollout's for both labels under a non-zero control (x0 and eps predictions)", async () => {
    for (const prediction of ["eps", "x0"] as const) {
      const model: ModelConfig = { network: { kind: "mlp", dataDim: 2, hidden: 16, layers: 2, timeEmbedding: 8, residual: true, norm: "none" }, prediction, schedule };
      const base = initDenoiser(keyFromSeed(1), model.network);
      const spec: PolicySpec = { model, mode: "embedding", rank: 1, controlClasses: 2 };
      const p = initTrainable(spec, base, keyFromSeed(2));
      p.control!.table.dispose();
      p.control!.table = np.array(Float32Array.from({ length: 3 * 16 }, (_, i) => Math.sin(1.7 * i)), { shape: [3, 16] });
      const f = { base };
      const m = denoiserChainModel(spec);
      const plan = samplerPlan(makeSchedule(schedule), { sampler: "ddpm", steps: 6, eta: 1 });
      const n = 8;
      const y = Int32Array.from({ length: n }, (_, i) => i % 2);
      const control = oneHot(y, 2);
      const policy = (x: Parameters<typeof m.refEps>[1], t: { index: number; alphaBar: number }) =>
        m.eps(tree.ref(p), tree.ref(f), x, np.array((1000 * t.index) / 100), np.array(t.alphaBar), [control.ref]);
      const tr = await rollout({ policy, plan, n, dim: 2, key: keyFromSeed(3) });
      // The control matters: the same key with the labels swapped gives other samples.
      const swapped = oneHot(Int32Array.from(y, (v) => 1 - v), 2);
      const tr2 = await rollout({ policy: (x, t) => m.eps(tree.ref(p), tree.ref(f), x, np.array((1000 * t.index) / 100), np.array(t.alphaBar), [swapped.ref]), plan, n, dim: 2, key: keyFromSeed(3) });
      expect(Math.max(...tr.x0.data.map((v, i) => Math.abs(v - tr2.x0.data[i]!)))).toBeGreaterThan(1e-3);
      tr.steps.forEach((c, k) => {
        const coef = new Float32Array(n * 6);
        for (let i = 0; i < n; i++) coef.set([Math.sqrt(c.t.alphaBar), Math.sqrt(1 - c.t.alphaBar), c.cX0, c.cEps, c.cXt, c.sigma], 6 * i);
        const { logProb, mean } = controlStepLogProb(
          m,
          tree.ref(p),
          f,
          upload(tr.xt[k]!, n, 2),
          upload(tr.xs[k]!, n, 2),
          np.full([n], (1000 * c.t.index) / 100),
          np.full([n, 1], c.t.alphaBar),
          upload(coef, n, 6),
          [control.ref],
        );
        mean.dispose();
        const lp = toHostSync(logProb);
        for (let i = 0; i < n; i++) expect(Math.abs(lp[i]! - tr.logProbs[k]![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(lp[i]!)));
      });
      control.dispose();
      swapped.dispose();
      tree.dispose(p);
      tree.dispose(f);
    }
  });

  it("grouped advantages: reward-to-go with a per-group, per-step baseline and the pooled within-group scale (float64 recomputation)", () => {
    const B = 6;
    const S = 3;
    const r = [1, 2, 4, -1, 0.5, 3];
    const groups = Int32Array.from([0, 1, 0, 1, 0, 1]);
    const kl = Array.from({ length: S }, (_, k) => Float32Array.from({ length: B }, (_, i) => 0.1 * (k + 1) + 0.05 * i));
    const alpha = 0.7;
    const { adv, scale, klMean } = advantages(r, kl, alpha, groups);
    const G = (k: number, i: number) => {
      let g = r[i]!;
      for (let q = k + 1; q < S; q++) g -= alpha * kl[q]![i]!;
      return g;
    };
    const mean = (k: number, g: number) => {
      const ids = [0, 1, 2, 3, 4, 5].filter((i) => groups[i] === g);
      return ids.reduce((a, i) => a + G(k, i), 0) / ids.length;
    };
    let ss = 0;
    for (let i = 0; i < B; i++) ss += (G(0, i) - mean(0, groups[i]!)) ** 2;
    const s = Math.sqrt(ss / (B - 2)) + 1e-8;
    expect(scale).toBeCloseTo(s, 10);
    for (let k = 0; k < S; k++) for (let i = 0; i < B; i++) expect(adv[k * B + i]).toBeCloseTo((G(k, i) - mean(k, groups[i]!)) / s, 5);
    let klSum = 0;
    for (let k = 0; k < S; k++) for (let i = 0; i < B; i++) klSum += kl[k]![i]!;
    expect(klMean).toBeCloseTo(klSum / B, 6);
    // One group is DDPO's per-batch normalisation: the baseline is the batch mean and s has B − 1 degrees of freedom.
    const one = advantages(r, kl, alpha);
    const m0 = r.reduce((a, _, i) => a + G(0, i), 0) / B;
    expect(one.scale).toBeCloseTo(Math.sqrt(r.reduce((a, _, i) => a + (G(0, i) - m0) ** 2, 0) / (B - 1)) + 1e-8, 10);
  });
});

describe("ctrl policy gradient: fine-tuning", () => {
  it("at θ = 0 the first round has KL 0 and no clipped row; on two modes it learns both labels of an exact logistic classifier", async () => {
    const { model, st, plan } = await pretrainedTwoModes();
    // p̂(y = 1 | x) = σ(4 x₁): log p̂(y | x) = −softplus(∓4 x₁), computed in float64 on the host.
    const logistic = (x0: { data: Float32Array; cols: number }, y: Int32Array) =>
      Float64Array.from(y, (v, i) => {
        const z = (v === 1 ? 4 : -4) * x0.data[i * x0.cols]!;
        return -(Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z))));
      });
    const base = { model, pretrained: st.ema, classes: 2, reward: logistic, gamma: 1, plan, trainable: "embedding" as const, rank: 1 };
    // One round, one minibatch: the PPO rows are read at θ_old = 0, where the policy is the reference.
    const once = await ctrlPolicyGradient({ ...base, config: { rounds: 1, batch: 16, epochs: 1, minibatches: 1, clip: 0.2, learningRate: 3e-2, gradClip: 1 } }, keyFromSeed(6));
    expect(once.history[0]!.kl).toBe(0);
    expect(once.history[0]!.clipFraction).toBe(0);
    tree.dispose(once.model.p);
    tree.dispose(once.model.f);
    const res = await ctrlPolicyGradient({ ...base, config: { rounds: 15, batch: 128, epochs: 2, minibatches: 2, clip: 0.2, learningRate: 3e-2, gradClip: 1 } }, keyFromSeed(5));
    const n = 512;
    const share = async (y: number) => {
      const out = await sampleFinetuned(res.model, n, keyFromSeed(11 + y), () => [oneHot(new Int32Array(n).fill(y), 2)]);
      let pos = 0;
      for (let i = 0; i < n; i++) if (out.samples.data[2 * i]! > 0) pos++;
      return pos / n;
    };
    const p1 = await share(1);
    const p0 = await share(0);
    // Before: ≈ 0.5 for both labels (label-blind); after: each label's side of the plane.
    expect(p1).toBeGreaterThan(0.75);
    expect(p0).toBeLessThan(0.25);
    tree.dispose(res.model.p);
    tree.dispose(res.model.f);
    disposeTrainState(st);
  });
});
