import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { safetensors } from "@jax-js/loaders";
import { decodeSafetensors, encodeSafetensors, type Tensor } from "../src/io/safetensors.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/io/${name}`, import.meta.url));

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

/** A safetensors file assembled from a header (object or raw text) and a data section, per the spec. */
function craft(header: object | string, body: Uint8Array | number = 0, declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const data = typeof body === "number" ? new Uint8Array(body) : body;
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("decodeSafetensors", () => {
  it("reads a file assembled by hand (NumPy/struct, test/fixtures/io/make_fixtures.py)", () => {
    const file = decodeSafetensors(new Uint8Array(readFileSync(fixture("handmade.safetensors"))), "handmade.safetensors");
    expect(file.metadata).toEqual({ format: "pt" });
    expect(Object.keys(file.tensors).sort()).toEqual(["b", "w"]);
    expect(file.tensors.w).toEqual({ dtype: "F32", shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) });
    expect(file.tensors.b).toEqual({ dtype: "I32", shape: [3], data: Int32Array.from([-1, 0, 7]) });
  });

  it("copies tensor data into aligned arrays even from an odd offset", () => {
    const raw = new Uint8Array(readFileSync(fixture("handmade.safetensors")));
    const shifted = new Uint8Array(raw.length + 1);
    shifted.set(raw, 1);
    const file = decodeSafetensors(shifted.subarray(1), "x");
    expect(Array.from(file.tensors.w!.data)).toEqual([1, 2, 3, 4]);
  });

  it("refuses a file too short for the length prefix", () => {
    expect(errorOf(() => decodeSafetensors(new Uint8Array(5), "m.safetensors"))).toBe(
      "m.safetensors: truncated: 5 bytes, too short for a safetensors header",
    );
  });

  it("refuses a header length beyond the file", () => {
    expect(errorOf(() => decodeSafetensors(craft({}, 0, 1000), "m.safetensors"))).toBe(
      "m.safetensors: truncated or not safetensors: header length 1000 goes beyond the file (10 bytes)",
    );
  });

  it("refuses an invalid JSON header in one line", () => {
    const msg = errorOf(() => decodeSafetensors(craft('{"a": \n}'), "m.safetensors"));
    expect(msg).toMatch(/^m\.safetensors: invalid JSON header: /);
    expect(msg).not.toContain("\n");
    expect(errorOf(() => decodeSafetensors(craft("[1]"), "m.safetensors"))).toBe("m.safetensors: the header must be a JSON object");
  });

  it("names the tensor whose bytes run past the end of the file", () => {
    const header = { "layers.0.w": { dtype: "F32", shape: [32, 32], data_offsets: [0, 4096] } };
    expect(errorOf(() => decodeSafetensors(craft(header, 1000), "model.safetensors"))).toBe(
      'model.safetensors: truncated: tensor "layers.0.w" needs bytes 0..4096 but the file has 1000 data bytes',
    );
  });

  it("refuses a byte count that does not match shape × dtype size", () => {
    const header = { w: { dtype: "F64", shape: [2, 3], data_offsets: [0, 24] } };
    expect(errorOf(() => decodeSafetensors(craft(header, 24), "m.safetensors"))).toBe(
      'm.safetensors: tensor "w": shape [2, 3] of F64 needs 48 bytes but data_offsets 0..24 span 24',
    );
  });

  it("refuses overlapping tensors", () => {
    const header = {
      a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
      b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
    };
    expect(errorOf(() => decodeSafetensors(craft(header, 16), "m.safetensors"))).toBe(
      'm.safetensors: tensors "a" (bytes 0..16) and "b" (bytes 8..16) overlap',
    );
  });

  it("refuses holes and trailing bytes in the data section", () => {
    const hole = { a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } };
    expect(errorOf(() => decodeSafetensors(craft(hole, 12), "m"))).toBe("m: data bytes 4..8 belong to no tensor (holes are not allowed)");
    const tail = { a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } };
    expect(errorOf(() => decodeSafetensors(craft(tail, 6), "m"))).toBe("m: data bytes 4..6 belong to no tensor (trailing data)");
  });

  it("refuses unsupported dtypes, bad shapes, bad offsets and bad metadata", () => {
    const one = (entry: object) => craft({ t: entry }, 8);
    expect(errorOf(() => decodeSafetensors(one({ dtype: "BF16", shape: [4], data_offsets: [0, 8] }), "m"))).toBe(
      'm: tensor "t": unsupported dtype "BF16" (supported: F32, F64, I32, U32)',
    );
    expect(errorOf(() => decodeSafetensors(one({ dtype: "constructor", shape: [2], data_offsets: [0, 8] }), "m"))).toMatch(/unsupported dtype "constructor"/);
    expect(errorOf(() => decodeSafetensors(one({ dtype: "F32", shape: [-2], data_offsets: [0, 8] }), "m"))).toBe(
      'm: tensor "t": shape [-2] must be a list of whole numbers ≥ 0',
    );
    expect(errorOf(() => decodeSafetensors(one({ dtype: "F32", shape: [2], data_offsets: [8, 0] }), "m"))).toBe(
      'm: tensor "t": data_offsets [8,0] must be [begin, end] with 0 ≤ begin ≤ end',
    );
    expect(errorOf(() => decodeSafetensors(one({ dtype: "F32", shape: [2], data_offsets: [0, 8], extra: 1 }), "m"))).toBe(
      'm: tensor "t": unknown key "extra"',
    );
    expect(errorOf(() => decodeSafetensors(craft({ __metadata__: { a: 1 } }), "m"))).toBe('m: __metadata__ "a" must be a string');
  });
});

describe("encodeSafetensors", () => {
  it("produces exactly the bytes the spec prescribes for a one-tensor file", () => {
    const bytes = encodeSafetensors({ a: { dtype: "F32", shape: [1], data: Float32Array.from([1]) } });
    const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'; // 53 bytes → 3 spaces → 56
    const expected = new Uint8Array(8 + 56 + 4);
    expected[0] = 56;
    expected.set(new TextEncoder().encode(header + "   "), 8);
    expected.set([0x00, 0x00, 0x80, 0x3f], 64); // 1.0f little-endian
    expect(bytes).toEqual(expected);
  });

  it("round-trips every dtype, scalars and empty tensors, with metadata", () => {
    const tensors: Record<string, Tensor> = {
      "layers.0.w": { dtype: "F32", shape: [2, 3], data: Float32Array.from([0.1, -2, 3.5, 1e-30, 7, -0]) },
      "layers.0.b": { dtype: "F64", shape: [3], data: Float64Array.from([Math.PI, -1e300, 5e-324]) },
      steps: { dtype: "I32", shape: [], data: Int32Array.from([-42]) },
      index: { dtype: "U32", shape: [2], data: Uint32Array.from([0, 4294967295]) },
      empty: { dtype: "F32", shape: [0, 5], data: new Float32Array(0) },
    };
    const file = decodeSafetensors(encodeSafetensors(tensors, { note: "hi", n: "3" }), "mem");
    expect(file.metadata).toEqual({ note: "hi", n: "3" });
    expect(file.tensors).toEqual(tensors);
  });

  it("pads the header with spaces to a multiple of 8 and aligns every tensor to its element size", () => {
    const bytes = encodeSafetensors({
      b: { dtype: "F32", shape: [1], data: Float32Array.from([1]) },
      a: { dtype: "F64", shape: [1], data: Float64Array.from([2]) },
      c: { dtype: "I32", shape: [3], data: Int32Array.from([1, 2, 3]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeLessThan(n + 1);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const header = JSON.parse(text);
    expect(header.a.data_offsets).toEqual([0, 8]); // 8-byte dtype first
    expect(header.b.data_offsets).toEqual([8, 12]);
    expect(header.c.data_offsets).toEqual([12, 24]);
    expect(bytes.length).toBe(8 + n + 24);
  });

  it("is read back identically by an independent parser (@jax-js/loaders)", () => {
    const w = Float32Array.from({ length: 20 }, (_, i) => i / 7);
    const d = Float64Array.from([1.25, -3]);
    const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [4, 5], data: w }, d: { dtype: "F64", shape: [2], data: d } }, { k: "v" });
    const parsed = safetensors.parse(new Uint8Array(bytes));
    expect(parsed.metadata).toEqual({ k: "v" });
    expect(parsed.tensors.w!.shape).toEqual([4, 5]);
    expect(Array.from(parsed.tensors.w!.data as Float32Array)).toEqual(Array.from(w));
    expect(Array.from(parsed.tensors.d!.data as Float64Array)).toEqual([1.25, -3]);
  });

  it("refuses inconsistent tensors, naming them", () => {
    expect(errorOf(() => encodeSafetensors({ w: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }, undefined, "m.safetensors"))).toBe(
      'm.safetensors: tensor "w": shape [2, 2] holds 4 values but the data has 3',
    );
    expect(errorOf(() => encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float64Array(2) } as unknown as Tensor }))).toBe(
      'safetensors: tensor "w": dtype F32 needs a Float32Array, got Float64Array',
    );
    expect(errorOf(() => encodeSafetensors({ w: { dtype: "F32", shape: [1.5], data: new Float32Array(1) } }))).toMatch(/shape \[1\.5\] must be/);
    expect(errorOf(() => encodeSafetensors({ w: { dtype: "F16", shape: [1], data: new Float32Array(1) } as unknown as Tensor }))).toMatch(
      /unsupported dtype "F16"/,
    );
    expect(errorOf(() => encodeSafetensors({ __metadata__: { dtype: "F32", shape: [1], data: new Float32Array(1) } }))).toMatch(
      /"__metadata__" is not a valid tensor name/,
    );
  });
});
