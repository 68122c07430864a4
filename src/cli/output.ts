/** Output-path rules: never overwrite a user's results silently, and never let two commands write one output. */
import { existsSync, readdirSync } from "node:fs";
import { checkWritableFile, checkWritableFolder, lockFile } from "../io/outputs.js";

/** Refuses an output folder that cannot be written, or that already holds results unless `force`. */
export function checkOutDir(dir: string, force: boolean): void {
  checkWritableFolder(dir);
  if (!existsSync(dir)) return;
  const results = readdirSync(dir).filter((f) => /^(report\.(json|html)|samples.*\.csv|model.*\.(safetensors|json))$/.test(f));
  if (results.length > 0 && !force) {
    throw new Error(`${dir}: already holds results (${results.slice(0, 3).join(", ")}); choose another --out or pass --force to replace them`);
  }
}

/** Refuses an output file that cannot be written, or that exists unless `force`. */
export function checkOutFile(path: string, force: boolean): void {
  checkWritableFile(path);
  if (existsSync(path) && !force) throw new Error(`${path}: already exists; choose another path or pass --force to replace it`);
}

/**
 * Runs a single-file command (`train`, `sample`, `fit-reward`) holding the lock of its `--out` file
 * (`<out>.lock`, src/io/outputs.ts lockFile): a second command writing the same file is refused while
 * the first runs. The path is checked first (a folder, or a folder that cannot be written, is refused
 * before the lock is taken); the lock is released when `work` ends, however it ends.
 */
export async function withOutFileLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  checkWritableFile(path);
  const release = lockFile(path);
  try {
    return await work();
  } finally {
    release();
  }
}

/** The default output folder of `run`/`demo` without --out: `runs/<prefix>-<UTC date_time>`. */
export function defaultRunDir(prefix: "run" | "demo"): string {
  return `runs/${prefix}-${new Date().toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19)}`;
}
