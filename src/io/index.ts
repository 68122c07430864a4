/** File formats: CSV, .npy, safetensors checkpoints, JSON, atomic writes. */
export { writeFileAtomic } from "./atomic.js";
export { readBytes, readText } from "./files.js";
export { parseJson, locateJsonError, checkJsonValue, type JsonSyntaxError, type ParseJsonOptions } from "./json.js";
export { formatFloat32 } from "./float-text.js";
export { readCsv, parseCsv, writeCsv, formatCsv, type CsvReadOptions, type CsvTable } from "./csv.js";
export { readNpy, readNpyMatrix, decodeNpy, npyToMatrix, writeNpy, encodeNpy, type NpyArray } from "./npy.js";
export {
  encodeSafetensors,
  decodeSafetensors,
  checkTensor,
  shapeSize,
  type Tensor,
  type TensorDType,
  type SafetensorsFile,
} from "./safetensors.js";
export {
  decodeCheckpoint,
  encodeCheckpoint,
  parseSidecar,
  sha256HexWeb,
  CheckpointSidecarSchema,
} from "./sidecar.js";
export {
  saveCheckpoint,
  loadCheckpoint,
  checkpointPaths,
  sha256Hex,
  CHECKPOINT_FORMAT,
  CHECKPOINT_SCHEMA_VERSION,
  type Checkpoint,
  type CheckpointContents,
  type CheckpointPaths,
  type CheckpointSidecar,
} from "./checkpoint.js";
export { describeZodIssues } from "./zod-error.js";
