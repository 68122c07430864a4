import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
/**
 * Self-describing checkpoints in files (Node; as in k-diffusion): `name.safetensors` holds the tensors and
 * `name.json` beside it says what they are (the format: src/io/sidecar.ts). The pair is committed as one
 * unit (docs/checkpoints.md, "How a save is committed"): both new files are written to flushed temporaries,
 * the previous weights are kept as `name.safetensors.previous` while the new weights and then the sidecar are
 * renamed into place, so a load after a crash at any point finds the complete old or the complete new
 * checkpoint. In a browser, decode the two byte strings with `decodeCheckpoint` (src/io/sidecar.ts).
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { fsyncDir, tempPathBeside, writeFileDurable } from "./atomic.js";
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

/** Where the previous weights wait while a save commits (`x.safetensors.previous`). */
export function previousWeightsPath(weights: string): string {
  return `${weights}.previous`;
}

/** Hex SHA-256 of some bytes (node:crypto, synchronous; equal to src/io/sidecar.ts's sha256HexWeb). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The steps of a save, in order; a fault injected after one of them simulates a kill there. */
export const CHECKPOINT_SAVE_STEPS = [
  "weights-temp-written",
  "sidecar-temp-written",
  "previous-kept",
  "weights-committed",
  "sidecar-committed",
] as const;
export type CheckpointSaveStep = (typeof CHECKPOINT_SAVE_STEPS)[number];

/** Thrown by a save told to stop after a step (`faults.killAfter`): nothing is cleaned up, as after a kill. */
export class SimulatedKill extends Error {
  constructor(readonly step: CheckpointSaveStep) {
    super(`simulated kill after ${step}`);
    this.name = "SimulatedKill";
  }
}

/** Fault injection for tests: stop as if killed after a step, or replace the durable file write (e.g. to throw ENOSPC). */
export interface CheckpointFaults {
  readonly killAfter?: CheckpointSaveStep;
  readonly writeFile?: (path: string, data: string | Uint8Array) => void;
}

/** The file of the pair's weights that matches the sidecar now (the weights, else the kept previous weights), if any. */
function liveWeights(paths: CheckpointPaths): string | undefined {
  if (!existsSync(paths.sidecar)) return undefined;
  let recorded: string;
  try {
    recorded = parseSidecar(readFileSync(paths.sidecar, "utf8"), paths.sidecar).sha256;
  } catch {
    return undefined;
  }
  for (const file of [paths.weights, previousWeightsPath(paths.weights)]) {
    if (existsSync(file) && sha256Hex(readFileSync(file)) === recorded) return file;
  }
  return undefined;
}

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  if (code === "ENOSPC") return "no space left on device";
  return code ? `${code}: ${e.message}` : String(e?.message ?? err);
}

/**
 * Saves tensors and a config as `path` (which must end in .safetensors) plus its JSON sidecar, as one unit.
 * Everything is validated before any file is touched; a failed write (a full disk) removes the temporaries
 * and leaves any existing checkpoint as it was; a kill at any point leaves the old or the new checkpoint loadable.
 */
export function saveCheckpoint(
  path: string,
  contents: CheckpointContents,
  options: { created?: Date; faults?: CheckpointFaults } = {},
): CheckpointPaths & { sha256: string } {
  if (!path.endsWith(".safetensors")) throw new Error(`${path}: a checkpoint must be saved to a .safetensors path`);
  const paths = checkpointPaths(path);
  const { bytes, tensors } = encodeCheckpoint(contents, path);
  const sha256 = sha256Hex(bytes);
  const json = sidecarText(contents.config, tensors, sha256, options.created ?? new Date());
  const faults = options.faults ?? {};
  const write = faults.writeFile ?? writeFileDurable;
  const reached = (step: CheckpointSaveStep): void => {
    if (faults.killAfter === step) throw new SimulatedKill(step);
  };
  const dir = dirname(paths.weights);
  mkdirSync(dir, { recursive: true });
  const previous = previousWeightsPath(paths.weights);
  const tmpWeights = tempPathBeside(paths.weights);
  const tmpSidecar = tempPathBeside(paths.sidecar);
  const removeTemps = (): void => {
    rmSync(tmpWeights, { force: true });
    rmSync(tmpSidecar, { force: true });
  };

  // 1. Both new files to flushed temporaries; nothing the loader reads has changed yet.
  let target = paths.weights;
  try {
    write(tmpWeights, bytes);
    reached("weights-temp-written");
    target = paths.sidecar;
    write(tmpSidecar, json);
    reached("sidecar-temp-written");
  } catch (err) {
    if (err instanceof SimulatedKill) throw err;
    removeTemps();
    throw new Error(`${target}: could not write the checkpoint (${describeError(err)}); the previous checkpoint is unchanged`, { cause: err });
  }

  // 2. Commit: keep the loadable old weights under `.previous`, rename the new weights, then the sidecar.
  const live = liveWeights(paths);
  let kept = false;
  try {
    if (live === paths.weights) {
      renameSync(paths.weights, previous);
      kept = true;
    } else if (live === undefined) {
      rmSync(previous, { force: true });
    }
    fsyncDir(dir);
    reached("previous-kept");
    renameSync(tmpWeights, paths.weights);
    fsyncDir(dir);
    reached("weights-committed");
    renameSync(tmpSidecar, paths.sidecar);
    fsyncDir(dir);
    reached("sidecar-committed");
  } catch (err) {
    if (err instanceof SimulatedKill) throw err;
    if (kept && !existsSync(paths.weights)) renameSync(previous, paths.weights);
    removeTemps();
    throw new Error(`${paths.weights}: could not commit the checkpoint (${describeError(err)})`, { cause: err });
  }
  rmSync(previous, { force: true });
  return { ...paths, sha256 };
}

/**
 * Loads a checkpoint from its .safetensors or .json path, checking the sidecar, the digest and every tensor.
 * After a save interrupted between its two renames, the sidecar still describes the previous weights, kept
 * as `x.safetensors.previous`: those are read, so the complete old checkpoint loads.
 */
export function loadCheckpoint(path: string): Checkpoint {
  const { weights, sidecar: sidecarPath } = checkpointPaths(path);
  const previous = previousWeightsPath(weights);
  if (!existsSync(weights) && !existsSync(sidecarPath) && !existsSync(previous)) {
    throw new Error(`${path}: model not found (neither ${weights} nor ${sidecarPath} exists)`);
  }
  const sidecar = parseSidecar(readText(sidecarPath, `checkpoint description (the .json beside ${weights})`), sidecarPath);
  if (existsSync(previous)) {
    const current = existsSync(weights) ? readBytes(weights, `checkpoint weights file (described by ${sidecarPath})`) : undefined;
    if (current !== undefined && sha256Hex(current) === sidecar.sha256) return verifyCheckpoint(current, sidecar, sidecar.sha256, weights, sidecarPath);
    const old = readBytes(previous, `previous checkpoint weights (described by ${sidecarPath})`);
    const oldDigest = sha256Hex(old);
    if (oldDigest === sidecar.sha256 || current === undefined) return verifyCheckpoint(old, sidecar, oldDigest, previous, sidecarPath);
    return verifyCheckpoint(current, sidecar, sha256Hex(current), weights, sidecarPath);
  }
  const bytes = readBytes(weights, `checkpoint weights file (described by ${sidecarPath})`);
  return verifyCheckpoint(bytes, sidecar, sha256Hex(bytes), weights, sidecarPath);
}
