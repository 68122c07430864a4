/**
 * The playground's pieces in Node (docs/browser.md): the exact references (importance sampling over exact
 * draws) against closed forms of the 8-Gaussians law; the smoothed region reward on the device against its
 * float64 host twin and the values a Gaussian-smoothed indicator must take; the per-step samples the
 * guided sampler hands to `onStep`; the settings' checks; and the static server (its CSP, its refusals).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servePlayground, PLAYGROUND_CSP } from "../playground/serve.js";
import { checkSettings, methodTarget, runMethod, type RunSettings } from "../playground/src/engine.js";
import { exactReference } from "../playground/src/exact.js";
import { CELL, GRID, cellOf } from "../playground/src/grid.js";
import { hostValue, rewardPlugin } from "../playground/src/rewards.js";
import {
  disposeLoadedModel,
  ensureBackend,
  exactTiltedRewardMean,
  loadModelFromBytes,
  gaussianMixture,
  guidedSample,
  initDenoiser,
  keyFromSeed,
  modelEps,
  samplerPlan,
  makeSchedule,
  toHost,
  np,
  tree,
  type ModelConfig,
  type DeviceReward,
} from "../src/index.js";
import { EIGHT_GAUSSIANS, eightGaussiansMass } from "./helpers/eight-gaussians.js";

beforeAll(ensureBackend);

/** Points [x0, y0, x1, y1, …] as a [n, 2] device array. */
const points = (v: number[]) => np.array(new Float32Array(v), { shape: [v.length / 2, 2] });

/** The cells of the box [x0, x1) × [y0, y1) (on cell edges). */
function boxCells(x0: number, x1: number, y0: number, y1: number): number[] {
  const out: number[] = [];
  for (let y = y0 + CELL / 2; y < y1; y += CELL) for (let x = x0 + CELL / 2; x < x1; x += CELL) out.push(cellOf(x, y));
  return out;
}

describe("exact references by importance sampling over exact draws", () => {
  const cells = boxCells(0.5, 1.5, 0.5, 1.5);
  const pA = eightGaussiansMass([[0.5, 1.5, 0.5, 1.5]]);

  it("p(A) and the tilt p·exp(1_A/α) of a painted region match the closed form", async () => {
    const base = await exactReference("8gaussians", { kind: "region", cells }, { kind: "base" }, { draws: 100_000, resample: 100, seed: 3 });
    const se = Math.sqrt((pA * (1 - pA)) / 100_000);
    expect(Math.abs(base.regionMass! - pA)).toBeLessThan(4 * se);
    expect(base.ess).toBeCloseTo(100_000, 6);
    const alpha = 0.5;
    const tilt = await exactReference("8gaussians", { kind: "region", cells }, { kind: "tilt", alpha, form: "indicator" }, { draws: 100_000, resample: 100, seed: 3 });
    const want = (pA * Math.exp(1 / alpha)) / (pA * Math.exp(1 / alpha) + 1 - pA);
    expect(Math.abs(tilt.rewardMean - want)).toBeLessThan(4 * tilt.rewardSe + 1e-12);
    expect(tilt.regionMass).toBeCloseTo(tilt.rewardMean, 12);
    // p(· | A): every resampled draw lies in A; the heat map is a distribution on the pixels.
    const cond = await exactReference("8gaussians", { kind: "region", cells }, { kind: "conditional" }, { draws: 100_000, resample: 500, seed: 3 });
    expect(cond.rewardMean).toBe(1);
    for (let i = 0; i < 500; i++) expect(cells).toContain(cellOf(cond.samples.data[2 * i]!, cond.samples.data[2 * i + 1]!));
    expect(cond.heat.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  }, 60_000);

  it("E_p*[bᵀx] for a linear reward matches the Gaussian-mixture closed form", async () => {
    const angle = 0.7;
    const alpha = 0.5;
    const gm = gaussianMixture(EIGHT_GAUSSIANS.means.map((mean) => ({ weight: 1 / 8, mean, std: EIGHT_GAUSSIANS.std })));
    const want = exactTiltedRewardMean(gm, [Math.cos(angle), Math.sin(angle)], alpha);
    const ref = await exactReference("8gaussians", { kind: "linear", angle }, { kind: "tilt", alpha, form: "smooth" }, { draws: 100_000, resample: 100, seed: 4 });
    expect(Math.abs(ref.rewardMean - want)).toBeLessThan(4 * ref.rewardSe);
    expect(ref.rewardSe).toBeLessThan(0.01);
  }, 60_000);

  it("refuses a region the exact law never reaches, in one line", async () => {
    await expect(exactReference("8gaussians", { kind: "region", cells: [0] }, { kind: "conditional" }, { draws: 1000, resample: 10, seed: 1 })).rejects.toThrow(
      /^exact reference: no exact draw falls in the painted region/,
    );
  });
});

describe("rewards", () => {
  it("the smoothed region on the device equals its float64 twin, ≈ 1 inside a large region, ½ on its edge, → 0 away", async () => {
    const cells = boxCells(-2, 2, -2, 2); // 16 × 16 cells
    const spec = { kind: "region", cells } as const;
    const dev = rewardPlugin(spec, "smooth") as DeviceReward;
    expect(dev.differentiable).toBe(true);
    const host = hostValue(spec, "smooth");
    const pts = [0, 0, 2, 0, 0, -2, 2.9, 2.9, 1.3, -0.4, 3, 0];
    const got = await toHost(dev.fn(points(pts)));
    for (let i = 0; i < pts.length / 2; i++) expect(got[i]).toBeCloseTo(host(pts[2 * i]!, pts[2 * i + 1]!), 5);
    // The midpoint rule of N(0, h²I) * 1_A with h = Δ: deep inside ≈ 1, on a straight edge ½, far 0.
    expect(host(0, 0)).toBeCloseTo(1, 3);
    expect(host(2, 0)).toBeCloseTo(0.5, 3);
    expect(host(3, 0)).toBeLessThan(0.01);
    // The indicator form: 1 in the painted cells, 0 elsewhere; the host plug-in agrees.
    const ind = hostValue(spec, "indicator");
    expect([ind(0, 0), ind(1.99, -1.99), ind(2.01, 0), ind(-2.01, 0)]).toEqual([1, 1, 0, 0]);
  });

  it("linear and radial rewards on the device equal their definitions", async () => {
    const pts = [0.5, -1, 2, 0.25];
    const lin = await toHost((rewardPlugin({ kind: "linear", angle: Math.PI / 3 }, "smooth") as DeviceReward).fn(points(pts)));
    expect(lin[0]).toBeCloseTo(0.5 * 0.5 - Math.sin(Math.PI / 3), 6);
    const rad = await toHost((rewardPlugin({ kind: "radial", center: [1, 1] }, "indicator") as DeviceReward).fn(points(pts)));
    expect(rad[1]).toBeCloseTo(-0.5 * (1 + 0.5625), 6);
  });
});

describe("DRaFT in the playground", () => {
  it("a short fine-tune moves the mean reward most of the way to the exact tilt E_p*[bᵀx]", async () => {
    const model = await loadModelFromBytes(new Uint8Array(readFileSync("playground/models/8gaussians.safetensors")), readFileSync("playground/models/8gaussians.json", "utf8"));
    try {
      const angle = 0.7;
      const alpha = 0.5;
      const s: RunSettings = { task: "8gaussians", method: "draft", reward: { kind: "linear", angle }, alpha, scale: 1, start: 0, candidates: 8, finetuneSteps: 20, steps: 10, n: 500, seed: 0 };
      const gm = gaussianMixture(EIGHT_GAUSSIANS.means.map((mean) => ({ weight: 1 / 8, mean, std: EIGHT_GAUSSIANS.std })));
      const exact = exactTiltedRewardMean(gm, [Math.cos(angle), Math.sin(angle)], alpha);
      const plain = await runMethod(model, { ...s, method: "none" });
      const progress: number[] = [];
      const frames: number[] = [];
      const tuned = await runMethod(model, s, (f) => frames.push(f.step), (p) => progress.push(p.step));
      expect(progress).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(frames).toEqual([10]);
      expect(Math.abs(tuned.rewardMean - exact)).toBeLessThan(0.35 * Math.abs(plain.rewardMean - exact));
      expect(tuned.pathKl!).toBeGreaterThan(0);
      console.log(`playground draft: mean reward ${plain.rewardMean.toFixed(3)} → ${tuned.rewardMean.toFixed(3)} (exact ${exact.toFixed(3)}), path KL ${tuned.pathKl!.toFixed(3)}, ${tuned.predictorSeconds!.toFixed(1)} s`);
    } finally {
      disposeLoadedModel(model);
    }
  }, 60_000);
});

describe("the guided sampler's onStep", () => {
  it("hands over x_s after every step; the last one is the returned sample", async () => {
    const model: ModelConfig = {
      network: { kind: "mlp", dataDim: 2, hidden: 16, layers: 2, timeEmbedding: 14, residual: true, norm: "none" },
      prediction: "eps",
      schedule: { kind: "linear", steps: 100 },
    };
    const params = initDenoiser(keyFromSeed(1), model.network);
    const frames: Float32Array[] = [];
    const pending: Promise<void>[] = [];
    const out = await guidedSample({
      eps: modelEps(model, params),
      plan: samplerPlan(makeSchedule(model.schedule), { sampler: "ddim", steps: 5, eta: 1 }),
      terms: [],
      n: 6,
      dim: 2,
      key: keyFromSeed(2),
      onStep: (done, total, info) => {
        expect([done, total]).toEqual([pending.length + 1, 5]);
        pending.push(toHost(info.x.ref).then((x) => void (frames[done - 1] = x)));
      },
    });
    await Promise.all(pending);
    const x = await toHost(out.x);
    expect(frames).toHaveLength(5);
    expect(frames[4]).toEqual(x);
    expect(frames[3]).not.toEqual(x);
    tree.dispose(params);
  });
});

describe("settings", () => {
  const ok: RunSettings = { task: "8gaussians", method: "svdd", reward: { kind: "region", cells: [300] }, alpha: 0.1, scale: 1, start: 0, candidates: 8, finetuneSteps: 10, steps: 20, n: 100, seed: 0 };
  it("are checked before any work, each problem in one line", () => {
    expect(() => checkSettings(ok)).not.toThrow();
    expect(() => checkSettings({ ...ok, reward: { kind: "region", cells: [] } })).toThrow(/^reward: paint a region on the canvas first/);
    expect(() => checkSettings({ ...ok, reward: { kind: "region", cells: [GRID * GRID] } })).toThrow(/^reward: painted cell 576 is outside the 24×24 grid$/);
    expect(() => checkSettings({ ...ok, alpha: 0 })).toThrow(/^α must be a number > 0, got 0$/);
    expect(() => checkSettings({ ...ok, start: 1 })).toThrow(/^guide from must be a fraction of the chain in \[0, 1\), got 1$/);
    expect(() => checkSettings({ ...ok, steps: 1.5 })).toThrow(/^steps must be a whole number in \[2, 1000\], got 1.5$/);
    expect(() => checkSettings({ ...ok, method: "cfg" as RunSettings["method"] })).toThrow(/^method must be one of none, dps, xt-gradient, classifier, svdd, best-of-n, draft, got "cfg"$/);
  });
  it("name the law each method aims at", () => {
    expect(methodTarget({ ...ok, method: "none" })).toEqual({ kind: "base" });
    expect(methodTarget({ ...ok, method: "dps" })).toEqual({ kind: "tilt", alpha: 0.1, form: "smooth" });
    expect(methodTarget({ ...ok, method: "svdd" })).toEqual({ kind: "tilt", alpha: 0.1, form: "indicator" });
    expect(methodTarget({ ...ok, method: "classifier" })).toEqual({ kind: "conditional" });
    expect(methodTarget({ ...ok, method: "draft" })).toEqual({ kind: "tilt", alpha: 0.1, form: "smooth" });
    expect(methodTarget({ ...ok, method: "classifier", reward: { kind: "linear", angle: 0 } })).toEqual({ kind: "tilt", alpha: 0.1, form: "indicator" });
  });
});

describe("the static server", () => {
  const dir = mkdtempSync(join(tmpdir(), "rewardiff-serve-"));
  let server: Server;
  let url: string;
  beforeAll(async () => {
    writeFileSync(join(dir, "index.html"), "<!doctype html><p>hi</p>");
    writeFileSync(join(dir, "m.safetensors"), new Uint8Array([1, 2, 3]));
    ({ server, url } = await servePlayground(dir));
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the site on 127.0.0.1 with its CSP (wasm-unsafe-eval, nothing inline) and refuses what is not a file of it", async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toBe(PLAYGROUND_CSP);
    expect(PLAYGROUND_CSP).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(PLAYGROUND_CSP).not.toMatch(/unsafe-inline|'unsafe-eval'/);
    const bytes = await fetch(`${url}m.safetensors`);
    expect(new Uint8Array(await bytes.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect((await fetch(`${url}missing.js`)).status).toBe(404);
    // A client that does not normalise the path (fetch would): encoded slashes climbing out of the site.
    const climb = await new Promise<number>((resolve, reject) => get(`${url}..%2f..%2f..%2fetc%2fpasswd`, (res) => (res.resume(), resolve(res.statusCode!))).on("error", reject));
    expect(climb).toBe(403);
    expect((await fetch(url, { method: "POST" })).status).toBe(405);
  });
});
