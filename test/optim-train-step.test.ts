/**
 * The train-step builder (src/optim/train-step.ts) and the asynchronous loss reads: closed forms for
 * the update and the EMA warm-up, one compilation for a changing learning rate, applyGradients = step,
 * and exact resume (N + N = 2N, bit for bit) for the reward MLP's loop.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, grad, keyFromSeed, np, scalar, toHostSync, tree, type JArray } from "../src/backend/index.js";
import type { ModelConfig } from "../src/diffusion/model.js";
import { initMlp } from "../src/nn/mlp.js";
import { namedLeaves, paramsFromHost, type Params } from "../src/nn/params.js";
import { optimizerFromConfig, plainFitOptimizer } from "../src/optim/config.js";
import { emaDecay } from "../src/optim/ema.js";
import { LossLog } from "../src/optim/loss-log.js";
import { runSteps } from "../src/optim/loop.js";
import { constantRate, scaleByLearningRate } from "../src/optim/lr-schedule.js";
import { disposeTrainStepState, makeTrainStep, type TrainStepState } from "../src/optim/train-step.js";
import { chain, type OptState } from "../src/optim/transform.js";
import { regressorBatch, regressorTrainStep, type RegressorParams } from "../src/rewards/mlp.js";
import { toy2dTask } from "../src/tasks/toy2d.js";
import { defaultTrainConfig, initTrainState, trainSteps } from "../src/training/trainer.js";

beforeAll(ensureBackend);

type W = { w: JArray };
const host = (p: W) => Array.from(toHostSync(p.w.ref));

describe("makeTrainStep", () => {
  it("θ_{k+1} = θ_k − lr·c for L = Σ c·θ, and the EMA follows δ_k = min(δ, (1+k)/(10+k)) (float64 reference)", () => {
    const c = [0.5, -1, 2, 0.25];
    const theta0 = [1, 2, -3, 0.5];
    const lr = 0.1;
    const delta = 0.9;
    const loss = (p: W) => np.sum(p.w.mul(np.array(Float32Array.from(c))));
    const step = makeTrainStep<W>(loss, chain(scaleByLearningRate(constantRate(lr))), { ema: delta });
    let s = step.init({ w: np.array(Float32Array.from(theta0)) });
    const theta = [...theta0];
    const ema = [...theta0];
    for (let k = 0; k < 25; k++) {
      const r = step.step(s, []);
      r.loss.dispose();
      s = r.state;
      const d = emaDecay(delta, k);
      for (let i = 0; i < 4; i++) {
        theta[i] = theta[i]! - lr * c[i]!;
        ema[i] = d * ema[i]! + (1 - d) * theta[i]!;
      }
    }
    expect(s.step).toBe(25);
    host(s.params).forEach((v, i) => expect(v).toBeCloseTo(theta[i]!, 5));
    host(s.ema!).forEach((v, i) => expect(v).toBeCloseTo(ema[i]!, 5));
    // the EMA lags the parameters (the check can fail)
    expect(Math.abs(ema[2]! - theta[2]!)).toBeGreaterThan(0.1);
    disposeTrainStepState(s as unknown as TrainStepState<Params>);
  });

  it("compiles once while the scheduled learning rate changes every step", () => {
    let traces = 0;
    const loss = (p: W) => {
      traces++;
      return np.sum(np.square(p.w));
    };
    const opt = optimizerFromConfig({ ...plainFitOptimizer(1e-2), lrSchedule: "cosine", warmupSteps: 3 }, 10);
    const step = makeTrainStep<W>(loss, opt);
    let s = step.init({ w: np.array(Float32Array.from([1, -2, 3, 4])) });
    for (let k = 0; k < 10; k++) {
      const r = step.step(s, []);
      r.loss.dispose();
      s = r.state;
    }
    expect(traces).toBe(1);
    disposeTrainStepState(s as unknown as TrainStepState<Params>);
  });

  it("applyGradients(state, ∇L) gives the same state as step(state) on L (AdamW, clipping, EMA)", () => {
    const x = np.array(Float32Array.from([0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.9, 2.2]), { shape: [2, 4] });
    const lossOf = (p: W, xx: JArray) => np.sum(np.square(np.matmul(xx, p.w.reshape([4, 1])).sub(1)));
    const cfg = { ...plainFitOptimizer(5e-2, 0.1), gradClip: 0.5, ema: 0.99 };
    const a = makeTrainStep<W>((p, [xx]) => lossOf(p, xx!), optimizerFromConfig(cfg, 4), { ema: cfg.ema });
    const w0 = Float32Array.from([0.1, 0.2, -0.3, 0.4]);
    let sa = a.init({ w: np.array(w0) });
    let sb = a.init({ w: np.array(w0) });
    for (let k = 0; k < 4; k++) {
      const r = a.step(sa, [x.ref]);
      r.loss.dispose();
      sa = r.state;
      const g = grad((p: W) => lossOf(p, x.ref))(tree.ref(sb.params)) as W;
      sb = a.applyGradients(sb, g);
    }
    x.dispose();
    expect(host(sb.params)).toEqual(host(sa.params));
    expect(host(sb.ema!)).toEqual(host(sa.ema!));
    expect(host(sa.params)).not.toEqual(Array.from(w0)); // it moved
    disposeTrainStepState(sa as unknown as TrainStepState<Params>);
    disposeTrainStepState(sb as unknown as TrainStepState<Params>);
  });
});

describe("exact resume of the reward MLP's loop (N + N = 2N, bit for bit)", () => {
  it("through a host round trip of params and optimizer state", async () => {
    const spec = { learningRate: 1e-2, l2: 1e-3, steps: 40 };
    const n = 300;
    const D = 3;
    const u = Float32Array.from({ length: n * D }, (_, i) => Math.sin(i * 1.7));
    const v = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.3));
    const trainer = regressorTrainStep(spec);
    const batch = regressorBatch(u, v, D, 32, 1234);
    const diverged = (step: number, loss: number) => new Error(`diverged at ${step}: ${loss}`);
    const fresh = () => trainer.init(initMlp(keyFromSeed(3), D, 16, 2, 1) as RegressorParams, undefined, 1234);

    const full = await runSteps(trainer, fresh(), { until: 40, batch, diverged });
    const half = await runSteps(trainer, fresh(), { until: 20, batch, diverged });
    // save and load: every leaf to the host and back
    const toHost = (t: Params, prefix: string) => new Map([...namedLeaves(t, prefix)].map(([k, a]) => [k, { shape: [...a.shape], data: toHostSync(a.ref) }]));
    const saved = new Map([...toHost(half.state.params, "params"), ...toHost(half.state.opt as Params, "opt")]);
    const template = fresh();
    const loaded: TrainStepState<RegressorParams, OptState> = {
      params: paramsFromHost(template.params, saved, "test", "params"),
      opt: paramsFromHost(template.opt as Params, saved, "test", "opt") as OptState,
      step: half.state.step,
      dataSeed: 1234,
    };
    disposeTrainStepState(template as unknown as TrainStepState<Params>);
    disposeTrainStepState(half.state as unknown as TrainStepState<Params>);
    const resumed = await runSteps(trainer, loaded, { until: 40, batch, diverged });

    expect(resumed.state.step).toBe(40);
    const a = toHost(full.state.params, "p");
    const b = toHost(resumed.state.params, "p");
    for (const [k, t] of a) expect(Array.from(b.get(k)!.data), k).toEqual(Array.from(t.data));
    const oa = toHost(full.state.opt as Params, "o");
    const ob = toHost(resumed.state.opt as Params, "o");
    for (const [k, t] of oa) expect(Array.from(ob.get(k)!.data), k).toEqual(Array.from(t.data));
    expect(resumed.losses.map((l) => l.loss)).toEqual(full.losses.slice(20).map((l) => l.loss));
    expect(full.losses[39]!.loss).toBeLessThan(full.losses[0]!.loss);
    disposeTrainStepState(full.state as unknown as TrainStepState<Params>);
    disposeTrainStepState(resumed.state as unknown as TrainStepState<Params>);
  });
});

describe("asynchronous loss reads", () => {
  it("LossLog reads every k steps, in order, and names the first non-finite step", async () => {
    const log = new LossLog(3, (step, loss) => new Error(`diverged at step ${step} (loss ${loss})`));
    expect(await log.push(1, scalar(1))).toEqual([]);
    expect(await log.push(2, scalar(2))).toEqual([]);
    expect((await log.push(3, scalar(3))).map((p) => [p.step, p.loss])).toEqual([[1, 1], [2, 2], [3, 3]]);
    await log.push(4, scalar(4));
    await log.push(5, scalar(Number.NaN));
    await expect(log.push(6, scalar(Number.POSITIVE_INFINITY))).rejects.toThrow(/diverged at step 5 \(loss NaN\)/);
    expect(() => new LossLog(0, () => new Error())).toThrow(/logEvery must be a whole number ≥ 1/);
  });

  it("trainSteps with logEvery = 4 records the same per-step losses as logEvery = 1 (and reports each step)", async () => {
    const model: ModelConfig = {
      network: { kind: "mlp", dataDim: 2, hidden: 16, layers: 1, timeEmbedding: 8, residual: true, norm: "none" },
      prediction: "eps",
      schedule: { kind: "linear", steps: 50 },
    };
    const data = await toy2dTask("moons").sample(keyFromSeed(1), 200);
    const train = { ...defaultTrainConfig, steps: 10, batchSize: 32 };
    const seen: number[] = [];
    const a = await trainSteps(model, train, initTrainState(model, keyFromSeed(2)), { x: data });
    const b = await trainSteps(model, train, initTrainState(model, keyFromSeed(2)), { x: data }, { logEvery: 4, onProgress: (p) => seen.push(p.step) });
    expect(b.losses.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(b.losses).toEqual(a.losses);
    for (const s of [a, b]) disposeTrainStepState(s as unknown as TrainStepState<Params>);
  });
});
