import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCsv, readCsv, writeCsv } from "../src/io/csv.js";
import { hostMatrix } from "../src/data/matrix.js";

const tmp = () => mkdtempSync(join(tmpdir(), "rewardiff-csv-"));

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("parseCsv", () => {
  it("reads a header and numeric rows into a row-major float32 matrix", () => {
    const t = parseCsv("x1,x2,y\n1,2,3\n-4.5,6e2,.25\n", "data.csv");
    expect(t.header).toEqual(["x1", "x2", "y"]);
    expect(t.matrix.rows).toBe(2);
    expect(t.matrix.cols).toBe(3);
    expect(Array.from(t.matrix.data)).toEqual([1, 2, 3, -4.5, 600, 0.25]);
  });

  it("accepts CRLF, a BOM, blank lines, spaces around values and quoted numbers", () => {
    const t = parseCsv('\ufeffa, b\r\n 1 , "2"\r\n\r\n3,4\r\n', "d.csv");
    expect(t.header).toEqual(["a", "b"]);
    expect(Array.from(t.matrix.data)).toEqual([1, 2, 3, 4]);
  });

  it("selects and orders columns by name, ignoring text in other columns", () => {
    const t = parseCsv("id,x,y\nfoo,1,2\nbar,3,4\n", "d.csv", { columns: ["y", "x"] });
    expect(t.header).toEqual(["y", "x"]);
    expect(Array.from(t.matrix.data)).toEqual([2, 1, 4, 3]);
  });

  it("rounds to float32", () => {
    const t = parseCsv("x\n0.1\n", "d.csv");
    expect(t.matrix.data[0]).toBe(Math.fround(0.1));
  });

  it("names the line and column of a non-numeric cell", () => {
    expect(errorOf(() => parseCsv("x1,x2\n1,2\n3,4\n5,6\n7,8\n9,10\n11,abc\n", "data.csv"))).toBe(
      'data.csv: line 7, column "x2": "abc" is not a number',
    );
  });

  it("counts lines across blank lines, CRLF and quoted line breaks", () => {
    expect(errorOf(() => parseCsv('a,b\r\n1,2\r\n\r\n"3\r\n",4\r\nz,5\r\n', "d.csv"))).toBe('d.csv: line 6, column "a": "z" is not a number');
    expect(errorOf(() => parseCsv("a,b\n\n\n1,2\n3\n", "d.csv"))).toBe("d.csv: line 5: 1 value but the header has 2 columns");
  });

  it("refuses NaN and infinities with line and column", () => {
    expect(errorOf(() => parseCsv("a,b\n1,NaN\n", "d.csv"))).toBe('d.csv: line 2, column "b": "NaN" is not a finite number');
    expect(errorOf(() => parseCsv("a,b\n1,2\n-inf,2\n", "d.csv"))).toBe('d.csv: line 3, column "a": "-inf" is not a finite number');
    expect(errorOf(() => parseCsv("a,b\n1,Infinity\n", "d.csv"))).toMatch(/line 2, column "b": "Infinity" is not a finite number/);
    expect(errorOf(() => parseCsv("a\n1e39\n", "d.csv"))).toBe('d.csv: line 2, column "a": 1e39 is not a finite number in float32 (too large)');
  });

  it("refuses ragged rows, naming the line", () => {
    expect(errorOf(() => parseCsv("a,b\n1,2\n3,4,5\n", "d.csv"))).toBe("d.csv: line 3: 3 values but the header has 2 columns");
    expect(errorOf(() => parseCsv("a,b\n1,2,\n", "d.csv"))).toBe("d.csv: line 2: 3 values but the header has 2 columns");
  });

  it("refuses empty cells, hex and other near-numbers", () => {
    expect(errorOf(() => parseCsv("a,b\n1,\n", "d.csv"))).toBe('d.csv: line 2, column "b": empty cell, expected a number');
    expect(errorOf(() => parseCsv("a\n0x10\n", "d.csv"))).toBe('d.csv: line 2, column "a": "0x10" is not a number');
    expect(errorOf(() => parseCsv("a\n1,5\n", "d.csv"))).toMatch(/line 2: 2 values/);
    expect(errorOf(() => parseCsv("a\n1.2.3\n", "d.csv"))).toMatch(/"1\.2\.3" is not a number/);
  });

  it("refuses an empty file, a header without data and a missing header", () => {
    expect(errorOf(() => parseCsv("", "d.csv"))).toBe("d.csv: empty, expected a header row and data rows");
    expect(errorOf(() => parseCsv(" \n\r\n", "d.csv"))).toBe("d.csv: empty, expected a header row and data rows");
    expect(errorOf(() => parseCsv("a,b\n", "d.csv"))).toBe("d.csv: no data rows after the header (line 1)");
    expect(errorOf(() => parseCsv("1,2\n3,4\n", "d.csv"))).toBe(
      'd.csv: line 1: no header row (the first row "1", "2" is all numbers); add a first row of column names',
    );
  });

  it("refuses duplicate and empty column names", () => {
    expect(errorOf(() => parseCsv("x,y,x\n1,2,3\n", "d.csv"))).toBe('d.csv: line 1: duplicate column name "x" (columns 1 and 3)');
    expect(errorOf(() => parseCsv(",y\n1,2\n", "d.csv"))).toBe("d.csv: line 1: header column 1 has no name");
  });

  it("refuses missing, repeated or no selected columns", () => {
    expect(errorOf(() => parseCsv("x1,x2\n1,2\n", "d.csv", { columns: ["x3"] }))).toBe('d.csv: column "x3" not found (columns: "x1", "x2")');
    expect(errorOf(() => parseCsv("x1,x2\n1,2\n", "d.csv", { columns: ["x1", "x1"] }))).toBe('d.csv: column "x1" is selected twice');
    expect(errorOf(() => parseCsv("x1,x2\n1,2\n", "d.csv", { columns: [] }))).toBe("d.csv: the list of columns to read is empty");
  });

  it("still requires non-selected cells to be present (ragged rows are errors)", () => {
    expect(errorOf(() => parseCsv("id,x\nfoo\n", "d.csv", { columns: ["x"] }))).toBe("d.csv: line 2: 1 value but the header has 2 columns");
  });

  it("reports malformed quoting in one line", () => {
    const msg = errorOf(() => parseCsv('a,b\n1,"2\n', "d.csv"));
    expect(msg).toMatch(/^d\.csv: malformed CSV: .*line 2/);
    expect(msg).not.toContain("\n");
  });

  it("keeps messages on one line even for cells with line breaks", () => {
    const msg = errorOf(() => parseCsv('a\n"x\ny"\n', "d.csv"));
    expect(msg).toBe('d.csv: line 2, column "a": "x\\ny" is not a number');
  });
});

describe("readCsv / writeCsv", () => {
  it("reports a missing file and a folder in one line", () => {
    const dir = tmp();
    expect(errorOf(() => readCsv(join(dir, "nope.csv")))).toBe(`${join(dir, "nope.csv")}: CSV file not found`);
    expect(errorOf(() => readCsv(dir))).toBe(`${dir}: is a folder, expected a CSV file`);
  });

  it("writes the exact text expected and reads it back bit for bit", () => {
    const dir = tmp();
    const path = join(dir, "out", "s.csv");
    const data = Float32Array.from([0.1, -2, 1 / 3, 1e-7, 3.4028234663852886e38, 1.401298464324817e-45]);
    writeCsv(path, ["a", "b,c"], hostMatrix(3, 2, data));
    expect(readFileSync(path, "utf8")).toBe('a,"b,c"\n0.1,-2\n0.33333334,1e-7\n3.4028235e+38,1e-45\n');
    const back = readCsv(path);
    expect(back.header).toEqual(["a", "b,c"]);
    expect(back.matrix.rows).toBe(3);
    expect(Array.from(back.matrix.data)).toEqual(Array.from(data));
    expect(readdirSync(join(dir, "out"))).toEqual(["s.csv"]); // no temp files left behind
  });

  it("round-trips random float32 values exactly", () => {
    const dir = tmp();
    const n = 500;
    const data = new Float32Array(n * 3);
    let x = 1;
    for (let i = 0; i < data.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      data[i] = (x / 2 ** 32 - 0.5) * 10 ** ((i % 13) - 6);
    }
    writeCsv(join(dir, "r.csv"), ["p", "q", "r"], hostMatrix(n, 3, data));
    expect(readCsv(join(dir, "r.csv")).matrix.data).toEqual(data);
  });

  it("refuses bad input before touching an existing file", () => {
    const dir = tmp();
    const path = join(dir, "keep.csv");
    writeFileSync(path, "old\n1\n");
    expect(errorOf(() => writeCsv(path, ["a", "b"], hostMatrix(1, 2, Float32Array.from([1, NaN]))))).toBe(
      `${path}: refusing to write non-finite value NaN at row 1, column "b"`,
    );
    expect(errorOf(() => writeCsv(path, ["a"], hostMatrix(1, 2)))).toBe(`${path}: 1 column names for a matrix with 2 columns`);
    expect(errorOf(() => writeCsv(path, ["a", "a"], hostMatrix(1, 2)))).toBe(`${path}: duplicate column name "a" (columns 1 and 2)`);
    expect(errorOf(() => writeCsv(path, ["1", "2"], hostMatrix(1, 2)))).toMatch(/column names are all numbers/);
    expect(readFileSync(path, "utf8")).toBe("old\n1\n");
    expect(readdirSync(dir)).toEqual(["keep.csv"]);
  });
});

describe("parseCsv: long cells and names are never echoed whole", () => {
  const long = (c: string, n = 100_000) => c.repeat(n);

  it("a long text cell, a long overflowing number and a long NaN-like cell are cut to 40 characters + …", () => {
    expect(errorOf(() => parseCsv(`a\n1\n${long("z")}\n`, "d.csv"))).toBe(`d.csv: line 3, column "a": "${"z".repeat(40)}…" is not a number`);
    expect(errorOf(() => parseCsv(`a\n${long("9")}\n`, "d.csv"))).toBe(`d.csv: line 2, column "a": ${"9".repeat(40)}… is not a finite number in float32 (too large)`);
  });

  it("long column names are cut in every message that names them", () => {
    const name = long("n");
    const cut = `"${"n".repeat(40)}…"`;
    expect(errorOf(() => parseCsv(`${name},${name}\n1,2\n`, "d.csv"))).toBe(`d.csv: line 1: duplicate column name ${cut} (columns 1 and 2)`);
    expect(errorOf(() => parseCsv(`${name},b\n1,x\n`, "d.csv"))).toBe('d.csv: line 2, column "b": "x" is not a number');
    expect(errorOf(() => parseCsv(`${name}\nx\n`, "d.csv"))).toBe(`d.csv: line 2, column ${cut}: "x" is not a number`);
    expect(errorOf(() => parseCsv(`a\n1\n`, "d.csv", { columns: [name] }))).toBe(`d.csv: column ${cut} not found (columns: "a")`);
  });

  it("a missing column lists at most 8 of the columns there are", () => {
    const header = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const msg = errorOf(() => parseCsv(`${header.join(",")}\n${header.map(() => 1).join(",")}\n`, "d.csv", { columns: ["zz"] }));
    expect(msg).toBe(`d.csv: column "zz" not found (columns: ${header.slice(0, 8).map((h) => `"${h}"`).join(", ")}, … (20 in all))`);
  });
});
