/**
 * Tables of molecules as text: the `smiles` column of a CSV (any other columns are kept aside, as text).
 * Node-free: the caller supplies the bytes or text.
 */
import { parse } from "csv-parse/sync";

/** A SMILES table: one entry per data row, with the file line it came from (1-based, header = line 1). */
export interface SmilesTable {
  readonly smiles: string[];
  readonly lines: number[];
}

/** Parses CSV text with a header row holding a `smiles` column (case-insensitive); `where` names the source in errors. */
export function parseSmilesCsv(text: string, where: string): SmilesTable {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(body, { info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw new Error(`${where}: not valid CSV (${(e as Error).message})`, { cause: e });
  }
  const [head, ...rows] = records;
  if (head === undefined) throw new Error(`${where}: empty, expected a header row with a "smiles" column`);
  const col = head.record.findIndex((h) => h.trim().toLowerCase() === "smiles");
  if (col < 0) throw new Error(`${where}: no "smiles" column in the header (${head.record.map((h) => JSON.stringify(h)).join(", ")})`);
  if (rows.length === 0) throw new Error(`${where}: no data rows after the header`);
  return { smiles: rows.map((r) => (r.record[col] ?? "").trim()), lines: rows.map((r) => r.info.lines) };
}
