/**
 * Timestep respacing: sample with S ≤ T steps by visiting a subset of the training timesteps
 * (Nichol & Dhariwal 2021; diffusers' `timestep_spacing` and `steps_offset`). Returns the visited
 * training indices t_1 > … > t_S; the samplers step from t_k to t_{k+1} and from t_S to −1 (clean data,
 * ᾱ = 1), which is diffusers' DDPMScheduler.previous_timestep.
 *  - "linspace": round(linspace(0, T−1, S)) reversed
 *  - "leading":  (S−1−k)·⌊T/S⌋ + stepsOffset (DDIM's original spacing; diffusers' default, with offset 0;
 *                Stable Diffusion uses offset 1: 981, 961, …, 1 at T = 1000, S = 50)
 *  - "trailing": round(arange(T, 0, −T/S)) − 1 (always starts at the last training step; our default)
 *
 * The grids equal diffusers' bit for bit, ties included: the positions are computed with numpy's own
 * float64 arithmetic (linspace: i·((T−1)/(S−1)) with the last entry set to T−1; arange: T + k·d with
 * d = (T − T/S) − T, numpy's fill rule) and rounded half to even, numpy's `round`. So where an exact
 * half-integer position is not exactly representable, the grid follows numpy's rounding error
 * (T = 1000, S = 48, trailing: 936, not 937). One deliberate difference: when numpy's arange yields
 * S + 1 positions (its length ⌈T/(T/S)⌉ overshoots, e.g. T = 15, S = 13) diffusers' trailing grid gets a
 * spurious extra timestep −1; we return the S real ones.
 *
 * diffusers' DDIMScheduler steps from t to t − ⌊T/S⌋ rather than to the next grid entry; the two agree
 * for "leading" and for "trailing" when S divides T, and differ for "linspace" and uneven "trailing".
 * Its final step lands on ᾱ = 1 only with set_alpha_to_one = true (Stable Diffusion uses ᾱ_0 there).
 */
export type Spacing = "linspace" | "leading" | "trailing";

/** The spacing used when none is given. */
export const DEFAULT_SPACING: Spacing = "trailing";

/** Round half to even, like numpy's `round` (exact on float64 values). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The S visited training indices, decreasing. `stepsOffset` (diffusers' `steps_offset`) shifts the
 * "leading" grid; diffusers ignores it for the other spacings, so a non-zero offset with them is refused.
 */
export function respace(T: number, S: number, spacing: Spacing = DEFAULT_SPACING, stepsOffset = 0): number[] {
  if (!Number.isInteger(S) || S < 1 || S > T) throw new Error(`sampling steps must be a whole number in 1..${T}, got ${S}`);
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) throw new Error(`stepsOffset must be a whole number ≥ 0, got ${stepsOffset}`);
  if (stepsOffset !== 0 && spacing !== "leading") {
    throw new Error(`stepsOffset ${stepsOffset} applies only to "leading" spacing (diffusers ignores steps_offset for "${spacing}"); use 0`);
  }
  const out: number[] = [];
  if (spacing === "linspace") {
    const step = S === 1 ? 0 : (T - 1) / (S - 1);
    for (let i = S - 1; i >= 0; i--) out.push(roundHalfEven(S > 1 && i === S - 1 ? T - 1 : i * step));
  } else if (spacing === "leading") {
    const ratio = Math.floor(T / S);
    for (let k = 0; k < S; k++) out.push((S - 1 - k) * ratio + stepsOffset);
  } else if (spacing === "trailing") {
    const d = T + -(T / S) - T;
    for (let k = 0; k < S; k++) out.push(roundHalfEven(T + k * d) - 1);
  } else {
    throw new Error(`unknown spacing "${String(spacing)}" (linspace, leading, trailing)`);
  }
  if (out[0]! > T - 1) {
    throw new Error(`stepsOffset ${stepsOffset} puts the first timestep at ${out[0]}, beyond the last training index ${T - 1}`);
  }
  for (let i = 1; i < out.length; i++) {
    if (!(out[i]! < out[i - 1]!)) throw new Error(`respace: timesteps are not strictly decreasing (${out.join(", ")})`);
  }
  return out;
}
