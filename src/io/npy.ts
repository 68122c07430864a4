/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0) ⇄ float32 arrays. Reads C-order arrays of
 * floats, integers or booleans (either byte order) and converts them to float32; writes `<f4`, v1.0.
 * Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { writeFileAtomic } from "./atomic.js";
import { readBytes } from "./files.js";

/** An n-dimensional C-order float32 array. */
export interface NpyArray {
  readonly shape: number[];
  readonly data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Element kinds (NumPy `descr` without byte order) that can be read, with their byte sizes. */
const READERS: Record<string, { size: number; read: (v: DataView, at: number, le: boolean) => number }> = {
  f2: { size: 2, read: (v, at, le) => halfToFloat(v.getUint16(at, le)) },
  f4: { size: 4, read: (v, at, le) => v.getFloat32(at, le) },
  f8: { size: 8, read: (v, at, le) => v.getFloat64(at, le) },
  i1: { size: 1, read: (v, at) => v.getInt8(at) },
  i2: { size: 2, read: (v, at, le) => v.getInt16(at, le) },
  i4: { size: 4, read: (v, at, le) => v.getInt32(at, le) },
  i8: { size: 8, read: (v, at, le) => Number(v.getBigInt64(at, le)) },
  u1: { size: 1, read: (v, at) => v.getUint8(at) },
  u2: { size: 2, read: (v, at, le) => v.getUint16(at, le) },
  u4: { size: 4, read: (v, at, le) => v.getUint32(at, le) },
  u8: { size: 8, read: (v, at, le) => Number(v.getBigUint64(at, le)) },
  b1: { size: 1, read: (v, at) => (v.getUint8(at) === 0 ? 0 : 1) },
};

/** Reads a .npy file; every value must be finite once converted to float32. */
export function readNpy(path: string): NpyArray {
  return decodeNpy(readBytes(path, ".npy file"), path);
}

/** Reads a 1-D or 2-D .npy file as a matrix (a 1-D array of n values becomes n × 1). */
export function readNpyMatrix(path: string): HostMatrix {
  return npyToMatrix(readNpy(path), path);
}

/** A 1-D array as an n × 1 matrix, a 2-D array as itself; other ranks are refused. */
export function npyToMatrix(array: NpyArray, where = "npy"): HostMatrix {
  const { shape, data } = array;
  if (shape.length === 1) return hostMatrix(shape[0]!, 1, data);
  if (shape.length === 2) {
    if (shape[1] === 0) throw new Error(`${where}: shape (${shape.join(", ")}) has no columns`);
    return hostMatrix(shape[0]!, shape[1]!, data);
  }
  throw new Error(`${where}: expected a 1-D or 2-D array, got shape (${shape.join(", ")})`);
}

/** Decodes the bytes of a .npy file; `where` names the source in error messages. */
export function decodeNpy(bytes: Uint8Array, where: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${where}: not a NumPy .npy file (bad magic bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new Error(`${where}: unsupported .npy format version ${major}.${bytes[7]}`);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new Error(`${where}: truncated: the header length is cut off`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.length) {
    throw new Error(`${where}: truncated: the header needs ${headerLen} bytes but the file ends after ${bytes.length - 8 - lenBytes}`);
  }
  const headerBytes = bytes.subarray(8 + lenBytes, dataStart);
  const header = major === 3 ? new TextDecoder("utf-8").decode(headerBytes) : latin1(headerBytes);
  const { little, kind, fortran, shape } = parseHeader(header, where);
  if (fortran) {
    throw new Error(`${where}: Fortran-order arrays are not supported; save with np.save(path, np.ascontiguousarray(a))`);
  }
  const reader = READERS[kind]!;
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * reader.size;
  const have = bytes.length - dataStart;
  if (have < need) {
    throw new Error(`${where}: truncated: shape ${pyShape(shape)} of ${kind} needs ${need} data bytes but the file has ${have}`);
  }
  if (have > need) throw new Error(`${where}: ${have - need} unexpected bytes after the data of shape ${pyShape(shape)}`);

  const data = new Float32Array(count);
  if (kind === "f4" && little) {
    const copy = new Uint8Array(need); // a fresh, aligned buffer
    copy.set(bytes.subarray(dataStart, dataStart + need));
    data.set(new Float32Array(copy.buffer));
  } else {
    for (let i = 0; i < count; i++) data[i] = reader.read(view, dataStart + i * reader.size, little);
  }
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(data[i]!)) {
      const raw = reader.read(view, dataStart + i * reader.size, little);
      throw new Error(`${where}: non-finite value ${raw}${Number.isFinite(raw) ? " (too large for float32)" : ""} at ${position(shape, i)}`);
    }
  }
  return { shape, data };
}

/** Writes a float32 array as a .npy file (v1.0, little-endian `<f4`, C order), atomically. */
export function writeNpy(path: string, shape: readonly number[], data: Float32Array): void {
  writeFileAtomic(path, encodeNpy(shape, data, path));
}

/** The bytes of a .npy file holding `data` with the given shape; refuses mismatched sizes and non-finite values. */
export function encodeNpy(shape: readonly number[], data: Float32Array, where = "npy"): Uint8Array {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape [${shape.join(", ")}] must be whole numbers ≥ 0`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`${where}: shape ${pyShape(shape)} holds ${count} values but the data has ${data.length}`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new Error(`${where}: refusing to write non-finite value ${data[i]} at ${position(shape, i)}`);
  }
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`;
  const version = dict.length + 1 + 10 > 0xffff ? 2 : 1;
  const prefix = version === 1 ? 10 : 12;
  const padded = dict + " ".repeat((64 - ((prefix + dict.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(prefix + padded.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[prefix + i] = padded.charCodeAt(i);
  const body = new DataView(out.buffer, prefix + padded.length);
  for (let i = 0; i < data.length; i++) body.setFloat32(i * 4, data[i]!, true);
  return out;
}

function parseHeader(header: string, where: string): { little: boolean; kind: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(header);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(header)) throw new Error(`${where}: structured (record) arrays are not supported`);
    throw new Error(`${where}: malformed .npy header: no 'descr'`);
  }
  if (!fortran) throw new Error(`${where}: malformed .npy header: no 'fortran_order'`);
  if (!shape) throw new Error(`${where}: malformed .npy header: no 'shape'`);

  const d = descr[2]!;
  const order = d[0]!;
  const kind = "<>|=".includes(order) ? d.slice(1) : d;
  if (!(kind in READERS)) {
    throw new Error(`${where}: unsupported dtype ${JSON.stringify(d)} (supported: float16/32/64, int8–64, uint8–64, bool)`);
  }
  const little = order !== ">";
  const dims = shape[1]!
    .split(",")
    .map((s) => s.trim().replace(/L$/, ""))
    .filter((s) => s !== "");
  if (!dims.every((s) => /^\d+$/.test(s))) throw new Error(`${where}: malformed .npy header: shape (${shape[1]})`);
  return { little, kind, fortran: fortran[1] === "True", shape: dims.map(Number) };
}

/** "(3, 2)", "(3,)", "()": NumPy's tuple notation. */
function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/** "row 3, column 2 (flat index 5)" for 2-D arrays, "index 5" otherwise (all from 1 except flat index). */
function position(shape: readonly number[], flat: number): string {
  if (shape.length === 2) {
    const cols = shape[1]!;
    return `row ${Math.floor(flat / cols) + 1}, column ${(flat % cols) + 1} (flat index ${flat})`;
  }
  return `flat index ${flat}`;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** IEEE 754 half precision bits → number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
