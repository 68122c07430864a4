/**
 * The safetensors format (https://github.com/huggingface/safetensors), written and read by hand:
 * 8-byte little-endian header length N, N bytes of JSON header
 * `{ "__metadata__": {...}, name: { dtype, shape, data_offsets: [begin, end] } }` padded with spaces to
 * a multiple of 8, then the tensors' bytes (little-endian, C order), contiguous, with no holes.
 * The reader validates everything and fails with one line naming the file and the tensor.
 */

/** Element types rewardiff stores. */
export type TensorDType = "F32" | "U32" | "F64" | "I32";

/** A named array in a safetensors file: row-major `data` of the given `shape`. */
export type Tensor =
  | { dtype: "F32"; shape: number[]; data: Float32Array }
  | { dtype: "U32"; shape: number[]; data: Uint32Array }
  | { dtype: "F64"; shape: number[]; data: Float64Array }
  | { dtype: "I32"; shape: number[]; data: Int32Array };

/** The decoded contents of a safetensors file. */
export interface SafetensorsFile {
  readonly tensors: Record<string, Tensor>;
  readonly metadata: Record<string, string>;
}

interface DTypeSpec {
  readonly size: number;
  readonly make: (buf: ArrayBuffer) => Tensor["data"];
  readonly array: { new (n: number): Tensor["data"]; readonly name: string };
}

const DTYPES: Record<TensorDType, DTypeSpec> = {
  F32: { size: 4, make: (b) => new Float32Array(b), array: Float32Array },
  U32: { size: 4, make: (b) => new Uint32Array(b), array: Uint32Array },
  F64: { size: 8, make: (b) => new Float64Array(b), array: Float64Array },
  I32: { size: 4, make: (b) => new Int32Array(b), array: Int32Array },
};

/** Largest header accepted, as in the reference implementation (100 MB). */
const MAX_HEADER = 100_000_000;

/** The spec of a dtype name, or undefined for names rewardiff does not store. */
function dtypeSpec(dtype: unknown): DTypeSpec | undefined {
  return typeof dtype === "string" && Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype as TensorDType] : undefined;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Number of elements of a shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Checks one tensor (dtype, shape, typed-array kind and length); throws `where: tensor "name": …`. */
export function checkTensor(name: string, t: Tensor, where = "safetensors"): void {
  const spec = dtypeSpec(t.dtype);
  if (!spec) throw new Error(`${where}: tensor ${JSON.stringify(name)}: unsupported dtype ${JSON.stringify(t.dtype)} (supported: F32, F64, I32, U32)`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: tensor ${JSON.stringify(name)}: shape ${JSON.stringify(t.shape)} must be a list of whole numbers ≥ 0`);
  }
  if (!(t.data instanceof spec.array)) {
    throw new Error(`${where}: tensor ${JSON.stringify(name)}: dtype ${t.dtype} needs a ${spec.array.name}, got ${t.data?.constructor?.name ?? typeof t.data}`);
  }
  const n = shapeSize(t.shape);
  if (t.data.length !== n) {
    throw new Error(`${where}: tensor ${JSON.stringify(name)}: shape [${t.shape.join(", ")}] holds ${n} values but the data has ${t.data.length}`);
  }
}

/**
 * Serialises tensors (and optional string metadata) to safetensors bytes. Tensors are laid out by
 * decreasing element size, then by name, so every tensor is aligned to its element size.
 */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
  where = "safetensors",
): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === "__metadata__" || name === "__proto__" || name === "") {
      throw new Error(`${where}: ${JSON.stringify(name)} is not a valid tensor name`);
    }
    checkTensor(name, tensors[name]!, where);
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`${where}: metadata ${JSON.stringify(k)} must be a string, got ${typeof v}`);
    }
  }
  names.sort((a, b) => DTYPES[tensors[b]!.dtype].size - DTYPES[tensors[a]!.dtype].size || (a < b ? -1 : a > b ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const data = tensors[name]!.data;
    out.set(toLittleEndianBytes(data), at);
    at += data.byteLength;
  }
  return out;
}

/** Parses and validates safetensors bytes; `where` names the source (e.g. the file path) in errors. */
export function decodeSafetensors(bytes: Uint8Array, where: string): SafetensorsFile {
  if (bytes.length < 8) throw new Error(`${where}: truncated: ${bytes.length} bytes, too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    throw new Error(`${where}: truncated or not safetensors: header length ${n64} goes beyond the file (${bytes.length} bytes)`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER) throw new Error(`${where}: header length ${n} is larger than the 100 MB limit`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw new Error(`${where}: invalid JSON header: ${String((err as Error).message).split("\n")[0]}`, { cause: err });
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new Error(`${where}: the header must be a JSON object`);
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors: Record<string, Tensor> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        throw new Error(`${where}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") throw new Error(`${where}: __metadata__ ${JSON.stringify(k)} must be a string`);
        if (k !== "__proto__") metadata[k] = v;
      }
      continue;
    }
    const t = `tensor ${JSON.stringify(name)}`;
    if (name === "__proto__" || name === "") throw new Error(`${where}: ${JSON.stringify(name)} is not a valid tensor name`);
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new Error(`${where}: ${t}: entry must be an object`);
    }
    const { dtype, shape, data_offsets: offsets, ...rest } = entry as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new Error(`${where}: ${t}: unknown key ${JSON.stringify(extra[0])}`);
    if (typeof dtype !== "string") throw new Error(`${where}: ${t}: missing dtype`);
    const spec = dtypeSpec(dtype);
    if (!spec) throw new Error(`${where}: ${t}: unsupported dtype ${JSON.stringify(dtype)} (supported: F32, F64, I32, U32)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: ${t}: shape ${JSON.stringify(shape)} must be a list of whole numbers ≥ 0`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new Error(`${where}: ${t}: data_offsets ${JSON.stringify(offsets)} must be [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) throw new Error(`${where}: truncated: ${t} needs bytes ${begin}..${end} but the file has ${dataLen} data bytes`);
    const need = shapeSize(shape as number[]) * spec.size;
    if (end - begin !== need) {
      throw new Error(`${where}: ${t}: shape [${shape.join(", ")}] of ${dtype} needs ${need} bytes but data_offsets ${begin}..${end} span ${end - begin}`);
    }
    spans.push({ name, begin, end });
    const copy = new Uint8Array(end - begin); // a fresh, aligned buffer
    copy.set(bytes.subarray(dataStart + begin, dataStart + end));
    const data = spec.make(fromLittleEndian(copy.buffer, spec.size));
    tensors[name] = { dtype, shape: [...(shape as number[])], data } as Tensor;
  }

  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i]!;
    if (i > 0 && s.begin < covered) {
      const p = spans[i - 1]!;
      throw new Error(
        `${where}: tensors ${JSON.stringify(p.name)} (bytes ${p.begin}..${p.end}) and ${JSON.stringify(s.name)} (bytes ${s.begin}..${s.end}) overlap`,
      );
    }
    if (s.begin > covered) throw new Error(`${where}: data bytes ${covered}..${s.begin} belong to no tensor (holes are not allowed)`);
    covered = s.end;
  }
  if (covered < dataLen) throw new Error(`${where}: data bytes ${covered}..${dataLen} belong to no tensor (trailing data)`);
  return { tensors, metadata };
}

/** A copy of a typed array's bytes in little-endian order. */
function toLittleEndianBytes(data: Tensor["data"]): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndian) return bytes;
  return new Uint8Array(swapBytes(bytes.slice().buffer, data.BYTES_PER_ELEMENT));
}

function fromLittleEndian(buf: ArrayBuffer, size: number): ArrayBuffer {
  return littleEndian ? buf : swapBytes(buf, size);
}

function swapBytes(buf: ArrayBuffer, size: number): ArrayBuffer {
  const b = new Uint8Array(buf);
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
  return buf;
}
