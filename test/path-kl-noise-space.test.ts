/**
 * pathKlTracker on a graph noise space (src/runners/methods/ctrl-eval.ts): the step Gaussians of a graph
 * sampler live on P's subspace (symmetric edges, zero diagonal, src/diffusion/graph-noise.ts), so the KL
 * between two samplers is ‖P(μ̃ − μ_ref)‖²/(2σ²). With a reference that differs from the sampler's ε by a
 * constant δ·u, every step's mean difference is c_t·δ·u, so the KL on P's space is the full-space KL times
 * ‖P u‖²/‖u‖², whatever the chain: 0 for a diagonal entry, 1 for a node entry or a symmetric edge pair,
 * 1/2 for one ordered edge entry.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np } from "../src/backend/index.js";
import { graphRowSize, type GraphLayout } from "../src/data/graph-layout.js";
import { graphNoise } from "../src/diffusion/graph-noise.js";
import { sample, samplerPlan } from "../src/diffusion/sample.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import type { EpsFn, NoiseHook } from "../src/diffusion/types.js";
import { pathKlTracker } from "../src/runners/methods/ctrl-eval.js";

const layout: GraphLayout = { maxNodes: 3, nodeBlocks: [2], edgeFeatures: 2 };
const D = graphRowSize(layout); // 3·2 node values + 3·3·2 edge values = 24
const nodeValues = 6;
const edge = (i: number, j: number, f: number) => nodeValues + (i * 3 + j) * 2 + f;

beforeAll(async () => {
  await ensureBackend();
});

describe("pathKlTracker on a graph noise space", () => {
  const plan = samplerPlan(makeSchedule({ kind: "cosine", steps: 100 }), { sampler: "ddpm", steps: 8, eta: 1 });
  const noise = graphNoise(layout);
  const eps: EpsFn = (x) => x.mul(0.3);
  const shifted = (entries: number[]): EpsFn => {
    const u = new Float32Array(D);
    for (const e of entries) u[e] = 0.5;
    return (x) => x.mul(0.3).add(np.array(u, { shape: [1, D] }));
  };
  const n = 16;
  const klOf = async (ref: EpsFn, hook: NoiseHook | undefined): Promise<number> => {
    const tracked = pathKlTracker(eps, ref, plan, hook);
    const x = await sample({ model: tracked.eps, plan, n, eventShape: [D], key: keyFromSeed(3), hooks: { noise } });
    x.dispose();
    return tracked.kl(n);
  };
  const klWithSettle = async (ref: EpsFn): Promise<number> => {
    const tracked = pathKlTracker(eps, ref, plan, noise);
    const x = await sample({ model: tracked.eps, plan, n, eventShape: [D], key: keyFromSeed(3), hooks: { noise, onStep: tracked.settle } });
    x.dispose();
    return tracked.kl(n);
  };

  it("scales the full-space KL by ‖P u‖²/‖u‖²", async () => {
    const cases: [string, number[], number][] = [
      ["a node entry", [1], 1],
      ["a symmetric edge pair", [edge(0, 1, 0), edge(1, 0, 0)], 1],
      ["one ordered edge entry", [edge(0, 2, 1)], 0.5],
      ["a diagonal entry", [edge(1, 1, 0)], 0],
    ];
    for (const [what, entries, ratio] of cases) {
      const full = await klOf(shifted(entries), undefined);
      const onP = await klOf(shifted(entries), noise);
      expect(full, what).toBeGreaterThan(1e-3);
      expect(Math.abs(onP - ratio * full), what).toBeLessThan(1e-4 * full);
    }
  });

  it("gives the same KL when settled every step", async () => {
    const ref = shifted([edge(0, 2, 1), 3]);
    expect(Math.abs((await klWithSettle(ref)) - (await klOf(ref, noise)))).toBeLessThan(1e-6);
  });
});
