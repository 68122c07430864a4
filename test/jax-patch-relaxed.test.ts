/**
 * Relaxed SIMD on Node 20 (src/cli/relaxed-simd.ts): the CLI sets V8's flag before jax-js compiles a
 * kernel, and jax-js then fuses multiply–add in its matmul kernels, as it does in Chromium. Checked in
 * child processes (V8 flags are process-wide): the kernels really contain `f32x4.relaxed_madd`, or not when
 * opted out; every case of test/fixtures/jax-patch-cases.ts stays within its float64 bound, element-wise
 * kernels keep the unpatched bits, and matmuls differ from the unfused ones only within the
 * summation-order bound; the CLI reports what it did.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "rewardiff-relaxed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const node20 = process.versions.node.split(".")[0] === "20";
const url = (p: string) => JSON.stringify(pathToFileURL(join(root, p)).href);

const script = `
import { readFileSync } from "node:fs";
import { enableRelaxedSimd } from ${url("src/cli/relaxed-simd.ts")};
const status = enableRelaxedSimd(process.env);
const modules = [];
const { Module, compile } = WebAssembly;
WebAssembly.Module = class extends Module { constructor(b) { modules.push(new Uint8Array(b)); super(b); } };
WebAssembly.compile = (b) => { modules.push(new Uint8Array(b)); return compile(b); };
const jax = await import(${url("node_modules/@jax-js/jax/dist/index.js")});
const { decodeF32, patchCases, runPatchCases } = await import(${url("test/fixtures/jax-patch-cases.ts")});
const { checkCase } = await import(${url("test/fixtures/jax-patch-checks.ts")});
await jax.init("wasm");
jax.defaultDevice("wasm");
const golden = JSON.parse(readFileSync(${JSON.stringify(join(root, "test/fixtures/jax-patch-golden.json"))}, "utf8")).outputs;
const cases = patchCases();
const out = await runPatchCases(jax, cases);
const checks = cases.map((c) => ({ kind: c.kind, ...checkCase(c, out.get(c.name), decodeF32(golden[c.name])) }));
const madd = modules.some((b) => b.some((_, i) => b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02));
console.log(JSON.stringify({ status, madd, checks }));
`;
const file = join(dir, "relaxed-child.mts");
writeFileSync(file, script);

type Check = { kind: string; name: string; float64: string[]; bitDiffs: number; orderViolations: string[] };
function child(env: Record<string, string>): { status: string; madd: boolean; checks: Check[] } {
  const r = spawnSync("npx", ["tsx", file], { cwd: root, encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}
const isElementwise = (c: { kind: string }) => !c.kind.startsWith("matmul") && c.kind !== "grad";

describe.runIf(node20)("relaxed SIMD on Node 20", () => {
  it("is enabled by enableRelaxedSimd, fuses matmuls within the reordering bound, keeps element-wise bits", () => {
    const on = child({ REWARDIFF_RELAXED_SIMD: "" });
    expect(on.status).toBe("enabled");
    expect(on.madd).toBe(true);
    expect(on.checks.flatMap((c) => c.float64)).toEqual([]);
    expect(on.checks.filter((c) => isElementwise(c) && c.bitDiffs > 0).map((c) => c.name)).toEqual([]);
    expect(on.checks.flatMap((c) => c.orderViolations)).toEqual([]);
    // The fused kernels do change some matmul bits (else this test would not see the flag at work).
    expect(on.checks.filter((c) => !isElementwise(c) && c.bitDiffs > 0).length).toBeGreaterThan(0);
  }, 150_000);

  it("stays off with REWARDIFF_RELAXED_SIMD=0: no relaxed_madd, and every matmul has the unfused bits", () => {
    const off = child({ REWARDIFF_RELAXED_SIMD: "0" });
    expect(off.status).toBe("off");
    expect(off.madd).toBe(false);
    expect(off.checks.filter((c) => c.kind === "matmul" || c.kind === "matmul-nt" || c.kind === "matmul-tn").filter((c) => c.bitDiffs > 0).map((c) => c.name)).toEqual([]);
  }, 150_000);

  it("the CLI turns it on and says so", () => {
    expect(existsSync(join(root, "dist", "cli", "relaxed-simd.js")), "dist/ is missing: run `npm run build` first").toBe(true);
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, ["bin/rewardiff.js", "--help"], { cwd: root, encoding: "utf8", env: { ...process.env, REWARDIFF_THREADS_REPORT: "1", ...env }, timeout: 60_000 });
    const on = run({ REWARDIFF_RELAXED_SIMD: "" });
    expect(on.status, on.stderr).toBe(0);
    expect(on.stderr).toMatch(/^relaxed SIMD: enabled$/m);
    const off = run({ REWARDIFF_RELAXED_SIMD: "0" });
    expect(off.stderr).toMatch(/^relaxed SIMD: off$/m);
  }, 60_000);
});
