import { describe, it, expect } from "vitest";
import { checkJsonValue, lineColumn, locateJsonError, parseJson } from "../src/io/json.js";
import { formatFloat32 } from "../src/io/float-text.js";

describe("parseJson", () => {
  it("parses valid JSON and ignores a byte-order mark", () => {
    expect(parseJson('\ufeff{"a": [1, 2.5, "x", null, true]}', "f.json")).toEqual({ a: [1, 2.5, "x", null, true] });
  });

  const cases: [string, number, number, RegExp][] = [
    ['{"a":}', 1, 6, /unexpected "}", expected a value/],
    ['{"a": 1,\n  "b": 2,\n}', 3, 1, /trailing comma before "}"/],
    ['{\n  "a": tru\n}', 2, 8, /unexpected word "tru"/],
    ["[1 2]", 1, 4, /expected "," or "]"/],
    ['{"a": "x\ny"}', 1, 9, /control character/],
    ['{"a": 1', 1, 8, /expected "," or "}"/],
    ["", 1, 1, /empty/],
    ["{'a': 1}", 1, 2, /expected a double-quoted key/],
    ['{"a": 01}', 1, 7, /malformed number/],
    ['{"a": NaN}', 1, 7, /unexpected word "NaN"/],
    ['{"a": 1} x', 1, 10, /after the end of the JSON value/],
    ['{"a": "abc', 1, 7, /unterminated string/],
  ];
  for (const [text, line, column, reason] of cases) {
    it(`locates the error in ${JSON.stringify(text)} at ${line}:${column}`, () => {
      let message = "";
      try {
        parseJson(text, "cfg.json");
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(new RegExp(`^cfg\\.json: invalid JSON at line ${line} column ${column}: `));
      expect(message).toMatch(reason);
      expect(message).not.toContain("\n");
    });
  }

  it("agrees with JSON.parse on which texts are valid", () => {
    const texts = ["1", "-0.5e-3", '"\\u00e9"', "[]", "{}", '{"a":{"b":[1,{"c":null}]}}', " true ", "[1,]", "-", "1.", ".5", '"\\x"', "nul"];
    for (const t of texts) {
      let valid = true;
      try {
        JSON.parse(t);
      } catch {
        valid = false;
      }
      expect(locateJsonError(t) === undefined, t).toBe(valid);
    }
  });

  it("refuses duplicate keys only when asked", () => {
    const text = '{"seed": 1,\n "seed": 2}';
    expect(parseJson(text, "c.json")).toEqual({ seed: 2 });
    expect(() => parseJson(text, "c.json", { rejectDuplicateKeys: true })).toThrow(
      'c.json: line 2 column 2: duplicate key "seed"',
    );
    expect(parseJson('{"a": {"x": 1}, "b": {"x": 2}}', "c.json", { rejectDuplicateKeys: true })).toEqual({ a: { x: 1 }, b: { x: 2 } });
  });

  it("computes line and column from an offset", () => {
    expect(lineColumn("ab\ncd\nef", 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn("ab\ncd\nef", 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn("ab\ncd\nef", 6)).toEqual({ line: 3, column: 1 });
  });
});

describe("checkJsonValue", () => {
  it("accepts plain JSON and names the first value JSON cannot hold", () => {
    expect(() => checkJsonValue({ a: [1, "x", null, { b: true }], u: undefined }, "config")).not.toThrow();
    expect(() => checkJsonValue({ a: { b: [1, NaN] } }, "config")).toThrow("config.a.b[1]: NaN is not representable in JSON");
    expect(() => checkJsonValue({ w: new Float32Array(2) }, "config")).toThrow("config.w: a Float32Array is not representable in JSON");
    expect(() => checkJsonValue({ f: () => 1 }, "config")).toThrow("config.f: a function is not representable in JSON");
    expect(() => checkJsonValue([undefined], "config")).toThrow("config[0]: undefined is not representable in JSON");
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = { back: loop };
    expect(() => checkJsonValue(loop, "config")).toThrow("config.self.back: circular reference, not representable in JSON");
    const shared = { x: 1 };
    expect(() => checkJsonValue({ a: shared, b: [shared] }, "config")).not.toThrow(); // shared, not circular
  });
});

describe("formatFloat32", () => {
  it("prints the shortest text that reads back to the same float32", () => {
    expect(formatFloat32(Math.fround(0.1))).toBe("0.1");
    expect(formatFloat32(1)).toBe("1");
    expect(formatFloat32(-2.5)).toBe("-2.5");
    expect(formatFloat32(Math.fround(1 / 3))).toBe("0.33333334");
    expect(formatFloat32(Math.fround(1e-7))).toBe("1e-7");
    expect(formatFloat32(Math.fround(3.4028234663852886e38))).toBe("3.4028235e+38");
    expect(formatFloat32(1.401298464324817e-45)).toBe("1e-45");
  });

  it("round-trips every float32 bit pattern sampled", () => {
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      bits[0] = x;
      const v = f[0]!;
      if (!Number.isFinite(v)) continue;
      const s = formatFloat32(v);
      expect(Math.fround(Number(s))).toBe(v);
      const significant = s.replace(/^-|e.*$|\./g, "").replace(/^0+/, "").replace(/0+$/, "");
      expect(significant.length).toBeLessThanOrEqual(9);
    }
  });
});
