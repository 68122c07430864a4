/**
 * Gradient guidance on a model with a noise space (src/guidance/sampler.ts, step 2): the gradient is
 * projected onto it, so a guided graph chain differs from the unguided one (same key) only by a change
 * that is symmetric in the edge block with a zero diagonal — checked entry by entry here, not through the
 * hook — and on the shipped QM9 model a guidance strength s → 0 gives back the unguided molecule sampler's
 * rows. Before the projection an off-space gradient (here a constant one, which has a diagonal part) was
 * amplified by 1/√ᾱ_t down the chain: at s = 1e-6 it moved 25-step QM9 rows by 0.04, and a constant gradient of strength 0.5 on the toy graph
 * moved the diagonal by 2·10⁴.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend } from "../src/backend/init.js";
import { np, type JArray } from "../src/backend/jax.js";
import { keyFromSeed } from "../src/backend/keys.js";
import { toHost } from "../src/backend/ownership.js";
import { graphRowSize, type GraphLayout } from "../src/data/graph-layout.js";
import { generateWithEps } from "../src/diffusion/generate.js";
import { graphNoise } from "../src/diffusion/graph-noise.js";
import { modelEps, modelOutput } from "../src/diffusion/model.js";
import { noiseHookOf } from "../src/diffusion/noise-space.js";
import { samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { guidedSample } from "../src/guidance/sampler.js";
import { gradientTerm } from "../src/guidance/terms.js";
import type { GuidanceTerm } from "../src/guidance/types.js";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { resolveModelPath } from "../src/runners/molecule-sampling.js";

beforeAll(async () => {
  await ensureBackend();
});

/** A constant gradient g_k = 1 + k/D over every entry (diagonal and both triangles of the edge block included). */
function constantGradientTerm(D: number, scale: number, where: "xt" | "mean"): GuidanceTerm {
  const g = Float32Array.from({ length: D }, (_, k) => 1 + k / D);
  const grad = (x: JArray) => {
    const n = x.shape[0]!;
    x.dispose();
    return np.broadcastTo(np.array(g, { shape: [1, D] }), [n, D]);
  };
  return gradientTerm((x) => x.sum(-1).mul(0), { name: "constant", scale, where, gradLogH: grad });
}

describe("gradient guidance stays in the graph noise space", () => {
  const layout: GraphLayout = { maxNodes: 4, nodeBlocks: [3, 1], edgeFeatures: 2 };
  const D = graphRowSize(layout);
  const nodeValues = 4 * 4;
  const noise = graphNoise(layout);
  const plan = samplerPlan(makeSchedule({ kind: "cosine", steps: 1000 }), { sampler: "ddpm", steps: 20, eta: 1 });
  // The exact ε of standard-normal data on the noise space: ε̂ = √(1−ᾱ_t) x_t (x̂_0 = √ᾱ_t x_t).
  const eps = (x: JArray, t: { alphaBar: number }) => x.mul(Math.sqrt(1 - t.alphaBar));
  const n = 6;

  for (const where of ["xt", "mean"] as const) {
    it(`the guided change (gradient at ${where}) is symmetric with a zero diagonal in the edge block`, async () => {
      const run = async (terms: GuidanceTerm[]) => toHost((await guidedSample({ eps, plan, terms, n, dim: D, key: keyFromSeed(4), noise })).x);
      const base = await run([]);
      const guided = await run([constantGradientTerm(D, 0.5, where)]);
      let moved = 0;
      let diagonal = 0;
      let asymmetry = 0;
      const E = layout.edgeFeatures;
      for (let r = 0; r < n; r++) {
        const d = (k: number) => guided[r * D + k]! - base[r * D + k]!;
        for (let k = 0; k < D; k++) moved = Math.max(moved, Math.abs(d(k)));
        for (let i = 0; i < 4; i++) {
          for (let j = 0; j < 4; j++) {
            for (let e = 0; e < E; e++) {
              const ij = d(nodeValues + (i * 4 + j) * E + e);
              const ji = d(nodeValues + (j * 4 + i) * E + e);
              if (i === j) diagonal = Math.max(diagonal, Math.abs(ij));
              else asymmetry = Math.max(asymmetry, Math.abs(ij - ji));
            }
          }
        }
      }
      expect(moved).toBeGreaterThan(0.1);
      expect(diagonal).toBeLessThanOrEqual(1e-5 * Math.max(1, moved));
      expect(asymmetry).toBeLessThanOrEqual(1e-5 * Math.max(1, moved));
    });
  }

  it("on the shipped QM9 model, s = 1e-6 gives the unguided molecule sampler's rows", async () => {
    const loaded = loadModel(resolveModelPath("qm9"));
    try {
      const model = loaded.meta.model;
      const Dm = model.network.dataDim;
      const sampler = { sampler: "ddpm" as const, steps: 25, eta: 1 };
      const m = 4;
      const ref = await generateWithEps(modelOutput(model, loaded.ema), model, sampler, m, keyFromSeed(11));
      const { x } = await guidedSample({
        eps: modelEps(model, loaded.ema),
        plan: samplerPlan(makeSchedule(model.schedule), sampler),
        terms: [constantGradientTerm(Dm, 1e-6, "xt")],
        n: m,
        dim: Dm,
        key: keyFromSeed(11),
        noise: noiseHookOf(model.noise)!,
      });
      const guided = await toHost(x);
      let diff = 0;
      for (let k = 0; k < guided.length; k++) diff = Math.max(diff, Math.abs(guided[k]! - ref.data[k]!));
      expect(diff).toBeLessThan(1e-3);
    } finally {
      disposeLoadedModel(loaded);
    }
  }, 120_000);
});
