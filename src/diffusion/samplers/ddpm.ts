/**
 * DDPM ancestral sampling (Ho et al. 2020): each step draws from the posterior q(x_s | x_t, x̂_0). With
 * fewer steps than training timesteps, consecutive visited timesteps define the respaced betas
 * β'_k = 1 − ᾱ_{t_k}/ᾱ_{t_{k+1}} (Nichol & Dhariwal 2021). The final step to clean data has σ = 0.
 */
import { DEFAULT_SPACING, respace, type Spacing } from "../respacing.js";
import type { Schedule } from "../schedule.js";
import { ddpmCoefficients, type StepCoefficients } from "../step.js";

export function ddpmPlan(
  schedule: Schedule,
  steps: number,
  variance: "small" | "large" = "small",
  spacing: Spacing = DEFAULT_SPACING,
  stepsOffset = 0,
): StepCoefficients[] {
  const ts = respace(schedule.T, steps, spacing, stepsOffset);
  return ts.map((t, k) => ddpmCoefficients(schedule, t, k + 1 < ts.length ? ts[k + 1]! : -1, variance));
}
