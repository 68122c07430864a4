/**
 * jax-js's wasm worker pool in a browser (patches/README.md, items 10 and 11): a cross-origin-isolated page
 * in headless Chromium, where jax-js really starts workers (SharedArrayBuffer, shared wasm memory) and the
 * calling thread may not block (`Atomics.wait` throws there, so it waits busily for a worker's share).
 * Pooled results (asynchronous reads) must equal the same computation run on the main thread alone
 * (synchronous reads) bit for bit, the first time each kernel goes to the worker (by message) and the
 * times after (through the shared control row).
 */
import { describe, expect, it } from "vitest";
import { chromiumSkipReason, runChromiumPage } from "./helpers/chromium-page.js";

if (chromiumSkipReason) console.log(`jax-pool-chromium.test.ts: skipped: ${chromiumSkipReason}`);

const PAGE = `
import * as jax from "@jax-js/jax";
const np = jax.numpy;
const report = (r) => console.log("REWARDIFF_RESULT " + JSON.stringify(r));
(async () => {
  const r = { isolated: globalThis.crossOriginIsolated === true, cores: navigator.hardwareConcurrency, workers: 0 };
  try {
    const Original = globalThis.Worker;
    globalThis.Worker = class extends Original {
      constructor(...args) {
        super(...args);
        r.workers++;
      }
    };
    await jax.init("wasm");
    jax.defaultDevice("wasm");
    const n = 256;
    // A matmul with a fused SiLU, a column sum (a reduction of 256 outputs) and a long element-wise kernel:
    // every one of them has enough work to be split between the worker and the calling thread. Each run
    // has its own inputs and every array is kept alive, so no output can reuse a buffer that already holds
    // the expected values (a worker that computed nothing would leave zeros or an earlier run's numbers).
    const keep = [];
    const outputs = (run) => {
      const x = np.array(Float32Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37 + run) * 2), { shape: [n, n] });
      const w = np.array(Float32Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11 - run) / 16), { shape: [n, n] });
      const h = jax.nn.silu(np.matmul(x.ref, w));
      const out = [h.ref, h.sum(0), x.mul(1.5 + run).add(0.25)];
      keep.push(...out);
      return out;
    };
    const bits = (a) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
    const runs = 3;
    const alone = Array.from({ length: runs }, (_, run) => outputs(run).map((a) => bits(a.ref.dataSync())));
    r.runs = [];
    for (let run = 0; run < runs; run++) {
      const pooled = await Promise.all(outputs(run).map(async (a) => bits(await a.ref.data())));
      r.runs.push(pooled.map((p, k) => p.reduce((d, v, i) => d + (v === alone[run][k][i] ? 0 : 1), 0)));
    }
    r.sizes = alone[0].map((a) => a.length);
  } catch (e) {
    r.error = String((e && e.stack) || e);
  }
  report(r);
})();
`;

describe.skipIf(chromiumSkipReason !== undefined)("jax-js's worker pool in headless Chromium (cross-origin isolated)", () => {
  it("starts a worker and gives the main thread's bits on every run", async () => {
    const r = await runChromiumPage(PAGE, [], 90_000, true);
    expect(r.error).toBeUndefined();
    expect(r.isolated).toBe(true);
    expect(r.sizes).toEqual([256 * 256, 256, 256 * 256]);
    // One core fewer than the machine has: the calling thread computes a share (no pool on one core).
    expect(r.workers).toBe(Math.max(0, (r.cores as number) - 1));
    expect(r.runs).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
  }, 120_000);
});
