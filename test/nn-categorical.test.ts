/**
 * Categorical blocks (src/nn/categorical.ts): the per-group softmax and the weighted cross-entropy against
 * float64 recomputations written here, and the cross-field checks of a molecule model's sidecar.
 */
import { describe, expect, it } from "vitest";
import { np } from "../src/backend/jax.js";
import { toHost } from "../src/backend/ownership.js";
import { categoricalCrossEntropy, categoricalSoftmax, checkBlocks, type CategoricalBlock } from "../src/nn/categorical.js";
import { graphCategoricalBlocks } from "../src/nn/denoisers/graph-transformer.js";
import { mulberry32 } from "../src/data/host-rng.js";

const BLOCKS: CategoricalBlock[] = [
  { offset: 0, count: 2, width: 3 },
  { offset: 6, count: 3, width: 2 },
];
const D = 12;

function logSoftmax64(v: number[]): number[] {
  const m = Math.max(...v);
  const lse = m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
  return v.map((x) => x - lse);
}

function rows(n: number, seed: number, oneHot: boolean): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    for (const b of BLOCKS) {
      for (let g = 0; g < b.count; g++) {
        const at = i * D + b.offset + g * b.width;
        if (oneHot) out[at + Math.floor(r() * b.width)] = 1;
        else for (let k = 0; k < b.width; k++) out[at + k] = 6 * r() - 3;
      }
    }
  }
  return out;
}

describe("categorical blocks", () => {
  it("softmax per group: each group of x̂₀ sums to 1 and equals the float64 softmax", async () => {
    const n = 4;
    const logits = rows(n, 1, false);
    const p = await toHost(categoricalSoftmax(np.array(logits, { shape: [n, D] }), BLOCKS));
    for (let i = 0; i < n; i++) {
      for (const b of BLOCKS) {
        for (let g = 0; g < b.count; g++) {
          const at = i * D + b.offset + g * b.width;
          const ref = logSoftmax64(Array.from(logits.subarray(at, at + b.width))).map(Math.exp);
          ref.forEach((v, k) => expect(p[at + k]).toBeCloseTo(v, 6));
        }
      }
    }
  });

  it("the weighted cross-entropy Σ_b w_b · mean_groups(−Σ_k x₀,k log softmax(ℓ)_k) matches float64", async () => {
    const n = 5;
    const logits = rows(n, 2, false);
    const x0 = rows(n, 3, true);
    const w = [1, 5];
    const ce = await toHost(categoricalCrossEntropy(np.array(logits, { shape: [n, D] }), np.array(x0, { shape: [n, D] }), BLOCKS, w));
    for (let i = 0; i < n; i++) {
      let ref = 0;
      BLOCKS.forEach((b, bi) => {
        let s = 0;
        for (let g = 0; g < b.count; g++) {
          const at = i * D + b.offset + g * b.width;
          const ls = logSoftmax64(Array.from(logits.subarray(at, at + b.width)));
          for (let k = 0; k < b.width; k++) s -= x0[at + k]! * ls[k]!;
        }
        ref += (w[bi]! * s) / b.count;
      });
      // float32 with jax-js's SIMD exp/log (a few ulp each, patches/README.md) over ~10 terms: 1e-5 relative.
      expect(Math.abs(ce[i]! - ref)).toBeLessThan(1e-5 * Math.abs(ref) + 1e-6);
    }
  });

  it("a molecule row's blocks: atoms [n, 5], charges [n, 3], bonds [n², 4] tile the 396 values", () => {
    const blocks = graphCategoricalBlocks({ maxNodes: 9, nodeBlocks: [5, 3], edgeFeatures: 4 });
    expect(blocks).toEqual([
      { offset: 0, count: 9, width: 5 },
      { offset: 45, count: 9, width: 3 },
      { offset: 72, count: 81, width: 4 },
    ]);
    expect(() => checkBlocks(blocks, 396, "t")).not.toThrow();
    expect(() => checkBlocks(blocks, 400, "t")).toThrow(/cover 396 values, the row has 400/);
  });

  it("a weight per block is required", () => {
    expect(() => categoricalCrossEntropy(np.zeros([1, D]), np.zeros([1, D]), BLOCKS, [1])).toThrow(/1 block weights for 2 categorical blocks/);
  });
});
