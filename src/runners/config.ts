/**
 * The full experiment config: src/io/config.ts's task / reward / model / sampling schemas plus the
 * method union assembled from the registered method modules (./methods/registry.ts), each of which
 * owns its schema, its defaults and its requirements. Requirements and a module's own refinement are
 * checked here, when the config is parsed, so that a config a method cannot run is refused before any
 * work with one line naming the key.
 */
import * as z from "zod";
import { readText } from "../io/files.js";
import { parseJson } from "../io/json.js";
import { TASKS_WITH_REWARD, checkSamplingSteps, describeConfigError, experimentShape, methodPath, methodsOf, strict, type RunConfig } from "./config-schemas.js";
import type { AddIssue, MethodRequirements } from "./methods/context.js";
import { checkConfigMemory, type SizedConfig } from "./resource-bounds.js";
import { METHOD_MODULES, methodModule } from "./methods/registry.js";

/** The tuple of the registered modules' schemas (its element types give the union's member types). */
type Schemas<T extends readonly unknown[]> = { -readonly [K in keyof T]: T[K] extends { schema: infer S } ? S : never };

/** One method entry: the union of the registered modules' schemas, by `kind`. */
export const MethodSchema = z.discriminatedUnion("kind", METHOD_MODULES.map((m) => m.schema) as unknown as Schemas<typeof METHOD_MODULES>);

export const ExperimentConfigSchema = strict({
  seed: experimentShape.seed,
  task: experimentShape.task,
  reward: experimentShape.reward,
  model: experimentShape.model,
  method: z.union([MethodSchema, z.array(MethodSchema).min(1)]).prefault({ kind: "none" }),
  sampling: experimentShape.sampling,
}).superRefine((cfg, ctx) => {
  checkSamplingSteps(cfg, ctx);
  checkConfigMemory(cfg as SizedConfig, (path, message, input) => ctx.addIssue({ code: "custom", path, message, input }));
  if (cfg.method === undefined) return;
  const run = cfg as Partial<RunConfig>;
  methodsOf(cfg).forEach((m, i) => {
    if (typeof m?.kind !== "string") return;
    const mod = methodModule(m.kind);
    const at = methodPath(cfg, i);
    const add: AddIssue = (path, message, input) => ctx.addIssue({ code: "custom", path, message, input });
    checkRequirements(mod.kind, mod.requires, run, at, add);
    mod.refine?.(m, run, at, add);
  });
});

/**
 * The task kinds and the stochastic sampler a module requires, as config issues. (Whether the task has
 * the reward a method needs is checked when the run starts, before any work: {@link checkTaskReward}.)
 */
export function checkRequirements(kind: string, req: MethodRequirements, cfg: Partial<RunConfig>, at: (string | number)[], add: AddIssue): void {
  const taskKind = cfg.task?.kind;
  if (req.taskKinds && typeof taskKind === "string" && !req.taskKinds.kinds.includes(taskKind)) {
    add([...at, "kind"], `"${kind}" needs ${req.taskKinds.why}, but task.kind is "${taskKind}"`, kind);
  }
  const sampling = cfg.sampling;
  if (req.stochasticSampler && sampling?.sampler === "ddim" && sampling.eta === 0) {
    add(
      ["sampling", "eta"],
      `is 0 (deterministic DDIM), but method "${kind}" needs stochastic sampler steps (${req.stochasticSampler.why}); use eta > 0 or sampler "ddpm"`,
      0,
    );
  }
}

/** Refuses a method that needs the task's reward on a task without one (`where: method[i].kind: …`). */
export function checkTaskReward(cfg: ExperimentConfig, where: string): void {
  methodsOf(cfg).forEach((m, i) => {
    if (!methodModule(m.kind).requires.taskReward || TASKS_WITH_REWARD.includes(cfg.task.kind)) return;
    const at = Array.isArray(cfg.method) ? `method[${i}].kind` : "method.kind";
    throw new Error(`${where}: ${at}: "${m.kind}" needs a reward, but task.kind "${cfg.task.kind}" has none (tasks with a reward: ${TASKS_WITH_REWARD.join(", ")})`);
  });
}

export type MethodConfig = z.output<typeof MethodSchema>;
export type MethodKind = MethodConfig["kind"];
/** A validated config with every default filled in. */
export type ExperimentConfig = z.output<typeof ExperimentConfigSchema>;
/** What a user may write (defaults optional). */
export type ExperimentConfigInput = z.input<typeof ExperimentConfigSchema>;

export { methodsOf };

/** Validates a parsed JSON value; throws one line `where: path: problem` on the first problem. */
export function parseConfig(json: unknown, where: string): ExperimentConfig {
  const result = ExperimentConfigSchema.safeParse(json, { reportInput: true });
  if (!result.success) throw new Error(describeConfigError(result.error, where));
  return result.data;
}

/** Reads and validates a JSON config file (duplicate keys are refused too). */
export function readConfig(path: string): ExperimentConfig {
  return parseConfig(parseJson(readText(path, "config file"), path, { rejectDuplicateKeys: true }), path);
}

/** The config used when none is given: every default. */
export function defaultConfig(): ExperimentConfig {
  return parseConfig({}, "default config");
}
