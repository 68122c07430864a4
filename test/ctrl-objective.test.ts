/**
 * CTRL's per-row objective (src/finetune/ctrl.ts `ctrlObjective`): for the row's label y (one-hot aux; a null row
 * has none), "log-prob" is log p̂(y | x) and "prob" is p̂(y | x), checked against a float64 log-softmax of the same
 * logits computed here; a null row gives 0 in both.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, np } from "../src/backend/index.js";
import { jnn, type JArray } from "../src/backend/jax.js";
import { toHost } from "../src/backend/ownership.js";
import { ctrlObjective } from "../src/finetune/ctrl.js";

beforeAll(ensureBackend);

describe("ctrlObjective", () => {
  it("is log p̂(y | x) or p̂(y | x) for the row's label, and 0 for a null row", async () => {
    const logits = [
      [2.0, -1.0, 0.5],
      [-3.0, 4.0, 0.0],
      [0.1, 0.2, -5.0],
    ];
    const y = [0, 1, -1]; // the last row is a null row
    const logProbs = (x: JArray) => jnn.logSoftmax(x, -1);
    const onehot = Float32Array.from(y.flatMap((v) => [0, 1, 2].map((k) => (k === v ? 1 : 0))));
    const want = logits.map((row, i) => {
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      return y[i]! < 0 ? [0, 0] : [row[y[i]!]! - lse, Math.exp(row[y[i]!]! - lse)];
    });
    for (const [mode, col] of [["log-prob", 0], ["prob", 1]] as const) {
      const got = await toHost(ctrlObjective(logProbs, mode)(np.array(logits.flat(), { shape: [3, 3] }), [np.array(onehot, { shape: [3, 3] })]));
      for (let i = 0; i < 3; i++) expect(got[i], `${mode} row ${i}`).toBeCloseTo(want[i]![col]!, 5);
    }
  });
});
