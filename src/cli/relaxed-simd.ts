/**
 * Relaxed SIMD for jax-js's wasm kernels on Node 20. jax-js emits `f32x4.relaxed_madd` (a fused
 * multiply–add) in its matmul kernels when the engine validates it, as Chromium and Node ≥ 22 do; Node 20
 * (V8 11.3) implements it behind `--experimental-wasm-relaxed-simd`, which cannot go in NODE_OPTIONS but
 * can be set in-process before jax-js compiles its first kernel (it probes the feature once, at its first
 * kernel). On x86-64 with FMA the instruction is `vfmadd`: one rounding instead of two per product, so
 * a matmul may differ from the unfused one in the last bits (a reordering-sized difference, as in
 * Chromium), and the same machine always gives the same bits. Measured gains: bench/README.md,
 * "Relaxed SIMD". Node-only (node:v8): the CLI (bin/rewardiff.js) and the benchmarks call it; the
 * library leaves the engine as it finds it.
 */
import { setFlagsFromString } from "node:v8";

/** jax-js's own probe (`featureProbes["relaxed-madd"]`): a module using `f32x4.relaxed_madd`. */
const RELAXED_MADD_PROBE = "0061736d0100000001080160037b7b7b017b030201000a0d010b00200020012002fd85020b";

/** What {@link enableRelaxedSimd} found or did. */
export type RelaxedSimdStatus = "native" | "enabled" | "off" | "unavailable";

function engineHasRelaxedMadd(): boolean {
  const bytes = Uint8Array.from(RELAXED_MADD_PROBE.match(/../g)!, (h) => Number.parseInt(h, 16));
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/**
 * Turns on relaxed SIMD where the engine has it behind a flag, unless `REWARDIFF_RELAXED_SIMD=0`.
 * "native": the engine validates it already; "enabled": the flag was set (V8 11, Node 20); "off": the
 * environment opted out; "unavailable": neither. Call it before the first jax-js kernel is compiled.
 */
export function enableRelaxedSimd(env: NodeJS.ProcessEnv = process.env): RelaxedSimdStatus {
  if (engineHasRelaxedMadd()) return "native";
  if (env.REWARDIFF_RELAXED_SIMD === "0") return "off";
  // Only V8 11 (Node 20) has the experimental flag with the final opcodes; other versions would print
  // "unrecognized flag" or validate different encodings.
  if (Number(process.versions.v8.split(".")[0]) !== 11) return "unavailable";
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  return engineHasRelaxedMadd() ? "enabled" : "unavailable";
}
