/**
 * Writes a run's report files (Node only: uses the file system). Both files are written atomically
 * (temp file + rename), so an interrupted write leaves any previous report intact.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { assertReport, type Report } from "./types.js";

export interface WrittenReport {
  json: string;
  html: string;
}

/**
 * Writes `dir/report.json` (pretty JSON) and `dir/report.html`, creating `dir` if needed. The report is
 * checked first (version-1 shape, no NaN/±Infinity, which JSON would silently turn into null); on a
 * problem nothing is written and the error names the first offending path.
 */
export function writeReport(dir: string, files: { report: Report; html: string }): WrittenReport {
  const report = assertReport(files.report, "writeReport");
  if (typeof files.html !== "string" || files.html.length === 0) throw new Error("writeReport: empty HTML");
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const out = { json: join(dir, "report.json"), html: join(dir, "report.html") };
  writeFileAtomic(out.json, json);
  writeFileAtomic(out.html, files.html);
  return out;
}
