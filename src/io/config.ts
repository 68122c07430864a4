/**
 * The experiment config of contract.md as zod schemas: every object is strict (unknown keys are errors
 * at any depth), defaults are filled in, and any problem becomes one line naming the file and the key,
 * e.g. `cfg.json: model: unknown key "hiden" (did you mean "hidden"?)`.
 */
import * as z from "zod";
import { readText } from "./files.js";
import { parseJson } from "./json.js";
import { describeZodIssues, unknownKeysMessage } from "./zod-error.js";

/** A strict object whose unknown-key errors suggest the nearest known key. */
function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}

const int = (min: number) => z.number().int().min(min);
const nonNegative = () => z.number().min(0);
const positive = () => z.number().positive();

// ---------------------------------------------------------------------------------------------- task

/** The 2-D toy data sets (tiny-diffusion's test bed). */
export const TOY2D_NAMES = ["moons", "8gaussians", "swissroll", "checkerboard"] as const;

/** 2-D toy data: `n` samples of a named distribution. */
export const Toy2dTaskSchema = strict({
  kind: z.literal("toy2d"),
  name: z.enum(TOY2D_NAMES).default("8gaussians"),
  n: int(2).default(8000),
});

/** One mixture component π_k N(m_k, s_k² I): weight π_k (normalised later), mean m_k, std s_k. */
export const GaussianComponentSchema = strict({
  weight: positive(),
  mean: z.array(z.number()).min(1),
  std: positive(),
});

/** Gaussian mixture with linear reward r(x) = bᵀx, b = rewardWeights (fixtures.md §3: exact tilted law). */
export const GaussianMixtureTaskSchema = strict({
  kind: z.literal("gaussian-mixture"),
  components: z.array(GaussianComponentSchema).min(1),
  rewardWeights: z.array(z.number()).min(1),
  n: int(2).default(8000),
}).superRefine((task, ctx) => {
  // Refinements also run after non-fatal issues elsewhere in the object, so check what they rely on.
  if (!Array.isArray(task.components) || !Array.isArray(task.rewardWeights)) return;
  if (!task.components.every((c) => Array.isArray(c?.mean)) || task.components.length === 0) return;
  const dim = task.components[0]!.mean.length;
  task.components.forEach((c, k) => {
    if (c.mean.length !== dim) {
      ctx.addIssue({
        code: "custom",
        path: ["components", k, "mean"],
        message: `has ${plural(c.mean.length, "coordinate")} but components[0].mean has ${dim}; all means need the same length`,
        input: c.mean,
      });
    }
  });
  if (task.rewardWeights.length !== dim) {
    ctx.addIssue({
      code: "custom",
      path: ["rewardWeights"],
      message: `has ${plural(task.rewardWeights.length, "entry", "entries")} but the means have ${plural(dim, "coordinate")}`,
      input: task.rewardWeights,
    });
  }
});

/**
 * The 2307.07055 simulation (fixtures.md §2): x = A z in R^D (D = ambientDim) with z ∈ R^d
 * (d = latentDim), `labeled` points with labels y = θ*ᵀx + N(0, labelNoise²), `unlabeled` points
 * pseudo-labelled with noise ν = pseudoLabelNoise.
 */
export const LinearSubspaceTaskSchema = strict({
  kind: z.literal("linear-subspace"),
  ambientDim: int(1).default(64),
  latentDim: int(1).default(16),
  unlabeled: int(1).default(20000),
  labeled: int(1).default(1000),
  labelNoise: nonNegative().default(0.1),
  pseudoLabelNoise: nonNegative().default(0.1),
}).superRefine((task, ctx) => {
  if (typeof task.latentDim === "number" && typeof task.ambientDim === "number" && task.latentDim > task.ambientDim) {
    ctx.addIssue({
      code: "custom",
      path: ["latentDim"],
      message: `latentDim (${task.latentDim}) must be ≤ ambientDim (${task.ambientDim})`,
      input: task.latentDim,
    });
  }
});

/** The user's own data: a CSV file with a header row (`columns` picks and orders features). */
export const CsvTaskSchema = strict({
  kind: z.literal("csv"),
  path: z.string().min(1),
  columns: z.array(z.string().min(1)).min(1).optional(),
});

/**
 * The CTRL benchmark of fixtures.md §4 (docs/classifier-tilt.md): `contexts` 2-D mixtures p(x|c), a
 * logistic labeler p(y=1|x) = σ(wᵀx + b) (default w = (sharpness, 0), b = 0), `offline` (x, y) pairs
 * and the exact target p(y|x)^γ p(x|c) on a `grid` × `grid` quadrature grid. `n` training rows (all
 * contexts, balanced) train the pretrained p_pre(x|c) and the unconditional base model.
 */
export const ClassifierTiltTaskSchema = strict({
  kind: z.literal("classifier-tilt"),
  contexts: int(1).default(2),
  n: int(2).default(8000),
  gamma: nonNegative().default(1),
  offline: int(4).default(2000),
  sharpness: positive().default(4),
  labeler: strict({ weights: z.array(z.number()).length(2), bias: z.number().default(0) }).optional(),
  mixtures: z.array(z.array(GaussianComponentSchema).min(1)).min(1).optional(),
  grid: int(8).max(2000).default(200),
}).superRefine((task, ctx) => {
  if (!Array.isArray(task.mixtures)) return;
  if (typeof task.contexts === "number" && task.mixtures.length !== task.contexts) {
    ctx.addIssue({
      code: "custom",
      path: ["contexts"],
      message: `is ${task.contexts} but mixtures has ${plural(task.mixtures.length, "entry", "entries")} (one mixture per context)`,
      input: task.contexts,
    });
  }
  task.mixtures.forEach((m, c) =>
    (Array.isArray(m) ? m : []).forEach((k, i) => {
      if (Array.isArray(k?.mean) && k.mean.length !== 2) {
        ctx.addIssue({ code: "custom", path: ["mixtures", c, i, "mean"], message: `has ${plural(k.mean.length, "coordinate")}; this task is 2-D`, input: k.mean });
      }
    }),
  );
});

export const TaskSchema = z.discriminatedUnion("kind", [
  Toy2dTaskSchema,
  GaussianMixtureTaskSchema,
  LinearSubspaceTaskSchema,
  CsvTaskSchema,
  ClassifierTiltTaskSchema,
]);

// -------------------------------------------------------------------------------------------- reward

export const REWARD_KINDS = ["oracle", "ridge", "mlp", "ensemble", "classifier"] as const;

/** How the reward is obtained: the task's ground truth ("oracle") or a model fitted on labels. */
export const RewardSchema = strict({
  kind: z.enum(REWARD_KINDS),
  /** Ridge / weight-decay strength λ. */
  l2: nonNegative().optional(),
  hidden: int(1).optional(),
  members: int(1).optional(),
  steps: int(1).optional(),
  /** MLP / ensemble regressors: hidden layers, Adam learning rate and minibatch size. */
  layers: int(1).optional(),
  learningRate: positive().optional(),
  batchSize: int(1).optional(),
  /** Fraction of the labeled rows held out to measure the fit (default 0.2). */
  holdout: nonNegative().lt(1).optional(),
});

// --------------------------------------------------------------------------------------------- model

/** Noise schedule β_1..β_T; T = steps (for "custom", T = betas.length). */
export const ScheduleSchema = strict({
  kind: z.enum(["linear", "cosine", "scaled-linear", "custom"]).default("linear"),
  steps: int(1).optional(),
  betaStart: positive().lt(1).default(1e-4),
  betaEnd: positive().lt(1).default(0.02),
  betas: z.array(positive().lt(1)).min(1).optional(),
})
  .superRefine((s, ctx) => {
    if (s.kind === "custom" && s.betas === undefined) {
      ctx.addIssue({ code: "custom", path: ["betas"], message: 'missing, required when kind is "custom"', input: undefined });
    }
    if (s.kind !== "custom" && s.betas !== undefined) {
      ctx.addIssue({ code: "custom", path: ["betas"], message: `only used when kind is "custom" (kind is "${s.kind}")`, input: s.betas });
    }
    if (Array.isArray(s.betas) && typeof s.steps === "number" && s.steps !== s.betas.length) {
      ctx.addIssue({
        code: "custom",
        path: ["steps"],
        message: `is ${s.steps} but betas has ${s.betas.length} entries (leave steps out for a custom schedule)`,
        input: s.steps,
      });
    }
    if (typeof s.betaStart === "number" && typeof s.betaEnd === "number" && s.betaStart > s.betaEnd) {
      ctx.addIssue({ code: "custom", path: ["betaStart"], message: `(${s.betaStart}) must be ≤ betaEnd (${s.betaEnd})`, input: s.betaStart });
    }
  })
  .transform((s) => ({ ...s, steps: s.steps ?? s.betas?.length ?? 1000 }));

/** Optimisation of the denoiser. gradClip 0 = off; ema is the EMA decay (0 = no averaging). */
export const TrainSchema = strict({
  steps: int(0).default(4000),
  batchSize: int(1).default(512),
  learningRate: positive().default(2e-3),
  weightDecay: nonNegative().default(0),
  gradClip: nonNegative().default(1.0),
  lrSchedule: z.enum(["constant", "cosine", "warmup-cosine"]).default("cosine"),
  warmupSteps: int(0).default(0),
  ema: nonNegative().lt(1).default(0.995),
  checkpointEvery: int(0).default(0),
});

/** The denoising network (an MLP with a time embedding), its parameterisation, schedule and training. */
export const ModelSchema = strict({
  hidden: int(1).default(128),
  layers: int(1).default(3),
  timeEmbedding: int(1).default(32),
  residual: z.boolean().default(true),
  norm: z.enum(["none", "layernorm"]).default("none"),
  /** Fourier features of x per coordinate (0..16); "auto" = 4 for data of dimension ≤ 3, else 0. */
  fourierFeatures: z.union([z.literal("auto"), int(0).max(16)]).default("auto"),
  prediction: z.enum(["eps", "x0", "v"]).default("eps"),
  schedule: ScheduleSchema.prefault({}),
  train: TrainSchema.prefault({}),
});

// -------------------------------------------------------------------------------------------- method

export const METHOD_KINDS = [
  "rcgdm",
  "cfg",
  "classifier-guidance",
  "dps",
  "target-guidance",
  "svdd",
  "best-of-n",
  "exact-guidance",
  "rgdm",
  "rwr",
  "ctrl",
  "ddpo",
  "draft",
  "cfg-triples",
  "dps-classifier",
  "none",
] as const;

/** Temperature / KL strength α: the exact target is p · exp(r/α). */
const alpha = () => positive().optional();
/** Guidance strength. */
const scale = () => nonNegative().optional();
/** Guidance methods (docs/guidance.md): active interval [start, stop) of the chain and a row label. */
const guidanceInterval = {
  start: z.number().min(0).lt(1).optional(),
  stop: z.number().gt(0).max(1).optional(),
  label: z.string().min(1).optional(),
};
/** Where a gradient term takes its gradient (x_t, x̂_0, the step mean) and what it changes (ε̂ or the mean). */
const gradientPoint = { where: z.enum(["xt", "x0", "mean"]).optional(), apply: z.enum(["eps", "mean"]).optional() };
/** The reward guidance steers by: the task's, or the indicator 1[r(x) > threshold] (non-differentiable). */
const guidanceReward = { reward: z.enum(["task", "indicator"]).optional(), threshold: z.number().optional() };
/** The time-conditioned predictor trained on noised inputs (classifier guidance, target guidance, SVDD "learned"). */
const noisyPredictor = { hidden: int(1).optional(), layers: int(1).optional(), trainSteps: int(1).optional() };

export const MethodSchema = z.discriminatedUnion("kind", [
  /**
   * 2307.07055 (docs/rcgdm.md): reward fit (config.reward, default ridge) → pseudo-labels with noise ν →
   * conditional diffusion with condition dropout → samples at each target with CFG strength w = scale.
   */
  strict({
    kind: z.literal("rcgdm"),
    scale: nonNegative().default(1),
    dropout: z.number().min(0).lt(1).default(0.1),
    network: z.enum(["mlp", "low-rank"]).default("mlp"),
    rank: int(1).optional(),
    conditionEmbedding: int(1).default(32),
    pseudoLabelNoise: nonNegative().optional(),
    targets: z.array(z.number()).min(1).optional(),
    label: z.string().min(1).optional(),
    /** "target-guidance": the unconditional base model + target guidance with the learned reward (strength = scale). */
    variant: z.enum(["conditional", "target-guidance"]).default("conditional"),
  }),
  strict({ kind: z.literal("cfg"), scale: scale(), alpha: alpha(), target: z.number().optional(), dropout: z.number().min(0).lt(1).optional(), trainSteps: int(1).optional(), ...guidanceInterval }),
  strict({ kind: z.literal("classifier-guidance"), scale: scale(), alpha: alpha(), head: z.enum(["regression", "classification"]).optional(), ...gradientPoint, ...noisyPredictor, ...guidanceReward, ...guidanceInterval }),
  strict({ kind: z.literal("dps"), scale: scale(), alpha: alpha(), jacobian: z.enum(["full", "identity"]).optional(), ...gradientPoint, ...guidanceReward, ...guidanceInterval }),
  strict({ kind: z.literal("target-guidance"), scale: scale(), alpha: alpha(), target: z.number().optional(), predictor: z.enum(["noisy-regressor", "reward"]).optional(), ...gradientPoint, ...noisyPredictor, ...guidanceReward, ...guidanceInterval }),
  strict({ kind: z.literal("svdd"), alpha: alpha(), candidates: int(1).optional(), value: z.enum(["reward-x0", "learned", "exact"]).optional(), ...noisyPredictor, ...guidanceReward, ...guidanceInterval }),
  /** Best-of-N; `matchBudget` names an earlier row (its label) whose reward + gradient evaluations N × samples should equal. */
  strict({ kind: z.literal("best-of-n"), alpha: alpha(), candidates: int(1).optional(), matchBudget: z.string().min(1).optional(), select: z.enum(["max", "softmax"]).optional(), ...guidanceReward, label: guidanceInterval.label }),
  strict({ kind: z.literal("exact-guidance"), alpha: alpha(), scale: scale(), base: z.enum(["trained", "exact"]).optional(), ...guidanceInterval }),
  /** RGDM (2304.07132; docs/rgdm.md): alpha ≡ τ, the payoff temperature; ρ the feasible-ball radius. */
  strict({
    kind: z.literal("rgdm"),
    alpha: z.number().superRefine((v, c) => { if (!(v > 0)) c.addIssue({ code: "custom", message: `(τ) must be > 0, got ${v}`, input: v }); }).optional(),
    rho: z.number().superRefine((v, c) => { if (!(v >= 0)) c.addIssue({ code: "custom", message: `(ρ) must be ≥ 0, got ${v}`, input: v }); }).optional(),
    rhoScale: z.enum(["absolute", "sigma"]).optional(),
    variant: z.enum(["gradient", "candidates"]).optional(),
    rule: z.enum(["argmax", "proximal"]).optional(),
    candidates: int(1).optional(),
    ascentSteps: int(1).optional(),
    rewardAt: z.enum(["x-tilde", "x0-hat"]).optional(),
    center: z.enum(["sample", "mean"]).optional(),
    select: z.enum(["draw", "weighted"]).optional(),
    init: z.enum(["pretrained", "scratch"]).optional(),
    steps: int(1).optional(),
    batchSize: int(1).optional(),
    learningRate: positive().optional(),
    monitorEvery: int(1).optional(),
    monitorSamples: int(1).optional(),
    sampleNoise: z.enum(["gaussian", "payoff"]).optional(),
    ...guidanceReward,
    label: guidanceInterval.label,
  }),
  /** Reward-weighted regression (docs/rgdm.md): alpha ≡ τ; weights softmax(r/τ_k) over rounds. */
  strict({
    kind: z.literal("rwr"),
    alpha: z.number().superRefine((v, c) => { if (!(v > 0)) c.addIssue({ code: "custom", message: `(τ) must be > 0, got ${v}`, input: v }); }).optional(),
    rounds: int(1).optional(),
    samplesPerRound: int(1).optional(),
    stepsPerRound: int(1).optional(),
    schedule: z.enum(["annealed", "constant"]).optional(),
    batchSize: int(1).optional(),
    learningRate: positive().optional(),
    ...guidanceReward,
    label: guidanceInterval.label,
  }),
  /** CTRL (docs/ctrl.md): γ = gamma, or 1/alpha, default task.gamma; reward backprop through the sampler with a zero-initialised control y. */
  strict({ kind: z.literal("ctrl"), alpha: alpha(), gamma: positive().optional(), trainable: z.enum(["adapters", "embedding", "all"]).optional(), nullProbability: z.number().min(0).lt(1).optional(), cfgScale: nonNegative().optional(), pretrained: z.string().min(1).optional(), steps: int(1).optional(), batchSize: int(1).optional(), learningRate: positive().optional(), gradClip: nonNegative().optional(), rank: int(1).optional(), truncation: int(1).optional(), truncationMode: z.enum(["fixed", "random"]).optional(), segment: int(1).optional(), klReduce: z.enum(["sum", "mean"]).optional(), label: z.string().min(1).optional() }),
  /** DDPO / DPOK (docs/ddpo.md): PPO on the denoising MDP; alpha = KL weight to the pretrained model (absent = plain DDPO). */
  strict({ kind: z.literal("ddpo"), alpha: alpha(), iterations: int(1).optional(), batch: int(2).optional(), epochs: int(1).optional(), minibatches: int(1).optional(), clip: positive().optional(), learningRate: positive().optional(), gradClip: nonNegative().optional(), reward: guidanceReward.reward, threshold: guidanceReward.threshold, label: z.string().min(1).optional() }),
  /** DRaFT / AlignProp reward backpropagation (docs/ctrl.md): max E[r] − alpha Σ KL through the last `truncation` steps. */
  strict({ kind: z.literal("draft"), alpha: alpha(), trainable: z.enum(["adapters", "all"]).optional(), steps: int(1).optional(), batchSize: int(1).optional(), learningRate: positive().optional(), gradClip: nonNegative().optional(), rank: int(1).optional(), truncation: int(1).optional(), truncationMode: z.enum(["fixed", "random"]).optional(), segment: int(1).optional(), klReduce: z.enum(["sum", "mean"]).optional(), label: z.string().min(1).optional() }),
  /** CTRL baseline: a model on (c, x, y) triples with y-dropout, sampled with CFG strength `scale` against y = ∅ (docs/ctrl.md). */
  strict({ kind: z.literal("cfg-triples"), alpha: alpha(), scale: scale(), dropout: z.number().min(0).lt(1).optional(), trainSteps: int(1).optional(), pretrained: z.string().min(1).optional(), label: z.string().min(1).optional() }),
  /** CTRL baseline: DPS guidance of p_pre(x | c) with γ·log p̂(y | x̂_0), γ = 1/alpha (default task.gamma), strength `scale` (docs/ctrl.md). */
  strict({ kind: z.literal("dps-classifier"), alpha: alpha(), scale: scale(), pretrained: z.string().min(1).optional(), label: z.string().min(1).optional() }),
  strict({ kind: z.literal("none") }),
]);

// ------------------------------------------------------------------------------------------ sampling

/** Sampling: DDIM(η) or DDPM with `steps` ≤ T; `targets` are the requested rewards of conditioning methods. */
export const SamplingSchema = strict({
  sampler: z.enum(["ddpm", "ddim"]).default("ddim"),
  steps: int(1).default(50),
  eta: nonNegative().default(1.0),
  /** Timestep grid, as diffusers' timestep_spacing (src/diffusion/respacing.ts; "trailing" when omitted). */
  spacing: z.enum(["linspace", "leading", "trailing"]).optional(),
  /** diffusers' steps_offset, added to a "leading" grid (Stable Diffusion: 1; 0 when omitted). */
  stepsOffset: int(0).optional(),
  samples: int(1).default(1000),
  targets: z.array(z.number()).min(1).optional(),
}).superRefine((s, ctx) => {
  if (s.stepsOffset && s.spacing !== "leading") {
    ctx.addIssue({ code: "custom", path: ["stepsOffset"], message: `${s.stepsOffset} applies only to spacing "leading" (diffusers ignores steps_offset for the others)`, input: s.stepsOffset });
  }
});

// ---------------------------------------------------------------------------------------- experiment

export const ExperimentConfigSchema = strict({
  seed: int(0).default(0),
  task: TaskSchema.prefault({ kind: "toy2d" }),
  reward: RewardSchema.optional(),
  model: ModelSchema.prefault({}),
  method: z.union([MethodSchema, z.array(MethodSchema).min(1)]).prefault({ kind: "none" }),
  sampling: SamplingSchema.prefault({}),
}).superRefine((cfg, ctx) => {
  const sampling = cfg.sampling as Partial<typeof cfg.sampling> | undefined;
  const schedule = (cfg.model as Partial<typeof cfg.model> | undefined)?.schedule;
  if (typeof sampling?.steps === "number" && typeof schedule?.steps === "number" && sampling.steps > schedule.steps) {
    ctx.addIssue({
      code: "custom",
      path: ["sampling", "steps"],
      message: `${sampling.steps} sampling steps exceed the schedule's ${schedule.steps} (model.schedule.steps)`,
      input: sampling.steps,
    });
  }
  const methods = cfg.method === undefined ? [] : methodsOf(cfg);
  methods.forEach((m, i) => {
    if (m?.kind === "exact-guidance" && cfg.task?.kind !== "gaussian-mixture") {
      ctx.addIssue({
        code: "custom",
        path: Array.isArray(cfg.method) ? ["method", i, "kind"] : ["method", "kind"],
        message: `"exact-guidance" needs the closed-form soft value of a "gaussian-mixture" task, but task.kind is "${cfg.task.kind}"`,
        input: m.kind,
      });
    }
    if (m?.kind === "ddpo" && sampling?.sampler === "ddim" && sampling.eta === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["sampling", "eta"],
        message: `is 0 (deterministic DDIM), but method "ddpo" needs stochastic sampler steps (their log-probabilities); use eta > 0 or sampler "ddpm"`,
        input: 0,
      });
    }
    if (m?.kind === "rcgdm") {
      const at = Array.isArray(cfg.method) ? ["method", i] : ["method"];
      if (m.targets === undefined && sampling?.targets === undefined) {
        ctx.addIssue({ code: "custom", path: ["sampling", "targets"], message: "missing: method \"rcgdm\" samples at target rewards; give sampling.targets (or method.targets), e.g. [0.5, 1, 2, 4]", input: undefined });
      }
      const rewardKind = (cfg.reward as Partial<RewardConfig> | undefined)?.kind ?? "ridge";
      if (!["ridge", "mlp", "ensemble", "oracle"].includes(rewardKind)) {
        ctx.addIssue({ code: "custom", path: ["reward", "kind"], message: `"${rewardKind}" cannot pseudo-label for "rcgdm" (ridge, mlp, ensemble, oracle)`, input: rewardKind });
      }
      const taskKind = cfg.task?.kind;
      if (taskKind !== "linear-subspace" && !(rewardKind === "oracle" && taskKind === "gaussian-mixture")) {
        ctx.addIssue({
          code: "custom",
          path: [...at, "kind"],
          message: `"rcgdm" needs labeled data: task.kind "linear-subspace" (or reward.kind "oracle" with a "gaussian-mixture" task), but task.kind is "${taskKind}"; for your own data use \`rewardiff fit-reward\` and \`rewardiff train --reward-model\``,
          input: m.kind,
        });
      }
      if (m.network === "low-rank" && m.rank === undefined && taskKind !== "linear-subspace") {
        ctx.addIssue({ code: "custom", path: [...at, "rank"], message: "missing: the low-rank network needs a rank (it defaults to task.latentDim only on linear-subspace)", input: undefined });
      }
    }
  });
});

export type Toy2dTask = z.output<typeof Toy2dTaskSchema>;
export type GaussianComponent = z.output<typeof GaussianComponentSchema>;
export type GaussianMixtureTask = z.output<typeof GaussianMixtureTaskSchema>;
export type LinearSubspaceTask = z.output<typeof LinearSubspaceTaskSchema>;
export type CsvTask = z.output<typeof CsvTaskSchema>;
export type ClassifierTiltTask = z.output<typeof ClassifierTiltTaskSchema>;
export type TaskConfig = z.output<typeof TaskSchema>;
export type RewardConfig = z.output<typeof RewardSchema>;
export type ScheduleConfig = z.output<typeof ScheduleSchema>;
export type TrainConfig = z.output<typeof TrainSchema>;
export type ModelConfig = z.output<typeof ModelSchema>;
export type MethodKind = (typeof METHOD_KINDS)[number];
export type MethodConfig = z.output<typeof MethodSchema>;
export type SamplingConfig = z.output<typeof SamplingSchema>;
/** A validated config with every default filled in. */
export type ExperimentConfig = z.output<typeof ExperimentConfigSchema>;
/** What a user may write (defaults optional). */
export type ExperimentConfigInput = z.input<typeof ExperimentConfigSchema>;

function plural(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The methods of a config as a list (a single method object becomes a one-element list). */
export function methodsOf(cfg: { method: MethodConfig | MethodConfig[] }): MethodConfig[] {
  return Array.isArray(cfg.method) ? cfg.method : [cfg.method];
}

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

/** One line for a failed validation: `where: path: problem`. */
export function describeConfigError(error: z.ZodError, where: string): string {
  return describeZodIssues(error.issues, where);
}
