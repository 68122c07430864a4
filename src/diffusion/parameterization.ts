/**
 * What the network predicts, and the exact conversions between ε, x_0 and v at noise level ᾱ
 * (x_t = √ᾱ x_0 + √(1−ᾱ) ε; v = √ᾱ ε − √(1−ᾱ) x_0, Salimans & Ho 2022):
 *   x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ        ε̂ = (x_t − √ᾱ x̂_0)/√(1−ᾱ)
 *   x̂_0 = √ᾱ x_t − √(1−ᾱ) v̂          ε̂ = √(1−ᾱ) x_t + √ᾱ v̂
 * `ab` may be a JS number or an array broadcastable against x (e.g. [n, 1] per sample).
 */
import { np, type JArray } from "../backend/jax.js";

export type Prediction = "eps" | "x0" | "v";

type Coef = number | JArray;

const sqrtOf = (ab: Coef): Coef => (typeof ab === "number" ? Math.sqrt(ab) : np.sqrt(ab));
const sqrtOneMinus = (ab: Coef): Coef => (typeof ab === "number" ? Math.sqrt(1 - ab) : np.sqrt(np.subtract(1, ab)));
const refOf = (c: Coef): Coef => (typeof c === "number" ? c : c.ref);
const disposeCoef = (c: Coef) => {
  if (typeof c !== "number") c.dispose();
};

/**
 * x̂_0 and ε̂ from the network output `out` at x_t, given a = √ᾱ and s = √(1−ᾱ) (computed in float64 by
 * the caller): the predicted quantity is taken as it is and only the other one is derived from it.
 * Consumes `x`, `out`, `a` and `s`.
 */
export function denoised(kind: Prediction, x: JArray, out: JArray, a: Coef, s: Coef): { x0Hat: JArray; epsHat: JArray } {
  if (kind === "eps") return { x0Hat: x.sub(out.ref.mul(s)).div(a), epsHat: out };
  if (kind === "x0") return { x0Hat: out.ref, epsHat: x.sub(out.mul(a)).div(s) };
  // v = √ᾱ ε − √(1−ᾱ) x_0.
  return { x0Hat: x.ref.mul(refOf(a)).sub(out.ref.mul(refOf(s))), epsHat: x.mul(s).add(out.mul(a)) };
}

/** ε̂ from the network output `out` at x_t. Consumes `x`, `out` and `ab`. */
export function epsFromOutput(kind: Prediction, x: JArray, out: JArray, ab: Coef): JArray {
  if (kind === "eps") {
    x.dispose();
    disposeCoef(ab);
    return out;
  }
  const { x0Hat, epsHat } = denoised(kind, x, out, sqrtOf(refOf(ab)), sqrtOneMinus(ab));
  x0Hat.dispose();
  return epsHat;
}

/** x̂_0 from the network output at x_t. Consumes `x`, `out` and `ab`. */
export function x0FromOutput(kind: Prediction, x: JArray, out: JArray, ab: Coef): JArray {
  const { x0Hat, epsHat } = denoised(kind, x, out, sqrtOf(refOf(ab)), sqrtOneMinus(ab));
  epsHat.dispose();
  return x0Hat;
}

/** x̂_0 from ε̂ (Tweedie's formula for the VP process). Consumes `x`, `eps` and `ab`. */
export function x0FromEps(x: JArray, eps: JArray, ab: Coef): JArray {
  return x0FromOutput("eps", x, eps, ab);
}

/** The regression target for the network when x_t = √ᾱ x_0 + √(1−ᾱ) ε. Consumes all array inputs. */
export function targetFor(kind: Prediction, x0: JArray, eps: JArray, ab: Coef): JArray {
  if (kind === "eps") {
    x0.dispose();
    disposeCoef(ab);
    return eps;
  }
  if (kind === "x0") {
    eps.dispose();
    disposeCoef(ab);
    return x0;
  }
  const a = sqrtOf(refOf(ab));
  const s = sqrtOneMinus(ab);
  return eps.mul(a).sub(x0.mul(s));
}

/** x_t = √ᾱ x_0 + √(1−ᾱ) ε. Consumes all array inputs. */
export function noised(x0: JArray, eps: JArray, ab: Coef): JArray {
  const a = sqrtOf(refOf(ab));
  const s = sqrtOneMinus(ab);
  return x0.mul(a).add(eps.mul(s));
}
