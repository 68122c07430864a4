/** Output-path rules: never overwrite a user's results silently, and never let two commands write one output. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { checkWritableFile, checkWritableFolder, lockFile } from "../io/outputs.js";
import { shellWord } from "./interrupt.js";

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

/**
 * The folder `run` writes to: with `--resume DIR` that folder (`--out`, if given, must name it, and `--force`,
 * which starts again, is refused), else `--out`, else a fresh default. What the folder may hold is the caller's check.
 */
export function runOutDir(o: { out?: string; resume?: string; force?: boolean }): string {
  if (o.resume !== undefined && o.out !== undefined && resolve(o.out) !== resolve(o.resume)) {
    throw new Error(`--out ${o.out}: --resume ${o.resume} continues the run in its own folder; drop --out`);
  }
  if (o.resume !== undefined && o.force) throw new Error(`--force: --resume ${o.resume} continues the run in its folder; --force (start again) cannot be combined with it`);
  return o.resume ?? o.out ?? defaultRunDir("run");
}

/** Refuses a `--resume` folder that does not exist or cannot be written. */
export function checkResumeFolder(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--resume ${dir}: no such folder (give the --out folder of the run to continue)`);
  checkWritableFolder(dir, "--resume");
}

/** The command that resumes a stopped `run` in its folder, shell-quoted. */
export function runResumeCommand(configPath: string, outDir: string, seed: number | undefined): string {
  return ["rewardiff", "run", configPath, "--resume", outDir, ...(seed !== undefined ? ["--seed", String(seed)] : [])].map(shellWord).join(" ");
}
