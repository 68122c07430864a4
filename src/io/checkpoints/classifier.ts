/**
 * Classifier files (Node only): the weights in safetensors and a JSON sidecar
 * `{ kind: "rewardiff-classifier", model: {spec, xMean, xStd, temperature, fit}, columns, label, data }`,
 * with the conventions of the reward-model files (src/io/checkpoints/reward.ts), validated strictly (./schemas.ts).
 */
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from "../checkpoint.js";
import type { Tensor } from "../safetensors.js";
import { checkClassifierSpec, type ClassifierModel } from "../../rewards/classifier.js";
import type { HostTensor } from "../../rewards/types.js";
import { classifierConfigSchema, parseCheckpointConfig } from "./schemas.js";
import { mlpInputWidth } from "../../nn/mlp.js";

export const CLASSIFIER_KIND = "rewardiff-classifier";
const ClassifierConfigSchema = classifierConfigSchema(CLASSIFIER_KIND);

/** What the sidecar records besides the weights. */
export interface ClassifierMeta {
  /** Feature column names, in the order the classifier takes them. */
  columns: string[];
  /** The label column (informative). */
  label: string;
  /** Where the labeled data came from (informative). */
  data?: string;
}

/** Saves p̂ as `path` (.safetensors) + JSON sidecar (src/io/checkpoint.ts; same conventions as reward models). */
export function saveClassifier(path: string, m: ClassifierModel, meta: ClassifierMeta): void {
  if (meta.columns.length !== m.dim) throw new Error(`${path}: ${meta.columns.length} column names for a classifier of dimension ${m.dim}`);
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(m.tensors)) tensors[name] = { dtype: "F32", shape: [...t.shape], data: t.data };
  const { tensors: _t, ...model } = m;
  saveCheckpoint(path, { tensors, config: { kind: CLASSIFIER_KIND, model, ...meta } as unknown as Record<string, unknown> });
}

/** Loads a classifier written by {@link saveClassifier}; every problem names the file and the key. */
export function loadClassifier(path: string): { model: ClassifierModel; meta: ClassifierMeta } {
  const ck = loadCheckpoint(path);
  const where = checkpointPaths(path).sidecar;
  const c = ck.config as Record<string, unknown>;
  const fail = (key: string, what: string): never => {
    throw new Error(`${where}: config.${key}: ${what}`);
  };
  if (c.kind !== CLASSIFIER_KIND) fail("kind", `expected "${CLASSIFIER_KIND}" (is this a rewardiff classifier?)`);
  parseCheckpointConfig(ClassifierConfigSchema, c, where);
  const m = c.model as Partial<ClassifierModel> | undefined;
  if (!m || typeof m !== "object" || m.kind !== "classifier") return fail("model", "missing or not a classifier");
  const dim = m.dim;
  if (!Number.isInteger(dim) || dim! < 1) fail("model.dim", `expected a whole number ≥ 1, got ${JSON.stringify(dim)}`);
  const spec = m.spec;
  if (!spec || typeof spec !== "object") return fail("model.spec", "missing");
  try {
    checkClassifierSpec(spec, "spec");
  } catch (err) {
    fail("model.spec", (err as Error).message.replace(/^spec: /, ""));
  }
  for (const k of ["xMean", "xStd"] as const) {
    const v = m[k];
    if (!Array.isArray(v) || v.length !== dim || !v.every(Number.isFinite)) fail(`model.${k}`, `expected ${dim} numbers`);
  }
  if (!(typeof m.temperature === "number" && m.temperature > 0)) fail("model.temperature", `expected a number > 0, got ${JSON.stringify(m.temperature)}`);
  const cols = c.columns;
  if (!Array.isArray(cols) || !cols.every((s) => typeof s === "string") || cols.length !== dim) fail("columns", `expected ${dim} column names`);
  const tensors: Record<string, HostTensor> = {};
  const want: [string, number[]][] = [];
  // The first weight reads the inputs padded to a multiple of 4 (nn/mlp.ts); files of earlier releases: dim rows.
  const first = ck.tensors[spec.layers > 0 ? "layers.0.w" : "out.w"];
  let width = first?.shape[0] === mlpInputWidth(dim!) ? mlpInputWidth(dim!) : dim!;
  for (let i = 0; i < spec.layers; i++) {
    want.push([`layers.${i}.w`, [width, spec.hidden]], [`layers.${i}.b`, [spec.hidden]]);
    width = spec.hidden;
  }
  want.push(["out.w", [width, spec.classes]], ["out.b", [spec.classes]]);
  for (const [name, shape] of want) {
    const t = ck.tensors[name];
    if (!t || !(t.data instanceof Float32Array)) return fail("model", `tensor "${name}" is missing from ${path} or not F32`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      fail("model", `tensor "${name}" has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`);
    }
    tensors[name] = { shape: [...t.shape], data: t.data };
  }
  const model: ClassifierModel = { ...(m as ClassifierModel), tensors };
  const meta: ClassifierMeta = { columns: cols as string[], label: typeof c.label === "string" ? c.label : "y" };
  if (typeof c.data === "string") meta.data = c.data;
  return { model, meta };
}
