/**
 * The experiment config of contract.md as zod schemas: every object is strict (unknown keys are errors
 * at any depth), defaults are filled in, and any problem becomes one line naming the file and the key,
 * e.g. `cfg.json: model: unknown key "hiden" (did you mean "hidden"?)`.
 */
import { residualMlpFields } from "../nn/denoisers/mlp.js";
import { defaultTrainConfig } from "../training/trainer.js";
import { TRANSFORM_KINDS } from "../data/transform.js";
import * as z from "zod";
import { QM9_DFT_PROPERTY_NAMES } from "../chem/dft-properties.js";
import { describeZodIssues, unknownKeysMessage } from "../io/zod-error.js";
import { MAX_STEPS } from "./resource-bounds.js";

/** A strict object whose unknown-key errors suggest the nearest known key. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}

export const int = (min: number) => z.number().int().min(min);
export const nonNegative = () => z.number().min(0);
export const positive = () => z.number().positive();

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

/**
 * The user's own data: a CSV file with a header row (`columns` picks and orders features). `transform`
 * is the per-feature map fitted on the data and trained through (src/data/transform.ts); samples,
 * metrics and files are in data units. The built-in tasks are unit-scale and take none.
 */
export const CsvTaskSchema = strict({
  kind: z.literal("csv"),
  path: z.string().min(1),
  columns: z.array(z.string().min(1)).min(1).optional(),
  transform: z.enum(TRANSFORM_KINDS).default("standardize"),
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
  steps: int(1).max(MAX_STEPS).optional(),
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
  steps: int(1).max(MAX_STEPS).default(defaultTrainConfig.steps),
  batchSize: int(1).default(defaultTrainConfig.batchSize),
  learningRate: positive().default(defaultTrainConfig.learningRate),
  weightDecay: nonNegative().default(defaultTrainConfig.weightDecay),
  gradClip: nonNegative().default(defaultTrainConfig.gradClip),
  lrSchedule: z.enum(["constant", "cosine", "warmup-cosine"]).default(defaultTrainConfig.lrSchedule),
  warmupSteps: int(0).default(defaultTrainConfig.warmupSteps),
  ema: nonNegative().lt(1).default(defaultTrainConfig.ema),
  checkpointEvery: int(0).default(0),
});

/**
 * The denoising network (the residual MLP: its keys and defaults are the network's own schema,
 * src/nn/denoisers/mlp.ts), its parameterisation, schedule and training.
 */
export const ModelSchema = strict({
  hidden: residualMlpFields.hidden,
  layers: residualMlpFields.layers,
  /** Sinusoidal time-embedding width (even); "auto": the smallest ≥ 32 making the first layer's input a multiple of 4 (nn/embeddings.ts). */
  timeEmbedding: z.union([z.literal("auto"), int(2).multipleOf(2, "must be an even whole number")]).default("auto"),
  residual: residualMlpFields.residual,
  norm: residualMlpFields.norm,
  /** Fourier features of x per coordinate (0..16); "auto" = 4 for data of dimension ≤ 3, else 0. */
  fourierFeatures: z.union([z.literal("auto"), int(0).max(16)]).default("auto"),
  prediction: z.enum(["eps", "x0", "v"]).default("eps"),
  schedule: ScheduleSchema.prefault({}),
  train: TrainSchema.prefault({}),
});

// ------------------------------------------------------------------------------------------ molecules

/**
 * The molecule model of docs/molecules.md: a graph transformer (src/nn/denoisers/graph-transformer.ts) with a
 * categorical output predicting x̂_0, trained with the cross-entropy loss weighted 1 (atoms), 1 (charges) and
 * `edgeLossWeight` (bonds) on a cosine schedule. The defaults follow the PyTorch prototype measured for QM9
 * (4 layers of 96/48, batch 256, AdamW with EMA; docs/molecules.md "Training").
 */
export const MoleculeModelSchema = strict({
  hidden: int(4).multipleOf(4).default(96),
  edgeHidden: int(4).multipleOf(4).default(48),
  heads: int(1).default(8),
  layers: int(1).default(4),
  edgeLossWeight: positive().default(5),
  schedule: ScheduleSchema.prefault({ kind: "cosine" }),
  train: strict({
    steps: int(1).max(MAX_STEPS).default(14000),
    batchSize: int(1).default(256),
    learningRate: positive().default(1e-3),
    weightDecay: nonNegative().default(1e-4),
    gradClip: nonNegative().default(1),
    lrSchedule: z.enum(["constant", "cosine", "warmup-cosine"]).default("warmup-cosine"),
    warmupSteps: int(0).default(500),
    ema: nonNegative().lt(1).default(0.999),
  }).prefault({}),
});

export type MoleculeModelConfig = z.output<typeof MoleculeModelSchema>;

/**
 * Sampling a molecule model (`rewardiff sample` of a model with a vocabulary; docs/molecules.md "Sampling"):
 * DDPM with 250 steps, the prototype's. Measured on the QM9 model at 1,500 training steps (docs/molecules.md
 * "Sampler defaults"): 50, 100 and 250 DDPM steps give the same validity (±0.025), 250 the best KL score;
 * deterministic DDIM (η = 0) loses 0.08 validity. `eta` applies to `sampler: "ddim"` only.
 */
export const MoleculeSamplingSchema = strict({
  sampler: z.enum(["ddpm", "ddim"]).default("ddpm"),
  steps: int(1).default(250),
  eta: nonNegative().default(1),
});

export type MoleculeSamplingConfig = z.output<typeof MoleculeSamplingSchema>;

/**
 * `rewardiff evaluate --molecules` (docs/molecules.md "Evaluating"): the reference (QM9's test split unless
 * given) subsampled to `referenceSize` molecules when set, the seed of the subsamples and of the floor's
 * data sample, and the number of molecules depicted in the report's grid.
 */
export const MoleculeEvaluationSchema = strict({
  referenceSize: int(2).optional(),
  seed: int(0).default(0),
  gridMolecules: int(0).default(48),
});

export type MoleculeEvaluationConfig = z.output<typeof MoleculeEvaluationSchema>;

/** `rewardiff demo molecules`: a quick look at the shipped model (under a minute on 2 cores). */
export const MoleculeDemoSchema = strict({
  samples: int(1).default(200),
  steps: int(1).default(50),
  referenceSize: int(2).default(1000),
  seed: int(0).default(0),
});

// -------------------------------------------------------------------------------- molecule runs

/** The molecule task kinds of `rewardiff run` (docs/molecules.md "Runs"); their configs take the schemas below. */
export const MOLECULE_TASK_KINDS = ["qm9", "smiles"] as const;

/** QM9 (data/qm9/): its train split trains a model (when none is pretrained) and is novelty's reference; its test split is the KL score's. */
export const Qm9TaskSchema = strict({ kind: z.literal("qm9") });

/**
 * A user's SMILES CSV (a `smiles` column; relative to the config's folder): it trains the model when none is
 * pretrained (vocabulary read from the data, molecules over `maxAtoms` refused with counts), and is the
 * reference of the metrics (a random half; the other half is the floor's pool) and of novelty.
 */
export const SmilesTaskSchema = strict({
  kind: z.literal("smiles"),
  path: z.string().min(1),
  maxAtoms: int(1).optional(),
});

export const MoleculeTaskSchema = z.discriminatedUnion("kind", [Qm9TaskSchema, SmilesTaskSchema]);

/** The oracle properties a molecule run can steer by (src/chem/oracles.ts). */
export const MOLECULE_PROPERTIES = ["qed", "logp", "tpsa", "mw", "rings", "aromaticRings", "aliphaticRings"] as const;

/**
 * The black-box reward of a molecule run: an RDKit property of the argmax-decoded graph (no valence
 * correction); an invalid molecule scores `invalidReward`, by default the low end of the property's range
 * (PROPERTY_RANGES in src/chem/oracles.ts: QED 0, logP −10, …).
 */
export const MoleculePropertyRewardSchema = strict({
  kind: z.literal("property"),
  property: z.enum(MOLECULE_PROPERTIES).default("qed"),
  invalidReward: z.number().optional().describe("default: the low end of the property's range"),
  /**
   * Reward of a valid molecule with more than one fragment (a '.' in its SMILES), e.g. 0 for "QED of one
   * molecule". Default: none (the property of all fragments together, as RDKit computes it).
   */
  fragmentedReward: z.number().optional().describe("default: none (the property of all fragments together)"),
});

/**
 * A QM9 DFT property (src/chem/dft-properties.ts; EDM's protocol, src/eval/edm-protocol.ts): the labelled
 * sample data/qm9/qm9-props-sample.csv.gz is split (`seed`) into halves A and B, each with a `heldOut`
 * fraction kept out of its fit; rcgdm's f̂ is fitted on A, and the run's reward, the evaluator φ, is ridge
 * (`l2`) on atom-environment counts fitted on B alone: a valid molecule scores φ(x), an invalid one
 * `invalidReward` (default: the lowest label, as a property's low end). Needs a QM9 model.
 */
export const MoleculeDftRewardSchema = strict({
  kind: z.literal("dft"),
  property: z.enum(QM9_DFT_PROPERTY_NAMES).default("gap"),
  seed: int(0).default(0),
  heldOut: z.number().gt(0).lt(1).default(0.2),
  l2: nonNegative().default(1e-4),
  invalidReward: z.number().optional().describe("default: the lowest label of the sample"),
});

export const MoleculeRewardSchema = z.discriminatedUnion("kind", [MoleculePropertyRewardSchema, MoleculeDftRewardSchema]);

/**
 * The model of a molecule run: `pretrained` (a molecule model file, or `"qm9"` for the shipped one) is loaded
 * and not trained, and then no other key may be given; without it, a model of MoleculeModelSchema (every key
 * and default of `train --smiles`) is trained on the task's data.
 */
export const MoleculeRunModelSchema = z.preprocess(
  (v, ctx) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && "pretrained" in v) {
      const extra = Object.keys(v).filter((k) => k !== "pretrained");
      if (extra.length > 0) ctx.addIssue({ code: "custom", path: [extra[0]!], message: `not used with model.pretrained (a pretrained model is loaded as it is; drop "${extra.join('", "')}" or "pretrained")`, input: v });
    }
    return v;
  },
  strict({ pretrained: z.string().min(1).optional(), ...MoleculeModelSchema.shape }),
);

/** Sampling in a molecule run: the molecule sampler's settings (MoleculeSamplingSchema's defaults) and the samples per method. */
export const MoleculeRunSamplingSchema = strict({
  ...MoleculeSamplingSchema.shape,
  samples: int(1).default(200),
});

/**
 * The metrics of a molecule run (src/runners/molecule-evaluation.ts): a seeded reference sample of
 * `referenceSize` molecules (the KL score's nearest-neighbour term is quadratic in it), the floor's data
 * sample of each method's size, and `gridMolecules` depicted per method.
 */
export const MoleculeRunEvaluationSchema = strict({
  referenceSize: int(2).default(1000),
  gridMolecules: int(0).default(24),
});

export type MoleculeTaskConfig = z.output<typeof MoleculeTaskSchema>;
export type MoleculeRewardConfig = z.output<typeof MoleculeRewardSchema>;
export type MoleculeDftRewardConfig = z.output<typeof MoleculeDftRewardSchema>;
export type MoleculeRunModelConfig = z.output<typeof MoleculeRunModelSchema>;
export type MoleculeRunSamplingConfig = z.output<typeof MoleculeRunSamplingSchema>;

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

/**
 * Every key of an experiment config except `method`: the method union is assembled from the
 * registered method modules in src/runners/config.ts (each method owns its schema).
 */
export const experimentShape = {
  seed: int(0).default(0),
  task: TaskSchema.prefault({ kind: "toy2d" }),
  reward: RewardSchema.optional(),
  model: ModelSchema.prefault({}),
  sampling: SamplingSchema.prefault({}),
};

/** Tasks that define a ground-truth reward (the others only give data). */
export const TASKS_WITH_REWARD: readonly string[] = ["gaussian-mixture", "linear-subspace", "classifier-tilt"];

/** A method entry as every method kind has it: its kind and an optional row label. */
export interface MethodEntry {
  kind: string;
  label?: string;
}

/** A validated config as a runner sees it (the method entries typed by their own module). */
export type RunConfig = {
  seed: number;
  task: TaskConfig;
  reward?: RewardConfig;
  model: ModelConfig;
  sampling: SamplingConfig;
  method: MethodEntry | MethodEntry[];
};

/** The config's `sampling.steps` may not exceed the schedule's T (a check of the experiment schema). */
export function checkSamplingSteps(cfg: { sampling?: Partial<SamplingConfig>; model?: Partial<ModelConfig> }, ctx: z.RefinementCtx): void {
  const sampling = cfg.sampling;
  const schedule = cfg.model?.schedule;
  if (typeof sampling?.steps === "number" && typeof schedule?.steps === "number" && sampling.steps > schedule.steps) {
    ctx.addIssue({
      code: "custom",
      path: ["sampling", "steps"],
      message: `${sampling.steps} sampling steps exceed the schedule's ${schedule.steps} (model.schedule.steps)`,
      input: sampling.steps,
    });
  }
}

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
export type SamplingConfig = z.output<typeof SamplingSchema>;

export function plural(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The methods of a config as a list (a single method object becomes a one-element list). */
export function methodsOf<M>(cfg: { method: M | M[] }): M[] {
  return Array.isArray(cfg.method) ? cfg.method : [cfg.method];
}

/** The config path of method i: `method` for a single method object, else `method[i]`. */
export function methodPath(cfg: { method: unknown }, i: number): (string | number)[] {
  return Array.isArray(cfg.method) ? ["method", i] : ["method"];
}

/** One line for a failed validation: `where: path: problem`. */
export function describeConfigError(error: z.ZodError, where: string): string {
  return describeZodIssues(error.issues, where);
}
