import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, toHostSync, upload, wasmHeapBytes } from "../src/backend/index.js";
import { fromRows, hostMatrix } from "../src/data/matrix.js";
import {
  diffusedMixture,
  exactTiltedRewardMean,
  gaussianMixture,
  gaussianMixtureTask,
  mixtureEps,
  mixtureLogDensity,
  mixtureMoments,
  sampleMixture,
  softValue,
  softValueGrad,
  tiltLogPartition,
  tiltedMixture,
  validateMixture,
  type GaussianMixture,
} from "../src/tasks/gaussian-mixture.js";

beforeAll(async () => {
  await ensureBackend();
});

const gm = gaussianMixture([
  { weight: 2, mean: [-1, 0.5], std: 0.4 },
  { weight: 1, mean: [1.5, 1], std: 0.7 },
  { weight: 1, mean: [0, -1.5], std: 0.3 },
]);
const b = [0.8, -0.6];
const alpha = 1;

/** Hand-written fixtures.md §3 soft value in float64, straight from ρ_k, μ_k and Σ_k. */
function softValueRef(g: GaussianMixture, bb: number[], al: number, x: number[], a: number): number {
  const D = x.length;
  const nb = bb.reduce((s, v) => s + v * v, 0);
  let num = 0;
  let den = 0;
  g.weights.forEach((pi, k) => {
    const s2 = g.stds[k]! ** 2;
    const v = a * s2 + 1 - a;
    const m = g.means[k]!;
    let sq = 0;
    for (let i = 0; i < D; i++) sq += (x[i]! - Math.sqrt(a) * m[i]!) ** 2;
    const rho = pi * (2 * Math.PI * v) ** (-D / 2) * Math.exp(-sq / (2 * v));
    const mu = m.map((mi, i) => mi + (Math.sqrt(a) * s2 * (x[i]! - Math.sqrt(a) * mi)) / v);
    const sig = (s2 * (1 - a)) / v;
    const bmu = mu.reduce((s, mi, i) => s + bb[i]! * mi, 0);
    num += rho * Math.exp(bmu / al + (sig * nb) / (2 * al * al));
    den += rho;
  });
  return al * Math.log(num / den);
}

const points = [
  [0.2, 0.1],
  [-1.2, 0.8],
  [1.9, 0.4],
  [0.3, -1.7],
  [-2.5, 2.2],
].map((row) => row.map(Math.fround)); // exactly representable in the float32 host matrices
const batch = () => upload(Float32Array.from(points.flat()), points.length, 2);

describe("Gaussian mixture law", () => {
  it("normalises config weights and rejects malformed mixtures with one-line errors", () => {
    expect(gm.weights).toEqual([0.5, 0.25, 0.25]);
    expect(() => gaussianMixture([])).toThrow(/at least one component/);
    expect(() => gaussianMixture([{ weight: -1, mean: [0], std: 1 }])).toThrow(/component 1 weight must be a finite number > 0/);
    expect(() => gaussianMixture([{ weight: 1, mean: [0], std: 0 }])).toThrow(/component 1 std must be a finite number > 0/);
    expect(() =>
      gaussianMixture([
        { weight: 1, mean: [0, 0], std: 1 },
        { weight: 1, mean: [0], std: 1 },
      ]),
    ).toThrow(/component 2 mean has 1 coordinates, expected 2/);
    expect(() => validateMixture({ weights: [0.5, 0.4], means: [[0], [1]], stds: [1, 1] })).toThrow(/weights sum to 0.9/);
  });

  it("moments: hand-computed mean and covariance", () => {
    const { mean, cov } = mixtureMoments(gm);
    expect(mean[0]).toBeCloseTo(0.5 * -1 + 0.25 * 1.5, 12);
    expect(mean[1]).toBeCloseTo(0.5 * 0.5 + 0.25 * 1 + 0.25 * -1.5, 12);
    const exx = 0.5 * (1 + 0.16) + 0.25 * (2.25 + 0.49) + 0.25 * (0 + 0.09);
    const exy = 0.5 * (-1 * 0.5) + 0.25 * (1.5 * 1) + 0;
    expect(cov[0]![0]).toBeCloseTo(exx - mean[0]! ** 2, 12);
    expect(cov[0]![1]).toBeCloseTo(exy - mean[0]! * mean[1]!, 12);
  });

  it("sampling matches the exact mixture mean and covariance (4 standard errors)", async () => {
    const n = 40000;
    const x = await sampleMixture(keyFromSeed(1), gm, n);
    const { mean, cov } = mixtureMoments(gm);
    for (let i = 0; i < 2; i++) {
      const v = Array.from({ length: n }, (_, r) => x.data[2 * r + i]!);
      const mu = v.reduce((s, a) => s + a, 0) / n;
      expect(Math.abs(mu - mean[i]!)).toBeLessThan(4 * Math.sqrt(cov[i]![i]! / n));
      for (let j = 0; j < 2; j++) {
        const prod = Array.from({ length: n }, (_, r) => (x.data[2 * r + i]! - mean[i]!) * (x.data[2 * r + j]! - mean[j]!));
        const c = prod.reduce((s, a) => s + a, 0) / n;
        const sd = Math.sqrt(prod.reduce((s, a) => s + (a - c) ** 2, 0) / (n - 1));
        expect(Math.abs(c - cov[i]![j]!)).toBeLessThan(4 * (sd / Math.sqrt(n)));
      }
    }
  });

  it("log-density matches the hand-written sum of normal densities", () => {
    const got = mixtureLogDensity(gm, fromRows(points));
    points.forEach((x, r) => {
      let p = 0;
      gm.weights.forEach((w, k) => {
        const s2 = gm.stds[k]! ** 2;
        const sq = (x[0]! - gm.means[k]![0]!) ** 2 + (x[1]! - gm.means[k]![1]!) ** 2;
        p += (w / (2 * Math.PI * s2)) * Math.exp(-sq / (2 * s2));
      });
      expect(got[r]).toBeCloseTo(Math.log(p), 10);
    });
  });
});

describe("exact tilted law p* ∝ p e^{r/α}", () => {
  for (const al of [0.5, 1, 3]) {
    it(`α = ${al}: E_{p*}[r] matches self-normalised importance sampling from p (4 standard errors)`, async () => {
      const n = 100000;
      const task = gaussianMixtureTask({
        components: gm.weights.map((w, k) => ({ weight: w, mean: [...gm.means[k]!], std: gm.stds[k]! })),
        rewardWeights: b,
      });
      const r = task.reward(await task.sample(keyFromSeed(2), n));
      const rmax = Math.max(...r);
      const w = Array.from(r, (v) => Math.exp((v - rmax) / al));
      const sw = w.reduce((s, v) => s + v, 0);
      const est = w.reduce((s, v, i) => s + v * r[i]!, 0) / sw;
      // Delta-method standard error of a self-normalised IS estimate.
      const se = Math.sqrt(w.reduce((s, v, i) => s + (v * (r[i]! - est)) ** 2, 0)) / sw;
      const exact = exactTiltedRewardMean(gm, b, al);
      expect(task.exactRewardMean(al)).toBe(exact);
      expect(Math.abs(est - exact)).toBeLessThan(4 * se);
      // log Z by Monte Carlo: log mean e^{r/α}.
      const logZmc = rmax / al + Math.log(sw / n);
      expect(Math.abs(logZmc - tiltLogPartition(gm, b, al))).toBeLessThan(4 * (se / al) + 0.01);
    });
  }

  it("the tilted mixture's density equals p e^{r/α}/Z pointwise (Z from the π'_k normaliser)", () => {
    const t = tiltedMixture(gm, b, alpha);
    const lp = mixtureLogDensity(gm, fromRows(points));
    const lt = mixtureLogDensity(t, fromRows(points));
    const nb = b[0]! ** 2 + b[1]! ** 2;
    const logZ = Math.log(
      gm.weights.reduce((s, w, k) => s + w * Math.exp((b[0]! * gm.means[k]![0]! + b[1]! * gm.means[k]![1]!) / alpha + (gm.stds[k]! ** 2 * nb) / (2 * alpha ** 2)), 0),
    );
    points.forEach((x, i) => expect(lt[i]).toBeCloseTo(lp[i]! + (b[0]! * x[0]! + b[1]! * x[1]!) / alpha - logZ, 9));
  });
});

describe("mixtureEps", () => {
  it("equals −√(1−ᾱ) × the finite-difference gradient of the host log-density of p_t", () => {
    for (const a of [0.05, 0.5, 0.95]) {
      const got = toHostSync(mixtureEps(gm)(batch(), { index: 0, alphaBar: a }));
      const pt = diffusedMixture(gm, a);
      const h = 1e-3;
      points.forEach((x, r) => {
        for (let i = 0; i < 2; i++) {
          const up = [...x];
          const dn = [...x];
          up[i]! += h;
          dn[i]! -= h;
          const [lu, ld] = mixtureLogDensity(pt, fromRows([up, dn]));
          const fd = (lu! - ld!) / (Math.fround(up[i]!) - Math.fround(dn[i]!)); // the float32 step actually taken
          expect(got[2 * r + i]!).toBeCloseTo(-Math.sqrt(1 - a) * fd, 3);
        }
      });
    }
  });
});

describe("soft value v_t", () => {
  it("matches a hand-written float64 evaluation of fixtures.md §3", () => {
    for (const a of [0.1, 0.5, 0.9]) {
      const got = toHostSync(softValue(gm, b, 0.7)(batch(), a));
      points.forEach((x, r) => expect(got[r]!).toBeCloseTo(softValueRef(gm, b, 0.7, x, a), 4));
    }
  });

  it("ᾱ → 1: v_t(x) ≈ r(x) = bᵀx", () => {
    const got = toHostSync(softValue(gm, b, alpha)(batch(), 0.9999));
    points.forEach((x, r) => expect(Math.abs(got[r]! - (b[0]! * x[0]! + b[1]! * x[1]!))).toBeLessThan(2e-3));
  });

  it("ᾱ → 0: v_t(x) ≈ α log E_p[e^{r/α}], with log Z from the π'_k normaliser", () => {
    const nb = b[0]! ** 2 + b[1]! ** 2;
    const al = 0.6;
    const logZ = Math.log(
      gm.weights.reduce((s, w, k) => s + w * Math.exp((b[0]! * gm.means[k]![0]! + b[1]! * gm.means[k]![1]!) / al + (gm.stds[k]! ** 2 * nb) / (2 * al ** 2)), 0),
    );
    const got = toHostSync(softValue(gm, b, al)(batch(), 1e-6));
    for (const v of got) expect(Math.abs(v - al * logZ)).toBeLessThan(5e-3);
  });

  it("equals α (log p*_t − log p_t) + α log Z at any ᾱ (p*_t: the diffused tilted mixture)", () => {
    const a = 0.4;
    const got = toHostSync(softValue(gm, b, alpha)(batch(), a));
    const lps = mixtureLogDensity(diffusedMixture(tiltedMixture(gm, b, alpha), a), fromRows(points));
    const lp = mixtureLogDensity(diffusedMixture(gm, a), fromRows(points));
    const lz = tiltLogPartition(gm, b, alpha);
    points.forEach((_, r) => expect(got[r]!).toBeCloseTo(alpha * (lps[r]! - lp[r]! + lz), 4));
  });

  it("softValueGrad matches central finite differences (h = 1e-3) of the float64 soft value", () => {
    const al = 0.7;
    for (const a of [0.2, 0.8]) {
      const got = toHostSync(softValueGrad(gm, b, al)(batch(), a));
      const h = 1e-3;
      points.forEach((x, r) => {
        for (let i = 0; i < 2; i++) {
          const up = [...x];
          const dn = [...x];
          up[i]! += h;
          dn[i]! -= h;
          const fd = (softValueRef(gm, b, al, up, a) - softValueRef(gm, b, al, dn, a)) / (2 * h);
          expect(got[2 * r + i]!).toBeCloseTo(fd, 3);
        }
      });
    }
  });

  it("exact guidance: ε_p − √(1−ᾱ) ∇v_t/α equals the ε of the diffused tilted law", () => {
    const a = 0.3;
    const t = { index: 0, alphaBar: a };
    const ep = toHostSync(mixtureEps(gm)(batch(), t));
    const gv = toHostSync(softValueGrad(gm, b, alpha)(batch(), a));
    const es = toHostSync(mixtureEps(tiltedMixture(gm, b, alpha))(batch(), t));
    ep.forEach((v, i) => expect(v - (Math.sqrt(1 - a) * gv[i]!) / alpha).toBeCloseTo(es[i]!, 4));
  });

  it("rejects bad α, reward dimensions and batch shapes", () => {
    expect(() => softValue(gm, b, 0)).toThrow(/alpha must be a finite number > 0/);
    expect(() => softValue(gm, [1], 1)).toThrow(/reward weights have length 1, expected 2/);
    expect(() => softValue(gm, b, 1)(upload(new Float32Array(3), 1, 3), 0.5)).toThrow(/expected x_t of shape \[n, 2\]/);
    expect(() => mixtureLogDensity(gm, hostMatrix(1, 3))).toThrow(/expected 2 columns, got 3/);
  });
});

describe("device memory", () => {
  it("mixtureEps, softValue and softValueGrad release every temporary (wasm heap stays flat)", async () => {
    const x = await sampleMixture(keyFromSeed(9), gm, 4000);
    const eps = mixtureEps(gm);
    const v = softValue(gm, b, 0.5);
    const g = softValueGrad(gm, b, 0.5);
    const round = (i: number) => {
      const a = 0.05 + (0.9 * (i % 10)) / 10;
      toHostSync(eps(upload(x.data, x.rows, 2), { index: 0, alphaBar: a }));
      toHostSync(v(upload(x.data, x.rows, 2), a));
      toHostSync(g(upload(x.data, x.rows, 2), a));
    };
    for (let i = 0; i < 5; i++) round(i);
    const before = wasmHeapBytes();
    for (let i = 0; i < 40; i++) round(i);
    expect(wasmHeapBytes()).toBe(before);
  });
});
