import { permutation } from "../data/permutation.js";
/**
 * Turns a task config into data: the training set, fresh draws for evaluation (the data-vs-data noise
 * floor needs two independent sets), column names, and the ground-truth reward where the task has one.
 * User data (csv) is trained on through its per-feature transform (src/data/transform.ts): `train` is in
 * model space and `toData` takes samples back to data units, where everything else lives.
 */
import { resolve, dirname } from "node:path";
import { keyToWords, splitKey, type Key } from "../backend/keys.js";
import { hostMatrix, takeRows, type HostMatrix } from "../data/matrix.js";
import { applyTransform, fitTransform, IDENTITY_TRANSFORM, invertTransform, type DataTransform } from "../data/transform.js";
import type { TaskConfig } from "./config-schemas.js";
import { readCsv } from "../io/csv.js";
import { readNpyMatrix } from "../io/npy.js";
import { gaussianMixtureTask, sampleMixture } from "../tasks/gaussian-mixture.js";
import { classifierTiltTask, type ClassifierTiltTask } from "../tasks/classifier-tilt.js";
import { linearSubspaceTask, makeLinearSubspace, noisyLabels, type LinearSubspace } from "../tasks/linear-subspace.js";
import { toy2dTask } from "../tasks/toy2d.js";

export interface TaskData {
  name: string;
  dim: number;
  columns: string[];
  /** Training rows, in model space: the data after {@link TaskData.transform}. */
  train: HostMatrix;
  /** The per-feature transform fitted on the training data ("none" for the built-in, unit-scale tasks). */
  transform: DataTransform;
  /**
   * Model space → data units (the inverse of `transform`). Samples of a model trained on `train` go
   * through it before rewards, metrics, CSV files and plots.
   */
  toData(m: HostMatrix): HostMatrix;
  /** Two independent evaluation sets of `n` rows each (for a distance and its noise floor), in data units. */
  evalSets(key: Key, n: number): Promise<[HostMatrix, HostMatrix]>;
  /** Ground-truth reward per row (data units), where the task defines one. */
  reward?: (x: HostMatrix) => Float32Array;
  /** Exact E[r] under the data law, where known. */
  rewardMeanExact?: number;
  /** Labeled rows (x_i, y_i) where the task provides them (linear-subspace: y = f*(x) + σξ). */
  labeled?: { x: HostMatrix; y: Float32Array };
  /** linear-subspace: the drawn subspace (A, β, θ* = Aβ) for off-support metrics and exact references. */
  subspace?: LinearSubspace;
  /** linear-subspace: ν, the noise of the pseudo-labels (task.pseudoLabelNoise). */
  pseudoLabelNoise?: number;
  /**
   * classifier-tilt (fixtures.md §4): the benchmark with its oracles, the context c of every training
   * row (`train` pools all contexts; evalSets draw the context-averaged law) and the offline (x, y) set.
   */
  classifierTilt?: ClassifierTiltData;
  /**
   * Categorical rows (molecule graphs): the one-hot row of each row's argmax decoding, the training target a
   * fine-tuning method regresses toward instead of a sample or candidate (src/runners/molecule-snap.ts).
   */
  snap?: (x: HostMatrix) => HostMatrix;
  /** Molecule graphs: the vocabulary that decodes a row (recorded in a tuned model's sidecar). */
  molecules?: { atoms: string[]; bonds: number[]; maxAtoms: number };
}

/** The classifier-tilt task's data beyond `train` (see docs/classifier-tilt.md). */
export interface ClassifierTiltData {
  task: ClassifierTiltTask;
  /** c per row of `train`. */
  trainContexts: Int32Array;
  /** The offline set: x from the contexts' data, y ~ p(y | x) of the ground-truth labeler, and each row's c. */
  offline: { x: HostMatrix; y: Int32Array; contexts: Int32Array };
}

/** Reads a user's data file (.csv with a header row, or .npy). */
export function readDataFile(path: string, columns?: string[]): { columns: string[]; matrix: HostMatrix } {
  if (path.toLowerCase().endsWith(".npy")) {
    if (columns) throw new Error(`${path}: column selection (--columns / task.columns) applies to CSV files only`);
    const m = readNpyMatrix(path);
    return { columns: Array.from({ length: m.cols }, (_, i) => `x${i + 1}`), matrix: m };
  }
  const t = readCsv(path, columns ? { columns } : {});
  return { columns: columns ?? t.header, matrix: t.matrix };
}

/** A seeded random permutation of 0..n−1 (kept under this name for the CLI). */
export { permutation as shuffled } from "../data/permutation.js";

/** Builds the task's data. `baseDir` resolves a relative CSV path (the config file's folder). Consumes `key`. */
export async function taskData(task: TaskConfig, key: Key, baseDir = "."): Promise<TaskData> {
  const d = await buildTaskData(task, key, baseDir);
  return "transform" in d ? d : { ...d, transform: IDENTITY_TRANSFORM, toData: (m) => m };
}

/** The built-in tasks are unit-scale already: no transform (their exact answers are in their own units). */
type UnitScaleTaskData = Omit<TaskData, "transform" | "toData">;

async function buildTaskData(task: TaskConfig, key: Key, baseDir: string): Promise<TaskData | UnitScaleTaskData> {
  const [kData, kTask] = splitKey(key, 2);
  switch (task.kind) {
    case "toy2d": {
      kTask.dispose();
      const t = toy2dTask(task.name);
      return {
        name: `toy2d:${task.name}`,
        dim: 2,
        columns: ["x1", "x2"],
        train: await t.sample(kData, task.n),
        evalSets: async (k, n) => {
          const [a, b] = splitKey(k, 2);
          return [await t.sample(a!, n), await t.sample(b!, n)];
        },
      };
    }
    case "gaussian-mixture": {
      kTask.dispose();
      const t = gaussianMixtureTask({ components: task.components, rewardWeights: task.rewardWeights });
      return {
        name: "gaussian-mixture",
        dim: t.dim,
        columns: Array.from({ length: t.dim }, (_, i) => `x${i + 1}`),
        train: await t.sample(kData, task.n),
        evalSets: async (k, n) => {
          const [a, b] = splitKey(k, 2);
          return [await t.sample(a!, n), await t.sample(b!, n)];
        },
        reward: (x) => t.reward(x),
        rewardMeanExact: t.mixture.weights.reduce(
          (s, w, k) => s + w * t.mixture.means[k]!.reduce((u, m, j) => u + m * task.rewardWeights[j]!, 0),
          0,
        ),
      };
    }
    case "linear-subspace": {
      const sub = await makeLinearSubspace(kTask, { ambientDim: task.ambientDim, latentDim: task.latentDim });
      const t = linearSubspaceTask(sub);
      // The unlabeled set (training rows) and an independent labeled set with y = f*(x) + σξ.
      const [kUnlabeled, kLabeled, kLabelNoise] = splitKey(kData, 3);
      const labeledX = await t.sample(kLabeled!, task.labeled);
      return {
        name: "linear-subspace",
        dim: task.ambientDim,
        columns: Array.from({ length: task.ambientDim }, (_, i) => `x${i + 1}`),
        train: await t.sample(kUnlabeled!, task.unlabeled),
        labeled: { x: labeledX, y: await noisyLabels(kLabelNoise!, t.reward(labeledX), task.labelNoise) },
        subspace: sub,
        pseudoLabelNoise: task.pseudoLabelNoise,
        evalSets: async (k, n) => {
          const [a, b] = splitKey(k, 2);
          return [await t.sample(a!, n), await t.sample(b!, n)];
        },
        reward: (x) => t.reward(x),
        rewardMeanExact: 0,
      };
    }
    case "csv": {
      kTask.dispose();
      kData.dispose();
      const path = resolve(baseDir, task.path);
      const { columns, matrix } = readDataFile(path, task.columns);
      if (matrix.rows < 4) throw new Error(`${path}: ${matrix.rows} data row(s) are too few to train on (need at least 4)`);
      const transform = fitTransform(task.transform, matrix, { where: path, columns });
      return {
        name: `csv:${task.path}`,
        dim: matrix.cols,
        columns,
        train: applyTransform(transform, matrix),
        transform,
        toData: (m) => invertTransform(transform, m),
        // No generator: two disjoint random halves of the data (each at most n rows).
        evalSets: async (k, n) => {
          const seed = keyToWords(k)[0];
          k.dispose();
          const idx = permutation(matrix.rows, seed);
          const m = Math.min(n, Math.floor(matrix.rows / 2));
          return [takeRows(matrix, idx.subarray(0, m)), takeRows(matrix, idx.subarray(m, 2 * m))];
        },
      };
    }
    case "classifier-tilt": {
      kTask.dispose();
      const t = classifierTiltTask({
        contexts: task.contexts,
        gamma: task.gamma,
        sharpness: task.sharpness,
        ...(task.labeler ? { labeler: task.labeler } : {}),
        ...(task.mixtures ? { mixtures: task.mixtures } : {}),
        grid: task.grid,
      });
      const [kTrain, kOffline] = splitKey(kData, 2);
      const { x, contexts } = await t.sampleData(kTrain!, task.n);
      return {
        name: "classifier-tilt",
        dim: 2,
        columns: ["x1", "x2"],
        train: x,
        evalSets: async (k, n) => {
          const [a, b] = splitKey(k, 2);
          return [await sampleMixture(a!, t.marginal, n), await sampleMixture(b!, t.marginal, n)];
        },
        classifierTilt: { task: t, trainContexts: contexts, offline: await t.offline(kOffline!, task.offline) },
        // For unconditional reward methods: r(x) = log p(y = 1 | x), so p·e^{r/α} with α = 1/γ is the
        // y = 1 target on the context-averaged law; E_p[r] exact by quadrature.
        reward: (m) => Float32Array.from(t.logLabelProb(m, 1)),
        rewardMeanExact: Array.from({ length: t.contexts }, (_, c) => t.target(c, 1, 0).meanLogLabelProb).reduce((a, v) => a + v, 0) / t.contexts,
      };
    }
    default:
      kTask.dispose();
      kData.dispose();
      throw new Error(`task kind "${(task as { kind: string }).kind}" is not available in this version of rewardiff (toy2d, gaussian-mixture, linear-subspace, csv, classifier-tilt)`);
  }
}

/** The sidecar field that records a data transform (none is left out, as in files written before it existed). */
export function transformField(t: DataTransform): { transform?: DataTransform } {
  return t.kind === "none" ? {} : { transform: t };
}

/** The folder a config's relative paths are resolved from. */
export function configDir(configPath: string): string {
  return dirname(resolve(configPath));
}

export { hostMatrix };
