/**
 * Timestep respacing: sample with S ≤ T steps by visiting a subset of the training timesteps
 * (Nichol & Dhariwal 2021; diffusers' `timestep_spacing`). Returns the visited training indices in
 * decreasing order; each step goes from index t_k to the next one (or to −1, clean data).
 *  - "linspace": round(linspace(T−1, 0, S))
 *  - "leading":  (S−1−k)·⌊T/S⌋ (DDIM's original spacing)
 *  - "trailing": round(T − k·T/S) − 1 (always starts at the last training step)
 */
export type Spacing = "linspace" | "leading" | "trailing";

/** Round half to even, like numpy's `round` (diffusers computes its spacings with numpy). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function respace(T: number, S: number, spacing: Spacing = "trailing"): number[] {
  if (!Number.isInteger(S) || S < 1 || S > T) throw new Error(`sampling steps must be a whole number in 1..${T}, got ${S}`);
  const out: number[] = [];
  for (let k = 0; k < S; k++) {
    if (spacing === "linspace") out.push(roundHalfEven(S === 1 ? T - 1 : (T - 1) * (1 - k / (S - 1))));
    else if (spacing === "leading") out.push((S - 1 - k) * Math.floor(T / S));
    else out.push(roundHalfEven(T - (k * T) / S) - 1);
  }
  for (let i = 1; i < out.length; i++) {
    if (!(out[i]! < out[i - 1]!)) throw new Error(`respace: timesteps are not strictly decreasing (${out.join(", ")})`);
  }
  return out;
}
