/**
 * Kind "low-rank": 2307.07055's structured score network (../low-rank-score.ts): the residual MLP trunk
 * (./mlp.ts) on the subspace coordinates u = Vᵀ vec(x_t) ∈ R^rank, mapped back with V:
 *   out = V (u + MLP(u, t, y))    (an x̂_0 in span V; use with prediction "x0")
 */
import * as z from "zod";
import { splitKey } from "../../backend/keys.js";
import { fromSubspace, initSubspaceBasis, toSubspace } from "../low-rank-score.js";
import { checkEventShape, strictSpec, flattenEvent, initResidualMlp, residualMlp, residualMlpFields, unflattenEvent, withTimeEmbedding, type DenoiserParams, type ResidualMlpSpec } from "./mlp.js";
import { batchSize, eventShapeOf, type Denoiser } from "./types.js";

export const LowRankSpecSchema = strictSpec({ kind: z.literal("low-rank"), rank: z.number().int().min(1), ...residualMlpFields })
  .superRefine((s, ctx) => {
    checkEventShape(s, ctx);
    if (s.rank > s.dataDim) ctx.addIssue({ code: "custom", path: ["rank"], message: `must be ≤ dataDim (${s.dataDim}), got ${s.rank}`, input: s.rank });
  })
  .transform(withTimeEmbedding);

export const lowRankDenoiser: Denoiser<ResidualMlpSpec, DenoiserParams> = {
  kind: "low-rank",
  schema: LowRankSpecSchema,
  init(key, s) {
    const keys = splitKey(key, s.layers + 3);
    return initResidualMlp(keys, s, s.rank!, initSubspaceBasis(keys[s.layers + 2]!, s.dataDim, s.rank!));
  },
  apply(s, p, x, t, cond, control) {
    if (!p.v) throw new Error("model: a low-rank network needs its basis V (parameter v)");
    const event = eventShapeOf(s);
    const n = batchSize(x, event, "model");
    const v = p.v;
    const u = toSubspace(v.ref, flattenEvent(x, n, event));
    const out = residualMlp(s, p, u.ref, t, cond, control);
    // ψ̃(u) = u + MLP(u, t, y) (an identity skip, so V always gets the gradient of the projection
    // ‖VVᵀx − x_0‖², the PCA objective, even where the MLP ignores a coordinate).
    return unflattenEvent(fromSubspace(v, out.add(u)), n, event);
  },
};
