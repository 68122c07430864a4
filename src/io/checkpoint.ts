import { existsSync } from "node:fs";
/**
 * Self-describing checkpoints in files (Node; as in k-diffusion): `name.safetensors` holds the tensors and
 * `name.json` beside it says what they are (the format: src/io/sidecar.ts). Both files are written
 * atomically, weights first, so an interrupted save is detected on load as a digest mismatch rather than
 * read silently. In a browser, decode the two byte strings with `decodeCheckpoint` (src/io/sidecar.ts).
 */
import { createHash } from "node:crypto";
import { writeFileAtomic } from "./atomic.js";
import { readBytes, readText } from "./files.js";
import { encodeCheckpoint, parseSidecar, sidecarText, verifyCheckpoint, type Checkpoint, type CheckpointContents } from "./sidecar.js";

export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_SCHEMA_VERSION,
  type Checkpoint,
  type CheckpointContents,
  type CheckpointSidecar,
} from "./sidecar.js";

/** The two files of a checkpoint. */
export interface CheckpointPaths {
  /** The safetensors file with the tensors. */
  readonly weights: string;
  /** The JSON description beside it. */
  readonly sidecar: string;
}

/** The weights and sidecar paths for `x.safetensors` or `x.json`. */
export function checkpointPaths(path: string): CheckpointPaths {
  if (path.endsWith(".safetensors")) return { weights: path, sidecar: path.slice(0, -".safetensors".length) + ".json" };
  if (path.endsWith(".json")) return { weights: path.slice(0, -".json".length) + ".safetensors", sidecar: path };
  throw new Error(`${path}: a checkpoint path must end in .safetensors or .json`);
}

/** Hex SHA-256 of some bytes (node:crypto, synchronous; equal to src/io/sidecar.ts's sha256HexWeb). */
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
  const { bytes, tensors } = encodeCheckpoint(contents, path);
  const sha256 = sha256Hex(bytes);
  const json = sidecarText(contents.config, tensors, sha256, options.created ?? new Date());
  writeFileAtomic(paths.weights, bytes);
  writeFileAtomic(paths.sidecar, json);
  return { ...paths, sha256 };
}

/** Loads a checkpoint from its .safetensors or .json path, checking the sidecar, the digest and every tensor. */
export function loadCheckpoint(path: string): Checkpoint {
  const { weights, sidecar: sidecarPath } = checkpointPaths(path);
  if (!existsSync(weights) && !existsSync(sidecarPath)) throw new Error(`${path}: model not found (neither ${weights} nor ${sidecarPath} exists)`);
  const sidecar = parseSidecar(readText(sidecarPath, `checkpoint description (the .json beside ${weights})`), sidecarPath);
  const bytes = readBytes(weights, `checkpoint weights file (described by ${sidecarPath})`);
  return verifyCheckpoint(bytes, sidecar, sha256Hex(bytes), weights, sidecarPath);
}
