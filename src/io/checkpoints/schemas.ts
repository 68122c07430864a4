/**
 * Zod schemas of the reward-model and classifier sidecar configs (src/io/checkpoints/reward.ts,
 * classifier.ts), strict at every depth, and the one-line error every checkpoint loader throws.
 * The diffusion-model config's schema is in ./model.ts.
 */
import * as z from "zod";
import { describeIssue } from "../zod-error.js";

const int = (min: number) => z.number().int().min(min);
const numbers = z.array(z.number());

/** Parses `config` with `schema`; the first problem becomes `where: config.key: …`. */
export function parseCheckpointConfig<T extends z.ZodType>(schema: T, config: unknown, where: string): z.output<T> {
  const r = schema.safeParse(config, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues.find((i) => i.code === "unrecognized_keys") ?? r.error.issues[0]!;
  throw new Error(`${where}: ${describeIssue(issue, ["config"])}`);
}

const FitQualitySchema = z.strictObject({ n: int(0), rmse: z.number(), r2: z.number().nullable(), meanSpread: z.number().optional() });

const mlpSpecFields = {
  hidden: int(1),
  layers: int(1),
  l2: z.number().min(0),
  steps: int(0),
  learningRate: z.number().positive(),
  batchSize: int(1),
};

const MlpConfigSchema = z.strictObject({
  kind: z.literal("mlp"),
  dim: int(1),
  spec: z.strictObject({ kind: z.literal("mlp"), ...mlpSpecFields }),
  xMean: numbers,
  xStd: numbers,
  yMean: z.number(),
  yStd: z.number(),
});

/** `{ kind: "rewardiff-reward", model, columns, label, fit?, data? }`. */
export function rewardConfigSchema(kind: string) {
  return z.strictObject({
    kind: z.literal(kind),
    model: z.discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("ridge"), dim: int(1), spec: z.strictObject({ kind: z.literal("ridge"), l2: z.number().min(0) }), bias: z.number() }),
      MlpConfigSchema,
      z.strictObject({
        kind: z.literal("ensemble"),
        dim: int(1),
        spec: z.strictObject({ kind: z.literal("ensemble"), ...mlpSpecFields, members: int(1) }),
        members: z.array(MlpConfigSchema).min(1),
      }),
    ]),
    columns: z.array(z.string()),
    label: z.string(),
    fit: z
      .strictObject({
        kind: z.enum(["ridge", "mlp", "ensemble"]),
        train: FitQualitySchema,
        heldOut: FitQualitySchema.optional(),
        seconds: z.number().min(0),
      })
      .optional(),
    data: z.string().optional(),
  });
}

const SplitReportSchema = z.strictObject({
  n: int(0),
  accuracy: z.number(),
  nll: z.number(),
  ece: z.number(),
  nllUncalibrated: z.number(),
  eceUncalibrated: z.number(),
});

/** `{ kind: "rewardiff-classifier", model, columns, label, data? }` (spec ranges: checkClassifierSpec). */
export function classifierConfigSchema(kind: string) {
  return z.strictObject({
    kind: z.literal(kind),
    model: z.strictObject({
      kind: z.literal("classifier"),
      dim: int(1),
      spec: z.strictObject({
        classes: z.number(),
        hidden: z.number(),
        layers: z.number(),
        l2: z.number(),
        steps: z.number(),
        learningRate: z.number(),
        batchSize: z.number(),
        holdout: z.number(),
        eceBins: z.number(),
      }),
      xMean: numbers,
      xStd: numbers,
      temperature: z.number(),
      fit: z
        .strictObject({ temperature: z.number(), train: SplitReportSchema, heldOut: SplitReportSchema.optional(), steps: int(0), finalLoss: z.number() })
        .optional(),
    }),
    columns: z.array(z.string()),
    label: z.string(),
    data: z.string().optional(),
  });
}
