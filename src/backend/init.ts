import { defaultDevice, init } from "./jax.js";
import { guardSyncReads } from "./reads.js";

/** The devices rewardiff runs on. */
export type BackendDevice = "wasm" | "webgpu";

export const backendDevices: readonly BackendDevice[] = ["wasm", "webgpu"];

/** Options of {@link ensureBackend}. */
export interface BackendOptions {
  /**
   * The device new arrays are made on. Omitted: keep the current one (wasm after the first call).
   * "webgpu" needs a WebGPU adapter (`navigator.gpu`: a browser, or in Node the `webgpu` package).
   */
  device?: BackendDevice;
}

let wasmReady: Promise<void> | undefined;
let webgpuReady: Promise<void> | undefined;
let current: BackendDevice = "wasm";

/**
 * Starts the numeric backend: `init("wasm")` once (never a bare `init()`, which probes WebGPU and
 * throws in Node), then makes `device` (default: keep the current one, wasm at first) the default
 * device. Every entry point awaits this before any array op; `ensureBackend()` never changes a device
 * chosen earlier. Choosing a device later is allowed, but arrays made before stay on their device, so
 * do the constants a function jitted before captured at its first trace (e.g. a cached ε̂ function):
 * jax-js then moves the other arguments to that device with a synchronous read, which fails for webgpu.
 *
 * On "webgpu", arrays can only be read asynchronously (./reads.ts): from then on a synchronous read
 * of a webgpu array throws instead of returning zeros.
 * Worker threads for wasm are off unless REWARDIFF_THREADS is set (see ./jax.ts and ./threads.ts):
 * measured on 2 cores they pay off only for large kernels (batch ≥ 4096), not for rewardiff's usual sizes.
 */
export function ensureBackend(options?: BackendOptions): Promise<void>;
export function ensureBackend(): Promise<void> {
  // No declared parameter on purpose: `beforeAll(ensureBackend)` is common in the tests, and vitest
  // parses the parameter list of a hook (a declared first parameter must be a destructuring pattern).
  // eslint-disable-next-line prefer-rest-params
  const options = arguments[0] as BackendOptions | undefined;
  return start(options?.device);
}

async function start(device: BackendDevice | undefined): Promise<void> {
  wasmReady ??= (async () => {
    const devices = await init("wasm");
    if (!devices.includes("wasm")) throw new Error("the jax-js wasm backend could not start");
    defaultDevice("wasm");
  })();
  await wasmReady;
  if (device === undefined || device === current) return;
  if (device === "webgpu") {
    webgpuReady ??= startWebgpu().catch((e: unknown) => {
      webgpuReady = undefined; // an adapter may be provided later (e.g. navigator.gpu installed)
      throw e;
    });
    await webgpuReady;
  } else if (device !== "wasm") {
    throw new Error(`unknown device "${String(device)}": expected one of ${backendDevices.join(", ")}`);
  }
  defaultDevice(device);
  current = device;
}

/** The device new arrays are made on ("wasm" until `ensureBackend({ device })` chooses another). */
export function backendDevice(): BackendDevice {
  return current;
}

async function startWebgpu(): Promise<void> {
  const nav = (globalThis as { navigator?: { gpu?: unknown; userAgent?: string } }).navigator;
  if (!nav?.gpu) {
    throw new Error(
      "the webgpu device needs a WebGPU adapter, and navigator.gpu is undefined here (in Node, install " +
        "the `webgpu` package and set globalThis.navigator = { gpu: create([]), userAgent } from it)",
    );
  }
  // jax-js's webgpu backend reads navigator.userAgent when it loads (Node's navigator may lack it).
  if (typeof nav.userAgent !== "string") {
    Object.defineProperty(nav, "userAgent", { value: "rewardiff", configurable: true });
  }
  const devices = await init("webgpu");
  if (!devices.includes("webgpu")) {
    throw new Error("the jax-js webgpu backend could not start: navigator.gpu gave no adapter or device");
  }
  guardSyncReads();
}
