/**
 * patches/@jax-js+jax+0.1.25.patch (applied by patch-package at install; patches/README.md): SIMD exp,
 * log and reciprocal (hence division, sigmoid, SiLU, softplus, tanh) in jax-js's wasm code generator, and
 * a vector body plus scalar remainder for element-wise kernels whose length is not a multiple of 4.
 * Every case of test/fixtures/jax-patch-cases.ts is checked against float64 (bounds derived from
 * jax-js's float32 formulas) and against the UNPATCHED outputs recorded by scripts/jax-patch-golden.ts:
 * element-wise kernels must keep every bit; kernels with a reduction may only reorder the float32 sum.
 * The same checks run in headless Chromium on the bundled (patched) dist.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromiumSkipReason, runChromiumPage } from "./helpers/chromium-page.js";
import { beforeAll, describe, expect, it } from "vitest";
import { np } from "../src/backend/jax.js";
import { ensureBackend } from "../src/backend/init.js";
import { silu } from "../src/nn/activations.js";
import * as jax from "@jax-js/jax";
import { decodeF32, patchCases, runPatchCases, tiledMatmulCases, type PatchCase } from "./fixtures/jax-patch-cases.js";
import { checkCase, type CaseCheck } from "./fixtures/jax-patch-checks.js";

const golden = (JSON.parse(readFileSync("test/fixtures/jax-patch-golden.json", "utf8")) as { outputs: Record<string, string> }).outputs;
const cases = patchCases();
const isElementwise = (c: { kind: string }) => !c.kind.startsWith("matmul") && c.kind !== "grad";

describe("the installed @jax-js/jax", () => {
  it("is 0.1.25 with the patch applied to both its ESM and CJS wasm backends", () => {
    const dir = "node_modules/@jax-js/jax/dist";
    expect((JSON.parse(readFileSync("node_modules/@jax-js/jax/package.json", "utf8")) as { version: string }).version).toBe("0.1.25");
    const backends = readdirSync(dir).filter((f) => /^backend-.*\.(c?js)$/.test(f));
    expect(backends).toHaveLength(2);
    for (const f of backends) {
      const src = readFileSync(join(dir, f), "utf8");
      expect(src).toContain("function wasm_exp_simd(cg)");
      expect(src).toContain("function wasm_log_simd(cg)");
      expect(src).toMatch(/"Sqrt",\s*"Reciprocal",\s*"Exp",\s*"Log",/);
      expect(src).toContain("the scalar loop below finishes the remainder");
      // Matmul micro-kernels, small kernels on the calling thread, one instance per kernel.
      expect(src).toContain("const TILED_SIMD_MICRO_ROWS = 2;");
      expect(src).toContain("const K_SIMD_MICRO_COLS = 2;");
      expect(src).toContain("const K_SIMD_MAX_UNROLL = 1;");
      expect(src).toContain("cg.v128.load32_splat(2, offset)");
      expect(src).toContain("const MIN_WORK_FOR_WORKERS = 65536;");
      expect(src).toContain("this.#workerPool.dispatchLocal(");
      expect(src).toContain("this.#kernelFunc(program)(...ptrs, 0, program.workSize);");
      expect(src).toContain("function rowGatherReductionPlan(kernel, exp, pointers)");
    }
  });
});

describe("the code jax-js generates", () => {
  it("is SIMD for exp, log and reciprocal kernels (f32x4.nearest, f32x4.div in the compiled module)", async () => {
    await ensureBackend();
    const captured: Uint8Array[] = [];
    const wa = WebAssembly as unknown as { Module: typeof WebAssembly.Module; compile: typeof WebAssembly.compile };
    const { Module, compile } = wa;
    wa.Module = class extends Module {
      constructor(bytes: BufferSource) {
        captured.push(new Uint8Array(bytes as ArrayBuffer));
        super(bytes);
      }
    };
    wa.compile = (bytes: BufferSource) => {
      captured.push(new Uint8Array(bytes as ArrayBuffer));
      return compile(bytes);
    };
    const has = (seq: number[]) => captured.some((b) => b.some((_, i) => seq.every((v, j) => b[i + j] === v)));
    try {
      // Lengths no other test uses, so that the kernels are compiled here (jax-js caches by kernel).
      await np.exp(np.array(new Float32Array(4093).fill(0.5))).data();
      expect(has([0xfd, 0x6a])).toBe(true); // f32x4.nearest: only wasm_exp_simd emits it
      captured.length = 0;
      await np.reciprocal(np.array(new Float32Array(4091).fill(3))).data();
      expect(has([0xfd, 0xe7, 0x01])).toBe(true); // f32x4.div
      captured.length = 0;
      await np.log(np.array(new Float32Array(4089).fill(3))).data();
      expect(has([0xfd, 0xe7, 0x01]) && has([0xfd, 0xad, 0x01])).toBe(true); // f32x4.div, i32x4.shr_u
      captured.length = 0;
      // A width-2 matmul (a denoiser's last layer): the gathered path, 4 outputs per vector.
      const seq = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      await np.matmul(np.array(seq(37 * 45), { shape: [37, 45] }), np.array(seq(45 * 2), { shape: [45, 2] })).data();
      expect(has([0xfd, 0x09]) && has([0xfd, 0x20])).toBe(true); // v128.load32_splat, f32x4.replace_lane
    } finally {
      wa.Module = Module;
      wa.compile = compile;
    }
  });
});

describe("patched kernels on Node (wasm)", () => {
  const checks = new Map<string, CaseCheck>();
  beforeAll(async () => {
    await ensureBackend();
    const out = await runPatchCases(jax, cases);
    for (const c of cases) checks.set(c.name, checkCase(c, out.get(c.name)!, decodeF32(golden[c.name]!)));
  });

  it("the golden file covers every case", () => {
    expect(Object.keys(golden).sort()).toEqual(cases.map((c) => c.name).sort());
  });

  it("every output is within its float64 error bound", () => {
    expect([...checks.values()].flatMap((r) => r.float64)).toEqual([]);
  });

  it("element-wise kernels (exp, log, reciprocal, divide, sigmoid, SiLU, softplus, tanh; lengths 1–1027) keep the unpatched bits", () => {
    const diffs = cases.filter(isElementwise).map((c) => checks.get(c.name)!).filter((r) => r.bitDiffs > 0);
    expect(diffs.map((r) => `${r.name}: ${r.bitDiffs} elements, ${r.maxUlp} ulp`)).toEqual([]);
  });

  it("plain matmuls (no patched op) keep the unpatched bits; with fused exp/reciprocal producers only the sum order may change", () => {
    const plain = cases.filter((c) => c.kind === "matmul").map((c) => checks.get(c.name)!);
    expect(plain.filter((r) => r.bitDiffs > 0).map((r) => r.name)).toEqual([]);
    const reductions = cases.filter((c) => !isElementwise(c)).map((c) => checks.get(c.name)!);
    expect(reductions.flatMap((r) => r.orderViolations)).toEqual([]);
    // Measured: only the K-vectorised path (width 1, inner dimension a multiple of 4) reorders the sum;
    // the gidx-vectorised path accumulates k in order as the scalar loop does.
    const changed = reductions.filter((r) => r.bitDiffs > 0).map((r) => r.name);
    expect(changed.every((n) => /x(4|8)x1$/.test(n))).toBe(true);
  });

  it("matmuls on the tiled and gathered SIMD paths (a @ b, aᵀ @ b, a @ bᵀ, a fused SiLU; 3–64 rows, widths 1–68, K 2–256) keep the unpatched bits", () => {
    const tiled = tiledMatmulCases();
    expect(tiled).toHaveLength(29);
    const diffs = tiled.map((c) => checks.get(c.name)!).filter((r) => r.bitDiffs > 0);
    expect(diffs.map((r) => `${r.name}: ${r.bitDiffs} elements, ${r.maxUlp} ulp`)).toEqual([]);
  });

  it("rewardiff's SiLU (src/nn/activations.ts) is the case's formula: same bits as the unpatched run", async () => {
    const c = cases.find((k) => k.name === "repo-silu/1027")!;
    const y = new Float32Array(await silu(np.array(c.inputs[0]!.data)).data());
    expect(checkCase(c, y, decodeF32(golden[c.name]!)).bitDiffs).toBe(0);
  });

  it("the checks can fail: one ulp off an exact op, a few bounds off a polynomial, a reordered sum beyond its bound", () => {
    const perturb = (c: PatchCase, f: (y: Float32Array) => void): CaseCheck => {
      const y = decodeF32(golden[c.name]!).slice();
      f(y);
      return checkCase(c, y, decodeF32(golden[c.name]!));
    };
    const recip = cases.find((c) => c.name === "reciprocal/17")!;
    const r1 = perturb(recip, (y) => {
      const b = new Int32Array(y.buffer);
      b[2]! += 1; // 1/(−1) = −1 → next float
    });
    expect(r1.float64.length).toBe(1);
    expect(r1.bitDiffs).toBe(1);
    const exp = cases.find((c) => c.name === "exp/64")!;
    const r2 = perturb(exp, (y) => {
      y[2]! *= 1 + 4 * (2 ** -24 * 14 + 2e-7); // e^1: four times its bound
    });
    expect(r2.float64.length).toBe(1);
    const mm = cases.find((c) => c.name === "matmul-silu/6x8x1")!;
    const r3 = perturb(mm, (y) => {
      y[0]! += 1e-4;
    });
    expect(r3.orderViolations.length).toBe(1);
  });
});

if (chromiumSkipReason) console.log(`jax-patch.test.ts: Chromium part skipped: ${chromiumSkipReason}`);

const PAGE = `
import * as jax from "@jax-js/jax";
import golden from "./test/fixtures/jax-patch-golden.json";
import { decodeF32, patchCases, runPatchCases } from "./test/fixtures/jax-patch-cases.ts";
import { checkCase } from "./test/fixtures/jax-patch-checks.ts";
const report = (r) => console.log("REWARDIFF_RESULT " + JSON.stringify(r));
(async () => {
  const r = {};
  try {
    await jax.init("wasm");
    jax.defaultDevice("wasm");
    const cases = patchCases();
    const out = await runPatchCases(jax, cases);
    r.checks = cases.map((c) => ({ kind: c.kind, ...checkCase(c, out.get(c.name), decodeF32(golden.outputs[c.name])) }));
  } catch (e) {
    r.error = String(e && e.stack || e);
  }
  report(r);
})();
`;

describe.skipIf(chromiumSkipReason !== undefined)("patched kernels in headless Chromium (wasm)", () => {
  it("within float64 bounds; element-wise bits equal Node's unpatched ones; reductions differ only by sum order / FMA", async () => {
    const r = await runChromiumPage(PAGE);
    expect(r.error).toBeUndefined();
    const checks = r.checks as (CaseCheck & { kind: string })[];
    expect(checks).toHaveLength(cases.length);
    expect(checks.flatMap((c) => c.float64)).toEqual([]);
    expect(checks.filter((c) => isElementwise(c) && c.bitDiffs > 0).map((c) => c.name)).toEqual([]);
    expect(checks.flatMap((c) => c.orderViolations)).toEqual([]);
    const reordered = checks.filter((c) => !isElementwise(c) && c.bitDiffs > 0);
    console.log(`jax-patch.test.ts (Chromium): ${reordered.length} reduction cases differ from Node's unpatched sums (max ${Math.max(0, ...reordered.map((c) => c.maxUlp))} ulp), all within the order bound`);
  }, 120_000);
});
