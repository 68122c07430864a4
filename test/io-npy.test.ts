import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeNpy, encodeNpy, npyToMatrix, readNpy, readNpyMatrix, writeNpy } from "../src/io/npy.js";

// Fixtures written by NumPy (test/fixtures/io/make_fixtures.py); expected values are typed in by hand.
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/io/${name}`, import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), "rewardiff-npy-"));

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("readNpy (files written by NumPy)", () => {
  const cases: [string, number[], number[]][] = [
    ["f4_2d.npy", [2, 2], [1.5, -2.25, 3, Math.fround(0.1)]],
    ["f8_1d.npy", [3], [Math.fround(0.1), Math.fround(1e-3), -7]],
    ["i4_2d.npy", [2, 3], [1, -2, 3, Math.fround(2147483647), -2147483648, 0]],
    ["i8_1d.npy", [2], [-5, 2 ** 40]],
    ["u1_1d.npy", [3], [0, 7, 255]],
    ["b1_1d.npy", [3], [1, 0, 1]],
    ["f2_1d.npy", [4], [1, -0.5, 65504, 2 ** -24]],
    ["f4_be_2d.npy", [2, 2], [1, 2, -3.5, 4.25]],
    ["f4_v2.npy", [1, 3], [1, 2, 3]],
    ["f4_v3.npy", [2], [4, 5]],
    ["empty_2d.npy", [0, 3], []],
    ["scalar.npy", [], [3]],
    ["f4_3d.npy", [2, 2, 2], [0, 0, 0, 0, 0, 0, 0, 0]],
  ];
  for (const [name, shape, values] of cases) {
    it(`reads ${name}`, () => {
      const a = readNpy(fixture(name));
      expect(a.shape).toEqual(shape);
      expect(a.data).toBeInstanceOf(Float32Array);
      expect(Array.from(a.data)).toEqual(values);
    });
  }

  it("refuses Fortran order with a hint", () => {
    expect(errorOf(() => readNpy(fixture("f4_fortran.npy")))).toMatch(/: Fortran-order arrays are not supported; save with .*ascontiguousarray/);
  });

  it("refuses unsupported dtypes, naming the dtype", () => {
    expect(errorOf(() => readNpy(fixture("c8_1d.npy")))).toBe(
      `${fixture("c8_1d.npy")}: unsupported dtype "<c8" (supported: float16/32/64, int8–64, uint8–64, bool)`,
    );
  });

  it("refuses non-finite values, naming row, column and flat index", () => {
    expect(errorOf(() => readNpy(fixture("f4_nan.npy")))).toBe(`${fixture("f4_nan.npy")}: non-finite value NaN at row 2, column 3 (flat index 5)`);
    expect(errorOf(() => readNpy(fixture("f8_overflow.npy")))).toBe(
      `${fixture("f8_overflow.npy")}: non-finite value 1e+300 (too large for float32) at flat index 1`,
    );
  });

  it("reports a missing file", () => {
    expect(errorOf(() => readNpy("/nonexistent/x.npy"))).toBe("/nonexistent/x.npy: .npy file not found");
  });
});

describe("decodeNpy errors on damaged bytes", () => {
  const good = new Uint8Array(readFileSync(fixture("f4_2d.npy")));

  it("bad magic", () => {
    const bad = good.slice();
    bad[1] = 0x58;
    expect(errorOf(() => decodeNpy(bad, "x.npy"))).toBe("x.npy: not a NumPy .npy file (bad magic bytes)");
    expect(errorOf(() => decodeNpy(new TextEncoder().encode("a,b\n1,2\n"), "x.npy"))).toBe("x.npy: not a NumPy .npy file (bad magic bytes)");
  });

  it("unknown format version", () => {
    const bad = good.slice();
    bad[6] = 9;
    expect(errorOf(() => decodeNpy(bad, "x.npy"))).toBe("x.npy: unsupported .npy format version 9.0");
  });

  it("truncated data", () => {
    expect(errorOf(() => decodeNpy(good.subarray(0, good.length - 4), "x.npy"))).toBe(
      "x.npy: truncated: shape (2, 2) of f4 needs 16 data bytes but the file has 12",
    );
  });

  it("truncated header", () => {
    expect(errorOf(() => decodeNpy(good.subarray(0, 40), "x.npy"))).toMatch(/^x\.npy: truncated: the header needs 118 bytes/);
  });

  it("trailing bytes", () => {
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expect(errorOf(() => decodeNpy(longer, "x.npy"))).toBe("x.npy: 4 unexpected bytes after the data of shape (2, 2)");
  });
});

describe("writeNpy", () => {
  it("writes the same bytes as NumPy's np.save for a float32 array", () => {
    const dir = tmp();
    const path = join(dir, "a.npy");
    writeNpy(path, [2, 2], Float32Array.from([1.5, -2.25, 3, 0.1]));
    expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array(readFileSync(fixture("f4_2d.npy"))));
  });

  it("writes a 64-byte-aligned v1.0 header and round-trips 1-D and 2-D arrays", () => {
    const dir = tmp();
    const data = Float32Array.from({ length: 12 }, (_, i) => Math.fround(Math.sin(i) * 1e3));
    writeNpy(join(dir, "m.npy"), [4, 3], data);
    writeNpy(join(dir, "v.npy"), [12], data);
    const bytes = readFileSync(join(dir, "m.npy"));
    expect(bytes.length - 12 * 4).toBe(128);
    expect(bytes.readUInt16LE(8)).toBe(118);
    expect(bytes.toString("latin1", 10, 128)).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }".padEnd(117) + "\n");
    expect(readNpy(join(dir, "m.npy"))).toEqual({ shape: [4, 3], data });
    const v = readNpyMatrix(join(dir, "v.npy"));
    expect([v.rows, v.cols]).toEqual([12, 1]);
    expect(v.data).toEqual(data);
  });

  it("refuses mismatched shapes and non-finite values before touching an existing file", () => {
    const dir = tmp();
    const path = join(dir, "keep.npy");
    writeFileSync(path, "old");
    expect(errorOf(() => writeNpy(path, [2, 2], new Float32Array(3)))).toBe(`${path}: shape (2, 2) holds 4 values but the data has 3`);
    expect(errorOf(() => writeNpy(path, [2, 2], Float32Array.from([0, 0, Infinity, 0])))).toBe(
      `${path}: refusing to write non-finite value Infinity at row 2, column 1 (flat index 2)`,
    );
    expect(errorOf(() => writeNpy(path, [-1], new Float32Array(0)))).toMatch(/shape \[-1\] must be whole numbers/);
    expect(readFileSync(path, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["keep.npy"]);
  });

  it("encodes 1-D shapes with NumPy's one-element tuple", () => {
    const text = new TextDecoder().decode(encodeNpy([3], new Float32Array(3)).subarray(10, 70));
    expect(text).toContain("'shape': (3,), }");
  });
});

describe("npyToMatrix", () => {
  it("treats 1-D as n × 1 and refuses other ranks", () => {
    const m = npyToMatrix({ shape: [3], data: Float32Array.from([1, 2, 3]) }, "v.npy");
    expect([m.rows, m.cols, Array.from(m.data)]).toEqual([3, 1, [1, 2, 3]]);
    expect(errorOf(() => npyToMatrix(readNpy(fixture("f4_3d.npy")), "t.npy"))).toBe("t.npy: expected a 1-D or 2-D array, got shape (2, 2, 2)");
    expect(errorOf(() => npyToMatrix(readNpy(fixture("scalar.npy")), "s.npy"))).toBe("s.npy: expected a 1-D or 2-D array, got shape ()");
  });
});
