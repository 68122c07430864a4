/**
 * `finetune`'s learning-rate schedule (src/finetune/optimize.ts `lrSchedule`): a stub chain whose gradient is the
 * same positive constant at every step. Adam's update is then lr_k · m̂/(√v̂ + ε) = lr_k (within ε) at every step,
 * so after N steps the weight has moved by −Σ_k lr_k: N·lr for "constant", and for "cosine" the float64 sum of
 * lr · ½(1 + cos(π k / N)), k = 0 … N−1 (src/optim/lr-schedule.ts), computed here independently.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBackend, keyFromSeed, np } from "../src/backend/index.js";
import { toHost } from "../src/backend/ownership.js";
import type { JArray } from "../src/backend/jax.js";
import type { Chain } from "../src/finetune/chain.js";
import { finetune } from "../src/finetune/optimize.js";

beforeAll(ensureBackend);

type P = { w: JArray };
const stubChain: Chain<P, P> = {
  forward: () => Promise.reject(new Error("not used")),
  lossAndGrad: (_p, _f, _side, _aux, _n, key) => {
    key.dispose();
    return Promise.resolve({ grads: { w: np.full([4], 0.5) }, loss: 1, objective: 0, kl: 0, truncation: 1 });
  },
  dispose: () => {},
};

async function moved(lrSchedule: "constant" | "cosine" | undefined, steps: number, lr: number): Promise<number[]> {
  const f = { w: np.zeros([4]) };
  const r = await finetune(stubChain, { w: np.zeros([4]) }, f, { steps, batchSize: 1, learningRate: lr, gradClip: 100, ...(lrSchedule ? { lrSchedule } : {}) }, keyFromSeed(0), () => ({ side: [], aux: [] }));
  f.w.dispose();
  return Array.from(await toHost(r.params.w), (v) => -v);
}

describe("finetune lrSchedule", () => {
  it("constant (the default) moves the weight by N·lr, cosine by Σ_k lr·½(1 + cos(πk/N))", async () => {
    const N = 10;
    const lr = 0.01;
    let cosine = 0;
    for (let k = 0; k < N; k++) cosine += lr * 0.5 * (1 + Math.cos((Math.PI * k) / N));
    for (const v of await moved(undefined, N, lr)) expect(v).toBeCloseTo(N * lr, 5);
    for (const v of await moved("constant", N, lr)) expect(v).toBeCloseTo(N * lr, 5);
    const c = await moved("cosine", N, lr);
    for (const v of c) expect(v).toBeCloseTo(cosine, 5);
    expect(cosine).toBeLessThan(0.6 * N * lr); // the two cases differ well beyond the tolerance
  });
});
