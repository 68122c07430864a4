/**
 * Method "dps-normalised": DPS with a per-step normalised strength (Chung et al.'s ζ_t = ζ/‖y − A(x̂_0)‖,
 * here for a reward): the DPS gradient g_t = ∇_{x_t} r(x̂_0(x_t)) (through the ε-network) is scaled to
 * unit length per sample and added to the step mean,
 *   μ̃_t = μ_t + ζ σ_t² g_t/‖g_t‖,   ζ = `scale`,
 * so every step moves by at most ζσ_t² along the reward's direction, whatever the reward's magnitude or
 * the Jacobian's size at high noise (where plain DPS's 1/√ᾱ_t blows up; docs/config.md lists its keys). Norms
 * reduce over every event axis. Needs stochastic steps (σ_t > 0). The step does not depend on α;
 * `alpha` only names the exact tilt p* ∝ p·e^{r/α} the row is compared with.
 */
import * as z from "zod";
import { grad, np, type JArray } from "../../backend/jax.js";
import { scalar } from "../../backend/ownership.js";
import type { EpsFn } from "../../diffusion/types.js";
import { gradientTerm } from "../../guidance/terms.js";
import type { LogLikelihood, LogLikelihoodGrad } from "../../guidance/types.js";
import { strict } from "../config-schemas.js";
import { requireDifferentiable, type DifferentiableReward } from "../../rewards/reward.js";
import { defineMethod } from "./context.js";
import { baseEps, guidanceOutput, guidanceSetup, sampleGuided } from "./guidance-common.js";
import { alphaField, guidanceInterval, scaleField } from "./schema-parts.js";

/** Keeps ‖g‖ = 0 (a flat reward) from dividing by zero: the step is then zero. */
const NORM_FLOOR = 1e-12;

/**
 * log h(x_t) = r(x̂_0(x_t)) with x̂_0 = (x_t − √(1−ᾱ_t) ε(x_t))/√ᾱ_t, and its unit-length gradient
 * g/‖g‖ per sample (the closed form the sampler uses instead of differentiating log h).
 */
export function normalisedDps(reward: DifferentiableReward, eps: EpsFn): { logH: LogLikelihood; gradLogH: LogLikelihoodGrad } {
  const fn = reward.fn;
  const x0Hat = (x: JArray, alphaBar: number, time: Parameters<EpsFn>[1]): JArray => {
    if (alphaBar === 1) return x;
    const e = eps(x.ref, time);
    return x.sub(e.mul(scalar(Math.sqrt(1 - alphaBar)))).mul(scalar(1 / Math.sqrt(alphaBar)));
  };
  const logH: LogLikelihood = (x, time, cost) => {
    const n = x.shape[0]!;
    cost.rewardEvals += n;
    if (time.alphaBar !== 1) cost.modelEvals += n;
    return fn(x0Hat(x, time.alphaBar, time));
  };
  const gradLogH: LogLikelihoodGrad = (x, time, cost) => {
    const n = x.shape[0]!;
    cost.rewardEvals += n;
    if (time.alphaBar !== 1) cost.modelEvals += n;
    const g = grad((y: JArray) => np.sum(fn(x0Hat(y, time.alphaBar, time))))(x);
    const norm = np.sqrt(np.sum(np.square(g.ref.reshape([n, -1])), 1)).add(scalar(NORM_FLOOR));
    return g.div(norm.reshape([n, ...g.shape.slice(1).map(() => 1)]));
  };
  return { logH, gradLogH };
}

export const dpsNormalisedMethod = defineMethod({
  kind: "dps-normalised",
  summary: "DPS with per-step normalised strength: μ̃ = μ + ζσ_t² g/‖g‖, g = ∇_{x_t} r(x̂₀(x_t))",
  schema: strict({
    kind: z.literal("dps-normalised"),
    scale: scaleField(),
    alpha: alphaField(),
    ...guidanceInterval,
  }),
  requires: { taskReward: true, stochasticSampler: { why: "its mean shift ζσ_t²g/‖g‖ vanishes where σ_t = 0" } },
  run: async (ctx) => {
    const m = ctx.method;
    const setup = guidanceSetup(ctx);
    requireDifferentiable(setup.reward, `method "${setup.label}"`);
    const eps = await baseEps(ctx);
    const { logH, gradLogH } = normalisedDps(setup.reward, eps);
    const term = gradientTerm(logH, { name: setup.label, scale: m.scale, where: "xt", apply: "mean", gradLogH, start: m.start, stop: m.stop });
    const { samples, cost, pathKl } = await sampleGuided(ctx, setup, eps, [term], ctx.key);
    return guidanceOutput(ctx, setup, samples, cost, { pathKl, fields: { scale: m.scale } });
  },
});
