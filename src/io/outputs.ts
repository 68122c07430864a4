/**
 * File names derived from row labels (samples CSVs, fine-tuned checkpoints of a run's folder;
 * docs/report.md). A label made only of safe characters [A-Za-z0-9._=-] keeps its name; any other
 * label has each run of unsafe characters replaced by "_" and "~" plus the first 8 hex digits of the
 * SHA-256 of the original label appended. "~" never occurs in a kept name, so two different labels
 * give two different names (up to a 32-bit hash collision, refused by {@link checkDistinctFileNames}).
 * Also the checks, made before any work, that an output folder or file can be written, the locks
 * that keep two writers out of one folder or file, and the manifest of a run's files (`run --force`
 * removes what the previous run wrote and this one did not).
 */
import { createHash } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeFileAtomic } from "./atomic.js";

const UNSAFE = /[^A-Za-z0-9._=-]+/g;

/** The file-name form of a label: the label itself when safe, else sanitised + "~" + 8 hex of its SHA-256. */
export function fileLabel(label: string): string {
  const safe = label.replace(UNSAFE, "_");
  if (safe === label && label.length > 0) return label;
  const hash = createHash("sha256").update(label, "utf8").digest("hex").slice(0, 8);
  return `${safe}~${hash}`;
}

/** File name of a model a run saves for a row label (fine-tuned, RGDM/RWR/DDPO, rcgdm's conditional model): `model-<label>.safetensors`. */
export function modelFileName(label: string): string {
  return `model-${fileLabel(label)}.safetensors`;
}

/** File name of a row's training checkpoint, written during a long fine-tuning (rcgdm's `molecules.checkpointEvery`): `model-<label>-train.safetensors`. */
export function trainCheckpointFileName(label: string): string {
  return `model-${fileLabel(label)}-train.safetensors`;
}

/** File name of the reward model a run fits for a row label (rcgdm): `model-<label>-reward.safetensors`. */
export function rewardModelFileName(label: string): string {
  return `model-${fileLabel(label)}-reward.safetensors`;
}

/** Every model file name a row label may give ({@link modelFileName}, {@link rewardModelFileName}). */
export function modelFileNames(label: string): string[] {
  return [modelFileName(label), rewardModelFileName(label), trainCheckpointFileName(label)];
}

/**
 * Refuses, with one line, labels whose file names (`name(label)`, one or several per label) coincide:
 * two different labels would write the same file, the later silently replacing the earlier.
 */
export function checkDistinctFileNames(labels: readonly string[], name: (label: string) => string | readonly string[], where: string): void {
  const seen = new Map<string, string>();
  for (const label of labels) {
    const names = name(label);
    for (const file of typeof names === "string" ? [names] : names) {
      const other = seen.get(file);
      if (other !== undefined && other !== label) {
        throw new Error(`${where}: labels "${other}" and "${label}" would both be written to ${file}; give one of them another label`);
      }
      seen.set(file, label);
    }
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

/** The lock file of a single output file (`train`, `sample`, `fit-reward`): `<file>.lock` beside it. */
export function lockFileOf(file: string): string {
  return `${file}.lock`;
}

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
 * Creates the lock file `path` exclusively, holding this process's pid (creating its folder). A lock
 * whose pid is gone (a killed writer) is stale and taken over; a live one refuses with `refuse(pid)`.
 * Returns the release, which removes the lock and the folders it created if they are still empty; it
 * also runs on process exit.
 */
function takeLock(path: string, refuse: (pid: number) => string): () => void {
  const dir = dirname(path);
  const created = mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
      const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw new Error(refuse(pid), { cause: e });
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

/**
 * Takes the lock of an output folder (creating the folder): a file {@link LOCK_FILE} holding this
 * process's pid, created exclusively. A lock whose pid is gone (a killed run) is stale and taken over;
 * a live one refuses with one line naming `option`, the folder and the pid. Returns the release, which
 * removes the lock, and the folders it created if they are still empty; it also runs on process exit.
 */
export function lockFolder(dir: string, option = "--out"): () => void {
  const path = join(dir, LOCK_FILE);
  return takeLock(path, (pid) => `${option} ${dir}: another rewardiff (pid ${pid}) is writing there (lock file ${path}); wait for it to finish or choose another ${option}`);
}

/**
 * Takes the lock of an output file (`train`, `sample`, `fit-reward`): {@link lockFileOf}(file), the same
 * pid lock as {@link lockFolder}, so two commands writing one file refuse the second. Returns the release.
 */
export function lockFile(file: string, option = "--out"): () => void {
  const path = lockFileOf(file);
  return takeLock(path, (pid) => `${option} ${file}: another rewardiff (pid ${pid}) is writing it (lock file ${path}); wait for it to finish or choose another ${option}`);
}

/** The manifest of the files a run wrote in its folder (`rewardiff run`, `demo`): a JSON list of names. */
export const RUN_FILES = "run-files.json";

/** A name a manifest may list: a plain file name in the folder, never the manifest or the lock. */
function isRunFileName(name: unknown): name is string {
  return typeof name === "string" && name.length > 0 && !/[/\\]/.test(name) && name !== "." && name !== ".." && name !== RUN_FILES && name !== LOCK_FILE;
}

/** The names listed by a folder's manifest (none when it is absent or unreadable). */
function readRunFiles(dir: string): string[] {
  const path = join(dir, RUN_FILES);
  if (!existsSync(path)) return [];
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as { files?: unknown };
    return Array.isArray(parsed.files) ? parsed.files.filter(isRunFileName) : [];
  } catch {
    return [];
  }
}

/**
 * After a run has written its files into `dir`: records them in {@link RUN_FILES} (with the JSON sidecar
 * beside each .safetensors) and removes the files the previous run recorded that this run did not
 * rewrite, so `run --force` leaves no stale samples or models. Only names the previous manifest lists
 * and that are regular files are removed: a user's own files in the folder are never touched. Returns
 * the names removed.
 */
export function replaceRunFiles(dir: string, written: readonly string[]): string[] {
  const top = resolve(dir);
  const names = new Set<string>();
  for (const f of written) {
    const p = resolve(f);
    if (dirname(p) !== top) continue;
    names.add(basename(p));
    if (p.endsWith(".safetensors")) {
      const sidecar = `${basename(p).slice(0, -".safetensors".length)}.json`;
      if (existsSync(join(top, sidecar))) names.add(sidecar);
    }
  }
  const previous = readRunFiles(dir);
  writeFileAtomic(join(dir, RUN_FILES), `${JSON.stringify({ version: 1, files: [...names].sort() }, null, 2)}\n`);
  const removed: string[] = [];
  for (const name of previous) {
    if (names.has(name)) continue;
    const p = join(top, name);
    if (!lstatSync(p, { throwIfNoEntry: false })?.isFile()) continue;
    rmSync(p, { force: true });
    removed.push(name);
  }
  return removed;
}
