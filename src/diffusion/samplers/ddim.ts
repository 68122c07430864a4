/**
 * DDIM(η) (Song et al. 2021): visits the respaced timesteps t_1 > … > t_S and steps to the next one,
 * the last step landing on clean data (index −1). η = 0 is deterministic; η = 1 equals DDPM ancestral.
 * The grid (spacing, stepsOffset) is src/diffusion/respacing.ts.
 */
import { DEFAULT_SPACING, respace, type Spacing } from "../respacing.js";
import type { Schedule } from "../schedule.js";
import { ddimCoefficients, type StepCoefficients } from "../step.js";

export function ddimPlan(schedule: Schedule, steps: number, eta: number, spacing: Spacing = DEFAULT_SPACING, stepsOffset = 0): StepCoefficients[] {
  const ts = respace(schedule.T, steps, spacing, stepsOffset);
  return ts.map((t, k) => ddimCoefficients(schedule, t, k + 1 < ts.length ? ts[k + 1]! : -1, eta));
}
