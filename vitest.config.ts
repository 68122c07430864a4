import { defineConfig } from "vitest/config";
import SlowFirstSequencer from "./test/setup/slow-first-sequencer.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    // The wasm heap probe is opt-in (src/backend/heap.ts) and must be installed before jax-js loads.
    setupFiles: ["test/setup/heap-probe.ts"],
    // Vitest runs cores − 1 test files at a time by default: one at a time on a 2-core machine. Each file
    // computes on one core (jax-js's wasm without worker threads), so two at a time use both.
    maxWorkers: 2,
    // Slowest files first (measured durations; a fresh clone has no previous run to order by).
    sequence: { sequencer: SlowFirstSequencer },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
