import { beforeAll, describe, expect, it } from "vitest";
import { random } from "../src/backend/jax.js";
import { ensureBackend } from "../src/backend/init.js";
import { keyFromSeed, splitKey } from "../src/backend/keys.js";
import { toHost } from "../src/backend/ownership.js";
import { orthonormalColumns } from "../src/data/orthonormal.js";
import { initSubspaceBasis } from "../src/nn/low-rank-score.js";

beforeAll(async () => {
  await ensureBackend();
});

describe("initSubspaceBasis (device Gram–Schmidt)", () => {
  for (const [D, d] of [[32, 8], [7, 1], [12, 5]] as const) {
    it(`D=${D}, d=${d}: orthonormal columns equal to the float64 host QR of the same Gaussian`, async () => {
      const [k1, k2] = splitKey(keyFromSeed(D * 100 + d), 2);
      const q = await toHost(initSubspaceBasis(k1!.ref, D, d));
      // The same draw, orthonormalised independently in float64 on the host (src/data/orthonormal.ts).
      const g = await toHost(random.normal(k1!, [D, d]));
      const ref = orthonormalColumns(g, D, d);
      let maxDiff = 0;
      for (let i = 0; i < D * d; i++) maxDiff = Math.max(maxDiff, Math.abs(q[i]! - ref[i]!));
      expect(maxDiff).toBeLessThan(1e-5);
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) {
          let dot = 0;
          for (let i = 0; i < D; i++) dot += q[i * d + a]! * q[i * d + b]!;
          expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-6);
        }
      }
      k2!.dispose();
    });
  }
});
