/**
 * Optional multi-threading for the jax-js wasm backend in Node: a small shim of the browser `Worker`
 * over `node:worker_threads`.
 *
 * Why: jax-js (0.1.25) dispatches wasm kernels to a pool of Web Workers sharing one
 * `WebAssembly.Memory` when `globalThis.Worker` and `SharedArrayBuffer` exist. Node has
 * `SharedArrayBuffer` but no global `Worker`, so jax-js runs single-threaded there.
 *
 * What the shim does: `new Worker(url, { type })` with a `blob:` (or `data:`) URL starts a
 * `worker_threads` worker from an eval'd bootstrap. The main thread reads the blob's source text
 * (`resolveObjectURL(url).text()`), posts it as the first message, and only then forwards the
 * messages posted meanwhile, in order. The bootstrap defines the browser globals the source uses
 * (`self`, `postMessage`, `onmessage`, `addEventListener`), bridges them to `parentPort`, evaluates the
 * source (as an ES module through a `data:` import for `{ type: "module" }`, else as a classic
 * script), and queues messages that arrive before the source has set its handler.
 *
 * Process lifetime: a worker is `ref`'d only while it owes replies (jax-js's pool protocol is one reply
 * per message: init → ready, kernel → kernel-done, routine → done; with the patch's item 11 a kernel handed
 * to a waiting worker through the pool's shared control block sends no message, and the calling thread
 * waits for it synchronously) and `unref`'d when idle, so an idle pool never keeps Node alive, and a
 * pending `await x.data()` is never cut short by the process exiting.
 *
 * HOW TO USE. jax-js creates its wasm backend (and decides on threads) when `@jax-js/jax` is
 * *evaluated*, not in `init("wasm")`, so calling this from `ensureBackend()` is too late. Either:
 * - (recommended) import this module for its side effect before `@jax-js/jax`: in `./jax.ts`,
 *   `import "./polyfills.js"; import "./threads.js";` then the jax-js re-exports.
 *   At evaluation it installs the shim only when `REWARDIFF_THREADS=1` (or `=N` for N threads) is set;
 *   otherwise it does nothing. It has no static Node imports (built-ins come from
 *   `process.getBuiltinModule`, Node ≥ 20.16), so browser bundles can include it;
 * - or call `installWorkerShim()` in a Node entry script before anything imports `@jax-js/jax`, and
 *   load the rest with a dynamic `await import(...)` (e.g. a CLI `--threads` flag parsed first).
 * Installing it AFTER jax-js has been evaluated is not harmless: jax-js then has an unshared memory but
 * compiles every kernel for a shared one (it re-checks `typeof Worker` at compile time), and the first
 * kernel fails with "LinkError: memory import 0 has no maximum limit". So `installWorkerShim()` throws
 * when rewardiff's bootstrap (./jax.ts) has already been evaluated (./jax-loaded.ts); it cannot tell
 * when jax-js was imported directly, bypassing ./jax.ts. `shimWorkersStarted()` tells afterwards whether jax-js really started
 * workers (it does so at its first asynchronous read).
 *
 * Caveats measured or read from jax-js's source (see bench/README.md):
 * - with a pool, kernels run on workers only when results are read asynchronously (`await x.data()`,
 *   `blockUntilReady`); sync reads (`dataSync()`, `js()`) still run on the main thread. jax-js throws
 *   ("cannot read synchronously from a slot with async work") when a sync read or sync dispatch needs
 *   pooled work that is still in flight; code that awaits every async read before the next sync one
 *   does not hit this (not seen in tests);
 * - results are the same with and without the pool (kernels are split by output element);
 * - jax-js sizes the pool from `navigator.hardwareConcurrency`, which Node 20 lacks (→ 4 threads). The
 *   `threads` option defines a minimal `globalThis.navigator = { hardwareConcurrency }` only when
 *   Node has no `navigator` (Node ≥ 21 has one: then the option is ignored).
 */
import type { Worker as NodeWorkerType } from "node:worker_threads";
import { jaxEvaluated } from "./jax-loaded.js";

/**
 * Node built-ins, loaded synchronously without static imports so that this module stays loadable in
 * browsers (where it does nothing): `process.getBuiltinModule` exists from Node 20.16 / 22.3; on older
 * Node the shim is unavailable and `installWorkerShim()` returns false.
 */
interface NodeBits {
  Worker: typeof NodeWorkerType;
  resolveObjectURL: (id: string) => Blob | undefined;
  readFileSync: (path: string, enc: "utf8") => string;
  fileURLToPath: (url: string) => string;
  availableParallelism: () => number;
}
let nodeBits: NodeBits | null | undefined;
function node(): NodeBits | null {
  if (nodeBits !== undefined) return nodeBits;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => any } }).process;
  const get = proc?.getBuiltinModule?.bind(proc);
  if (!get) return (nodeBits = null);
  const wt = get("node:worker_threads");
  const buf = get("node:buffer");
  const fs = get("node:fs");
  const url = get("node:url");
  const os = get("node:os");
  nodeBits =
    wt && buf && fs && url && os
      ? {
          Worker: wt.Worker,
          resolveObjectURL: buf.resolveObjectURL,
          readFileSync: fs.readFileSync,
          fileURLToPath: url.fileURLToPath,
          availableParallelism: os.availableParallelism ?? (() => os.cpus().length),
        }
      : null;
  return nodeBits;
}

/** Options of {@link installWorkerShim}. */
export interface WorkerShimOptions {
  /**
   * The number of threads jax-js should compute on (`navigator.hardwareConcurrency`): with patches/README.md
   * item 10 it starts this many − 1 workers, and the calling thread computes a share of each pooled kernel.
   * Applied only on Node without a `navigator` global (Node 20). Default: `os.availableParallelism()`.
   */
  threads?: number;
  /** Replace an existing `globalThis.Worker` (default false: keep a real one, e.g. in browsers/Deno). */
  force?: boolean;
}

/** The code each worker thread starts with (a CommonJS-style script run by `new Worker(code, { eval: true })`). */
const BOOTSTRAP = String.raw`
const { parentPort } = require("node:worker_threads");
const g = globalThis;
let handler = null;
const listeners = new Set();
const queue = [];
let ready = false;
const deliver = (data) => {
  const ev = { data, type: "message", target: g, currentTarget: g };
  if (handler) handler.call(g, ev);
  for (const l of listeners) l.call(g, ev);
};
const flush = () => {
  while (ready && (handler || listeners.size > 0) && queue.length > 0) deliver(queue.shift());
};
Object.defineProperty(g, "self", { value: g, writable: true, configurable: true });
g.postMessage = (data, transfer) => parentPort.postMessage(data, transfer);
g.close = () => process.exit(0);
Object.defineProperty(g, "onmessage", {
  get: () => handler,
  set: (fn) => { handler = typeof fn === "function" ? fn : null; flush(); },
  configurable: true,
});
g.addEventListener = (type, fn) => { if (type === "message" && typeof fn === "function") { listeners.add(fn); flush(); } };
g.removeEventListener = (type, fn) => { if (type === "message") listeners.delete(fn); };
let gotSource = false;
parentPort.on("message", (msg) => {
  if (!gotSource) {
    gotSource = true;
    const { source, module } = msg;
    const done = () => { ready = true; flush(); };
    if (module) {
      import("data:text/javascript;charset=utf-8," + encodeURIComponent(source)).then(done, (err) => {
        setImmediate(() => { throw err; });
      });
    } else {
      (0, eval)(source);
      done();
    }
    return;
  }
  if (ready && (handler || listeners.size > 0) && queue.length === 0) deliver(msg);
  else queue.push(msg);
});
`;

/** A minimal browser `MessageEvent` / `ErrorEvent` look-alike handed to `onmessage` / `onerror`. */
interface ShimEvent {
  type: string;
  data?: unknown;
  message?: string;
  error?: unknown;
}
type Listener = (ev: ShimEvent) => void;

function sourceOf(url: string | URL): Promise<string> | string {
  const href = String(url);
  if (href.startsWith("blob:")) {
    const blob = node()!.resolveObjectURL(href);
    if (!blob) throw new Error(`Worker shim: no blob registered for ${href}`);
    return blob.text();
  }
  if (href.startsWith("data:")) {
    const comma = href.indexOf(",");
    const meta = href.slice(5, comma);
    const body = href.slice(comma + 1);
    if (!meta.endsWith(";base64")) return decodeURIComponent(body);
    return new TextDecoder().decode(Uint8Array.from(atob(body), (ch) => ch.charCodeAt(0)));
  }
  if (href.startsWith("file:")) return node()!.readFileSync(node()!.fileURLToPath(href), "utf8");
  throw new Error(`Worker shim: unsupported worker URL ${href}`);
}

/** The browser-`Worker` look-alike installed as `globalThis.Worker`. */
export class WorkerShim {
  /** How many shim workers have been constructed in this process. */
  static started = 0;
  onmessage: Listener | null = null;
  onerror: Listener | null = null;
  onmessageerror: Listener | null = null;
  readonly #worker: NodeWorkerType;
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Messages posted before the source was delivered, in order. */
  #pending: Array<[unknown, readonly unknown[] | undefined]> | null = [];
  /** Replies still owed by the worker; the worker is ref'd while this is positive. */
  #owed = 0;
  #terminated = false;

  constructor(url: string | URL, options?: { type?: "classic" | "module"; name?: string }) {
    const module = options?.type === "module";
    WorkerShim.started++;
    const bits = node();
    if (!bits) throw new Error("Worker shim: node:worker_threads is not available here");
    this.#worker = new bits.Worker(BOOTSTRAP, { eval: true, name: options?.name });
    this.#worker.unref();
    this.#worker.on("message", (data: unknown) => {
      if (this.#owed > 0 && --this.#owed === 0) this.#worker.unref();
      this.#emit("message", { type: "message", data });
    });
    this.#worker.on("messageerror", (error: unknown) => this.#emit("messageerror", { type: "messageerror", data: error }));
    this.#worker.on("error", (error: Error) => {
      this.#owed = 0;
      this.#worker.unref();
      this.#emit("error", { type: "error", message: error?.message ?? String(error), error });
    });
    const send = (source: string) => {
      if (this.#terminated) return;
      this.#worker.postMessage({ source, module });
      const pending = this.#pending ?? [];
      this.#pending = null;
      for (const [data, transfer] of pending) this.#post(data, transfer);
    };
    const fail = (error: unknown) => {
      this.#pending = null;
      const message = error instanceof Error ? error.message : String(error);
      // Reported asynchronously, as a browser does, so that `onerror` can still be assigned.
      queueMicrotask(() => this.#emit("error", { type: "error", message, error }));
    };
    try {
      const src = sourceOf(url);
      if (typeof src === "string") send(src);
      else src.then(send, fail);
    } catch (error) {
      fail(error);
    }
  }

  postMessage(data: unknown, transfer?: readonly unknown[] | { transfer?: readonly unknown[] }): void {
    if (this.#terminated) return;
    const list = Array.isArray(transfer) ? transfer : (transfer as { transfer?: readonly unknown[] } | undefined)?.transfer;
    if (this.#pending) this.#pending.push([data, list]);
    else this.#post(data, list);
    // Count the reply now (even while queued) so the process stays alive until it arrives.
    if (this.#owed++ === 0) this.#worker.ref();
  }

  #post(data: unknown, transfer: readonly unknown[] | undefined): void {
    this.#worker.postMessage(data, transfer as any);
  }

  addEventListener(type: string, fn: Listener): void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(fn);
  }

  removeEventListener(type: string, fn: Listener): void {
    this.#listeners.get(type)?.delete(fn);
  }

  terminate(): void {
    this.#terminated = true;
    this.#pending = null;
    void this.#worker.terminate();
  }

  #emit(type: "message" | "error" | "messageerror", ev: ShimEvent): void {
    const prop = type === "message" ? this.onmessage : type === "error" ? this.onerror : this.onmessageerror;
    if (prop) prop.call(this, ev);
    for (const fn of this.#listeners.get(type) ?? []) fn.call(this, ev);
    if (type === "error" && !prop && !(this.#listeners.get(type)?.size)) {
      // An unobserved worker error must not vanish silently.
      console.error("rewardiff worker shim:", ev.message);
    }
  }
}

let installed = false;

/**
 * Installs {@link WorkerShim} as `globalThis.Worker` so that jax-js's wasm backend uses a worker pool.
 * Must run before `@jax-js/jax` is evaluated (see the module doc). Idempotent. Returns true when a
 * `Worker` global is in place afterwards (the shim, or a pre-existing real one), false when threads
 * cannot work here (no `SharedArrayBuffer`, or no `node:worker_threads`).
 */
export function installWorkerShim(options: WorkerShimOptions = {}): boolean {
  const g = globalThis as Record<string, unknown>;
  if (typeof SharedArrayBuffer === "undefined") return false;
  if (typeof g.Worker !== "undefined" && !options.force) return true;
  if (installed && g.Worker === WorkerShim) return true;
  if (jaxEvaluated()) {
    throw new Error(
      "installWorkerShim() must run before @jax-js/jax is imported: jax-js has already created its wasm memory, and " +
        "installing the Worker shim now would make every jax-js kernel fail to link (see src/backend/threads.ts)",
    );
  }
  const bits = node();
  if (!bits) return false;
  const n = options.threads ?? bits.availableParallelism();
  if (!Number.isInteger(n) || n < 1) throw new Error(`threads must be a positive integer, got ${n}`);
  if (typeof g.navigator === "undefined") {
    Object.defineProperty(g, "navigator", {
      value: { hardwareConcurrency: n },
      writable: true,
      configurable: true,
    });
  }
  g.Worker = WorkerShim;
  installed = true;
  return true;
}

/** True when the shim from this module is the current `globalThis.Worker`. */
export function workerShimInstalled(): boolean {
  return installed && (globalThis as Record<string, unknown>).Worker === WorkerShim;
}

/**
 * How many workers the shim has started in this process: > 0 once jax-js has created its pool (at its
 * first asynchronous read), 0 if jax-js runs single-threaded (e.g. the shim was installed too late).
 */
export function shimWorkersStarted(): number {
  return WorkerShim.started;
}

/**
 * Reads `REWARDIFF_THREADS`: unset / "" / "0" → undefined (no threads); "1" → one thread per core;
 * an integer N ≥ 2 → N threads. jax-js (patched, patches/README.md item 10) then starts N − 1 workers and the
 * calling thread computes a share of every pooled kernel itself.
 */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): { threads?: number } | undefined {
  const v = env.REWARDIFF_THREADS?.trim();
  if (!v || v === "0" || v.toLowerCase() === "false") return undefined;
  if (v === "1" || v.toLowerCase() === "true") return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`REWARDIFF_THREADS must be 0, 1 or a thread count, got "${v}"`);
  return { threads: n };
}

// Side effect on evaluation: opt-in through the environment only (see the module doc).
const fromEnv = typeof process !== "undefined" ? threadsFromEnv() : undefined;
if (fromEnv) installWorkerShim(fromEnv);
