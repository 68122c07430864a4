/**
 * Reward-model files: the weights in safetensors (ridge: θ̂ as float64; MLPs: float32 layers) and a JSON
 * sidecar saying what they are: `{ kind: "rewardiff-reward", model: {...settings, statistics}, columns,
 * label, fit }` (validated strictly: ./schemas.ts). `rewardiff fit-reward` writes one, `rewardiff train
 * --reward-model` reads it.
 */
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from "../checkpoint.js";
import type { Tensor } from "../safetensors.js";
import { parseCheckpointConfig, rewardConfigSchema } from "./schemas.js";
import type { EnsembleModel, HostTensor, MlpModel, RewardFitReport, RewardModel } from "../../rewards/types.js";
import { mlpInputWidth } from "../../nn/mlp.js";

export const REWARD_KIND = "rewardiff-reward";
const RewardConfigSchema = rewardConfigSchema(REWARD_KIND);

/** What the sidecar records besides the weights. */
export interface RewardMeta {
  /** Feature column names, in the order the model takes them. */
  columns: string[];
  /** The label column the model was fitted to. */
  label: string;
  /** Fit quality measured when the model was fitted. */
  fit?: RewardFitReport;
  /** Where the labeled data came from (informative). */
  data?: string;
}

type MlpConfig = Omit<MlpModel, "tensors">;

function mlpTensors(m: MlpModel, prefix: string, out: Record<string, Tensor>): MlpConfig {
  for (const [name, t] of Object.entries(m.tensors)) out[`${prefix}${name}`] = { dtype: "F32", shape: [...t.shape], data: t.data };
  const { tensors: _t, ...rest } = m;
  return rest;
}

/** Saves f̂ and its metadata as `path` (.safetensors) + the JSON sidecar. */
export function saveRewardModel(path: string, m: RewardModel, meta: RewardMeta): void {
  if (meta.columns.length !== m.dim) throw new Error(`${path}: ${meta.columns.length} column names for a reward model of dimension ${m.dim}`);
  const tensors: Record<string, Tensor> = {};
  let model: Record<string, unknown>;
  if (m.kind === "ridge") {
    tensors.theta = { dtype: "F64", shape: [m.dim], data: Float64Array.from(m.weights) };
    model = { kind: "ridge", dim: m.dim, spec: m.spec, bias: m.bias };
  } else if (m.kind === "mlp") {
    model = mlpTensors(m, "", tensors) as unknown as Record<string, unknown>;
  } else {
    model = { kind: "ensemble", dim: m.dim, spec: m.spec, members: m.members.map((mm, i) => mlpTensors(mm, `members.${i}.`, tensors)) };
  }
  saveCheckpoint(path, { tensors, config: { kind: REWARD_KIND, model, ...meta } as unknown as Record<string, unknown> });
}

/** Loads a reward model written by {@link saveRewardModel}; every problem names the file and the key. */
export function loadRewardModel(path: string): { model: RewardModel; meta: RewardMeta } {
  const ck = loadCheckpoint(path);
  const where = checkpointPaths(path).sidecar;
  const c = ck.config as Record<string, unknown>;
  const fail = (key: string, what: string): never => {
    throw new Error(`${where}: config.${key}: ${what}`);
  };
  if (c.kind !== REWARD_KIND) {
    fail("kind", `expected "${REWARD_KIND}"${c.kind === "rewardiff-model" ? " (this is a diffusion model, not a reward model)" : " (is this a rewardiff reward model?)"}`);
  }
  parseCheckpointConfig(RewardConfigSchema, c, where);
  const cols = c.columns;
  if (!Array.isArray(cols) || !cols.every((s) => typeof s === "string")) fail("columns", "expected a list of column names");
  if (typeof c.label !== "string") fail("label", "expected the label column's name");
  const m = c.model as Record<string, unknown> | undefined;
  if (!m || typeof m !== "object") fail("model", "missing");
  const dim = m!.dim;
  if (!Number.isInteger(dim) || (dim as number) < 1) fail("model.dim", `expected a whole number ≥ 1, got ${JSON.stringify(dim)}`);
  if ((cols as string[]).length !== dim) fail("columns", `${(cols as string[]).length} names for a reward model of dimension ${dim}`);
  const tensor = (name: string): HostTensor => {
    const t = ck.tensors[name];
    if (!t) return fail("model", `tensor "${name}" is missing from ${path}`);
    if (!(t.data instanceof Float32Array)) return fail("model", `tensor "${name}" must be F32`);
    return { shape: [...t.shape], data: t.data };
  };
  const mlp = (cfg: Record<string, unknown>, prefix: string, key: string): MlpModel => {
    const spec = cfg.spec as MlpModel["spec"] | undefined;
    if (!spec || typeof spec !== "object" || !Number.isInteger(spec.layers) || spec.layers < 1) fail(`${key}.spec.layers`, "expected a whole number ≥ 1");
    for (const k of ["xMean", "xStd"] as const) {
      const v = cfg[k];
      if (!Array.isArray(v) || v.length !== dim || !v.every(Number.isFinite)) fail(`${key}.${k}`, `expected ${dim} numbers`);
    }
    for (const k of ["yMean", "yStd"] as const) if (!Number.isFinite(cfg[k])) fail(`${key}.${k}`, "expected a number");
    const tensors: Record<string, HostTensor> = {};
    for (let i = 0; i < spec!.layers; i++) for (const p of ["w", "b"]) tensors[`layers.${i}.${p}`] = tensor(`${prefix}layers.${i}.${p}`);
    tensors["out.w"] = tensor(`${prefix}out.w`);
    tensors["out.b"] = tensor(`${prefix}out.b`);
    const w0 = tensors["layers.0.w"]!;
    // Inputs padded to a multiple of 4 (nn/mlp.ts); files of earlier releases: dim rows.
    if (w0.shape[0] !== dim && w0.shape[0] !== mlpInputWidth(dim as number)) fail(`${key}`, `first layer takes ${w0.shape[0]} inputs, but the model's dimension is ${dim}`);
    return { ...(cfg as unknown as MlpModel), kind: "mlp", tensors };
  };
  let model: RewardModel;
  if (m!.kind === "ridge") {
    const t = ck.tensors.theta;
    if (!t || !(t.data instanceof Float64Array) || t.data.length !== dim) fail("model", `tensor "theta" must be F64 of length ${dim}`);
    if (!Number.isFinite(m!.bias)) fail("model.bias", "expected a number");
    model = { kind: "ridge", dim: dim as number, spec: m!.spec as RewardModel["spec"] & { kind: "ridge" }, weights: Array.from(t!.data as Float64Array), bias: m!.bias as number };
  } else if (m!.kind === "mlp") {
    model = mlp(m!, "", "model");
  } else if (m!.kind === "ensemble") {
    const members = m!.members;
    if (!Array.isArray(members) || members.length === 0) fail("model.members", "expected a non-empty list");
    model = {
      kind: "ensemble",
      dim: dim as number,
      spec: m!.spec as EnsembleModel["spec"],
      members: (members as Record<string, unknown>[]).map((mm, i) => mlp(mm, `members.${i}.`, `model.members[${i}]`)),
    };
  } else {
    return fail("model.kind", `expected "ridge", "mlp" or "ensemble", got ${JSON.stringify(m!.kind)}`);
  }
  const meta: RewardMeta = { columns: cols as string[], label: c.label as string };
  if (c.fit !== undefined) meta.fit = c.fit as RewardFitReport;
  if (typeof c.data === "string") meta.data = c.data;
  return { model, meta };
}
