#!/usr/bin/env node
// The command-line entry point: runs the compiled CLI (built by `npm install` via the prepare script).
// First it decides whether jax-js gets a wasm worker pool (src/cli/threads-policy.ts): the pool is created when
// @jax-js/jax is evaluated, so REWARDIFF_THREADS must be set before main (and with it jax-js) is imported.
// Then it turns on relaxed SIMD where Node has it behind a flag (src/cli/relaxed-simd.ts; REWARDIFF_RELAXED_SIMD=0: off).
import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { resolveThreads } from "../dist/cli/threads-policy.js";
import { enableRelaxedSimd } from "../dist/cli/relaxed-simd.js";

const fail = (err) => {
  process.stderr.write(`rewardiff: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
};

const argv = process.argv.slice(2);
let threads;
try {
  const readJson = (path) => {
    try {
      return JSON.parse(readFileSync(path, "utf8"));
    } catch {
      return undefined; // the command itself reports a missing or bad file
    }
  };
  threads = resolveThreads(argv, process.env, availableParallelism(), readJson);
} catch (err) {
  process.stderr.write(`rewardiff: ${err instanceof Error ? err.message : String(err)} (run with --help for usage)\n`);
  process.exit(2);
}
process.env.REWARDIFF_THREADS = threads.value;
// Fused multiply–add in jax-js's matmul kernels on Node 20 (src/cli/relaxed-simd.ts), before any kernel compiles.
const relaxedSimd = enableRelaxedSimd(process.env);

try {
  const { main } = await import("../dist/cli/main.js");
  const code = await main(argv);
  if (process.env.REWARDIFF_THREADS_REPORT === "1") {
    const { shimWorkersStarted } = await import("../dist/backend/threads.js");
    const w = shimWorkersStarted();
    process.stderr.write(`threads: REWARDIFF_THREADS=${threads.value} (${threads.why}); ${w} workers started${w > 0 ? ` (${w + 1} threads with the calling one)` : ""}\nrelaxed SIMD: ${relaxedSimd}\n`);
  }
  process.exit(code);
} catch (err) {
  fail(err);
}
