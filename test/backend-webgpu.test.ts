/**
 * The webgpu device against wasm: a jitted training step (denoising loss, gradient, SGD update) and a
 * DDIM chain, both read only asynchronously, give the same numbers on both devices to float32
 * tolerance; so do the library's own loops (initTrainState + trainSteps, then sample) from the same
 * seeds; PRNG draws are bit-identical; synchronous reads of webgpu arrays fail loudly.
 * Runs where a WebGPU adapter exists (in Node: the `webgpu` package + Chromium's SwiftShader, see
 * test/helpers/webgpu.ts); elsewhere it is skipped with the reason printed.
 */
import { describe, expect, it } from "vitest";
import {
  backendDevice,
  ensureBackend,
  jit,
  keyAt,
  keyFromSeed,
  keyToWordsAsync,
  np,
  random,
  scalar,
  settleAsync,
  splitKeyWords,
  splitWords,
  bitsWord,
  threefry2x32,
  toHost,
  toHostSync,
  toNumber,
  toNumberAsync,
  tree,
  valueAndGrad,
  type JArray,
  type BackendDevice,
} from "../src/backend/index.js";
import { hostMatrix } from "../src/data/matrix.js";
import { denoisingLoss } from "../src/diffusion/loss.js";
import { modelEps, modelOutput, type ModelConfig } from "../src/diffusion/model.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { initDenoiser, type DenoiserParams } from "../src/nn/denoiser.js";
import { namedLeaves, paramsFromHost, paramsToHost } from "../src/nn/params.js";
import { defaultTrainConfig, disposeTrainState, initTrainState, trainSteps, type TrainConfig } from "../src/training/trainer.js";
import { provideNodeWebgpu } from "./helpers/webgpu.js";

const noAdapter = await provideNodeWebgpu();
if (noAdapter) console.log(`backend-webgpu.test.ts skipped: ${noAdapter}`);

const model: ModelConfig = {
  network: { kind: "mlp", dataDim: 2, hidden: 32, layers: 2, timeEmbedding: 16, residual: true, norm: "layernorm" },
  prediction: "eps",
  schedule: { kind: "linear", steps: 100 },
};
const schedule = makeSchedule(model.schedule);
const B = 64;
const STEPS = 5;
const LR = 0.05;

/** Host data: two clusters in R², fixed (no PRNG involved). */
const x0Host = Float32Array.from({ length: 2 * B }, (_, i) => {
  const row = i >> 1;
  const centre = row % 2 === 0 ? 1.5 : -1.5;
  return centre + 0.25 * Math.sin(1.7 * i + 0.3);
});

/**
 * The jitted SGD step. Made once per device: a jitted function keeps the constants of its first trace
 * on the device of that trace (and so does the ε̂ function `modelEps` caches per network spec).
 */
function sgdStepFor(m: ModelConfig) {
  return jit((p: DenoiserParams, x0: JArray, alphaBars: JArray, key: JArray, lr: JArray) => {
    const [loss, grads] = valueAndGrad((q: DenoiserParams) => denoisingLoss(m, q, { x0, alphaBars, key }))(tree.ref(p));
    const next = tree.map((w: JArray, g: JArray) => w.sub(g.mul(lr.ref)), p, grads);
    lr.dispose();
    return [next, loss] as [DenoiserParams, JArray];
  });
}

async function paramsToHostAsync(p: DenoiserParams): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, leaf] of namedLeaves(p)) out.set(name, await toHost(leaf.ref));
  return out;
}

/**
 * jax-js's `random.normal(key, [n])` computed on the host in float64 from the host threefry:
 * (k1, k2) = split(key), u = (bits >>> 9)·2⁻²³ (its `uniform`), z = √(−2 log1p(−u1)) · cos(2π u2).
 * Also returns the radii √(−2 log1p(−u1)).
 */
function hostNormals(k0: number, k1: number, n: number): { z: Float64Array; r: Float64Array } {
  const ks = splitWords(k0, k1, 2);
  const u = (a: number, b: number, i: number) => {
    const [x0, x1] = threefry2x32(a, b, 0, i);
    return ((x0 ^ x1) >>> 9) * 2 ** -23;
  };
  const z = new Float64Array(n);
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    r[i] = Math.sqrt(-2 * Math.log1p(-u(ks[0]!, ks[1]!, i)));
    z[i] = r[i]! * Math.cos(2 * Math.PI * u(ks[2]!, ks[3]!, i));
  }
  return { z, r };
}

const PROBE_SEED = 20260;
const N_NORMALS = 256;
const N_SAMPLES = 32;

interface Run {
  losses: number[];
  trained: Map<string, Float32Array>;
  samples: Float32Array;
  normals: Float32Array;
  splitWordsOnDevice: Uint32Array;
  bits: number;
}

/**
 * Everything on `device`, every read asynchronous; keys come from host words only. The initial
 * parameters and x_T are uploaded from the host (the same bits on both devices).
 */
async function runOn(device: BackendDevice, initial: Map<string, Float32Array>, template: DenoiserParams, xT: Float32Array): Promise<Run> {
  await ensureBackend({ device });
  expect(backendDevice()).toBe(device);
  // PRNG on the device: a split, random bits and normals, to compare with the host's threefry.
  const probe = keyFromSeed(PROBE_SEED);
  expect(probe.device).toBe(device);
  const splitWordsOnDevice = Uint32Array.from((await random.split(probe.ref, 6).data()) as ArrayLike<number>);
  const bits = Number((await random.bits(probe.ref, [1]).data())[0]);
  const normals = await toHost(random.normal(probe, [N_NORMALS]));

  const m = structuredClone(model);
  const sgdStep = sgdStepFor(m);
  const tensors = new Map([...initial].map(([name, data]) => [name, { shape: namedLeaves(template).get(name)!.shape, data }]));
  let params = paramsFromHost(template, tensors, "initial parameters");
  expect(namedLeaves(params).get("input.w")!.device).toBe(device);
  const keys = splitKeyWords(keyFromSeed(2), STEPS);
  const losses: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    let loss: JArray;
    [params, loss] = sgdStep(params, np.array(x0Host, { shape: [B, 2] }), np.array(Float32Array.from(schedule.alphaBars)), keyAt(keys, i), scalar(LR));
    losses.push(await toNumberAsync(loss));
  }
  const trained = await paramsToHostAsync(params);

  // A deterministic DDIM chain (η = 0) on the trained network: x_{s} = a·x_t + b·ε̂(x_t, t) with
  // a = √ᾱ_s/√ᾱ_t, b = √(1−ᾱ_s) − √ᾱ_s·√(1−ᾱ_t)/√ᾱ_t (x̂₀ = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t).
  const eps = modelEps(m, params);
  const grid = [99, 79, 59, 39, 19, 0];
  let x = np.array(xT, { shape: [N_SAMPLES, 2] });
  for (let k = 0; k < grid.length; k++) {
    const t = grid[k]!;
    const abT = schedule.alphaBars[t]!;
    const abS = k + 1 < grid.length ? schedule.alphaBars[grid[k + 1]!]! : 1;
    const a = Math.sqrt(abS) / Math.sqrt(abT);
    const b = Math.sqrt(1 - abS) - (Math.sqrt(abS) * Math.sqrt(1 - abT)) / Math.sqrt(abT);
    const e = eps(x.ref, { index: t, alphaBar: abT });
    x = x.mul(scalar(a)).add(e.mul(scalar(b)));
    await settleAsync(x);
  }
  const samples = await toHost(x);
  tree.dispose(params);
  return { losses, trained, samples, normals, splitWordsOnDevice, bits };
}

/** The library's loops: Adam + clipping + EMA on a constant rate, 5 steps; a 6-step DDIM (η = 0) chain. */
const libTrain: TrainConfig = { ...defaultTrainConfig, steps: STEPS, batchSize: B, learningRate: 1e-2, lrSchedule: "constant", ema: 0.5 };
const libPlan = samplerPlan(schedule, { sampler: "ddim", steps: 6, eta: 0 });

interface LibraryRun {
  initial: Map<string, Float32Array>;
  trained: Map<string, Float32Array>;
  ema: Map<string, Float32Array>;
  losses: number[];
  samples: Float32Array;
}

const hostValues = async (p: DenoiserParams) => new Map([...(await paramsToHost(p))].map(([k, t]) => [k, t.data]));

/**
 * `initTrainState` + `trainSteps` + `sample` on `device`, from seeds only: the initial weights, the
 * batches' noise and x_T are all drawn on that device. The same `model` object serves both devices,
 * so the library's compiled-function caches must hold one entry per device.
 */
async function libraryRunOn(device: BackendDevice, seed: number): Promise<LibraryRun> {
  await ensureBackend({ device });
  const state0 = initTrainState(model, keyFromSeed(seed));
  expect(namedLeaves(state0.params).get("input.w")!.device).toBe(device);
  const initial = await hostValues(state0.params);
  const state = await trainSteps(model, libTrain, state0, { x: hostMatrix(B, 2, x0Host) }, { logEvery: 1 });
  const trained = await hostValues(state.params);
  const ema = await hostValues(state.ema);
  const x = await sample({ model: modelOutput(model, state.ema), plan: libPlan, n: N_SAMPLES, eventShape: [2], key: keyFromSeed(seed + 1) });
  expect(x.device).toBe(device);
  const samples = await toHost(x);
  disposeTrainState(state);
  return { initial, trained, ema, losses: state.losses.map((l) => l.loss), samples };
}

/** max |a − b| / max(1, max |b|). */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let err = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / scale;
}

describe.skipIf(noAdapter !== undefined)("webgpu vs wasm", () => {
  it("a training step and a DDIM chain agree to float32 tolerance; PRNG bits are identical", async () => {
    await ensureBackend({ device: "wasm" });
    const template = initDenoiser(keyFromSeed(1), model.network);
    const initial = await paramsToHostAsync(template);
    const xT = Float32Array.from(hostNormals(0, 7, 2 * N_SAMPLES).z);
    const wasm = await runOn("wasm", initial, template, xT);
    const gpu = await runOn("webgpu", initial, template, xT);
    await ensureBackend({ device: "wasm" });
    tree.dispose(template);

    // The PRNG bits: identical on both devices and equal to the host threefry.
    const host = splitWords(0, PROBE_SEED, 6);
    expect(Array.from(wasm.splitWordsOnDevice)).toEqual(Array.from(host));
    expect(Array.from(gpu.splitWordsOnDevice)).toEqual(Array.from(host));
    expect(wasm.bits).toBe(bitsWord(0, PROBE_SEED));
    expect(gpu.bits).toBe(bitsWord(0, PROBE_SEED));
    // Normals from those bits on the GPU, against the float64 host value: within the precision
    // WebGPU/Vulkan grant cos (absolute 2⁻¹¹), times the radius, plus float32 rounding.
    const exact = hostNormals(0, PROBE_SEED, N_NORMALS);
    for (let i = 0; i < N_NORMALS; i++) {
      expect(Math.abs(gpu.normals[i]! - exact.z[i]!)).toBeLessThan(exact.r[i]! * 2 ** -11 + 1e-5);
    }

    // Training and sampling. Tolerance 1e-3 (relative to max(1, |value|)): float32 rounding of each op
    // (6e-8) over a few hundred ops per value is far below it; what dominates on the GPU is the
    // precision of its transcendental functions: the normals ε of the loss (above) and the sin/cos of
    // the time embedding, each accurate to 2⁻¹¹ ≈ 5e-4 absolute.
    for (let i = 0; i < STEPS; i++) expect(Math.abs(gpu.losses[i]! - wasm.losses[i]!)).toBeLessThan(1e-3 * Math.max(1, wasm.losses[i]!));
    for (const [name, w] of wasm.trained) expect(relErr(gpu.trained.get(name)!, w), name).toBeLessThan(1e-3);
    expect(relErr(gpu.samples, wasm.samples)).toBeLessThan(1e-3);
    // The comparison is not vacuous: training moved the parameters, and sampling moved x_T.
    expect(relErr(wasm.trained.get("output.b")!, initial.get("output.b")!)).toBeGreaterThan(1e-3);
    expect(relErr(wasm.samples, xT)).toBeGreaterThan(0.1);
  });

  it("the library's training loop (initTrainState, trainSteps) and sampling loop (sample) agree with wasm", async () => {
    const wasm = await libraryRunOn("wasm", 11);
    const gpu = await libraryRunOn("webgpu", 11);
    // And back: the caches built on webgpu do not leak into a later wasm run.
    const wasmAgain = await libraryRunOn("wasm", 11);
    await ensureBackend({ device: "wasm" });
    for (const [name, w] of wasm.trained) expect(Array.from(wasmAgain.trained.get(name)!), name).toEqual(Array.from(w));
    expect(Array.from(wasmAgain.samples)).toEqual(Array.from(wasm.samples));

    // Tolerance 1e-3 of max(1, |value|), as for the raw kernels above: every value here starts from
    // device normals (initial weights W = z/√fan_in, the training noise, x_T) and time-embedding sin/cos,
    // which the GPU computes to about 2⁻¹¹ ≈ 5e-4 absolute; float32 rounding of the ops after that is
    // far smaller.
    const tol = 1e-3;
    expect(wasm.losses).toHaveLength(STEPS);
    for (let i = 0; i < STEPS; i++) expect(Math.abs(gpu.losses[i]! - wasm.losses[i]!)).toBeLessThan(tol * Math.max(1, wasm.losses[i]!));
    for (const [name, w] of wasm.initial) expect(relErr(gpu.initial.get(name)!, w), `initial ${name}`).toBeLessThan(tol);
    for (const [name, w] of wasm.trained) expect(relErr(gpu.trained.get(name)!, w), `params ${name}`).toBeLessThan(tol);
    for (const [name, w] of wasm.ema) expect(relErr(gpu.ema.get(name)!, w), `ema ${name}`).toBeLessThan(tol);
    expect(relErr(gpu.samples, wasm.samples)).toBeLessThan(tol);

    // Not vacuous: Adam moved every leaf by ≈ lr per step, far above the tolerance, and a different
    // seed gives samples far outside it.
    for (const [name, w] of wasm.trained) expect(relErr(w, wasm.initial.get(name)!), `moved ${name}`).toBeGreaterThan(5 * tol);
    const other = await libraryRunOn("wasm", 12);
    expect(relErr(other.samples, wasm.samples)).toBeGreaterThan(10 * tol);
  });

  it("synchronous reads of webgpu arrays throw; jit still inlines scalar constants; keys read asynchronously", async () => {
    await ensureBackend({ device: "webgpu" });
    try {
      const x = np.array(new Float32Array(256).fill(2), { shape: [256] });
      expect(() => toHostSync(x.ref)).toThrow(/synchronous read of a webgpu array/);
      expect(() => toNumber(x.ref)).toThrow(/synchronous read of a webgpu array/);
      expect(() => x.ref.dataSync()).toThrow(/synchronous read of a webgpu array/);
      expect(() => x.ref.mul(3).dataSync()).toThrow(/synchronous read of a webgpu array/);
      // A scalar constant inside a jitted function is read synchronously by jax-js on its host backend.
      const f = jit((a: JArray) => a.mul(np.array(0.5)).add(np.array(1)));
      const y = await toHost(f(x));
      expect(Array.from(y).every((v) => v === 2)).toBe(true);
      // A key made on the device (no host words): read asynchronously, not synchronously.
      const deviceKey = random.split(keyFromSeed(9), 2).slice(1);
      expect(() => splitKeyWords(deviceKey.ref, 2)).toThrow(/synchronous read of a webgpu array/);
      deviceKey.dispose(); // the reference the failed split did not consume
      const words = await keyToWordsAsync(deviceKey);
      expect(words).toEqual(Array.from(splitWords(0, 9, 2).slice(2, 4)));
      // Once read, its words are known: splitting needs no read.
      expect(Array.from(splitKeyWords(deviceKey, 3))).toEqual(Array.from(splitWords(words[0], words[1], 3)));
    } finally {
      await ensureBackend({ device: "wasm" });
    }
  });
});
