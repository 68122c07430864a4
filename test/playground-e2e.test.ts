/**
 * The playground end to end in headless Debian Chromium (docs/browser.md): the built site served by
 * playground/serve.ts (with its strict Content-Security-Policy), driven by playwright-core
 * (test/helpers/chromium-launch.ts).
 * Checks: the page loads and the model loads from bytes; painting a region with the mouse and running
 * SVDD raises the share of samples in it well above plain sampling, whose share matches the exact
 * mass p(A) of the 8-Gaussians law (closed form, recomputed here); the page's samples equal Node's for
 * the same seed, model and settings within float32 tolerance (Chromium uses relaxed-SIMD FMA, Node 20
 * does not); the main thread has no long task (> 50 ms) during any run; and the webgpu device
 * (SwiftShader, `--enable-unsafe-webgpu`) gives wasm's samples to its precision. Skipped, saying why,
 * where Chromium (or, for the webgpu check, its adapter) is absent.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlayground, type BuiltPlayground } from "../playground/build.js";
import { servePlayground } from "../playground/serve.js";
import { runMethod, type RunSettings } from "../playground/src/engine.js";
import { cellOf, GRID, VIEW } from "../playground/src/grid.js";
import { disposeLoadedModel, ensureBackend, loadModelFromBytes } from "../src/index.js";
import { chromiumSkipReason, collectPageErrors, launchChromium, type Browser, type Page } from "./helpers/chromium-launch.js";
import { traceMainThread, tracedTaskOf, type MainThreadTrace } from "./helpers/chromium-main-thread.js";
import { eightGaussiansMass } from "./helpers/eight-gaussians.js";

if (chromiumSkipReason) console.log(`playground-e2e.test.ts skipped: ${chromiumSkipReason}`);

interface Numbers {
  device: string;
  rewardMean: number;
  exactRewardMean: number;
  exactRewardSe: number;
  regionFraction?: number;
  exactRegionMass?: number;
  modelEvals: number;
  seconds: number;
}
interface Finished {
  numbers: Numbers;
  samples: number[];
  frames: number;
  startedAt: number;
  endedAt: number;
}

/** p(A) for a union of painting cells (their boxes), in closed form. */
function cellsMass(cells: readonly number[]): number {
  const cell = (2 * VIEW) / GRID;
  return eightGaussiansMass(cells.map((c) => [-VIEW + (c % GRID) * cell, -VIEW + ((c % GRID) + 1) * cell, -VIEW + Math.floor(c / GRID) * cell, -VIEW + (Math.floor(c / GRID) + 1) * cell] as const));
}

describe.skipIf(chromiumSkipReason !== undefined)("the playground in headless Chromium", () => {
  let dir: string;
  let built: BuiltPlayground;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let stopTrace: ((minMs?: number) => Promise<MainThreadTrace>) | undefined;
  let openMs = 0;
  /** The runs of the painted-region test (its common settings). */
  const common = { task: "8gaussians", device: "wasm", steps: 25, n: 1000, seed: 1, alpha: 0.1, scale: 1, start: 0, candidates: 8 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rewardiff-playground-"));
    built = await buildPlayground(dir);
    const s = await servePlayground(built.dir);
    server = s.server;
    const t0 = performance.now();
    browser = await launchChromium(["--enable-unsafe-webgpu"]);
    page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    pageErrors = collectPageErrors(page);
    await page.goto(s.url, { waitUntil: "load", timeout: 30_000 });
    openMs = performance.now() - t0;
    // The main thread's tasks with their CPU time, for the long-task check below.
    stopTrace = await traceMainThread(page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Evaluates `expression` in the page (awaiting a promise) and returns its value. */
  const evaluate = <T>(expression: string): Promise<T> => page.evaluate<T>(expression);

  /**
   * Waits until `condition` holds, checking it inside the page (every 25 ms, a few microseconds each): the
   * test sends nothing to the page meanwhile, so the main thread runs only the page's own work while a run
   * is measured.
   */
  const waitFor = async (condition: string, what: string, ms = 30_000) => {
    const ok = await evaluate<boolean>(
      `new Promise((resolve) => { const t0 = performance.now(); const check = () => (${condition}) ? resolve(true) : performance.now() - t0 > ${ms} ? resolve(false) : setTimeout(check, 25); check(); })`,
    );
    if (!ok) throw new Error(`timed out waiting for ${what}; page errors: ${JSON.stringify(await evaluate("playground.errors"))} ${pageErrors.join("; ")}`);
  };

  /** Sets the controls, clicks Run and returns the finished run. */
  const run = async (controls: Record<string, string | number>): Promise<Finished> => {
    const set = Object.entries(controls)
      .map(([id, v]) => `document.getElementById(${JSON.stringify(id)}).value = ${JSON.stringify(String(v))};`)
      .join(" ");
    const before = await evaluate<number>("playground.results.length + playground.errors.length");
    await evaluate(`${set} document.getElementById("run").click(); 0`);
    await waitFor(`playground.results.length + playground.errors.length > ${before} && !playground.busy`, "the run", 60_000);
    const errors = await evaluate<string[]>("playground.errors");
    expect(errors).toEqual([]);
    return evaluate<Finished>("(() => { const r = playground.results.at(-1); return { ...r, samples: Array.from(r.samples) }; })()");
  };

  it("loads under a strict CSP (wasm-unsafe-eval only), with a tiny main-thread script, and loads the model from bytes", async () => {
    await waitFor("playground.loaded.length > 0 || playground.errors.length > 0", "the model");
    const loaded = await evaluate<{ task: string; device: string; step: number; bytes: number; seconds: number; at: number }[]>("playground.loaded");
    const sidecar = JSON.parse(readFileSync("playground/models/8gaussians.json", "utf8")) as { config: { step: number } };
    expect(loaded[0]).toMatchObject({ task: "8gaussians", device: "wasm", step: sidecar.config.step, bytes: readFileSync("playground/models/8gaussians.safetensors").length });
    const nav = await evaluate<{ dcl: number; load: number }>(
      "(() => { const n = performance.getEntriesByType('navigation')[0]; return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd }; })()",
    );
    const main = built.files.find((f) => f.path === "main.js")!;
    const worker = built.files.find((f) => f.path === "worker.js")!;
    process.stdout.write(
      `playground: chromium up and page loaded in ${openMs.toFixed(0)} ms (DOMContentLoaded ${nav.dcl.toFixed(0)} ms, load ${nav.load.toFixed(0)} ms, ` +
        `model ready ${loaded[0]!.at.toFixed(0)} ms after navigation; fetched and loaded from bytes in ${(loaded[0]!.seconds * 1000).toFixed(0)} ms); main.js ${(main.bytes / 1024).toFixed(1)} KiB, worker.js ${(worker.bytes / 1024).toFixed(0)} KiB (minified)\n`,
    );
    // The main thread runs no numeric code: its script holds no jax-js.
    expect(main.bytes).toBeLessThan(20 * 1024);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it("painting a region with the mouse and running SVDD raises the share of samples in it; plain sampling matches p(A)", async () => {
    // Drag across the cells [0.5, 1.5]² (around the mode at 45°), after clearing the default region.
    await evaluate(`document.getElementById("clear").click(); document.getElementById("reward").value = "region"; 0`);
    const box = await evaluate<{ left: number; top: number; width: number; height: number }>(
      "(() => { const r = document.getElementById('view').getBoundingClientRect(); return { left: r.left, top: r.top, width: r.width, height: r.height }; })()",
    );
    const px = (x: number, y: number): [number, number] => [box.left + ((x + 3) / 6) * box.width, box.top + ((3 - y) / 6) * box.height];
    const want = new Set<number>();
    await page.mouse.move(...px(0.6, 0.6));
    await page.mouse.down();
    for (let y = 0.6; y <= 1.45; y += 0.1) {
      for (let x = 0.6; x <= 1.45; x += 0.1) {
        await page.mouse.move(...px(x, y));
        want.add(cellOf(x, y));
      }
    }
    await page.mouse.move(...px(1.4, 1.4));
    await page.mouse.up();
    const cells = await evaluate<number[]>("playground.painted");
    expect(cells).toEqual([...want].sort((a, b) => a - b));
    expect(cells).toHaveLength(16);
    const pA = cellsMass(cells);
    expect(pA).toBeGreaterThan(0.1);
    expect(pA).toBeLessThan(0.13);

    const plain = await run({ ...common, method: "none" });
    const svdd = await run({ ...common, method: "svdd" });
    const dps = await run({ ...common, method: "dps" });
    // The page's exact reference (importance sampling over exact draws) agrees with the closed form.
    expect(Math.abs(plain.numbers.exactRegionMass! - pA)).toBeLessThan(4 * Math.sqrt((pA * (1 - pA)) / 200_000));
    const tilted = (pA * Math.exp(10)) / (pA * Math.exp(10) + 1 - pA);
    expect(Math.abs(svdd.numbers.exactRewardMean - tilted)).toBeLessThan(0.01);
    // Plain samples: the model's share is p(A) up to sampling error (1,000 samples: sd ≈ 0.01) and model error.
    expect(Math.abs(plain.numbers.regionFraction! - pA)).toBeLessThan(0.05);
    // Guidance moves samples into A: SVDD (indicator) and DPS (smoothed indicator) raise the share by far
    // more than its sampling sd (≈ 0.016); neither reaches the exact tilt (≈ 1), which the page shows beside.
    expect(svdd.numbers.regionFraction!).toBeGreaterThan(plain.numbers.regionFraction! + 0.2);
    expect(dps.numbers.regionFraction!).toBeGreaterThan(plain.numbers.regionFraction! + 0.2);
    for (const r of [plain, svdd, dps]) expect(r.frames).toBe(25);
    process.stdout.write(
      `playground: p(A) = ${pA.toFixed(4)} (closed form), plain share ${plain.numbers.regionFraction} (${plain.numbers.seconds.toFixed(2)} s); ` +
        `SVDD (M = 8, α = 0.1) ${svdd.numbers.regionFraction} (${svdd.numbers.seconds.toFixed(2)} s); DPS (s = 1) ${dps.numbers.regionFraction} (${dps.numbers.seconds.toFixed(2)} s); exact tilt ${tilted.toFixed(4)}\n`,
    );
  }, 120_000);

  it("gives Node's samples for the same seed, model and settings: to float32 tolerance, and bit for bit with relaxed SIMD", async () => {
    const cells = await evaluate<number[]>("playground.painted");
    const settings = (method: RunSettings["method"]): RunSettings => ({ task: "8gaussians", method, reward: { kind: "region", cells }, alpha: 0.5, scale: 0.5, start: 0, candidates: 8, finetuneSteps: 10, steps: 20, n: 256, seed: 7 });
    const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      expect(a.length).toBe(b.length);
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
      return d;
    };
    // Plain sampling in this process (Node 20: no relaxed-SIMD FMA): the chain only rounds differently.
    await ensureBackend();
    const model = await loadModelFromBytes(new Uint8Array(readFileSync("playground/models/8gaussians.safetensors")), readFileSync("playground/models/8gaussians.json", "utf8"));
    const plainPage = await run({ ...settings("none"), reward: "region", device: "wasm" });
    let plainDiff: number;
    try {
      const plainNode = await runMethod(model, settings("none"));
      plainDiff = maxRelDiff(Float32Array.from(plainPage.samples), plainNode.samples.data);
      expect(plainDiff).toBeLessThan(1e-5);
    } finally {
      disposeLoadedModel(model);
    }
    // DPS amplifies rounding differences through ∇r(x̂₀) (a 1e-7 change grows to ~1e-3 in 20 steps), so it is
    // compared with a Node that uses relaxed-SIMD FMA like Chromium: then the samples are the same bits.
    const dpsPage = await run({ ...settings("dps"), reward: "region", device: "wasm" });
    const { stdout } = await promisify(execFile)(process.execPath, ["--experimental-wasm-relaxed-simd", "--import", "tsx", "playground/run-node.ts", JSON.stringify(settings("dps"))], { maxBuffer: 1 << 24 });
    const dpsNode = JSON.parse(stdout) as { rewardMean: number; samples: number[] };
    const dpsDiff = maxRelDiff(Float32Array.from(dpsPage.samples), Float32Array.from(dpsNode.samples));
    process.stdout.write(`playground: page vs Node, 256 samples × 20 steps: plain ${plainDiff.toExponential(2)} (max relative difference), DPS vs Node --experimental-wasm-relaxed-simd ${dpsDiff.toExponential(2)}\n`);
    expect(dpsDiff).toBe(0);
    expect(dpsPage.numbers.rewardMean).toBeCloseTo(dpsNode.rewardMean, 12);
  }, 120_000);

  it("the main thread has no long task (> 50 ms) during any run", async () => {
    type Task = { start: number; duration: number };
    /** The long tasks the page observed during its runs from the `from`-th on, with their traced CPU time. */
    const longTasksDuring = async (trace: MainThreadTrace, from: number) => {
      const runs = await evaluate<{ startedAt: number; endedAt: number }[]>(`playground.results.slice(${from}).map(r => ({ startedAt: r.startedAt, endedAt: r.endedAt }))`);
      const tasks = await evaluate<Task[]>("playground.longTasks");
      const during = tasks.filter((t) => runs.some((r) => t.start + t.duration > r.startedAt && t.start < r.endedAt));
      const cpu = (t: Task) => tracedTaskOf(trace.tasks, t.start, t.duration)?.cpu;
      return { runs, during, cpu, outside: tasks.length - during.length, dataLoss: trace.dataLoss };
    };
    const show = ({ during: ts, cpu, dataLoss }: Awaited<ReturnType<typeof longTasksDuring>>) =>
      JSON.stringify(ts.map((t) => ({ ...t, cpu: cpu(t) === undefined ? `not traced${dataLoss ? " (the trace lost data)" : ""}` : Number(cpu(t)!.toFixed(1)) })));
    const first = await longTasksDuring(await stopTrace!(), 0);
    stopTrace = undefined;
    const own = await evaluate<{ message: number; draw: number }>("playground.ownWork");
    expect(first.runs.length).toBeGreaterThanOrEqual(3);
    const busy = first.runs.reduce((s, r) => s + r.endedAt - r.startedAt, 0);
    process.stdout.write(
      `playground: ${first.runs.length} runs, ${(busy / 1000).toFixed(1)} s in all; long tasks on the main thread during them (ms; cpu: the main thread's CPU time in the task): ${show(first)}, outside them: ${first.outside}; ` +
        `the page's own code at most ${own.message.toFixed(1)} ms per worker message, ${own.draw.toFixed(1)} ms per drawing\n`,
    );
    // What the page's design controls: its own code (message handling, drawing) stays far below 50 ms.
    expect(Math.max(own.message, own.draw)).toBeLessThan(50);
    // What the user sees: no long task at all while sampling. The observer measures wall-clock time, and on
    // an oversubscribed machine the OS can deschedule the renderer mid-task (one 54 ms task was seen once at
    // load 7 on 2 cores). So, once: where the trace shows that every long task took under 50 ms of the main
    // thread's CPU time (it waited for a core, the page did not compute that long), the three runs of the
    // painted-region test are repeated and must have none. A task with 50 ms of CPU time or more fails at once.
    let during = first.during;
    if (during.length > 0 && during.every((t) => (first.cpu(t) ?? Infinity) < 50)) {
      const from = await evaluate<number>("playground.results.length");
      const stop = await traceMainThread(page);
      for (const method of ["none", "svdd", "dps"]) await run({ ...common, method });
      const again = await longTasksDuring(await stop(), from);
      process.stdout.write(`playground: repeated the 3 runs (the long tasks above were descheduling): long tasks during them: ${show(again)}\n`);
      during = again.during;
    }
    expect(during).toEqual([]);
  }, 90_000);

  it("the webgpu device (SwiftShader) gives wasm's samples to its precision", async (ctx) => {
    const adapter = await evaluate<boolean>("navigator.gpu ? navigator.gpu.requestAdapter().then(a => !!a) : false");
    if (!adapter) {
      console.log("playground webgpu check skipped: Chromium exposes no WebGPU adapter here (needs --enable-unsafe-webgpu and SwiftShader)");
      ctx.skip();
    }
    const common = { task: "8gaussians", method: "none", steps: 10, n: 128, seed: 5 };
    const wasm = await run({ ...common, device: "wasm" });
    const gpu = await run({ ...common, device: "webgpu" });
    expect(gpu.numbers.device).toBe("webgpu");
    const a = wasm.samples;
    const b = gpu.samples;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    process.stdout.write(`playground: webgpu vs wasm, 128 samples × 10 steps: max |difference| ${maxDiff.toExponential(2)}; ${gpu.numbers.seconds.toFixed(2)} s vs ${wasm.numbers.seconds.toFixed(2)} s\n`);
    expect(maxDiff).toBeLessThan(1e-2);
  }, 120_000);
});
