/**
 * Numeric CSV files with a header row ⇄ host matrices (one row per sample, one column per feature).
 * Errors are one line naming the file, the line and the column, e.g.
 * `data.csv: line 7, column "x2": "abc" is not a number`.
 */
import { parse } from "csv-parse/sync";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { writeFileAtomic } from "./atomic.js";
import { readBytes } from "./files.js";
import { formatFloat32 } from "./float-text.js";

/** Options for reading a CSV file. */
export interface CsvReadOptions {
  /** Keep only these columns, in this order (other columns may then hold text). Default: all. */
  readonly columns?: readonly string[];
}

/** A numeric table: column names and a rows × columns matrix. */
export interface CsvTable {
  readonly header: string[];
  readonly matrix: HostMatrix;
}

/** A name or cell as an error message shows it: JSON-quoted, cut to 40 characters with "…". */
export function showCell(v: string): string {
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

/** Reads a CSV file with a header row into a float32 matrix. */
export function readCsv(path: string, options: CsvReadOptions = {}): CsvTable {
  return parseCsv(readBytes(path, "CSV file"), path, options);
}

/** Parses CSV text (or its UTF-8 bytes); `where` names the source in error messages. */
export function parseCsv(text: string | Uint8Array, where: string, options: CsvReadOptions = {}): CsvTable {
  let bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  if (bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d)) {
    throw new Error(`${where}: empty, expected a header row and data rows`);
  }
  const records = parseRecords(bytes, where);
  const [headerRecord, ...rows] = records;
  const header = checkHeader(headerRecord!, where);
  if (rows.length === 0) throw new Error(`${where}: no data rows after the header (line ${headerRecord!.line})`);

  const selected = selectColumns(header, options.columns, where);
  const cols = selected.length;
  const data = new Float32Array(rows.length * cols);
  rows.forEach((row, r) => {
    if (row.cells.length !== header.length) {
      throw new Error(
        `${where}: line ${row.line}: ${row.cells.length} value${row.cells.length === 1 ? "" : "s"} but the header has ${header.length} columns`,
      );
    }
    selected.forEach((c, j) => {
      data[r * cols + j] = parseCell(row.cells[c]!, `${where}: line ${row.line}, column ${showCell(header[c]!)}`);
    });
  });
  return { header: selected.map((c) => header[c]!), matrix: hostMatrix(rows.length, cols, data) };
}

/** Writes a header row and the matrix atomically; values use the shortest text that reads back exactly. */
export function writeCsv(path: string, header: readonly string[], matrix: HostMatrix): void {
  writeFileAtomic(path, formatCsv(header, matrix, path));
}

/** CSV text for a header and matrix; refuses non-finite values and header/column mismatches. */
export function formatCsv(header: readonly string[], matrix: HostMatrix, where = "CSV"): string {
  if (header.length !== matrix.cols) {
    throw new Error(`${where}: ${header.length} column names for a matrix with ${matrix.cols} columns`);
  }
  checkHeaderNames(header, where);
  const lines = [header.map(quoteCsv).join(",")];
  for (let r = 0; r < matrix.rows; r++) {
    const cells = new Array<string>(matrix.cols);
    for (let c = 0; c < matrix.cols; c++) {
      const v = matrix.data[r * matrix.cols + c]!;
      if (!Number.isFinite(v)) {
        throw new Error(`${where}: refusing to write non-finite value ${v} at row ${r + 1}, column ${showCell(header[c]!)}`);
      }
      cells[c] = formatFloat32(v);
    }
    lines.push(cells.join(","));
  }
  return lines.join("\n") + "\n";
}

interface CsvRecord {
  readonly cells: string[];
  /** Line (from 1) where the record starts. */
  readonly line: number;
}

function parseRecords(bytes: Uint8Array, where: string): CsvRecord[] {
  let parsed: { record: string[]; info: { bytes: number } }[];
  try {
    parsed = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
    }) as unknown as typeof parsed;
  } catch (err) {
    const msg = String((err as Error).message).replace(/\s*\n\s*/g, " ");
    throw new Error(`${where}: malformed CSV: ${msg.length > 200 ? `${msg.slice(0, 200)}…` : msg}`, { cause: err });
  }
  const newline = bytes.includes(0x0a) ? 0x0a : 0x0d;
  const records: CsvRecord[] = [];
  let pos = 0;
  let line = 1;
  for (const { record, info } of parsed) {
    while (pos < bytes.length && (bytes[pos] === 0x0a || bytes[pos] === 0x0d)) {
      if (bytes[pos] === newline) line++;
      pos++;
    }
    const start = line;
    for (; pos < info.bytes; pos++) if (bytes[pos] === newline) line++;
    const blank = record.length === 1 && record[0]!.trim() === "";
    if (!blank) records.push({ cells: record, line: start });
  }
  return records;
}

function checkHeader(record: CsvRecord, where: string): string[] {
  const names = record.cells.map((c) => c.trim());
  if (names.every((n) => NUMBER.test(n) || NON_FINITE.test(n))) {
    const shown = names.slice(0, 4).map(showCell).join(", ") + (names.length > 4 ? ", …" : "");
    throw new Error(
      `${where}: line ${record.line}: no header row (the first row ${shown} is all numbers); add a first row of column names`,
    );
  }
  checkHeaderNames(names, `${where}: line ${record.line}`);
  return names;
}

function checkHeaderNames(names: readonly string[], where: string): void {
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    if (n.trim() === "") throw new Error(`${where}: header column ${i + 1} has no name`);
    const first = seen.get(n);
    if (first !== undefined) {
      throw new Error(`${where}: duplicate column name ${showCell(n)} (columns ${first + 1} and ${i + 1})`);
    }
    seen.set(n, i);
  });
  if (names.every((n) => NUMBER.test(n.trim()))) {
    throw new Error(`${where}: column names are all numbers, so the header could not be told apart from data`);
  }
}

function selectColumns(header: readonly string[], wanted: readonly string[] | undefined, where: string): number[] {
  if (wanted === undefined) return header.map((_, i) => i);
  if (wanted.length === 0) throw new Error(`${where}: the list of columns to read is empty`);
  const seen = new Set<string>();
  return wanted.map((name) => {
    if (seen.has(name)) throw new Error(`${where}: column ${showCell(name)} is selected twice`);
    seen.add(name);
    const i = header.indexOf(name);
    if (i < 0) {
      const known = header.slice(0, 8).map(showCell).join(", ") + (header.length > 8 ? `, … (${header.length} in all)` : "");
      throw new Error(`${where}: column ${showCell(name)} not found (columns: ${known})`);
    }
    return i;
  });
}

function parseCell(raw: string, where: string): number {
  const s = raw.trim();
  if (s === "") throw new Error(`${where}: empty cell, expected a number`);
  if (NON_FINITE.test(s)) throw new Error(`${where}: ${showCell(s)} is not a finite number`);
  if (!NUMBER.test(s)) throw new Error(`${where}: ${showCell(raw)} is not a number`);
  const v = Math.fround(Number(s));
  if (!Number.isFinite(v)) throw new Error(`${where}: ${s.length > 40 ? `${s.slice(0, 40)}…` : s} is not a finite number in float32 (too large)`);
  return v;
}

function quoteCsv(name: string): string {
  return /[",\r\n]|^\s|\s$/.test(name) ? `"${name.replace(/"/g, '""')}"` : name;
}
