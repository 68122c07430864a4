/** From the user-facing config (io/config.ts) to the library's model and training types. */
import type { ModelConfig } from "../diffusion/model.js";
import { withTimeEmbedding } from "../nn/denoisers/mlp.js";
import type { ExperimentConfig } from "./config.js";
import type { MoleculeModelConfig } from "./config-schemas.js";
import type { GraphLayout } from "../data/graph-layout.js";
import { graphCategoricalBlocks } from "../nn/denoisers/graph-transformer.js";
import { graphRowSize } from "../data/graph-layout.js";
import type { TrainConfig } from "../training/trainer.js";

export function modelFromConfig(m: ExperimentConfig["model"], dataDim: number): ModelConfig {
  return {
    network: withTimeEmbedding({
      kind: "mlp",
      dataDim,
      hidden: m.hidden,
      layers: m.layers,
      ...(m.timeEmbedding !== "auto" ? { timeEmbedding: m.timeEmbedding % 2 === 0 ? m.timeEmbedding : m.timeEmbedding + 1 } : {}),
      residual: m.residual,
      norm: m.norm,
      fourierFeatures: m.fourierFeatures === "auto" ? (dataDim <= 3 ? 4 : 0) : m.fourierFeatures,
    }),
    prediction: m.prediction,
    schedule: {
      kind: m.schedule.kind,
      steps: m.schedule.steps,
      betaStart: m.schedule.betaStart,
      betaEnd: m.schedule.betaEnd,
      ...(m.schedule.betas ? { betas: m.schedule.betas } : {}),
    },
  };
}

export function trainFromConfig(t: ExperimentConfig["model"]["train"]): TrainConfig {
  return {
    steps: t.steps,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    weightDecay: t.weightDecay,
    gradClip: t.gradClip,
    lrSchedule: t.lrSchedule,
    warmupSteps: t.warmupSteps,
    ema: t.ema,
  };
}

/** The molecule model (docs/molecules.md) of a config for graphs of layout `l`: categorical x̂_0 with cross-entropy. */
export function moleculeModelFromConfig(m: MoleculeModelConfig, l: GraphLayout): ModelConfig {
  const layout = { maxNodes: l.maxNodes, nodeBlocks: [...l.nodeBlocks], edgeFeatures: l.edgeFeatures };
  const blocks = graphCategoricalBlocks(layout);
  return {
    network: {
      kind: "graph-transformer",
      dataDim: graphRowSize(layout),
      ...layout,
      hidden: m.hidden,
      edgeHidden: m.edgeHidden,
      heads: m.heads,
      layers: m.layers,
      timeEmbedding: 32,
      output: "categorical",
    },
    prediction: "x0",
    schedule: { kind: m.schedule.kind, steps: m.schedule.steps, betaStart: m.schedule.betaStart, betaEnd: m.schedule.betaEnd },
    noise: { kind: "graph", ...layout },
    loss: { kind: "cross-entropy", blockWeights: blocks.map((_, i) => (i === blocks.length - 1 ? m.edgeLossWeight : 1)) },
  };
}
