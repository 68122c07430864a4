/**
 * The step's numerics for x̂_0- and v-prediction models against diffusers' formulas recomputed here in
 * float64 from the same float32 network output and x_t:
 *   x̂_0 = out (x0) or √ᾱ_t x_t − √(1−ᾱ_t) v (v);  ε̂ = (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t) or √(1−ᾱ_t) x_t + √ᾱ_t v;
 *   DDIM:  μ = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂;   DDPM:  μ = √ᾱ_s β'/(1−ᾱ_t) x̂_0 + √α' (1−ᾱ_s)/(1−ᾱ_t) x_t.
 * The step takes x̂_0 straight from the output with float64-computed √ᾱ_t, √(1−ᾱ_t) (one float32
 * rounding each); the former path (ε̂ from float32 √ᾱ, then x̂_0 rebuilt from ε̂) is measured beside it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np, random, scalar, toHostSync } from "../src/backend/index.js";
import { epsFromOutput, type Prediction } from "../src/diffusion/parameterization.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { coefficientVector, ddimCoefficients, ddpmCoefficients, stepFromOutput, stepMeanFromVector, type StepCoefficients } from "../src/diffusion/step.js";

beforeAll(ensureBackend);

const schedule = makeSchedule({ kind: "linear", steps: 1000 });
const n = 64;
const D = 4;

function reference(kind: Prediction, c: StepCoefficients, x: Float32Array, out: Float32Array): { x0: Float64Array; mean: Float64Array } {
  const a = Math.sqrt(c.t.alphaBar);
  const s = Math.sqrt(1 - c.t.alphaBar);
  const x0 = Float64Array.from(out, (o, i) => (kind === "x0" ? o : a * x[i]! - s * o));
  const eps = Float64Array.from(out, (o, i) => (kind === "x0" ? (x[i]! - a * o) / s : s * x[i]! + a * o));
  return { x0, mean: Float64Array.from(x0, (v, i) => c.cX0 * v + c.cEps * eps[i]! + c.cXt * x[i]!) };
}

/** max |got − want| / max |want|. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i]! - want[i]!));
    m = Math.max(m, Math.abs(want[i]!));
  }
  return e / m;
}

describe("x̂_0 and the step mean for x̂_0- and v-prediction models", () => {
  const steps: [string, (t: number) => StepCoefficients][] = [
    ["ddim η=0", (t) => ddimCoefficients(schedule, t, t - 1, 0)],
    ["ddim η=1", (t) => ddimCoefficients(schedule, t, t - 1, 1)],
    ["ddpm", (t) => ddpmCoefficients(schedule, t, t - 1)],
  ];
  for (const kind of ["x0", "v"] as const) {
    it(`${kind}: within float32 rounding of the float64 formulas at every t (the former path measured)`, () => {
      const x = toHostSync(random.normal(keyFromSeed(1), [n, D]));
      const out = toHostSync(random.normal(keyFromSeed(2), [n, D]));
      const worst = { x0: 0, mean: 0, oldX0: 0, oldMean: 0 };
      for (const [, coef] of steps) {
        for (const t of [999, 700, 300, 100, 20, 5, 1, 0]) {
          const c = coef(t);
          const want = reference(kind, c, x, out);
          const dev = () => ({ x: np.array(x, { shape: [n, D] }), o: np.array(out, { shape: [n, D] }) });
          const a = dev();
          const st = stepFromOutput(kind, a.x, a.o, coefficientVector(c));
          st.epsHat.dispose();
          worst.x0 = Math.max(worst.x0, relErr(toHostSync(st.x0Hat), want.x0));
          worst.mean = Math.max(worst.mean, relErr(toHostSync(st.mean), want.mean));
          const b = dev();
          const old = stepMeanFromVector(b.x.ref, epsFromOutput(kind, b.x, b.o, scalar(c.t.alphaBar)), coefficientVector(c));
          worst.oldX0 = Math.max(worst.oldX0, relErr(toHostSync(old.x0Hat), want.x0));
          worst.oldMean = Math.max(worst.oldMean, relErr(toHostSync(old.mean), want.mean));
        }
      }
      console.log(`${kind}: relative error x̂_0 ${worst.x0.toExponential(2)} (former path ${worst.oldX0.toExponential(2)}), μ ${worst.mean.toExponential(2)} (former ${worst.oldMean.toExponential(2)})`);
      // A few float32 roundings (2^-24 ≈ 6e-8 each) of O(1) terms.
      expect(worst.x0).toBeLessThan(5e-7);
      expect(worst.mean).toBeLessThan(1e-6);
    });
  }
});
