/**
 * Importing this module installs the wasm heap probe (./heap.ts, `installHeapProbe`). ES modules evaluate
 * their imports in order, so import it first — before anything that imports jax-js — in a program that
 * reads `wasmHeapBytes()` (the CLI, the benchmarks, the tests' setup file).
 */
import { installHeapProbe } from "./heap.js";

installHeapProbe();
