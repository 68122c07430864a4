/**
 * `finetune`'s gradient accumulation (src/finetune/optimize.ts `accumulate`): a stub chain that returns a different
 * gradient, loss, objective and KL for each call and records the key it was given.
 *  - A micro-batches per step: A·steps chain calls, each with its own key, and the history holds their means;
 *  - the update follows the mean gradient: micro-batch gradients [1, 1] and [−0.5, 1] average to [0.25, 1], so
 *    Adam's first step moves both weights by −lr, where the last micro-batch alone would move the first by +lr;
 *  - A = 1 gives the chain the step's key as before (the split of the run key at 2s + 1), so earlier runs reproduce.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np } from "../src/backend/index.js";
import { keyToSeed, splitKey } from "../src/backend/keys.js";
import { toHost } from "../src/backend/ownership.js";
import type { JArray } from "../src/backend/jax.js";
import type { Chain } from "../src/finetune/chain.js";
import { finetune } from "../src/finetune/optimize.js";

beforeAll(ensureBackend);

type P = { w: JArray };

function stubChain(): { chain: Chain<P, P>; seeds: number[] } {
  const seeds: number[] = [];
  const grads = [
    [1, 1],
    [-0.5, 1],
  ];
  const chain: Chain<P, P> = {
    forward: () => Promise.reject(new Error("not used")),
    lossAndGrad: (_p, _f, _side, _aux, _n, key) => {
      const m = seeds.length % 2;
      seeds.push(keyToSeed(key)); // consumes the key
      return Promise.resolve({ grads: { w: np.array(grads[m]!, { shape: [2] }) }, loss: 1 + m, objective: 10 * m, kl: 4 - 2 * m, truncation: 1 });
    },
    dispose: () => {},
  };
  return { chain, seeds };
}

async function run(accumulate: number | undefined, steps: number, lr: number) {
  const { chain, seeds } = stubChain();
  const f = { w: np.zeros([2]) };
  const r = await finetune(chain, { w: np.zeros([2]) }, f, { steps, batchSize: 1, learningRate: lr, gradClip: 100, ...(accumulate ? { accumulate } : {}) }, keyFromSeed(0), () => ({ side: [], aux: [] }));
  f.w.dispose();
  return { w: Array.from(await toHost(r.params.w)), history: r.history, seeds };
}

describe("finetune accumulate", () => {
  it("averages A micro-batches per step, each with its own key; A = 1 keeps the step's key", async () => {
    const lr = 0.01;
    const two = await run(2, 1, lr);
    expect(two.seeds.length).toBe(2);
    expect(two.seeds[0]).not.toBe(two.seeds[1]);
    expect(two.history[0]).toMatchObject({ loss: 1.5, objective: 5, kl: 3 });
    expect(two.w[0]).toBeCloseTo(-lr, 5);
    expect(two.w[1]).toBeCloseTo(-lr, 5);

    const one = await run(undefined, 3, lr);
    const keys = splitKey(keyFromSeed(0), 2 * 3 + 1);
    const want = [1, 3, 5].map((i) => keyToSeed(keys[i]!));
    keys.forEach((k, i) => i % 2 === 1 || k.dispose());
    expect(one.seeds).toEqual(want);
    expect(one.history.map((h) => h.loss)).toEqual([1, 2, 1]);
    await expect(run(0.5, 1, lr)).rejects.toThrow(/accumulate/);
  });
});
