/**
 * RGDM and RWR training on a small Gaussian mixture with a linear reward (fixtures.md §3): the mean
 * ground-truth reward rises as τ falls (three well-separated τ), and bad inputs fail with clear errors.
 * The less-used options are checked against closed forms computed here from the schedule's β_t:
 * `rewardAt: "x-tilde"` (δ = min(σ_t²‖b‖/τ, ρσ_t) b/‖b‖, seen in the mean shift norm), `center: "sample"`
 * (extra target variance (1−ᾱ_{t−1})(1−β_t)/β_t per ε element, seen in the loss), `init: "scratch"`
 * (a fresh network learns), RWR's `schedule: "constant"` (τ_k = τ, ESS of softmax(r/τ)), and `anchor` (the data
 * row joins the candidates: a reward that only the data rows earn, at τ → 0, leaves every shift exactly 0).
 * Small sizes: the full acceptance run is configs/rgdm-gm.json / `npm run experiments -- rgdm`.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed, splitKey } from "../src/backend/keys.js";
import { hostMatrix, type HostMatrix } from "../src/data/matrix.js";
import { mean } from "../src/eval/stats.js";
import { parseConfig } from "../src/runners/config.js";
import { defaultRgdmSettings, trainRgdm } from "../src/training/rgdm.js";
import { effectiveSampleSize, trainRwr } from "../src/training/rwr.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import type { DenoiserParams } from "../src/nn/denoiser.js";
import { generate } from "../src/diffusion/generate.js";
import { modelFromConfig } from "../src/runners/model-config.js";
import { hostReward, linearRewardFn } from "../src/rewards/reward.js";
import { gaussianMixtureTask } from "../src/tasks/gaussian-mixture.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainSteps, type TrainConfig } from "../src/training/trainer.js";

const task = gaussianMixtureTask({
  components: [
    { weight: 2, mean: [-1.5, 0], std: 0.5 },
    { weight: 1, mean: [1.5, 1], std: 0.5 },
  ],
  rewardWeights: [1, 0.5],
});
const model = modelFromConfig(parseConfig({ model: { hidden: 48, layers: 2, timeEmbedding: 16, schedule: { steps: 100 } } }, "t").model, 2);
const sampler = { sampler: "ddpm" as const, steps: 20, eta: 1 };
const fine: TrainConfig = { ...defaultTrainConfig, steps: 150, batchSize: 128, learningRate: 1e-3, lrSchedule: "constant", ema: 0.98 };
const reward = linearRewardFn([1, 0.5]);
const TAUS = [4, 1, 0.25];
let base: DenoiserParams;
let data: HostMatrix;

beforeAll(async () => {
  await ensureBackend();
  const [k1, k2] = splitKey(keyFromSeed(3), 2);
  data = await task.sample(k1!, 4000);
  const s = await trainSteps(model, { ...defaultTrainConfig, steps: 500, batchSize: 256 }, initTrainState(model, k2!), { x: data });
  base = s.ema;
}, 60_000);

const rewardOf = async (params: DenoiserParams, seed: number) => mean(task.reward(await generate(model, params, sampler, 1000, keyFromSeed(seed))));

describe("rgdm / rwr training", () => {
  it("rgdm (gradient, proximal) raises the mean reward monotonically as τ falls", async () => {
    const out: number[] = [];
    for (const [i, tau] of TAUS.entries()) {
      const res = await trainRgdm({ model, train: fine, data, reward, settings: { ...defaultRgdmSettings(2), tau }, init: base, reference: base, key: keyFromSeed(10 + i) });
      out.push(await rewardOf(res.state.ema, 20 + i));
      expect(res.cost.rewardGradEvals).toBe(150 * 128);
      disposeTrainState(res.state);
    }
    const before = await rewardOf(base, 30);
    expect(out[0]).toBeGreaterThan(before);
    expect(out[1]).toBeGreaterThan(out[0]! + 0.2);
    expect(out[2]).toBeGreaterThan(out[1]! + 0.2);
  }, 60_000);

  it("rwr raises the mean reward monotonically as τ falls and reports ESS each round", async () => {
    const out: number[] = [];
    for (const [i, tau] of TAUS.entries()) {
      const res = await trainRwr({
        model, train: fine, init: base, reward,
        settings: { tau, rounds: 2, samplesPerRound: 1000, stepsPerRound: 75, schedule: "annealed" },
        sample: (p, n, key) => generate(model, p, sampler, n, key),
        key: keyFromSeed(40 + i),
      });
      expect(res.rounds).toHaveLength(2);
      for (const r of res.rounds) {
        expect(r.ess).toBeGreaterThanOrEqual(1);
        expect(r.ess).toBeLessThanOrEqual(1000 + 1e-6);
        expect(r.temperature).toBe(2 * tau);
      }
      expect(res.rewardEvals).toBe(2000);
      out.push(await rewardOf(res.state.ema, 50 + i));
      disposeTrainState(res.state);
    }
    expect(out[1]).toBeGreaterThan(out[0]! + 0.2);
    expect(out[2]).toBeGreaterThan(out[1]! + 0.2);
  }, 60_000);

  it("bad input fails with one clear line", async () => {
    const run = (over: Partial<ReturnType<typeof defaultRgdmSettings>>, r = reward as Parameters<typeof trainRgdm>[0]["reward"]) =>
      trainRgdm({ model, train: { ...fine, steps: 1, batchSize: 8 }, data, reward: r, settings: { ...defaultRgdmSettings(2), ...over }, init: base, key: keyFromSeed(1), where: "method[3]" });
    await expect(run({ tau: 0 })).rejects.toThrow("method[3].alpha (τ) must be > 0, got 0");
    await expect(run({ rho: -1 })).rejects.toThrow("method[3].rho (ρ) must be ≥ 0, got -1");
    const nan = hostReward("nan-reward", (x) => new Float32Array(x.rows).fill(NaN));
    await expect(run({ variant: "candidates" }, nan)).rejects.toThrow('reward "nan-reward" returned a non-finite value');
    const short = hostReward("short-reward", (x) => new Float32Array(x.rows - 1));
    await expect(run({ variant: "candidates" }, short)).rejects.toThrow('reward "short-reward" returned 63 values for 64 samples');
    await expect(run({ variant: "gradient" }, short)).rejects.toThrow("needs a differentiable reward");
    await expect(
      trainRwr({ model, train: fine, init: base, reward: nan, settings: { tau: 1, rounds: 1, samplesPerRound: 4, stepsPerRound: 1, schedule: "annealed" }, sample: () => hostMatrix(4, 2), key: keyFromSeed(2) }),
    ).rejects.toThrow('reward "nan-reward" returned a non-finite value');
    const cfg = (method: unknown) => () => parseConfig({ task: { kind: "gaussian-mixture", components: [{ weight: 1, mean: [0, 0], std: 1 }], rewardWeights: [1, 0] }, method }, "cfg.json");
    expect(cfg([{ kind: "none" }, { kind: "rgdm", alpha: -1 }])).toThrow("cfg.json: method[1].alpha: (τ) must be > 0, got -1");
    expect(cfg({ kind: "rwr", alpha: 0 })).toThrow("method.alpha: (τ) must be > 0, got 0");
    expect(cfg({ kind: "rgdm", rho: -0.5 })).toThrow("method.rho: (ρ) must be ≥ 0, got -0.5");
    expect(cfg({ kind: "rgdm", sampleNoise: "uniform" })).toThrow("method.sampleNoise");
    expect(() => parseConfig({ task: { kind: "gaussian-mixture", components: [{ weight: 1, mean: [0, 0], std: 1 }], rewardWeights: [1, 0] }, method: { kind: "rgdm", sampleNoise: "payoff" } }, "ok.json")).not.toThrow();
  }, 30_000);

  /** σ_t² = β̃_t = β_t(1−ᾱ_{t−1})/(1−ᾱ_t) and the "sample"-centre extra variance, per training index, from β_t. */
  const scheduleFacts = () => {
    const betas = makeSchedule(model.schedule).betas;
    const T = betas.length;
    const ab: number[] = [];
    let a = 1;
    for (let t = 0; t < T; t++) ab.push((a *= 1 - betas[t]!));
    const prev = (t: number) => (t === 0 ? 1 : ab[t - 1]!);
    const sigma2 = ab.map((v, t) => (betas[t]! * (1 - prev(t))) / (1 - v));
    const extra = ab.map((_, t) => ((1 - prev(t)) * (1 - betas[t]!)) / betas[t]!);
    return { T, sigma2, extra };
  };

  it('rewardAt "x-tilde": the proximal shift is min(σ_t²‖b‖/τ, ρσ_t) (mean norm over uniform t)', async () => {
    const { T, sigma2 } = scheduleFacts();
    const tau = 1, rho = 10, B = 256, steps = 4;
    const nb = Math.hypot(1, 0.5);
    const norms = sigma2.map((s2) => Math.min((s2 * nb) / tau, rho * Math.sqrt(s2)));
    const m1 = norms.reduce((a, v) => a + v, 0) / T;
    const sd = Math.sqrt(norms.reduce((a, v) => a + (v - m1) ** 2, 0) / T);
    const res = await trainRgdm({
      model, train: { ...fine, steps, batchSize: B, learningRate: 1e-12 }, data, reward,
      settings: { ...defaultRgdmSettings(2), tau, rho, rewardAt: "x-tilde" }, init: base, reference: base, key: keyFromSeed(60),
    });
    const got = mean(res.shiftNorms.map((p) => p.value));
    disposeTrainState(res.state);
    expect(Math.abs(got - m1)).toBeLessThan((4 * sd) / Math.sqrt(B * steps));
    expect(res.cost.modelEvals).toBe(0); // x̂_0 is not needed
  }, 30_000);

  it('center "sample" adds the posterior noise to the target: loss rises by E_t[(1−ᾱ_{t−1})(1−β_t)/β_t]', async () => {
    const { extra } = scheduleFacts();
    const ev = mean(extra);
    const run = async (center: "mean" | "sample", seed: number) => {
      const res = await trainRgdm({
        model, train: { ...fine, steps: 6, batchSize: 512, learningRate: 1e-12 }, data, reward,
        settings: { ...defaultRgdmSettings(2), rho: 0, center }, init: base, reference: base, key: keyFromSeed(seed),
      });
      disposeTrainState(res.state);
      return mean(res.losses.map((l) => l.loss));
    };
    const lMean = await run("mean", 61);
    const lSample = await run("sample", 62);
    expect(lMean).toBeLessThan(1);
    expect(ev).toBeGreaterThan(5);
    expect(Math.abs(lSample - lMean - ev) / ev).toBeLessThan(0.15);
  }, 30_000);

  it('init "scratch" trains a fresh network (DDPM loss with ρ = 0), reading x̂_0 with the model being trained', async () => {
    const res = await trainRgdm({
      model, train: { ...fine, steps: 120, batchSize: 128, learningRate: 2e-3 }, data, reward,
      settings: { ...defaultRgdmSettings(2), rho: 0 }, key: keyFromSeed(63),
    });
    const first = mean(res.losses.slice(0, 10).map((l) => l.loss));
    const last = mean(res.losses.slice(-20).map((l) => l.loss));
    disposeTrainState(res.state);
    expect(first).toBeGreaterThan(0.7); // an untrained ε-network: loss ≈ E‖ε‖²/D = 1
    expect(last).toBeLessThan(0.75 * first);
    expect(res.cost.modelEvals).toBe(120 * 128);
  }, 30_000);

  it('rwr schedule "constant" uses τ_k = τ every round; the ESS is that of softmax(r/τ)', async () => {
    const x = hostMatrix(300, 2, data.data.slice(0, 600));
    const r = task.reward(x);
    const tau = 0.5;
    const w = Array.from(r, (v) => Math.exp(v / tau));
    const res = await trainRwr({
      model, train: { ...fine, learningRate: 1e-12 }, init: base, reward,
      settings: { tau, rounds: 3, samplesPerRound: 300, stepsPerRound: 1, schedule: "constant" },
      sample: () => x, key: keyFromSeed(64),
    });
    disposeTrainState(res.state);
    for (const round of res.rounds) {
      expect(round.temperature).toBe(tau);
      expect(round.ess).toBeCloseTo(effectiveSampleSize(w), 3);
    }
    expect(res.rewardEvals).toBe(900);
  }, 30_000);

  it("anchor: the data row x₀ is one more candidate (δ = 0); a reward only data rows earn, at small τ, selects it every time", async () => {
    const D = 2;
    const rows = new Set<string>();
    for (let i = 0; i < data.rows; i++) rows.add(`${data.data[i * D]},${data.data[i * D + 1]}`);
    const onData = hostReward("is a data row", (x) => Float64Array.from({ length: x.rows }, (_, i) => (rows.has(`${x.data[i * D]},${x.data[i * D + 1]}`) ? 1 : 0)));
    const run = async (anchor: boolean) => {
      const res = await trainRgdm({
        model, train: { ...fine, steps: 3, batchSize: 64, learningRate: 1e-12 }, data, reward: onData,
        settings: { ...defaultRgdmSettings(2), variant: "candidates", candidates: 4, tau: 1e-3, rewardAt: "x-tilde", anchor }, init: base, reference: base, key: keyFromSeed(63),
      });
      disposeTrainState(res.state);
      return res;
    };
    const withAnchor = await run(true);
    const without = await run(false);
    expect(withAnchor.shiftNorms.map((p) => p.value)).toEqual([0, 0, 0]);
    expect(Math.min(...without.shiftNorms.map((p) => p.value))).toBeGreaterThan(0.01);
    expect(withAnchor.cost.rewardEvals).toBe(3 * 64 * 5);
    expect(without.cost.rewardEvals).toBe(3 * 64 * 4);
  }, 30_000);
});
