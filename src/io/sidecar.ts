/**
 * The checkpoint format without file I/O (runs in a browser): a safetensors byte string plus a JSON
 * sidecar `{ format: "rewardiff-checkpoint", schemaVersion: 1, created, config, tensors: { name: { dtype,
 * shape } }, sha256 }`, sha256 being the hex digest of the safetensors bytes. The sidecar is validated
 * with zod (strict: unknown keys are refused) and every problem is one line naming the source and the key.
 * src/io/checkpoint.ts reads and writes the two files in Node.
 */
import * as z from "zod";
import { checkJsonValue, parseJson } from "./json.js";
import { decodeSafetensors, encodeSafetensors, type Tensor, type TensorDType } from "./safetensors.js";
import { describeZodIssues } from "./zod-error.js";

export const CHECKPOINT_FORMAT = "rewardiff-checkpoint";
export const CHECKPOINT_SCHEMA_VERSION = 1;

/** What a checkpoint stores. `config` is any JSON object (e.g. the model and schedule settings). */
export interface CheckpointContents {
  readonly tensors: Record<string, Tensor>;
  readonly config: Record<string, unknown>;
}

/** A loaded checkpoint; `created` is the ISO 8601 time of the save. */
export interface Checkpoint extends CheckpointContents {
  readonly created: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const TENSOR_SPEC = `{ dtype: "F32" | "F64" | "I32" | "U32", shape: [whole numbers] }`;

/** The sidecar (format and schemaVersion are checked first, with messages saying what was found). */
export const CheckpointSidecarSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  schemaVersion: z.literal(CHECKPOINT_SCHEMA_VERSION),
  created: z.string().refine((s) => !Number.isNaN(Date.parse(s)), { error: (iss) => `created must be an ISO date string, got ${JSON.stringify(iss.input)}` }),
  config: z.custom<Record<string, unknown>>(isObject, { error: "config must be a JSON object" }),
  tensors: z.record(
    z.string(),
    z.strictObject({ dtype: z.enum(["F32", "F64", "I32", "U32"]), shape: z.array(z.number().int().min(0)) }),
    { error: `tensors must be an object of ${TENSOR_SPEC}` },
  ),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: (iss) => `sha256 must be 64 lowercase hex digits, got ${JSON.stringify(iss.input)}` }),
});

/** The JSON sidecar, as written. */
export type CheckpointSidecar = z.output<typeof CheckpointSidecarSchema> & { tensors: Record<string, { dtype: TensorDType; shape: number[] }> };

/** Hex SHA-256 through WebCrypto (`crypto.subtle`: browsers, Node ≥ 20, Deno, Bun). */
export async function sha256HexWeb(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error("SHA-256 needs WebCrypto (globalThis.crypto.subtle), which this runtime lacks");
  const digest = new Uint8Array(await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Validates a sidecar (JSON text or a parsed value); throws `where: …` naming the key. */
export function parseSidecar(sidecar: string | unknown, where: string): CheckpointSidecar {
  const raw = typeof sidecar === "string" ? parseJson(sidecar, where) : sidecar;
  if (!isObject(raw)) throw new Error(`${where}: not a rewardiff checkpoint (expected a JSON object)`);
  if (raw.format !== CHECKPOINT_FORMAT) {
    const found = raw.format === undefined ? "no format key" : `format is ${JSON.stringify(raw.format)}`;
    throw new Error(`${where}: not a rewardiff checkpoint (${found}, expected ${JSON.stringify(CHECKPOINT_FORMAT)})`);
  }
  if (raw.schemaVersion !== CHECKPOINT_SCHEMA_VERSION) {
    throw new Error(
      `${where}: unsupported checkpoint schemaVersion ${JSON.stringify(raw.schemaVersion)} (this rewardiff reads version ${CHECKPOINT_SCHEMA_VERSION})`,
    );
  }
  const r = CheckpointSidecarSchema.safeParse(raw, { reportInput: true });
  if (r.success) return r.data as CheckpointSidecar;
  const issue = r.error.issues.find((i) => i.code === "unrecognized_keys") ?? r.error.issues[0]!;
  // Messages written above are whole sentences; the rest get the key path from describeZodIssues.
  if (issue.code === "custom" || (issue.path.length === 1 && issue.message.startsWith(`${String(issue.path[0])} must`))) {
    throw new Error(`${where}: ${issue.message}`);
  }
  if (issue.path[0] === "tensors" && issue.path.length >= 2) {
    throw new Error(`${where}: tensors.${String(issue.path[1])} must be ${TENSOR_SPEC}`);
  }
  throw new Error(describeZodIssues([issue], where));
}

/**
 * Encodes a checkpoint: the safetensors bytes and the tensors' sidecar entries. Everything is checked
 * first (shapes, non-finite floats, a config that is not plain JSON), so a bad checkpoint never reaches disk.
 */
export function encodeCheckpoint(contents: CheckpointContents, where: string): { bytes: Uint8Array; tensors: CheckpointSidecar["tensors"] } {
  const { tensors, config } = contents;
  if (!isObject(config)) throw new Error(`${where}: the checkpoint config must be a JSON object`);
  checkJsonValue(config, `${where}: config`);
  const bytes = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT }, where);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32" && t.dtype !== "F64") continue;
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw new Error(`${where}: tensor ${JSON.stringify(name)}: refusing to save non-finite value ${t.data[i]} at flat index ${i}`);
  }
  const specs = Object.fromEntries(
    Object.keys(tensors)
      .sort()
      .map((name) => [name, { dtype: tensors[name]!.dtype, shape: [...tensors[name]!.shape] }]),
  );
  return { bytes, tensors: specs };
}

/** The sidecar JSON text for encoded contents. */
export function sidecarText(config: Record<string, unknown>, tensors: CheckpointSidecar["tensors"], sha256: string, created: Date): string {
  const sidecar: CheckpointSidecar = {
    format: CHECKPOINT_FORMAT,
    schemaVersion: CHECKPOINT_SCHEMA_VERSION,
    created: created.toISOString(),
    config,
    tensors,
    sha256,
  };
  return JSON.stringify(sidecar, null, 2) + "\n";
}

/**
 * Checks weights bytes against their (validated) sidecar, given the bytes' digest, and decodes them.
 * `weightsName` and `sidecarName` name the two sources in messages (file paths in Node).
 */
export function verifyCheckpoint(bytes: Uint8Array, sidecar: CheckpointSidecar, digest: string, weightsName: string, sidecarName: string): Checkpoint {
  if (digest !== sidecar.sha256) {
    throw new Error(
      `${weightsName}: sha256 ${digest.slice(0, 12)}… does not match ${sidecar.sha256.slice(0, 12)}… recorded in ${sidecarName}: the weights are corrupt or modified`,
    );
  }
  const { tensors } = decodeSafetensors(bytes, weightsName);
  for (const [name, spec] of Object.entries(sidecar.tensors)) {
    const t = tensors[name];
    if (!t) throw new Error(`${weightsName}: tensor ${JSON.stringify(name)} is listed in ${sidecarName} but missing from the file`);
    if (t.dtype !== spec.dtype) {
      throw new Error(`${weightsName}: tensor ${JSON.stringify(name)} is ${t.dtype} in the file but ${spec.dtype} in ${sidecarName}`);
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(
        `${weightsName}: tensor ${JSON.stringify(name)} has shape [${t.shape.join(", ")}] in the file but [${spec.shape.join(", ")}] in ${sidecarName}`,
      );
    }
  }
  for (const name of Object.keys(tensors)) {
    if (!Object.hasOwn(sidecar.tensors, name)) {
      throw new Error(`${weightsName}: tensor ${JSON.stringify(name)} is in the file but not listed in ${sidecarName}`);
    }
  }
  return { tensors, config: sidecar.config, created: sidecar.created };
}

/** Decodes a checkpoint from bytes and its sidecar (text or parsed), with the digest through WebCrypto. */
export async function decodeCheckpoint(bytes: Uint8Array, sidecar: string | unknown, names: { weights: string; sidecar: string }): Promise<Checkpoint> {
  const parsed = parseSidecar(sidecar, names.sidecar);
  return verifyCheckpoint(bytes, parsed, await sha256HexWeb(bytes), names.weights, names.sidecar);
}
