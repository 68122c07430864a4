/**
 * Deepening the pretrained graph transformer with identity-initialised layers (src/nn/denoisers/graph-deepen.ts):
 * the deeper network equals the shipped QM9 model exactly at step 0, each of the three zero projections is a live
 * path once it is non-zero, the loss's gradient reaches them at step 0 (so training can move them), and bad
 * requests are refused.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, grad, keyFromSeed, np, toHost, tree, type JArray } from "../src/backend/index.js";
import { disposeLoadedModel } from "../src/io/checkpoints/model.js";
import { loadModel } from "../src/io/checkpoints/model-files.js";
import { applyDenoiser } from "../src/nn/denoiser.js";
import { appendIdentityLayers } from "../src/nn/denoisers/graph-deepen.js";
import type { GraphLayerParams, GraphTransformerParams, GraphTransformerSpec } from "../src/nn/denoisers/graph-transformer.js";
import { resolveModelPath } from "../src/runners/molecule-sampling.js";

beforeAll(async () => {
  await ensureBackend();
});

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("appending identity layers to the pretrained graph transformer", () => {
  it("equals the pretrained model at step 0; each zero projection of a new layer is a live path and gets a gradient", async () => {
    const loaded = loadModel(resolveModelPath("qm9"));
    try {
      const spec = loaded.meta.model.network as GraphTransformerSpec;
      const base = loaded.ema as GraphTransformerParams;
      const deep = appendIdentityLayers(spec, base, 2, keyFromSeed(4));
      expect(deep.spec.layers).toBe(spec.layers + 2);
      expect(deep.params.layers).toHaveLength(spec.layers + 2);
      const n = 5;
      const D = spec.dataDim;
      const xt = Float32Array.from({ length: n * D }, (_, i) => Math.sin(i * 3.7) * 1.2);
      const t = Float32Array.from([20, 150, 400, 700, 950]);
      const out = (s: GraphTransformerSpec, p: GraphTransformerParams) => toHost(applyDenoiser(s, tree.ref(p), np.array(xt, { shape: [n, D] }), np.array(t)));
      const ref = await out(spec, base);
      expect(maxDiff(await out(deep.spec, deep.params), ref)).toBeLessThanOrEqual(1e-6);

      // One projection of the last new layer at a time made non-zero (patterned): the output moves.
      const last = deep.params.layers.at(-1)!;
      for (const name of ["attnOut", "mlp2", "edge2"] as const) {
        const [r, c] = last[name].w.shape as [number, number];
        const w = np.array(Float32Array.from({ length: r * c }, (_, i) => 0.05 * Math.sin(i * 1.3)), { shape: [r, c] });
        const layer: GraphLayerParams = { ...last, [name]: { w, b: last[name].b } };
        const on = { ...deep.params, layers: [...deep.params.layers.slice(0, -1), layer] };
        expect(maxDiff(await out(deep.spec, on), ref), name).toBeGreaterThan(1e-3);
        w.dispose();
      }

      // ∂/∂W of a loss on the output at step 0: non-zero for the zero projections of both new layers.
      const target = np.array(Float32Array.from({ length: n * D }, (_, i) => Math.cos(i * 0.9)), { shape: [n, D] });
      const loss = (p: GraphTransformerParams): JArray =>
        np.sum(np.square(applyDenoiser(deep.spec, p, np.array(xt, { shape: [n, D] }), np.array(t)).sub(target.ref)));
      const g = grad(loss)(tree.ref(deep.params)) as GraphTransformerParams;
      for (const l of [spec.layers, spec.layers + 1]) {
        for (const name of ["attnOut", "mlp2", "edge2"] as const) {
          const gw = await toHost(g.layers[l]![name].w.ref);
          expect(Math.max(...Array.from(gw, Math.abs)), `layer ${l} ${name}`).toBeGreaterThan(1e-6);
        }
      }
      tree.dispose(g);
      target.dispose();
      tree.dispose(deep.params);
    } finally {
      disposeLoadedModel(loaded);
    }
  }, 60_000);

  it("refuses a count that is not a whole number ≥ 1 and a model that already conditions every layer", () => {
    const loaded = loadModel(resolveModelPath("qm9"));
    try {
      const spec = loaded.meta.model.network as GraphTransformerSpec;
      const p = loaded.ema as GraphTransformerParams;
      expect(() => appendIdentityLayers(spec, p, 0, keyFromSeed(1))).toThrow(/^adding layers: the number of added layers must be a whole number ≥ 1, got 0$/);
      expect(() => appendIdentityLayers(spec, p, 1.5, keyFromSeed(1))).toThrow(/got 1\.5/);
      expect(() => appendIdentityLayers({ ...spec, layerConditioning: true }, p, 1, keyFromSeed(1))).toThrow(/conditions every layer; add layers before/);
    } finally {
      disposeLoadedModel(loaded);
    }
  });
});
