/**
 * The config of a molecule run (`rewardiff run` with `task.kind` "qm9" or "smiles"; docs/molecules.md "Runs",
 * docs/config.md "Molecule runs"): the molecule task, the oracle reward, a pretrained or trained molecule model,
 * the methods (the registered method modules' schemas, src/runners/methods/), the molecule sampler and the
 * metrics' settings. Methods that cannot work on molecules yet are refused here, before any work, with one
 * line naming the method and why.
 */
import * as z from "zod";
import { readText } from "../io/files.js";
import { parseJson } from "../io/json.js";
import {
  MOLECULE_TASK_KINDS, MoleculeRewardSchema, MoleculeRunEvaluationSchema, MoleculeRunModelSchema, MoleculeRunSamplingSchema, MoleculeTaskSchema,
  describeConfigError, int, methodPath, methodsOf, strict, type MethodEntry, type RunConfig,
} from "./config-schemas.js";
import { MethodSchema, checkRequirements } from "./config.js";
import type { AddIssue } from "./methods/context.js";
import type { RcgdmMethodConfig } from "./methods/rcgdm.js";
import { methodModule } from "./methods/registry.js";
import { refineMoleculeRcgdm } from "./molecule-rcgdm.js";

/**
 * The method kinds a molecule run runs: sampling as is, the two derivative-free selections of a black-box
 * reward, rcgdm (src/runners/molecule-rcgdm.ts), and the fine-tuning methods that only call the reward (RWR,
 * RGDM's candidates, DDPO/DPOK).
 */
export const MOLECULE_METHOD_KINDS: readonly string[] = ["none", "best-of-n", "svdd", "rcgdm", "rwr", "rgdm", "ddpo"];

const GRADIENT = "it steers by a gradient of the reward, but a molecule's reward is an RDKit oracle on the argmax-decoded graph (black-box, piecewise constant: no gradient)";
const CONDITIONAL = "it needs a property-conditioned molecule model: use rcgdm, which trains one with condition dropout (its `scale` is the CFG strength)";
const TILT = 'it belongs to the classifier-tilt benchmark (task.kind "classifier-tilt")';

/** Why each other registered kind is refused on molecules (one clause; the error names the method). */
export const MOLECULE_METHOD_REFUSALS: Readonly<Record<string, string>> = {
  cfg: CONDITIONAL,
  "classifier-guidance": `${GRADIENT}; it would need a noisy predictor trained on graph rows`,
  dps: GRADIENT,
  "dps-normalised": GRADIENT,
  "target-guidance": `${GRADIENT}; it would need a noisy predictor trained on graph rows`,
  "exact-guidance": 'it needs the closed-form soft value of a "gaussian-mixture" task',
  draft: `${GRADIENT} (DRaFT backpropagates the reward through the sampler)`,
  ctrl: TILT,
  "cfg-triples": TILT,
  "dps-classifier": TILT,
};

export const MoleculeRunConfigSchema = strict({
  seed: int(0).default(0),
  task: MoleculeTaskSchema,
  reward: MoleculeRewardSchema.prefault({ kind: "property" }),
  model: MoleculeRunModelSchema,
  method: z.union([MethodSchema, z.array(MethodSchema).min(1)]).prefault({ kind: "none" }),
  sampling: MoleculeRunSamplingSchema.prefault({}),
  evaluation: MoleculeRunEvaluationSchema.prefault({}),
}).superRefine((cfg, ctx) => {
  const add: AddIssue = (path, message, input) => ctx.addIssue({ code: "custom", path, message, input });
  const model = cfg.model as { pretrained?: string; schedule?: { steps?: number } } | undefined;
  const steps = cfg.sampling?.steps;
  if (model && model.pretrained === undefined && typeof model.schedule?.steps === "number" && typeof steps === "number" && steps > model.schedule.steps) {
    add(["sampling", "steps"], `${steps} sampling steps exceed the schedule's ${model.schedule.steps} (model.schedule.steps)`, steps);
  }
  if (cfg.method === undefined) return;
  methodsOf(cfg as { method: MethodEntry | MethodEntry[] }).forEach((m, i) => {
    if (typeof m?.kind !== "string") return;
    const at = methodPath(cfg, i);
    if (!MOLECULE_METHOD_KINDS.includes(m.kind)) {
      add([...at, "kind"], `"${m.kind}" cannot run on molecules: ${MOLECULE_METHOD_REFUSALS[m.kind] ?? "it is not available in molecule runs"} (molecule runs take ${MOLECULE_METHOD_KINDS.join(", ")})`, m.kind);
      return;
    }
    const value = (m as { value?: string }).value;
    if (m.kind === "svdd" && value !== undefined && value !== "reward-x0") {
      add([...at, "value"], `"${value}" cannot run on molecules: ${value === "exact" ? 'it needs a "gaussian-mixture" task' : "a noisy value predictor on graph rows is not trained yet"}; use "reward-x0" (the oracle at x̂₀)`, value);
    }
    if (m.kind === "rgdm") {
      const r = m as { variant?: string; init?: string; sampleNoise?: string };
      if (r.variant === "gradient") add([...at, "variant"], `"gradient" cannot run on molecules: ${GRADIENT}; use "candidates"`, r.variant);
      if (r.init === "scratch") add([...at, "init"], `"scratch" cannot run on molecules: a molecule run fine-tunes its model (init "pretrained")`, r.init);
      if (r.sampleNoise === "payoff") add([...at, "sampleNoise"], `"payoff" is not available on molecules (one row per method); use "gaussian"`, r.sampleNoise);
    }
    const mod = methodModule(m.kind);
    // The stochastic sampler a method needs (the task kinds are this run's own: checked above).
    const sampling = { sampler: cfg.sampling?.sampler ?? "ddpm", eta: cfg.sampling?.eta ?? 1 } as RunConfig["sampling"];
    checkRequirements(mod.kind, { taskReward: mod.requires.taskReward, ...(mod.requires.stochasticSampler ? { stochasticSampler: mod.requires.stochasticSampler } : {}) }, { sampling }, at, add);
    if (m.kind === "rcgdm") refineMoleculeRcgdm(m as RcgdmMethodConfig, at, add);
    else mod.refine?.(m, {}, at, add);
  });
});

export type MoleculeRunConfig = z.output<typeof MoleculeRunConfigSchema>;
export type MoleculeRunConfigInput = z.input<typeof MoleculeRunConfigSchema>;

/** Is this parsed JSON a molecule run's config (its `task.kind` a molecule task)? */
export function isMoleculeConfig(json: unknown): boolean {
  const kind = (json as { task?: { kind?: unknown } } | null)?.task?.kind;
  return typeof kind === "string" && (MOLECULE_TASK_KINDS as readonly string[]).includes(kind);
}

/** Validates a molecule run's config; throws one line `where: path: problem` on the first problem. */
export function parseMoleculeConfig(json: unknown, where: string): MoleculeRunConfig {
  const result = MoleculeRunConfigSchema.safeParse(json, { reportInput: true });
  if (!result.success) throw new Error(describeConfigError(result.error, where));
  return result.data;
}

/** A config file as a molecule run's config, or undefined when its task is not a molecule task. */
export function readMoleculeConfig(path: string): MoleculeRunConfig | undefined {
  const json = parseJson(readText(path, "config file"), path, { rejectDuplicateKeys: true });
  return isMoleculeConfig(json) ? parseMoleculeConfig(json, path) : undefined;
}
