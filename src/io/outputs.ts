/**
 * File names derived from row labels (samples CSVs, fine-tuned checkpoints of a run's folder;
 * docs/report.md). A label made only of safe characters [A-Za-z0-9._=-] keeps its name; any other
 * label has each run of unsafe characters replaced by "_" and "~" plus the first 8 hex digits of the
 * SHA-256 of the original label appended. "~" never occurs in a kept name, so two different labels
 * give two different names (up to a 32-bit hash collision, refused by {@link checkDistinctFileNames}).
 * Also the checks, made before any work, that an output folder or file can be written, and the lock
 * that keeps two runs out of one folder.
 */
import { createHash } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const UNSAFE = /[^A-Za-z0-9._=-]+/g;

/** The file-name form of a label: the label itself when safe, else sanitised + "~" + 8 hex of its SHA-256. */
export function fileLabel(label: string): string {
  const safe = label.replace(UNSAFE, "_");
  if (safe === label && label.length > 0) return label;
  const hash = createHash("sha256").update(label, "utf8").digest("hex").slice(0, 8);
  return `${safe}~${hash}`;
}

/**
 * Refuses, with one line, labels whose file names (`name(label)`) coincide: two different labels
 * would write the same file, the later silently replacing the earlier.
 */
export function checkDistinctFileNames(labels: readonly string[], name: (label: string) => string, where: string): void {
  const seen = new Map<string, string>();
  for (const label of labels) {
    const file = name(label);
    const other = seen.get(file);
    if (other !== undefined && other !== label) {
      throw new Error(`${where}: labels "${other}" and "${label}" would both be written to ${file}; give one of them another label`);
    }
    seen.set(file, label);
  }
}

/** Refuses, naming `option`, a folder that exists but is not writable, or whose nearest existing ancestor is not a writable folder. */
function checkCreatable(path: string, option: string, shown: string): void {
  let p = resolve(path);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  if (!statSync(p).isDirectory()) throw new Error(`${option} ${shown}: ${p} is a file, not a folder`);
  try {
    accessSync(p, constants.W_OK);
  } catch {
    throw new Error(`${option} ${shown}: the folder ${p} is not writable`);
  }
}

/** Refuses, before any work, an output folder (`--out` of run/demo) that is a file or cannot be created or written. */
export function checkWritableFolder(dir: string, option = "--out"): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`${option} ${dir}: is a file, not a folder`);
  checkCreatable(dir, option, dir);
}

/** Refuses, before any work, an output file that is a folder, or whose folder cannot be created or written. */
export function checkWritableFile(path: string, option = "--out"): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new Error(`${option} ${path}: is a folder, not a file`);
  checkCreatable(dirname(resolve(path)), option, path);
}

/** Name of the lock file a run keeps in its output folder while it writes there. */
export const LOCK_FILE = ".rewardiff.lock";

/** Whether process `pid` exists (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the lock of an output folder (creating the folder): a file {@link LOCK_FILE} holding this
 * process's pid, created exclusively. A lock whose pid is gone (a killed run) is stale and taken over;
 * a live one refuses with one line naming `option`, the folder and the pid. Returns the release, which
 * removes the lock, and the folders it created if they are still empty; it also runs on process exit.
 */
export function lockFolder(dir: string, option = "--out"): () => void {
  const created = mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
      const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(`${option} ${dir}: another rewardiff (pid ${pid}) is writing there (lock file ${path}); wait for it to finish or choose another ${option}`, { cause: e });
      }
      rmSync(path, { force: true });
    }
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener("exit", release);
    rmSync(path, { force: true });
    if (created === undefined) return;
    const top = resolve(created);
    for (let p = resolve(dir); ; p = dirname(p)) {
      if (readdirSync(p).length > 0) break;
      rmdirSync(p);
      if (p === top || dirname(p) === p) break;
    }
  };
  process.on("exit", release);
  return release;
}
