/**
 * The optional worker-thread pool (src/backend/threads.ts): a browser-`Worker` shim over
 * node:worker_threads that lets jax-js's wasm backend dispatch kernels to workers.
 * Checked here: the shim's message semantics (source delivered first, early messages kept in order),
 * and, in child processes (threads are decided when jax-js is evaluated), that a computation gives the
 * same numbers with and without the pool, that the pool was really used, and that the process exits
 * by itself (idle workers never keep Node alive; a pending read is never cut short).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { WorkerShim, threadsFromEnv } from "../src/backend/threads.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "rewardiff-threads-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function collect(w: WorkerShim, n: number, timeoutMs = 20_000): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`timed out with ${JSON.stringify(got)}`)), timeoutMs);
    w.onerror = (e) => {
      clearTimeout(timer);
      rej(new Error(String(e.message)));
    };
    w.onmessage = (e) => {
      got.push(e.data);
      if (got.length === n) {
        clearTimeout(timer);
        res(got);
      }
    };
  });
}

describe("WorkerShim", () => {
  for (const type of ["module", "classic"] as const) {
    it(`runs a ${type} blob: worker and keeps early messages in order`, async () => {
      const src = `let n = 0; self.onmessage = (e) => { postMessage({ i: n++, echo: e.data, isSelf: self === globalThis }); };`;
      const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
      const w = new WorkerShim(url, { type });
      // Posted synchronously, before the blob's text can have been delivered to the thread.
      for (let k = 0; k < 5; k++) w.postMessage({ k });
      const got = await collect(w, 5);
      w.terminate();
      URL.revokeObjectURL(url);
      expect(got).toEqual([0, 1, 2, 3, 4].map((k) => ({ i: k, echo: { k }, isSelf: true })));
    });
  }

  it("shares a SharedArrayBuffer with the worker", async () => {
    const src = `self.onmessage = (e) => { const a = new Int32Array(e.data); Atomics.add(a, 0, 41); postMessage("done"); };`;
    const url = URL.createObjectURL(new Blob([src]));
    const w = new WorkerShim(url, { type: "module" });
    const sab = new SharedArrayBuffer(4);
    new Int32Array(sab)[0] = 1;
    w.postMessage(sab);
    await collect(w, 1);
    w.terminate();
    expect(new Int32Array(sab)[0]).toBe(42);
  });

  it("reports an error in the worker source through onerror", async () => {
    const url = URL.createObjectURL(new Blob([`throw new Error("boom in worker")`]));
    const w = new WorkerShim(url, { type: "classic" });
    const err = await new Promise<string>((res) => {
      w.onerror = (e) => res(String(e.message));
    });
    w.terminate();
    expect(err).toMatch(/boom in worker/);
  });
});

describe("REWARDIFF_THREADS", () => {
  it("is off by default and parses thread counts", () => {
    expect(threadsFromEnv({})).toBeUndefined();
    expect(threadsFromEnv({ REWARDIFF_THREADS: "0" })).toBeUndefined();
    expect(threadsFromEnv({ REWARDIFF_THREADS: "1" })).toEqual({});
    expect(threadsFromEnv({ REWARDIFF_THREADS: "2" })).toEqual({ threads: 2 });
    expect(() => threadsFromEnv({ REWARDIFF_THREADS: "many" })).toThrow(/REWARDIFF_THREADS/);
  });
});

describe("jax-js with the worker pool (child processes)", () => {
  const threadsModule = JSON.stringify(join(root, "src/backend/threads.ts"));
  const backendModule = JSON.stringify(join(root, "src/backend/index.ts"));
  // No process.exit anywhere: the child must end by itself once its work is done.
  const script = `
import { installWorkerShim } from ${threadsModule};
const mode = process.env.USE_THREADS; // "off" | "explicit" | "env" (REWARDIFF_THREADS read on import)
let created = 0, kernels = 0;
if (mode === "explicit" && !installWorkerShim({ threads: 2 })) throw new Error("shim not installed");
if (mode !== "off") {
  const Shim = globalThis.Worker;
  if (typeof Shim !== "function") throw new Error("no Worker global");
  globalThis.Worker = class extends Shim {
    constructor(u, o) { super(u, o); created++; }
    postMessage(d, t) { if (d && d.type === "kernel") kernels++; super.postMessage(d, t); }
  };
}
const { np, jnn, random, jit, ensureBackend } = await import(${backendModule});
await ensureBackend();
const x = random.normal(random.key(3), [300, 64]);
const w = random.normal(random.key(4), [64, 128]).mul(0.125);
const f = jit((x, w) => np.sum(jnn.silu(np.matmul(x, w)), 0));
const y = f(x, w.ref);
const out = Array.from(await y.data());
// The same kernels again on new inputs: now handed to the worker through the pool's shared control row
// instead of by message (patches/README.md, item 11); the buffers of the first run were freed.
const out2 = Array.from(await f(random.normal(random.key(5), [300, 64]), w).data());
// Installing after jax-js has been evaluated would break every kernel: it must be refused.
let lateRefused = false;
try { installWorkerShim({ force: true }); } catch { lateRefused = true; }
const kernelsBefore = kernels;
const still = Array.from(await np.array([1, 2, 3]).mul(2).data());
// A kernel this small runs on the calling thread, in queue order (patches/README.md): no message.
const smallPosted = kernels - kernelsBefore;
console.log(JSON.stringify({ out, out2, created, kernels, lateRefused, still, smallPosted }));
`;
  const file = join(dir, "threads-child.mts");
  writeFileSync(file, script);

  type ChildOut = { out: number[]; out2: number[]; created: number; kernels: number; lateRefused: boolean; still: number[]; smallPosted: number };
  function run(mode: "off" | "explicit" | "env"): ChildOut {
    const r = spawnSync("npx", ["tsx", file], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, USE_THREADS: mode, REWARDIFF_THREADS: mode === "env" ? "2" : "" },
      timeout: 90_000,
    });
    // Killed by the timeout (signal set) = the child did not exit by itself.
    expect(r.signal, `child hung or was killed; stderr: ${r.stderr}`).toBeNull();
    expect(r.status, `child failed; stderr: ${r.stderr}`).toBe(0);
    const line = r.stdout.trim().split("\n").pop()!;
    return JSON.parse(line);
  }

  it("gives the single-threaded numbers, uses the workers, and exits by itself", () => {
    const single = run("off");
    expect(single.created).toBe(0);
    expect(single.out).toHaveLength(128);
    for (const mode of ["explicit", "env"] as const) {
      const multi = run(mode);
      expect(multi.created, mode).toBe(1); // 2 threads: 1 worker and the calling thread (patch item 10)
      expect(multi.kernels, mode).toBeGreaterThan(0);
      expect(multi.still, mode).toEqual([2, 4, 6]);
      expect(multi.smallPosted, mode).toBe(0);
      for (const k of ["out", "out2"] as const) {
        expect(multi[k], `${mode} ${k}`).toHaveLength(128);
        for (let i = 0; i < 128; i++) {
          const a = single[k][i]!;
          const b = multi[k][i]!;
          expect(Math.abs(a - b), `${mode} ${k}[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a)));
        }
      }
    }
  });

  it("refuses to install the shim after jax-js has created its memory", () => {
    const r = run("off");
    expect(r.lateRefused).toBe(true);
    expect(r.still).toEqual([2, 4, 6]);
  });
});
