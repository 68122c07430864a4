/**
 * Reading input files with one-line errors that name the file: "not found", "is a folder",
 * "permission denied" instead of Node's multi-part system errors.
 */
import { readFileSync } from "node:fs";

/** Reads a whole file as bytes (a plain Uint8Array); `what` names its role in messages (e.g. "data file"). */
export function readBytes(path: string, what = "file"): Uint8Array {
  try {
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    throw new Error(describeFsError(path, what, err), { cause: err });
  }
}

/** Reads a whole file as UTF-8 text (a leading byte-order mark is kept; callers strip it). */
export function readText(path: string, what = "file"): string {
  return new TextDecoder("utf-8").decode(readBytes(path, what));
}

/** One line for a failed file read. */
export function describeFsError(path: string, what: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return `${path}: ${what} not found`;
    case "EISDIR":
      return `${path}: is a folder, expected a ${what}`;
    case "EACCES":
    case "EPERM":
      return `${path}: permission denied reading the ${what}`;
    default:
      return `${path}: cannot read the ${what}: ${String((err as Error | undefined)?.message ?? err).split("\n")[0]}`;
  }
}
