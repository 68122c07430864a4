/**
 * The webgpu device in headless Chromium (`--enable-unsafe-webgpu`, its SwiftShader adapter): there,
 * jax-js's synchronous read of a webgpu array returns zeros with no error. The page checks that after
 * `ensureBackend({ device: "webgpu" })` such a read raises SyncReadError, that the device still works
 * afterwards (jit with inlined constants, asynchronous reads), and that keys split on the host draw on
 * the GPU what they draw on wasm. Skipped, with the reason printed, where Chromium or its adapter is absent.
 */
import { chromiumSkipReason, runChromiumPage } from "./helpers/chromium-page.js";
import { describe, expect, it } from "vitest";

if (chromiumSkipReason) console.log(`backend-webgpu-browser.test.ts skipped: ${chromiumSkipReason}`);

const PAGE = `
import { ensureBackend, backendDevice, jit, keyFromSeed, np, random, splitKey, toHost } from "./src/backend/index.ts";
const report = (r) => console.log("REWARDIFF_RESULT " + JSON.stringify(r));
(async () => {
  const r = {};
  try {
    r.adapter = !!(navigator.gpu && (await navigator.gpu.requestAdapter()));
    if (!r.adapter) return report(r);
    const draw = async () => Array.from(await toHost(random.normal(splitKey(keyFromSeed(5), 3)[2], [4])));
    r.wasmDraw = await draw();
    await ensureBackend({ device: "webgpu" });
    r.device = backendDevice();
    const x = np.array(new Float32Array(256).fill(3), { shape: [256] });
    try { x.ref.mul(2).dataSync(); r.syncRead = "no error"; } catch (e) { r.syncRead = e.name + ": " + e.message; }
    const f = jit((a) => a.mul(np.array(0.5)).add(np.array(1)));
    r.jitted = Array.from(await toHost(f(x.ref))).slice(0, 3);
    r.asyncRead = Array.from(await toHost(x.mul(2))).slice(0, 3);
    r.gpuDraw = await draw();
  } catch (e) {
    r.error = String(e && e.stack || e);
  }
  report(r);
})();
`;

describe.skipIf(chromiumSkipReason !== undefined)("webgpu in headless Chromium", () => {
  it("a synchronous read raises SyncReadError instead of returning zeros; the device keeps working", async (ctx) => {
    const r = await runChromiumPage(PAGE, ["--enable-unsafe-webgpu"]);
    if (r.adapter === false) {
      console.log("backend-webgpu-browser.test.ts skipped: Chromium exposes no WebGPU adapter here (needs --enable-unsafe-webgpu and its SwiftShader Vulkan driver)");
      ctx.skip();
    }
    expect(r.error).toBeUndefined();
    expect(r.device).toBe("webgpu");
    expect(r.syncRead).toMatch(/^SyncReadError: synchronous read of a webgpu array \(float32\[256\]\): use await toHost\(x\)/);
    expect(r.jitted).toEqual([2.5, 2.5, 2.5]);
    expect(r.asyncRead).toEqual([6, 6, 6]);
    // The same host-split key draws the same normals on the GPU (to its cos precision, 2⁻¹¹ · radius).
    const wasm = r.wasmDraw as number[];
    const gpu = r.gpuDraw as number[];
    expect(gpu).toHaveLength(4);
    gpu.forEach((v, i) => expect(Math.abs(v - wasm[i]!)).toBeLessThan(6 * 2 ** -11));
    expect(new Set(gpu).size).toBe(4);
  });
});
