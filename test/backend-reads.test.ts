/**
 * Device choice and reads: `ensureBackend` keeps wasm unless told otherwise, the asynchronous reads
 * equal the synchronous ones and follow the ownership rules, and every synchronous read helper refuses
 * a webgpu array (checked here with a stand-in array, so it runs on machines without WebGPU; the real
 * device is tested in backend-webgpu.test.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  backendDevice,
  ensureBackend,
  guardSyncReads,
  JArrayClass,
  jit,
  keyToWords,
  np,
  peekHost,
  scalar,
  settle,
  settleAsync,
  splitKey,
  SyncReadError,
  toHost,
  toHostSync,
  toNumber,
  toNumberAsync,
  type JArray,
} from "../src/backend/index.js";

beforeAll(ensureBackend);

describe("ensureBackend", () => {
  it("defaults to wasm, keeps the device on a bare call, and rejects an unknown device", async () => {
    expect(backendDevice()).toBe("wasm");
    await ensureBackend();
    await ensureBackend({});
    await ensureBackend({ device: "wasm" });
    expect(backendDevice()).toBe("wasm");
    expect(np.zeros([2]).device).toBe("wasm");
    await expect(ensureBackend({ device: "tpu" as never })).rejects.toThrow(/unknown device "tpu"/);
    expect(backendDevice()).toBe("wasm");
  });

  it("webgpu without navigator.gpu fails with a clear message and leaves wasm the device", async () => {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (g.navigator?.gpu) return; // a real adapter here: backend-webgpu.test.ts covers it
    await expect(ensureBackend({ device: "webgpu" })).rejects.toThrow(/needs a WebGPU adapter/);
    expect(backendDevice()).toBe("wasm");
  });
});

describe("asynchronous reads", () => {
  it("toHost / toNumberAsync equal the synchronous reads and consume their argument", async () => {
    const a = np.array(new Float32Array([1.5, -2, 3.25]));
    expect(Array.from(await toHost(a.ref.mul(2)))).toEqual(Array.from(toHostSync(a.ref.mul(2))));
    expect(await toNumberAsync(np.sum(a.ref))).toBe(toNumber(np.sum(a.ref)));
    const b = a.ref.add(1);
    await toHost(b);
    expect(() => b.dispose()).toThrow(); // consumed
    await expect(toNumberAsync(a.ref)).rejects.toThrow(/expected one element, got shape \[3\]/);
    a.dispose();
  });

  it("settleAsync borrows its argument, and a loop settled asynchronously gives the synchronous loop's numbers", async () => {
    const step = jit((x: JArray, c: JArray) => x.mul(0.5).add(c));
    const run = async (asyncSettle: boolean) => {
      let x = np.array(new Float32Array([8, -4, 2, 1]));
      for (let i = 0; i < 50; i++) {
        x = step(x, scalar(i / 50));
        if (asyncSettle) await settleAsync(x);
        else settle(x);
      }
      return toHost(x);
    };
    const viaAsync = await run(true);
    expect(Array.from(viaAsync)).toEqual(Array.from(await run(false)));
    // The closed form of x ← x/2 + c_i: x_50 = x_0/2⁵⁰ + Σ_i c_i / 2^(49−i).
    let expected = 0;
    for (let i = 0; i < 50; i++) expected = expected / 2 + i / 50;
    expect(viaAsync[0]).toBeCloseTo(8 / 2 ** 50 + expected, 5);
    const y = np.array(new Float32Array([1, 2]));
    await settleAsync(y);
    expect(Array.from(toHostSync(y))).toEqual([1, 2]); // still alive after settleAsync
  });
});

/** A stand-in for a webgpu array: every synchronous helper must refuse it before touching it. */
function fakeWebgpuArray(): JArray {
  const fake = {
    device: "webgpu",
    dtype: "float32",
    shape: [3, 4],
    dataSync() {
      throw new Error("the stand-in was read");
    },
    get ref() {
      return fake;
    },
    dispose() {},
  };
  return fake as unknown as JArray;
}

describe("synchronous reads of a webgpu array", () => {
  it("toHostSync, toNumber, settle, peekHost and keyToWords raise SyncReadError naming the async way", () => {
    const reads: [string, (x: JArray) => unknown][] = [
      ["toHostSync", toHostSync],
      ["toNumber", toNumber],
      ["settle", settle],
      ["peekHost", peekHost],
      ["keyToWords", keyToWords],
      ["splitKey", (x) => splitKey(x, 2)],
    ];
    for (const [name, read] of reads) {
      let error: unknown;
      try {
        read(fakeWebgpuArray());
      } catch (e) {
        error = e;
      }
      expect(error, name).toBeInstanceOf(SyncReadError);
      expect((error as Error).message, name).toMatch(/synchronous read of a webgpu array \(float32\[3, 4\]\): use await toHost\(x\)/);
    }
  });

  it("the dataSync guard raises SyncReadError for a webgpu read that reached the device, and leaves wasm arrays alone", () => {
    guardSyncReads();
    guardSyncReads(); // idempotent: wraps once
    const wasm = np.array(new Float32Array([1, 2, 3]));
    expect(Array.from(wasm.dataSync() as Float32Array)).toEqual([1, 2, 3]);
    // jax-js's own dataSync cannot read the stand-in (no device buffer): no host read happened inside.
    const proto = JArrayClass.prototype as { dataSync(this: unknown): unknown };
    expect(() => proto.dataSync.call(fakeWebgpuArray())).toThrow(SyncReadError);
  });
});
