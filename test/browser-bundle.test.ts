/**
 * The "rewardiff" entry point must run in a browser: bundling it for platform "browser" must succeed
 * with no Node built-in left in the graph (file I/O lives in "rewardiff/node"); it must stay lean (no
 * report/plot code, unused modules dropped thanks to package.json `sideEffects`) and must not touch
 * `WebAssembly.Memory` when loaded (the wasm heap probe is opt-in: src/backend/heap.ts).
 * See docs/architecture.md, "Entry points".
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { build, type BuildOptions } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";

/** Budgets in gzipped KiB, each ~10–15% above the size measured when it was set (printed by the tests). */
const WHOLE_ENTRY_BUDGET_KIB = 215; // every export of src/index.ts, one file: 189 KiB (jax-js alone ~101, zod ~28)
const PAGE_BUDGET_KIB = 150; // what a page that trains, samples and guides loads before it asks for webgpu: 136 KiB

const lean: BuildOptions = { bundle: true, platform: "browser", format: "esm", write: false, minify: true, metafile: true, logLevel: "silent" };
const kib = (bytes: number) => bytes / 1024;
const gzKib = (bytes: Uint8Array) => kib(gzipSync(bytes, { level: 9 }).length);

/** vega, vega-lite and d3 (the report's plotting stack), by the files they come from and by name in the code. */
function expectNoPlotStack(inputs: string[], code: string): void {
  expect(inputs.filter((p) => /node_modules\/(vega|d3-)|src\/report\//.test(p))).toEqual([]);
  expect(code.match(/\bvega/gi)).toBeNull();
}

it("src/index.ts bundles for the browser without Node built-ins", async () => {
  const result = await build({
    entryPoints: ["src/index.ts"],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile!.inputs);
  expect(inputs.some((p) => p.includes("node_modules/@jax-js/jax"))).toBe(true);
  expect(inputs.filter((p) => p.startsWith("node:") || /src\/(io\/(atomic|checkpoint|files|npy)\.ts|io\/checkpoints\/(model-files|finetuned|reward|classifier)\.ts|pipeline\/(experiment|task-data)|cli\/)/.test(p))).toEqual([]);
  const code = result.outputFiles![0]!.text;
  expect(code).not.toMatch(/from\s*["']node:/);
}, 60_000);

describe("the browser entry is lean", () => {
  it(`every export of src/index.ts, minified and gzipped, stays under ${WHOLE_ENTRY_BUDGET_KIB} KiB, with no vega/d3`, async () => {
    const result = await build({ ...lean, entryPoints: ["src/index.ts"] });
    const code = result.outputFiles![0]!;
    const size = gzKib(code.contents);
    process.stdout.write(`browser entry (all exports): ${kib(code.contents.length).toFixed(0)} KiB minified, ${size.toFixed(1)} KiB gzipped (budget ${WHOLE_ENTRY_BUDGET_KIB})\n`);
    expectNoPlotStack(Object.keys(result.metafile!.inputs), code.text);
    expect(size).toBeLessThanOrEqual(WHOLE_ENTRY_BUDGET_KIB);
  }, 60_000);

  it(`a page that trains, samples and guides loads under ${PAGE_BUDGET_KIB} KiB gzipped (webgpu split off)`, async () => {
    // What the playground's worker imports; with code splitting, jax-js's webgpu/webgl backends are
    // separate chunks fetched only by ensureBackend({ device: "webgpu" }).
    const page = `import { ensureBackend, keyFromSeed, splitKey, toy2dTask, initTrainState, trainSteps, defaultTrainConfig,
      modelOutput, sample, samplerPlan, makeSchedule, toHost, guidedSample, rewardGuidanceTerm, bestOfN, loadModelFromBytes } from "./src/index.ts";
      export const used = [ensureBackend, keyFromSeed, splitKey, toy2dTask, initTrainState, trainSteps, defaultTrainConfig,
      modelOutput, sample, samplerPlan, makeSchedule, toHost, guidedSample, rewardGuidanceTerm, bestOfN, loadModelFromBytes];`;
    const outdir = join(tmpdir(), "rewardiff-page-bundle");
    const result = await build({ ...lean, stdin: { contents: page, resolveDir: process.cwd(), loader: "ts", sourcefile: "page.ts" }, splitting: true, outdir });
    const outputs = result.metafile!.outputs;
    // The chunks the page loads up front: the entry and what it imports statically, transitively.
    const byPath = new Map(result.outputFiles!.map((f) => [f.path, f]));
    const key = (p: string) => [...byPath.keys()].find((abs) => abs.endsWith(p.replace(/^(\.\.\/)+/, "/")))!;
    const entry = Object.keys(outputs).find((p) => outputs[p]!.entryPoint !== undefined)!;
    const initial = new Set<string>();
    const visit = (p: string) => {
      if (initial.has(p)) return;
      initial.add(p);
      for (const i of outputs[p]!.imports) if (i.kind === "import-statement") visit(i.path);
    };
    visit(entry);
    const lazy = Object.keys(outputs).filter((p) => !initial.has(p) && !p.endsWith(".map"));
    expect(lazy.some((p) => /webgpu/.test(p)), `lazy chunks: ${lazy.join(", ")}`).toBe(true);
    const files = [...initial].map((p) => byPath.get(key(p))!);
    const size = files.reduce((s, f) => s + gzKib(f.contents), 0);
    process.stdout.write(`playground-like page: ${size.toFixed(1)} KiB gzipped up front in ${files.length} chunks (budget ${PAGE_BUDGET_KIB}); lazy: ${lazy.length} chunks\n`);
    expectNoPlotStack(Object.keys(result.metafile!.inputs), files.map((f) => f.text).join("\n"));
    expect(size).toBeLessThanOrEqual(PAGE_BUDGET_KIB);
  }, 60_000);
});

describe("the wasm heap probe is opt-in", () => {
  const dir = mkdtempSync(join(tmpdir(), "rewardiff-heap-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Bundles `entry` to dir/name.mjs, then runs a fresh Node on `script` (ESM), returning its JSON output. */
  async function runInFreshNode(name: string, entry: string, script: string): Promise<Record<string, unknown>> {
    const result = await build({ ...lean, stdin: { contents: entry, resolveDir: process.cwd(), loader: "ts", sourcefile: `${name}.ts` }, minify: false });
    writeFileSync(join(dir, `${name}.mjs`), result.outputFiles![0]!.contents);
    writeFileSync(join(dir, `${name}-run.mjs`), script);
    const { stdout } = await promisify(execFile)(process.execPath, [join(dir, `${name}-run.mjs`)], { cwd: dir });
    return JSON.parse(stdout) as Record<string, unknown>;
  }

  it("loading the browser bundle leaves WebAssembly.Memory alone; wasmHeapBytes then refuses to answer", async () => {
    const out = await runInFreshNode(
      "lib",
      `export * from "./src/index.ts";`,
      `const original = WebAssembly.Memory;
       const lib = await import("./lib.mjs");
       await lib.ensureBackend();
       const x = lib.np.ones([64]); await x.data();
       const refuses = (f) => { try { f(); return false; } catch { return true; } };
       console.log(JSON.stringify({ same: WebAssembly.Memory === original, installed: lib.heapProbeInstalled(),
         readRefused: refuses(() => lib.wasmHeapBytes()), lateInstallRefused: refuses(() => lib.installHeapProbe()),
         stillSame: WebAssembly.Memory === original }));`,
    );
    expect(out).toEqual({ same: true, installed: false, readRefused: true, lateInstallRefused: true, stillSame: true });
  }, 60_000);

  it("importing the heap-probe module first observes jax-js's memory (the opt-in)", async () => {
    const out = await runInFreshNode(
      "probed",
      `import "./src/backend/heap-probe.ts";\nexport * from "./src/index.ts";`,
      `const original = WebAssembly.Memory;
       const lib = await import("./probed.mjs");
       await lib.ensureBackend();
       const before = lib.wasmHeapBytes();
       const x = lib.np.ones([1 << 20]); await x.data();
       console.log(JSON.stringify({ replaced: WebAssembly.Memory !== original, installed: lib.heapProbeInstalled(), before, after: lib.wasmHeapBytes() }));`,
    );
    expect(out.replaced).toBe(true);
    expect(out.installed).toBe(true);
    // A 2^20-element float32 array needs at least 4 MiB of wasm memory.
    expect(out.after as number).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(out.after as number).toBeGreaterThanOrEqual(out.before as number);
  }, 60_000);
});
