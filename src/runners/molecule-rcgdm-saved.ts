/**
 * A saved RCGDM conditional model (`molecules.conditionalModel`: the `model-<label>.safetensors` that
 * src/runners/molecule-rcgdm.ts writes, or a shipped one) checked against the row that reads it. Sampling the
 * file in place of fine-tuning anew stands for this row only when the file was made by it: the same property,
 * the same pseudo-labels (their standardisation (ŷ − μ)/σ, which also fixes what a target a means to the
 * network), the same network (pretrained model, condition embedding, added layers) and the same fine-tuning
 * settings. The first difference is named, so a stale file after a config change is an error, not a silent
 * reuse.
 */
import type { ModelConfig } from "../diffusion/model.js";
import type { ModelMeta } from "../io/checkpoints/model.js";
import type { TrainConfig } from "../training/trainer.js";

/** What the row would build and train. */
export interface ConditionalModelExpectation {
  property: string;
  model: ModelConfig;
  /** Absent: any fine-tuning settings (a further stage starting from the model, `molecules.startFrom`). */
  train?: TrainConfig;
  pseudoLabelNoise: number;
  dropout: number;
  /** The pseudo-labels' μ and σ as this run computes them. */
  mean: number;
  std: number;
  molecules: { atoms: readonly string[]; bonds: readonly number[]; maxAtoms: number };
}

/**
 * How close (in units of σ) the file's pseudo-label μ and σ must be to this run's.
 *  - `resume`: fine-tuning goes on from a training checkpoint on this run's pseudo-labels, so they must be the
 *    very ones (float32 reductions may differ in their last bits between thread counts).
 *  - `draws`: a model sampled as saved, or the start of a further stage, may come from a run whose random draws
 *    differ (a config with other rows splits the seed into other keys: f̂'s held-out share and the noise ν ξ);
 *    μ and σ then move a little, while other labels, another labeled count or another property move them
 *    by far more. Such a model is sampled with its own standardisation, which is what its network reads.
 */
export const STANDARDIZATION_TOLERANCE = { resume: 1e-5, draws: 1e-2 } as const;

/**
 * The first path at which two JSON values differ ("" when the roots differ), or undefined when equal;
 * `undefined` members count as absent (as JSON writes them).
 */
export function firstJsonDifference(a: unknown, b: unknown, path = ""): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return path;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return path;
    for (let i = 0; i < a.length; i++) {
      const d = firstJsonDifference(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].filter((k) => ao[k] !== undefined || bo[k] !== undefined).sort();
  for (const k of keys) {
    const d = firstJsonDifference(ao[k], bo[k], path ? `${path}.${k}` : k);
    if (d !== undefined) return d;
  }
  return undefined;
}

/** The value at a path from {@link firstJsonDifference}, as JSON (for messages). */
function at(v: unknown, path: string): string {
  let cur: unknown = v;
  for (const part of path.match(/[^.[\]]+/g) ?? []) cur = cur === null || typeof cur !== "object" ? undefined : (cur as Record<string, unknown>)[part];
  return cur === undefined ? "absent" : JSON.stringify(cur);
}

/** Why `meta` is not the conditional model the row `e` makes (one line), or undefined when it is (`tolerance`: on μ and σ, in units of σ). */
export function conditionalModelMismatch(meta: ModelMeta, e: ConditionalModelExpectation, tolerance: number): string | undefined {
  const c = meta.conditioning;
  if (c === undefined || c.source !== "pseudo-labels") return "not an RCGDM conditional model (its sidecar has no pseudo-label conditioning)";
  if (c.names.length !== 1 || c.names[0] !== e.property) return `conditioned on ${c.names.join(", ")}, not ${e.property}`;
  const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
  const compare: [string, unknown, unknown][] = [
    ["model", meta.model, e.model],
    ...(e.train !== undefined ? [["train", meta.train, e.train] as [string, unknown, unknown]] : []),
    ["molecules", meta.molecules, e.molecules],
  ];
  for (const [name, saved, row] of compare) {
    const d = firstJsonDifference(json(saved), json(row));
    if (d !== undefined) {
      const path = d ? `${name}.${d}` : name;
      return `${path} is ${at(json(saved), d)} in the file but ${at(json(row), d)} for this row (${name === "train" ? "other fine-tuning settings" : name === "model" ? "another network: pretrained model, conditionEmbedding, conditionFourier, conditionEveryLayer or addedLayers" : "another vocabulary"})`;
    }
  }
  if (c.pseudoLabelNoise !== e.pseudoLabelNoise) return `pseudo-label noise ν ${String(c.pseudoLabelNoise)} in the file but ${e.pseudoLabelNoise} for this row`;
  if (c.dropout !== e.dropout) return `condition dropout ${String(c.dropout)} in the file but ${e.dropout} for this row`;
  const st = c.standardization;
  if (!st) return "its sidecar has no standardisation of the pseudo-labels";
  const close = (a: number, b: number) => Math.abs(a - b) <= tolerance * Math.max(Math.abs(e.std), 1e-12);
  if (!close(st.mean[0]!, e.mean) || !close(st.std[0]!, e.std)) {
    return `its pseudo-labels (mean ${st.mean[0]}, sd ${st.std[0]}) are not this row's (mean ${e.mean}, sd ${e.std}; within ${tolerance} sd asked): another seed, task, labeled/heldOut/unlabeled count or l2${tolerance === STANDARDIZATION_TOLERANCE.resume ? ", or, to resume, other random draws" : ""}`;
  }
  return undefined;
}
