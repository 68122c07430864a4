/**
 * ε / x_0 / v conversions (Salimans & Ho 2022) against float64 formulas written here:
 *   x_t = √ᾱ x_0 + √(1−ᾱ) ε,  v = √ᾱ ε − √(1−ᾱ) x_0.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, np, toHostSync, type JArray } from "../src/backend/index.js";
import {
  epsFromOutput,
  noised,
  targetFor,
  x0FromEps,
  x0FromOutput,
  type Prediction,
} from "../src/diffusion/parameterization.js";

beforeAll(ensureBackend);

/** A small deterministic float64 generator of standard normals (Box–Muller on an LCG). */
function normals(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

const N = 6;
const D = 3;
const dev = (a: ArrayLike<number>, shape = [N, D]): JArray => np.array(Float32Array.from(a), { shape });

function expectClose(got: Float32Array, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]!)));
}

const x0 = normals(N * D, 1);
const eps = normals(N * D, 2);
const xtOf = (ab: number) => x0.map((v, i) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * eps[i]!);
const vOf = (ab: number) => eps.map((e, i) => Math.sqrt(ab) * e - Math.sqrt(1 - ab) * x0[i]!);

/** ᾱ per sample for the array-coefficient tests ([N, 1], broadcast over D). */
const abRows = [0.9999, 0.98, 0.7, 0.3, 0.02, 4e-5];
const perRow = (f: (ab: number, i: number) => number) => Float64Array.from({ length: N * D }, (_, k) => f(abRows[Math.floor(k / D)]!, k));

describe("noised() and targetFor()", () => {
  for (const ab of [0.999, 0.5, 0.01]) {
    it(`x_t = √ᾱ x_0 + √(1−ᾱ) ε and the regression targets at ᾱ = ${ab}`, () => {
      expectClose(toHostSync(noised(dev(x0), dev(eps), ab)), xtOf(ab), 1e-6);
      expectClose(toHostSync(targetFor("eps", dev(x0), dev(eps), ab)), Float32Array.from(eps), 0);
      expectClose(toHostSync(targetFor("x0", dev(x0), dev(eps), ab)), Float32Array.from(x0), 0);
      expectClose(toHostSync(targetFor("v", dev(x0), dev(eps), ab)), vOf(ab), 1e-6);
    });
  }

  it("accepts a per-sample ᾱ array [n, 1] (consumed)", () => {
    const abArr = () => dev(abRows, [N, 1]);
    const wantXt = perRow((ab, k) => Math.sqrt(ab) * x0[k]! + Math.sqrt(1 - ab) * eps[k]!);
    const wantV = perRow((ab, k) => Math.sqrt(ab) * eps[k]! - Math.sqrt(1 - ab) * x0[k]!);
    expectClose(toHostSync(noised(dev(x0), dev(eps), abArr())), wantXt, 1e-6);
    expectClose(toHostSync(targetFor("v", dev(x0), dev(eps), abArr())), wantV, 1e-6);
    expectClose(toHostSync(targetFor("eps", dev(x0), dev(eps), abArr())), Float32Array.from(eps), 0);
  });

  it("(x_t, v) is (x_0, ε) rotated: v² + x_t² = ε² + x_0² per coordinate", () => {
    // (√ᾱ ε − √(1−ᾱ) x0)² + (√ᾱ x0 + √(1−ᾱ) ε)² = ε² + x0² : a rotation by angle φ, cos φ = √ᾱ.
    const ab = 0.37;
    const v = toHostSync(targetFor("v", dev(x0), dev(eps), ab));
    const xt = toHostSync(noised(dev(x0), dev(eps), ab));
    for (let i = 0; i < v.length; i++) expect(v[i]! ** 2 + xt[i]! ** 2).toBeCloseTo(eps[i]! ** 2 + x0[i]! ** 2, 4);
  });
});

describe("conversions between predictions are exact", () => {
  const outputs: Record<Prediction, (ab: number) => Float64Array> = { eps: () => eps, x0: () => x0, v: vOf };
  for (const ab of [0.9999, 0.9, 0.5, 0.05, 4e-3]) {
    for (const kind of ["eps", "x0", "v"] as const) {
      it(`${kind} output at ᾱ = ${ab} → ε̂ = ε and x̂_0 = x_0`, () => {
        const xt = xtOf(ab);
        const out = outputs[kind](ab);
        // Error budget: float32 rounding amplified by 1/√ᾱ (x̂_0 from ε) or 1/√(1−ᾱ) (ε from x̂_0).
        const amp = 1 / Math.sqrt(Math.min(ab, 1 - ab));
        expectClose(toHostSync(epsFromOutput(kind, dev(xt), dev(out), ab)), eps, 4e-7 * amp + 1e-6);
        expectClose(toHostSync(x0FromOutput(kind, dev(xt), dev(out), ab)), x0, 4e-7 * amp + 1e-6);
      });
    }
  }

  it("with per-sample ᾱ arrays", () => {
    const xt = perRow((ab, k) => Math.sqrt(ab) * x0[k]! + Math.sqrt(1 - ab) * eps[k]!);
    const v = perRow((ab, k) => Math.sqrt(ab) * eps[k]! - Math.sqrt(1 - ab) * x0[k]!);
    const ab = () => dev(abRows, [N, 1]);
    for (const [kind, out] of [["eps", eps], ["x0", x0], ["v", v]] as const) {
      expectClose(toHostSync(epsFromOutput(kind, dev(xt), dev(out), ab())), eps, 2e-4);
      expectClose(toHostSync(x0FromOutput(kind, dev(xt), dev(out), ab())), x0, 2e-4);
    }
  });

  it("round trip ε → x̂_0 → ε → v → ε at random ᾱ", () => {
    for (const ab of [0.8, 0.2]) {
      const xt = xtOf(ab);
      // x̂_0 from ε (Tweedie), then back to ε via an "x0" output, then v from the formula, then back.
      const x0hat = x0FromEps(dev(xt), dev(eps), ab);
      const eps2 = epsFromOutput("x0", dev(xt), x0hat, ab);
      const e2 = toHostSync(eps2);
      expectClose(e2, eps, 1e-5);
      const x0b = toHostSync(x0FromOutput("eps", dev(xt), dev(e2), ab));
      const v = targetFor("v", dev(x0b), dev(e2), ab);
      expectClose(toHostSync(epsFromOutput("v", dev(xt), v, ab)), eps, 1e-5);
    }
  });

  it("Tweedie: x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ for an arbitrary ε̂ (not the true noise)", () => {
    const ab = 0.42;
    const xt = normals(N * D, 7);
    const e = normals(N * D, 8);
    const want = xt.map((x, i) => (x - Math.sqrt(1 - ab) * e[i]!) / Math.sqrt(ab));
    expectClose(toHostSync(x0FromEps(dev(xt), dev(e), ab)), want, 1e-6);
  });
});
