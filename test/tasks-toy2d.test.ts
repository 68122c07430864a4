import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed } from "../src/backend/index.js";
import { TOY2D_NAMES, toy2dRawMoments, toy2dTask } from "../src/tasks/toy2d.js";

beforeAll(async () => {
  await ensureBackend();
});

const N = 20000;

/** Column j of an n×2 matrix as JS numbers. */
function column(data: Float32Array, j: number): number[] {
  return Array.from({ length: data.length / 2 }, (_, i) => data[2 * i + j]!);
}

describe("toy2dTask", () => {
  it("rejects an unknown name, listing the known ones", () => {
    expect(() => toy2dTask("spirals")).toThrow(/unknown toy2d data set "spirals"; known: moons, 8gaussians, swissroll, checkerboard/);
  });

  it("is reproducible from its key and differs across keys", async () => {
    const t = toy2dTask("moons");
    const a = (await t.sample(keyFromSeed(3), 50)).data;
    const b = (await t.sample(keyFromSeed(3), 50)).data;
    const c = (await t.sample(keyFromSeed(4), 50)).data;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  for (const name of TOY2D_NAMES) {
    it(`${name}: standardised to mean 0 and unit variance per coordinate (within 4 standard errors)`, async () => {
      const x = await toy2dTask(name).sample(keyFromSeed(11), N);
      expect(x.rows).toBe(N);
      expect(x.cols).toBe(2);
      for (let j = 0; j < 2; j++) {
        const v = column(x.data, j);
        const m = v.reduce((s, a) => s + a, 0) / N;
        const m2 = v.reduce((s, a) => s + (a - m) ** 2, 0) / N;
        const m4 = v.reduce((s, a) => s + (a - m) ** 4, 0) / N;
        expect(Math.abs(m)).toBeLessThan(4 * Math.sqrt(m2 / N));
        // Standard error of the sample variance: √((μ₄ − σ⁴)/n).
        expect(Math.abs(m2 - 1)).toBeLessThan(4 * Math.sqrt((m4 - m2 * m2) / N));
      }
    });
  }

  it("raw moments agree with Simpson quadrature of the defining laws", () => {
    /** ∫_lo^hi f(t) dt / (hi − lo) by composite Simpson with 20000 panels. */
    const average = (f: (t: number) => number, lo: number, hi: number) => {
      const n = 20000;
      const h = (hi - lo) / n;
      let s = f(lo) + f(hi);
      for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(lo + i * h);
      return (s * h) / 3 / (hi - lo);
    };
    const meanSd = (f: (t: number) => number, lo: number, hi: number, noise: number) => {
      const m = average(f, lo, hi);
      return [m, Math.sqrt(average((t) => (f(t) - m) ** 2, lo, hi) + noise ** 2)] as const;
    };
    // swissroll: (t cos t, t sin t) + N(0, 1), t ~ U[1.5π, 4.5π].
    const sw = toy2dRawMoments("swissroll");
    const [mx, sx] = meanSd((t) => t * Math.cos(t), 1.5 * Math.PI, 4.5 * Math.PI, 1);
    const [my, sy] = meanSd((t) => t * Math.sin(t), 1.5 * Math.PI, 4.5 * Math.PI, 1);
    expect(sw.mean[0]).toBeCloseTo(mx, 8);
    expect(sw.mean[1]).toBeCloseTo(my, 8);
    expect(sw.std[0]).toBeCloseTo(sx, 8);
    expect(sw.std[1]).toBeCloseTo(sy, 8);
    // moons: half the mass on (cos t, sin t), half on (1 − cos t, ½ − sin t), t ~ U[0, π], noise 0.03.
    const mo = toy2dRawMoments("moons");
    const e = (f: (t: number) => number) => average(f, 0, Math.PI);
    const ex = 0.5 * e(Math.cos) + 0.5 * e((t) => 1 - Math.cos(t));
    const ey = 0.5 * e(Math.sin) + 0.5 * e((t) => 0.5 - Math.sin(t));
    const vx = 0.5 * e((t) => Math.cos(t) ** 2) + 0.5 * e((t) => (1 - Math.cos(t)) ** 2) - ex * ex + 0.03 ** 2;
    const vy = 0.5 * e((t) => Math.sin(t) ** 2) + 0.5 * e((t) => (0.5 - Math.sin(t)) ** 2) - ey * ey + 0.03 ** 2;
    expect(mo.mean[0]).toBeCloseTo(ex, 8);
    expect(mo.mean[1]).toBeCloseTo(ey, 8);
    expect(mo.std[0]).toBeCloseTo(Math.sqrt(vx), 8);
    expect(mo.std[1]).toBeCloseTo(Math.sqrt(vy), 8);
  });

  it("checkerboard: every point lies in a dark cell of the [−4, 4]² board", async () => {
    const x = await toy2dTask("checkerboard").sample(keyFromSeed(5), 5000);
    const { std } = toy2dRawMoments("checkerboard");
    let bad = 0;
    for (let i = 0; i < x.rows; i++) {
      const a = x.data[2 * i]! * std[0];
      const b = x.data[2 * i + 1]! * std[1];
      expect(Math.abs(a)).toBeLessThanOrEqual(4 + 1e-5);
      expect(Math.abs(b)).toBeLessThanOrEqual(4 + 1e-5);
      if ((((Math.floor(a / 2) + Math.floor(b / 2)) % 2) + 2) % 2 !== 0) bad++;
    }
    expect(bad).toBeLessThanOrEqual(5); // float32 rounding on cell edges only
  });

  it("8gaussians: eight equally likely clusters with std 0.5/1.414 around centres of radius 4/1.414", async () => {
    const x = await toy2dTask("8gaussians").sample(keyFromSeed(6), N);
    const { std } = toy2dRawMoments("8gaussians");
    const R = 4 / 1.414;
    const counts = new Array<number>(8).fill(0);
    let sq = 0;
    for (let i = 0; i < x.rows; i++) {
      const a = x.data[2 * i]! * std[0];
      const b = x.data[2 * i + 1]! * std[1];
      let best = Infinity;
      let arg = 0;
      for (let k = 0; k < 8; k++) {
        const d2 = (a - R * Math.cos((k * Math.PI) / 4)) ** 2 + (b - R * Math.sin((k * Math.PI) / 4)) ** 2;
        if (d2 < best) [best, arg] = [d2, k];
      }
      counts[arg]!++;
      sq += best;
    }
    const p = 1 / 8;
    for (const c of counts) expect(Math.abs(c - N * p)).toBeLessThan(4 * Math.sqrt(N * p * (1 - p)));
    // Per-coordinate within-cluster variance ≈ (0.5/1.414)² (chi-square with 2N dof: relative se √(1/N)).
    const within = sq / (2 * N);
    expect(Math.abs(within / (0.5 / 1.414) ** 2 - 1)).toBeLessThan(4 * Math.sqrt(1 / N) + 0.01);
  });

  it("moons: points lie on the two unit half-circles with noise 0.03", async () => {
    const x = await toy2dTask("moons").sample(keyFromSeed(7), 5000);
    const { mean, std } = toy2dRawMoments("moons");
    let sq = 0;
    let upper = 0;
    for (let i = 0; i < x.rows; i++) {
      const a = x.data[2 * i]! * std[0] + mean[0];
      const b = x.data[2 * i + 1]! * std[1] + mean[1];
      const outer = Math.abs(Math.hypot(a, b) - 1);
      const inner = Math.abs(Math.hypot(a - 1, b - 0.5) - 1);
      sq += Math.min(outer, inner) ** 2;
      if (outer < inner) upper++;
    }
    expect(Math.sqrt(sq / x.rows)).toBeGreaterThan(0.024);
    expect(Math.sqrt(sq / x.rows)).toBeLessThan(0.033);
    expect(Math.abs(upper / x.rows - 0.5)).toBeLessThan(0.03);
  });
});
