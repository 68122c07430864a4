/**
 * The webgpu device in headless Chromium (`--enable-unsafe-webgpu`, its SwiftShader adapter): there,
 * jax-js's synchronous read of a webgpu array returns zeros with no error. The page checks that after
 * `ensureBackend({ device: "webgpu" })` such a read raises SyncReadError, that the device still works
 * afterwards (jit with inlined constants, asynchronous reads), and that keys split on the host draw on
 * the GPU what they draw on wasm. Skipped, with the reason printed, where Chromium is absent.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const chromium = ["chromium", "chromium-browser"].find((c) => spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0);
if (!chromium) console.log("backend-webgpu-browser.test.ts skipped: no chromium on PATH (Debian: apt-get install chromium)");

const PAGE = `
import { ensureBackend, backendDevice, jit, keyFromSeed, np, random, splitKey, toHost } from "./src/backend/index.ts";
const report = (r) => console.log("REWARDIFF_RESULT " + JSON.stringify(r));
(async () => {
  const r = {};
  try {
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

/** Runs the page in headless Chromium and returns what it reported. */
async function runPage(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "rewardiff-webgpu-"));
  try {
    const bundle = await build({
      stdin: { contents: PAGE, resolveDir: process.cwd(), loader: "ts", sourcefile: "page.ts" },
      bundle: true,
      platform: "browser",
      format: "iife",
      write: false,
      logLevel: "silent",
    });
    const html = join(dir, "index.html");
    writeFileSync(html, `<!doctype html><html><body><script>${bundle.outputFiles[0]!.text.replaceAll("</script", "<\\/script")}</script></body></html>`);
    const args = ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--enable-logging=stderr", "--v=0", "--remote-debugging-port=0", `--user-data-dir=${join(dir, "profile")}`, `file://${html}`];
    return await new Promise((resolve, reject) => {
      // Its own process group, so that killing it also ends the GPU and renderer processes that write into
      // the profile folder (else removing the folder can race with them).
      const child = spawn(chromium!, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
      const killAll = () => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      };
      let log = "";
      const timer = setTimeout(() => {
        killAll();
        reject(new Error(`chromium reported nothing in 90 s; its log ends: ${log.slice(-2000)}`));
      }, 90_000);
      child.stderr.on("data", (d: Buffer) => {
        log += d.toString();
        const m = /REWARDIFF_RESULT (\{.*?\})", source/.exec(log);
        if (m) {
          clearTimeout(timer);
          killAll();
          // Chromium's log quotes the console message: \" and \\ are escaped.
          const result = JSON.parse(m[1]!.replace(/\\(["\\])/g, "$1")) as Record<string, unknown>;
          if (child.exitCode !== null || child.signalCode !== null) resolve(result);
          else child.once("exit", () => resolve(result));
        }
      });
      child.on("error", reject);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

describe.skipIf(!chromium)("webgpu in headless Chromium", () => {
  it("a synchronous read raises SyncReadError instead of returning zeros; the device keeps working", async () => {
    const r = await runPage();
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
