import { existsSync } from "node:fs";
/**
 * Self-describing checkpoints (as in k-diffusion): `name.safetensors` holds the tensors and `name.json`
 * beside it says what they are:
 * `{ format: "rewardiff-checkpoint", schemaVersion: 1, created, config, tensors: { name: { dtype, shape } }, sha256 }`
 * where sha256 is the hex digest of the safetensors bytes. Both files are written atomically, weights
 * first, so an interrupted save is detected on load as a digest mismatch rather than read silently.
 */
import { createHash } from "node:crypto";
import { writeFileAtomic } from "./atomic.js";
import { readBytes, readText } from "./files.js";
import { checkJsonValue, parseJson } from "./json.js";
import { decodeSafetensors, encodeSafetensors, type Tensor, type TensorDType } from "./safetensors.js";

export const CHECKPOINT_FORMAT = "rewardiff-checkpoint";
export const CHECKPOINT_SCHEMA_VERSION = 1;

/** The two files of a checkpoint. */
export interface CheckpointPaths {
  /** The safetensors file with the tensors. */
  readonly weights: string;
  /** The JSON description beside it. */
  readonly sidecar: string;
}

/** What a checkpoint stores. `config` is any JSON object (e.g. the model and schedule settings). */
export interface CheckpointContents {
  readonly tensors: Record<string, Tensor>;
  readonly config: Record<string, unknown>;
}

/** A loaded checkpoint; `created` is the ISO 8601 time of the save. */
export interface Checkpoint extends CheckpointContents {
  readonly created: string;
}

/** The JSON sidecar, as written. */
export interface CheckpointSidecar {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly schemaVersion: typeof CHECKPOINT_SCHEMA_VERSION;
  readonly created: string;
  readonly config: Record<string, unknown>;
  readonly tensors: Record<string, { dtype: TensorDType; shape: number[] }>;
  readonly sha256: string;
}

/** The weights and sidecar paths for `x.safetensors` or `x.json`. */
export function checkpointPaths(path: string): CheckpointPaths {
  if (path.endsWith(".safetensors")) return { weights: path, sidecar: path.slice(0, -".safetensors".length) + ".json" };
  if (path.endsWith(".json")) return { weights: path.slice(0, -".json".length) + ".safetensors", sidecar: path };
  throw new Error(`${path}: a checkpoint path must end in .safetensors or .json`);
}

/** Hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Saves tensors and a config as `path` (which must end in .safetensors) plus its JSON sidecar.
 * Everything is validated before either file is touched: bad shapes, non-finite float values or a
 * config that is not plain JSON leave any existing checkpoint as it was.
 */
export function saveCheckpoint(
  path: string,
  contents: CheckpointContents,
  options: { created?: Date } = {},
): CheckpointPaths & { sha256: string } {
  if (!path.endsWith(".safetensors")) throw new Error(`${path}: a checkpoint must be saved to a .safetensors path`);
  const paths = checkpointPaths(path);
  const { tensors, config } = contents;
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`${path}: the checkpoint config must be a JSON object`);
  }
  checkJsonValue(config, `${path}: config`);
  const bytes = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT }, path);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32" && t.dtype !== "F64") continue;
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw new Error(`${path}: tensor ${JSON.stringify(name)}: refusing to save non-finite value ${t.data[i]} at flat index ${i}`);
  }
  const sha256 = sha256Hex(bytes);
  const sidecar: CheckpointSidecar = {
    format: CHECKPOINT_FORMAT,
    schemaVersion: CHECKPOINT_SCHEMA_VERSION,
    created: (options.created ?? new Date()).toISOString(),
    config,
    tensors: Object.fromEntries(
      Object.keys(tensors)
        .sort()
        .map((name) => [name, { dtype: tensors[name]!.dtype, shape: [...tensors[name]!.shape] }]),
    ),
    sha256,
  };
  const json = JSON.stringify(sidecar, null, 2) + "\n";
  writeFileAtomic(paths.weights, bytes);
  writeFileAtomic(paths.sidecar, json);
  return { ...paths, sha256 };
}

/** Loads a checkpoint from its .safetensors or .json path, checking the sidecar, the digest and every tensor. */
export function loadCheckpoint(path: string): Checkpoint {
  const { weights, sidecar: sidecarPath } = checkpointPaths(path);
  if (!existsSync(weights) && !existsSync(sidecarPath)) throw new Error(`${path}: model not found (neither ${weights} nor ${sidecarPath} exists)`);
  const sidecar = readSidecar(sidecarPath, weights);
  const bytes = readBytes(weights, `checkpoint weights file (described by ${sidecarPath})`);
  const digest = sha256Hex(bytes);
  if (digest !== sidecar.sha256) {
    throw new Error(
      `${weights}: sha256 ${digest.slice(0, 12)}… does not match ${sidecar.sha256.slice(0, 12)}… recorded in ${sidecarPath}: the weights are corrupt or modified`,
    );
  }
  const { tensors } = decodeSafetensors(bytes, weights);
  for (const [name, spec] of Object.entries(sidecar.tensors)) {
    const t = tensors[name];
    if (!t) throw new Error(`${weights}: tensor ${JSON.stringify(name)} is listed in ${sidecarPath} but missing from the file`);
    if (t.dtype !== spec.dtype) {
      throw new Error(`${weights}: tensor ${JSON.stringify(name)} is ${t.dtype} in the file but ${spec.dtype} in ${sidecarPath}`);
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(
        `${weights}: tensor ${JSON.stringify(name)} has shape [${t.shape.join(", ")}] in the file but [${spec.shape.join(", ")}] in ${sidecarPath}`,
      );
    }
  }
  for (const name of Object.keys(tensors)) {
    if (!Object.hasOwn(sidecar.tensors, name)) {
      throw new Error(`${weights}: tensor ${JSON.stringify(name)} is in the file but not listed in ${sidecarPath}`);
    }
  }
  return { tensors, config: sidecar.config, created: sidecar.created };
}

/** Reads and validates the JSON sidecar. */
function readSidecar(sidecarPath: string, weights: string): CheckpointSidecar {
  const raw = parseJson(readText(sidecarPath, `checkpoint description (the .json beside ${weights})`), sidecarPath);
  const where = sidecarPath;
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
  if (typeof raw.created !== "string" || Number.isNaN(Date.parse(raw.created))) {
    throw new Error(`${where}: created must be an ISO date string, got ${JSON.stringify(raw.created)}`);
  }
  if (!isObject(raw.config)) throw new Error(`${where}: config must be a JSON object`);
  if (typeof raw.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(raw.sha256)) {
    throw new Error(`${where}: sha256 must be 64 lowercase hex digits, got ${JSON.stringify(raw.sha256)}`);
  }
  if (!isObject(raw.tensors)) throw new Error(`${where}: tensors must be an object of { dtype, shape }`);
  for (const [name, spec] of Object.entries(raw.tensors)) {
    const ok =
      isObject(spec) &&
      ["F32", "F64", "I32", "U32"].includes(spec.dtype as string) &&
      Array.isArray(spec.shape) &&
      spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!ok) throw new Error(`${where}: tensors.${name} must be { dtype: "F32" | "F64" | "I32" | "U32", shape: [whole numbers] }`);
  }
  return raw as unknown as CheckpointSidecar;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
