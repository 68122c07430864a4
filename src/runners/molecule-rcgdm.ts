/**
 * Method "rcgdm" in a molecule run (2307.07055; docs/molecules.md "RCGDM on a property"): reward-directed
 * conditional generation of molecules at a target value of an RDKit property.
 *  1. Reward learning: `labeled` molecules of the task (a seeded draw) get the oracle's property y; f̂ is ridge
 *     regression on atom-environment counts of their graph rows (src/rewards/graph-features.ts), with 20% of
 *     them held out, and measured again on `heldOut` further molecules labelled only for that (MAE, R²).
 *  2. Pseudo-labels ŷ = f̂(x) + ν ξ on the unlabeled molecules (every other one of the task, or `unlabeled`
 *     of them), standardised: the network sees (ŷ − μ)/σ. For evaluation only, the oracle labels
 *     `floorMolecules` of them, and each target's row gets the MAE floor of the exact law p(x | ŷ = a)
 *     (src/eval/pseudo-label-floor.ts): what a perfect conditional model would still miss the target by.
 *  3. The conditional model: the pretrained graph transformer (with `addedLayers` identity-initialised layers
 *     appended, src/nn/denoisers/graph-deepen.ts) with a value condition added, its new `cond` inputs zero
 *     (src/nn/denoisers/graph-condition.ts: equal to the pretrained model at step 0), fine-tuned
 *     with the model's own loss (cross-entropy of x̂_0) and condition dropout p_uncond = `dropout`.
 *     With `molecules.conditionalModel` (a file this row saved before; ./molecule-rcgdm-saved.ts checks that it
 *     was made by the row), its weights instead of the fine-tuning, or (a training checkpoint written every
 *     `molecules.checkpointEvery` steps) the fine-tuning resumed from its step; with `molecules.startFrom`, the
 *     fine-tuning starts from that conditional model's weights (a further stage).
 *  4. Per target a: n samples conditioned on (a − μ)/σ (w = `scale` = 1: x̂_0 straight from the network, as
 *     the unconditional molecule sampler; w ≠ 1: classifier-free guidance, ε̃ = ε(∅) + w (ε(a) − ε(∅))). The
 *     molecule run decodes them and measures the oracle property, its error to the target and the metrics.
 * Variant "target-guidance" (the comparison row; the paper's image code): steps 1–2, then instead of
 * 3–4 a noisy regressor f_φ(x_t, t) ≈ ŷ trained on the pseudo-labelled graph rows noised in the model's noise
 * space (src/guidance/noisy-predictor.ts), and the unconditional pretrained model sampled with
 *   ε̃ = ε̂ + √(1−ᾱ_t) · s · ∇_{x_t} ½ (a − f_φ(x_t, t))²,   s = `scale`   (src/guidance/terms.ts).
 */
import { tree, type JArray } from "../backend/jax.js";
import { toHost, upload } from "../backend/ownership.js";
import { keyAt, keyToWords, split2, splitKey, splitKeyWords, type Key } from "../backend/keys.js";
import type { RDKit } from "../chem/rdkit.js";
import { propertyOfSmiles, type MoleculeProperty } from "../chem/oracles.js";
import { hostMatrix, takeRows, type HostMatrix } from "../data/matrix.js";
import { permutation } from "../data/permutation.js";
import { generateWithEps } from "../diffusion/generate.js";
import { modelEps, type ModelConfig } from "../diffusion/model.js";
import { noiseHookOf } from "../diffusion/noise-space.js";
import { samplerPlan, type SamplerConfig } from "../diffusion/sample.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { trainNoisyPredictor } from "../guidance/noisy-predictor.js";
import { guidedSample } from "../guidance/sampler.js";
import { targetGuidanceTerm } from "../guidance/terms.js";
import { pseudoLabelFloor, type PseudoLabelFloor } from "../eval/pseudo-label-floor.js";
import { mean, std } from "../eval/stats.js";
import type { DenoiserParams } from "../nn/denoiser.js";
import { MODEL_KIND, checkModelMeta, disposeLoadedModel, type LoadedModel, type ModelMeta, type StartedFrom } from "../io/checkpoints/model.js";
import { loadModel, recordedWeightsSha256, saveModel, saveModelTensors, weightTensors, type ModelInfo } from "../io/checkpoints/model-files.js";
import { modelFileName, trainCheckpointFileName } from "../io/outputs.js";
import { addValueCondition, valueConditionProblem } from "../nn/denoisers/graph-condition.js";
import { appendIdentityLayers } from "../nn/denoisers/graph-deepen.js";
import type { GraphTransformerParams, GraphTransformerSpec } from "../nn/denoisers/graph-transformer.js";
import type { ResultRow } from "../report/types.js";
import { fitQuality, fitReward, predictReward, pseudoLabel } from "../rewards/fit.js";
import { graphFeatureMap } from "../rewards/graph-features.js";
import { conditionalOutput } from "../training/rcgdm.js";
import { defaultTrainConfig, denoiserStep, disposeTrainState, trainSteps, type TrainConfig, type TrainState } from "../training/trainer.js";
import type { ExperimentHooks } from "./methods/context.js";
import { RcgdmMoleculesSchema, type RcgdmMethodConfig, type RcgdmMoleculesConfig } from "./methods/rcgdm.js";
import type { MoleculeTrainData } from "./molecule-data.js";
import type { LabelledRows } from "./molecule-dft.js";
import { conditionalModelMismatch, STANDARDIZATION_TOLERANCE, type ConditionalModelExpectation } from "./molecule-rcgdm-saved.js";

/** ν when neither the method nor the task gives one. */
export const MOLECULE_PSEUDO_LABEL_NOISE = 0.1;

export interface MoleculeRcgdmInput {
  method: RcgdmMethodConfig;
  label: string;
  /** Consumed. */
  key: Key;
  rdkit: RDKit;
  /** The property's name; an RDKit oracle property labels the molecules unless `labels` are given. */
  property: string;
  /** Labelled molecules from elsewhere (a DFT property's half A: ./molecule-dft.ts): f̂ is fitted on them instead of `labeled` oracle labels, measured on their held-out part, and every task molecule is unlabeled. */
  labels?: LabelledRows;
  /** The task's molecules (graph rows and SMILES), from which labeled and unlabeled ones are drawn. */
  data: MoleculeTrainData;
  /** The pretrained (unconditional graph-transformer) model and its weights (borrowed). */
  model: ModelConfig;
  weights: DenoiserParams;
  sampler: SamplerConfig;
  /** Samples per target. */
  samples: number;
  seed: number;
  hooks: ExperimentHooks;
  /**
   * `molecules.conditionalModel` resolved (the caller resolves the config's path or shipped name): this file's
   * weights are sampled instead of fine-tuning, once ./molecule-rcgdm-saved.ts finds it made by this row.
   */
  conditionalModel?: string;
  /** What named `conditionalModel`, for messages (default "molecules.conditionalModel"; `run --resume`: "--resume"). */
  conditionalModelSource?: string;
  /**
   * `molecules.startFrom` resolved: a conditional model of this row's network and pseudo-labels (e.g. an earlier
   * stage's) whose EMA weights the fine-tuning starts from, with a fresh optimizer and this row's `train`.
   */
  startFrom?: string;
  /**
   * Where the training checkpoints of `molecules.checkpointEvery` go: called with the file name
   * (model-<label>-train.safetensors) and the function that writes the checkpoint to a path; the caller picks
   * the folder. Without it no checkpoint is written.
   */
  onCheckpoint?: (name: string, save: (path: string) => Promise<void>) => Promise<void>;
  /**
   * Called once with the fine-tuned conditional model (weights borrowed, valid during the call) before it is
   * sampled: the condition the network reads is (a − mean)/std. For diagnostics (scripts/diag/rcgdm-spread.ts).
   */
  onConditionalModel?: (m: { model: ModelConfig; ema: DenoiserParams; mean: number; std: number }) => Promise<void>;
}

export interface MoleculeRcgdmOutput {
  /** One row per target (method "rcgdm", `target`, `targetQuantile`), in the order of the targets. */
  rows: ResultRow[];
  samples: { label: string; matrix: HostMatrix }[];
  section: Record<string, unknown>;
  /**
   * The conditional model (variant "conditional") as an inference checkpoint `model-<label>.safetensors`: its EMA
   * weights, read to the host before they are released, with the pseudo-labels' standardisation in the sidecar
   * (`conditioning.standardization`), so `rewardiff sample --model … --target a` samples it at a in logP units.
   */
  checkpoint?: { name: string; save: (path: string) => void };
}

/** The result row of one target a (the conditional model's samples, or target guidance's with `variant`). */
function targetRow(tag: string, a: { target: number; quantile: number | null }, samples: number, scale: number, cost: Record<string, number>, floor: PseudoLabelFloor | undefined, variant?: string): ResultRow {
  return {
    method: "rcgdm",
    ...(variant ? { variant } : {}),
    label: `${tag}[a=${a.target}]`,
    target: a.target,
    targetQuantile: a.quantile,
    alpha: null,
    samples,
    scale,
    ...(floor ? { targetErrorFloor: { ...floor } } : {}),
    cost,
  };
}

/** The fine-tuning settings of the conditional model (what its sidecar's `train` records): `molecules.train` over the trainer's defaults. */
export function conditionalTrainConfig(mo: RcgdmMoleculesConfig): TrainConfig {
  return { ...defaultTrainConfig, lrSchedule: "warmup-cosine", gradClip: 1, ...mo.train };
}

/** The targets: the method's, else the labels' quantiles and `beyond` outside their range. */
export function moleculeTargets(m: RcgdmMethodConfig, labels: ArrayLike<number>): { target: number; quantile: number | null }[] {
  if (m.targets) return m.targets.map((t) => ({ target: t, quantile: null }));
  const o = RcgdmMoleculesSchema.parse(m.molecules ?? {});
  const sorted = Float64Array.from(labels).sort();
  const at = (q: number) => {
    const p = q * (sorted.length - 1);
    const lo = Math.floor(p);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo]! + (p - lo) * (sorted[hi]! - sorted[lo]!);
  };
  const round = (v: number) => Math.round(v * 100) / 100;
  const out: { target: number; quantile: number | null }[] = o.targetQuantiles.map((q) => ({ target: round(at(q)), quantile: q }));
  if (o.beyond > 0) {
    out.unshift({ target: round(sorted[0]! - o.beyond), quantile: null });
    out.push({ target: round(sorted[sorted.length - 1]! + o.beyond), quantile: null });
  }
  return out;
}

/** Runs steps 1–4 (see the module doc). Consumes `key`. */
export async function runMoleculeRcgdm(o: MoleculeRcgdmInput): Promise<MoleculeRcgdmOutput> {
  const m = o.method;
  const tag = o.label;
  const mo = RcgdmMoleculesSchema.parse(m.molecules ?? {});
  const [kFit, kPseudo, kCond, kTrain, kSample] = splitKey(o.key, 5);
  const spec = o.model.network as GraphTransformerSpec;
  if (spec.kind !== "graph-transformer") {
    for (const k of [kFit, kPseudo, kCond, kTrain, kSample]) k!.dispose();
    throw new Error(`${tag}: the molecule model is a "${spec.kind}" network; rcgdm adds its condition to a graph transformer`);
  }
  const problem = m.variant === "conditional" ? valueConditionProblem(spec, { dim: 1, embedding: m.conditionEmbedding }) : undefined;
  if (problem !== undefined) {
    for (const k of [kFit, kPseudo, kCond, kTrain, kSample]) k!.dispose();
    throw new Error(`${tag}: conditionEmbedding: ${problem}`);
  }
  const data = o.data;
  const N = data.train.rows;
  if (o.labels === undefined && mo.labeled + mo.heldOut >= N) {
    for (const k of [kFit, kPseudo, kCond, kTrain, kSample]) k!.dispose();
    throw new Error(`${tag}: method.molecules.labeled (${mo.labeled}) + heldOut (${mo.heldOut}) leave no unlabeled molecule of the task's ${N}`);
  }

  // 1. Labeled molecules (the oracle's property), f̂ on their atom-environment counts.
  const t0 = performance.now();
  const order = permutation(N, o.seed + 7919);
  const labeledIdx = order.subarray(0, mo.labeled);
  const heldIdx = order.subarray(mo.labeled, mo.labeled + mo.heldOut);
  const restIdx = order.subarray(mo.labeled);
  const unlabeledIdx = mo.unlabeled !== undefined && mo.unlabeled < restIdx.length ? restIdx.subarray(0, mo.unlabeled) : restIdx;
  const oracle = (idx: ArrayLike<number>) => Float32Array.from(propertyOfSmiles(o.rdkit, Array.from(idx, (i) => data.smiles[i]!), o.property as MoleculeProperty));
  const given = o.labels;
  const labeledRows = given ? given.x : takeRows(data.train, labeledIdx);
  const y = given ? given.y : oracle(labeledIdx);
  o.hooks.onStage?.(`${tag}: fitting f̂ (ridge on atom-environment counts) on ${labeledRows.rows} molecules labelled with ${o.property}`);
  const features = graphFeatureMap(labeledRows, { atoms: data.vocabulary.atoms, bonds: data.vocabulary.bonds, maxAtoms: data.vocabulary.maxAtoms });
  const { model: f, report: fit } = await fitReward(features.featurize(labeledRows), y, { kind: "ridge", l2: mo.l2 }, kFit!, { holdout: 0.2, where: `${tag}: labeled molecules` });
  let heldOut: Record<string, number | null> | null = null;
  if (given ? given.heldOut.y.length > 0 : mo.heldOut > 0) {
    const yh = given ? given.heldOut.y : oracle(heldIdx);
    const ph = (await predictReward(f, features.featurize(given ? given.heldOut.x : takeRows(data.train, heldIdx)))).mean;
    const q = fitQuality(ph, yh);
    heldOut = { n: q.n, mae: mean(Array.from(ph, (p, i) => Math.abs(p - yh[i]!))), rmse: q.rmse, r2: q.r2 };
  }
  const fitSeconds = (performance.now() - t0) / 1000;

  // 2. Pseudo-labels on the unlabeled molecules, standardised for the network.
  const nu = m.pseudoLabelNoise ?? MOLECULE_PSEUDO_LABEL_NOISE;
  const xu = given ? (mo.unlabeled !== undefined && mo.unlabeled < N ? takeRows(data.train, order.subarray(0, mo.unlabeled)) : data.train) : takeRows(data.train, unlabeledIdx);
  o.hooks.onStage?.(`${tag}: pseudo-labelling ${xu.rows} molecules (ν = ${nu})`);
  const yHat = await pseudoLabel(f, features.featurize(xu), nu, kPseudo!);
  const mu = mean(yHat);
  const sigma = std(yHat) || 1;
  const targets = moleculeTargets(m, y);
  // Each target's MAE floor: the pseudo-label law over a pool of unlabeled molecules, which the oracle labels for
  // this evaluation only (not with the user's own labels: there is no oracle for the rest).
  const tFloor = performance.now();
  const poolIdx = given || mo.floorMolecules === 0 ? undefined : unlabeledIdx.subarray(0, mo.floorMolecules);
  if (poolIdx) o.hooks.onStage?.(`${tag}: labelling ${poolIdx.length} unlabeled molecules with the oracle for the MAE floor (evaluation only)`);
  let floors: PseudoLabelFloor[] | undefined;
  if (poolIdx) {
    const yAll = oracle(poolIdx);
    const fAll = (await predictReward(f, features.featurize(takeRows(data.train, poolIdx)))).mean;
    const known = Array.from(yAll.keys()).filter((i) => Number.isFinite(yAll[i]!));
    const [yPool, fPool] = [known.map((i) => yAll[i]!), known.map((i) => fAll[i]!)];
    floors = yPool.length > 0 ? targets.map(({ target }) => pseudoLabelFloor(yPool, fPool, nu, target)) : undefined;
  }
  const floorSeconds = (performance.now() - tFloor) / 1000;
  const common = {
    property: o.property,
    data: data.name,
    labeled: labeledRows.rows,
    unlabeled: xu.rows,
    rewardModel: { kind: "ridge", l2: mo.l2, features: features.names.length, fit, heldOut, labels: { mean: mean(y), std: std(y), min: Math.min(...y), max: Math.max(...y) } },
    pseudoLabelNoise: nu,
    pseudoLabels: { mean: mu, std: sigma },
    scale: m.scale,
    targets,
    floor: poolIdx ? { molecules: poolIdx.length, seconds: floorSeconds } : null,
  };
  if (m.variant === "target-guidance") {
    kCond!.dispose();
    const heldRows = given ? given.heldOut : mo.heldOut > 0 ? { x: takeRows(data.train, heldIdx), y: oracle(heldIdx) } : undefined;
    return targetGuidanceRows(o, mo, { xu, yHat, targets, floors, common, fitSeconds, heldRows }, kTrain!, kSample!);
  }
  const cond = hostMatrix(xu.rows, 1, Float32Array.from(yHat, (v) => (v - mu) / sigma));

  // 3. The pretrained model with the condition added, fine-tuned on (x, ŷ).
  // With molecules.addedLayers, identity-initialised layers first (their key split off kCond, so that runs
  // without them draw the keys they always drew).
  const [kEmbed, kDeep] = mo.addedLayers > 0 ? split2(kCond!) : [kCond!, undefined];
  const deep = kDeep ? appendIdentityLayers(spec, o.weights as GraphTransformerParams, mo.addedLayers, kDeep) : undefined;
  const added = addValueCondition(deep?.spec ?? spec, deep?.params ?? (o.weights as GraphTransformerParams), { dim: 1, embedding: m.conditionEmbedding, ...(m.conditionFourier !== undefined ? { fourier: m.conditionFourier } : {}), everyLayer: m.conditionEveryLayer }, kEmbed);
  if (deep) tree.dispose(deep.params);
  const model: ModelConfig = { ...o.model, network: added.spec };
  const train = conditionalTrainConfig(mo);
  const vocabulary = { atoms: [...data.vocabulary.atoms], bonds: [...data.vocabulary.bonds], maxAtoms: data.vocabulary.maxAtoms };
  // The sidecar of the conditional model's files (the final inference checkpoint, and the training ones).
  const info: ModelInfo = {
    model,
    train,
    columns: data.columns,
    data: data.name,
    molecules: vocabulary,
    conditioning: {
      names: [o.property],
      source: "pseudo-labels",
      reward: `ridge regression on atom-environment counts, fitted on ${labeledRows.rows} labelled molecules`,
      pseudoLabelNoise: nu,
      dropout: m.dropout,
      standardization: { mean: [mu], std: [sigma] },
    },
  };
  // The sidecar is checked before the fine-tuning, not when the model is saved after it: a setting the file
  // cannot record fails in one line before the work.
  try {
    checkModelMeta({ kind: MODEL_KIND, checkpoint: "inference", ...info, step: train.steps }, `${tag}: the conditional model's sidecar`);
  } catch (err) {
    tree.dispose(added.params);
    kTrain!.dispose();
    kSample!.dispose();
    throw err;
  }
  // What a saved model (conditionalModel, startFrom) must agree with (./molecule-rcgdm-saved.ts).
  const expected = { property: o.property, model, pseudoLabelNoise: nu, dropout: m.dropout, mean: mu, std: sigma, molecules: vocabulary };
  const t1 = performance.now();
  const saved = o.conditionalModel !== undefined
    ? loadConditional(o.conditionalModel, `${tag}: ${o.conditionalModelSource ?? "molecules.conditionalModel"}: ${o.conditionalModel}`, { ...expected, train }, () => {
      tree.dispose(added.params);
      kTrain!.dispose();
    }, kSample!)
    : undefined;
  const resumedFrom = saved && "resume" in saved ? saved.resume.step : null;
  // molecules.startFrom (when nothing was loaded above): a further fine-tuning stage from that model's weights.
  const stage = saved === undefined && o.startFrom !== undefined
    ? loadStartingModel(o.startFrom, `${tag}: molecules.startFrom: ${o.startFrom}`, expected, () => tree.dispose(added.params), [kTrain!, kSample!])
    : undefined;
  // The lineage the new files record: the model this stage starts from and its own, or a saved model's as it was.
  const startedFrom = stage ? [{ model: mo.startFrom ?? o.startFrom!, sha256: stage.sha256, step: stage.step }, ...stage.startedFrom] : saved?.startedFrom;
  if (startedFrom) info.startedFrom = startedFrom;
  const tuned = saved && "ema" in saved
    ? saved
    : await fineTune(o, { model, train, info, x: xu, cond, dropout: m.dropout, checkpointEvery: mo.checkpointEvery, start: saved ? { resume: saved.resume } : { params: stage?.ema ?? added.params, kTrain: kTrain! } }, kSample!);
  const trainSeconds = (performance.now() - t1) / 1000;
  const sampledAsSaved = saved !== undefined && resumedFrom === null;
  // What the network reads for a target a: (a − μ)/σ with its own training's μ and σ.
  const { mean: muNet, std: sigmaNet } = tuned.standardization ?? { mean: mu, std: sigma };
  info.conditioning!.standardization = { mean: [muNet], std: [sigmaNet] };

  // 4. Samples at each target.
  try {
    await o.onConditionalModel?.({ model, ema: tuned.ema, mean: muNet, std: sigmaNet });
    const rows: ResultRow[] = [];
    const samples: MoleculeRcgdmOutput["samples"] = [];
    // The method's scale, then molecules.extraScales (the same model; rows tagged "w=<w>"), every scale from the
    // same keys per target (the same initial noise: rows differ by the scale alone, and the first scale's rows
    // are those of a run without extra scales).
    const scales = [m.scale, ...mo.extraScales];
    const keyWords = splitKeyWords(kSample!, targets.length);
    for (const [j, w] of scales.entries()) {
      const rowTag = j === 0 ? tag : `${tag} w=${w}`;
      for (const [i, { target, quantile }] of targets.entries()) {
        const t2 = performance.now();
        const z = (target - muNet) / sigmaNet;
        o.hooks.onStage?.(`${rowTag}: sampling ${o.samples} molecules at ${o.property} = ${target} (w = ${w})`);
        const onStep = (d: number, t: number) => o.hooks.onSample?.(d, t, `${rowTag} a=${target}`);
        const eps = conditionalOutput(model, tuned.ema, [z], w);
        const x = await generateWithEps(eps, model, o.sampler, o.samples, keyAt(keyWords, i), { onStep });
        const cfgCalls = w === 1 || w === 0 ? 1 : 2;
        const cost = { rewardEvals: 0, gradEvals: 0, valueEvals: 0, modelEvals: cfgCalls * x.rows * o.sampler.steps, seconds: (performance.now() - t2) / 1000, trainSeconds: i === 0 && j === 0 ? trainSeconds : 0 };
        rows.push(targetRow(rowTag, { target, quantile }, x.rows, w, cost, floors?.[i]));
        samples.push({ label: j === 0 ? `${tag}-a=${target}` : `${tag}-w=${w}-a=${target}`, matrix: x });
      }
    }
    const tensors = await weightTensors(tuned.ema, "ema");
    const meta: ModelMeta = { kind: MODEL_KIND, checkpoint: "inference", ...info, step: tuned.step };
    const checkpoint = { name: modelFileName(tag), save: (path: string) => saveModelTensors(path, meta, tensors) };
    const every = Math.max(1, Math.floor(tuned.losses.length / 200));
    const section: Record<string, unknown> = {
      ...common,
      variant: "conditional",
      dropout: m.dropout,
      conditionEmbedding: m.conditionEmbedding,
      conditionFourier: m.conditionFourier ?? null,
      conditionEveryLayer: m.conditionEveryLayer,
      addedLayers: mo.addedLayers,
      train,
      // From a file: the file as the config names it, the step it was saved at, and whether fine-tuning resumed
      // from there (a training checkpoint) or it was sampled as it is (no loss curve, no fine-tuning time).
      conditionalModel: saved !== undefined ? { path: mo.conditionalModel ?? o.conditionalModel, step: resumedFrom ?? tuned.step, resumed: resumedFrom !== null } : null,
      startFrom: stage ? { path: mo.startFrom ?? o.startFrom, sha256: stage.sha256, step: stage.step, train: stage.train } : null,
      // The model's lineage as its sidecar records it (a stage started here, or a saved model's own).
      startedFrom: startedFrom ?? null,
      // (a − μ)/σ as the network reads it: this run's pseudo-labels', or a model sampled as saved its own.
      networkStandardization: { mean: muNet, std: sigmaNet },
      training: tuned.losses.length > 0 ? { loss: tuned.losses.filter((_, k) => k % every === 0), finalLoss: tuned.losses.at(-1)?.loss ?? null } : null,
      timings: {
        rewardFitSeconds: fitSeconds,
        trainSeconds: sampledAsSaved ? 0 : trainSeconds,
        trainStepMs: sampledAsSaved ? null : (trainSeconds * 1000) / (train.steps - (resumedFrom ?? 0) || 1),
        ...(sampledAsSaved ? { loadSeconds: trainSeconds } : {}),
      },
    };
    return { rows, samples, section, checkpoint };
  } finally {
    tuned.dispose();
  }
}

/** The conditional model's EMA weights, its step and loss curve, and how to release them. */
interface TunedModel {
  ema: DenoiserParams;
  /** A model sampled as saved: the standardisation (ŷ − μ)/σ its network was trained with (else this run's). */
  standardization?: { mean: number; std: number };
  step: number;
  losses: { step: number; loss: number }[];
  /** A model from a file: the fine-tuning lineage its sidecar recorded. */
  startedFrom?: StartedFrom[];
  dispose: () => void;
}

/**
 * Step 3: fine-tunes the conditional model on (x, ŷ): from `start.params` (the pretrained model with the
 * condition added, consumed by the copy; `kTrain` consumed), or on from a training checkpoint's state
 * (`start.resume`, consumed; the learning rate follows the planned run, so the steps equal a straight run's).
 * With `checkpointEvery` k > 0, every k steps a training checkpoint goes to `o.onCheckpoint`. Releases `kSample`
 * on failure.
 */
async function fineTune(
  o: MoleculeRcgdmInput,
  d: {
    model: ModelConfig;
    train: TrainConfig;
    info: ModelInfo;
    x: HostMatrix;
    cond: HostMatrix;
    dropout: number;
    checkpointEvery: number;
    start: { params: DenoiserParams; kTrain: Key } | { resume: TrainState };
  },
  kSample: Key,
): Promise<TunedModel> {
  let state: TrainState & { losses: { step: number; loss: number }[] };
  if ("resume" in d.start) state = { ...d.start.resume, losses: [] };
  else {
    const [kState, kData] = split2(d.start.kTrain);
    const dataSeed = keyToWords(kData)[0];
    kData.dispose();
    // A copy: the pretrained weights stay untouched for the run's other methods (as RWR and DDPO do).
    const copy = tree.map((a: JArray) => a.mul(1), d.start.params) as DenoiserParams;
    state = { ...(denoiserStep(d.model, d.train, true, false, d.dropout).init(copy, kState, dataSeed) as TrainState), losses: [] };
  }
  const from = state.step > 0 ? ` from step ${state.step}` : "";
  o.hooks.onStage?.(`${o.label}: fine-tuning the conditional model on ${d.x.rows} pseudo-labelled molecules for ${d.train.steps} steps${from}`);
  const save = o.onCheckpoint;
  try {
    state = await trainSteps(d.model, d.train, state, { x: d.x, cond: { values: d.cond, dropout: d.dropout } }, {
      logEvery: 10,
      onProgress: (p) => o.hooks.onTrain?.(p, `${o.label} conditional model`),
      ...(d.checkpointEvery > 0 && save
        ? { checkpointEvery: d.checkpointEvery, onCheckpoint: (s: TrainState) => save(trainCheckpointFileName(o.label), (path) => saveModel(path, d.info, s)) }
        : {}),
    });
  } catch (err) {
    disposeTrainState(state);
    kSample.dispose();
    throw err;
  }
  const done = state;
  return { ema: done.ema, step: done.step, losses: done.losses, dispose: () => disposeTrainState(done) };
}

/**
 * Step 3 from a file: the saved conditional model at `path`, refused (one line, `where`) unless this row made it.
 * An inference checkpoint, or a training one at the row's last step, is sampled as it is; a training checkpoint
 * before it gives the state to resume from. Calls `release` first; releases `kSample` on failure.
 */
function loadConditional(
  path: string,
  where: string,
  expected: ConditionalModelExpectation & { train: TrainConfig },
  release: () => void,
  kSample: Key,
): TunedModel | { resume: TrainState; startedFrom?: StartedFrom[] } {
  release();
  let loaded: LoadedModel;
  try {
    loaded = loadModel(path);
  } catch (err) {
    kSample.dispose();
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
  }
  const resume = loaded.state !== undefined && loaded.meta.step < expected.train.steps;
  const problem = conditionalModelMismatch(loaded.meta, expected, resume ? STANDARDIZATION_TOLERANCE.resume : STANDARDIZATION_TOLERANCE.draws);
  if (problem !== undefined) {
    disposeLoadedModel(loaded);
    kSample.dispose();
    throw new Error(`${where}: ${problem}`);
  }
  const lineage = loaded.meta.startedFrom ? { startedFrom: loaded.meta.startedFrom } : {};
  if (resume) return { resume: loaded.state!, ...lineage };
  const st = loaded.meta.conditioning!.standardization!;
  return { ema: loaded.ema, step: loaded.meta.step, losses: [], standardization: { mean: st.mean[0]!, std: st.std[0]! }, ...lineage, dispose: () => disposeLoadedModel(loaded) };
}

/**
 * The starting weights of a further fine-tuning stage (`molecules.startFrom`): the EMA weights of the conditional
 * model at `path` (a copy, owned by the caller), with its weights' SHA-256 and the lineage it recorded, refused (one line, `where`) unless its property, network,
 * vocabulary and pseudo-labels are this row's (its fine-tuning settings may differ). Calls `release` once
 * loaded and checked (and on failure, with `keys`).
 */
function loadStartingModel(
  path: string,
  where: string,
  expected: Omit<ConditionalModelExpectation, "train">,
  release: () => void,
  keys: Key[],
): { ema: DenoiserParams; step: number; train: TrainConfig; sha256: string; startedFrom: StartedFrom[] } {
  let loaded: LoadedModel;
  let sha256: string;
  try {
    loaded = loadModel(path);
    sha256 = recordedWeightsSha256(path);
  } catch (err) {
    release();
    for (const k of keys) k.dispose();
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
  }
  const problem = conditionalModelMismatch(loaded.meta, expected, STANDARDIZATION_TOLERANCE.draws);
  if (problem !== undefined) {
    disposeLoadedModel(loaded);
    release();
    for (const k of keys) k.dispose();
    throw new Error(`${where}: ${problem}`);
  }
  release();
  const ema = tree.map((a: JArray) => a.mul(1), tree.ref(loaded.ema)) as DenoiserParams;
  const out = { ema, step: loaded.meta.step, train: loaded.meta.train, sha256, startedFrom: loaded.meta.startedFrom ?? [] };
  disposeLoadedModel(loaded);
  return out;
}

/** The checks of an "rcgdm" entry in a molecule run's config (instead of the vector task's; `at` = the method's path). */
export function refineMoleculeRcgdm(m: RcgdmMethodConfig, at: (string | number)[], add: (path: (string | number)[], message: string, input?: unknown) => void): void {
  if (m.variant === "target-guidance" && (m.molecules?.extraScales?.length ?? 0) > 0) {
    add([...at, "molecules", "extraScales"], "only for the conditional variant (classifier-free guidance scales); target guidance has one scale per entry", m.molecules!.extraScales);
  }
  if (m.variant === "target-guidance" && (m.molecules?.addedLayers ?? 0) > 0) {
    add([...at, "molecules", "addedLayers"], "only for the conditional variant (layers of the conditional model); target guidance samples the pretrained model", m.molecules!.addedLayers);
  }
  for (const key of ["conditionalModel", "startFrom"] as const) {
    if (m.variant === "target-guidance" && m.molecules?.[key] !== undefined) {
      add([...at, "molecules", key], "only for the conditional variant (a saved conditional model); target guidance samples the pretrained model", m.molecules[key]);
    }
  }
  if (m.network !== "mlp" || m.rank !== undefined) {
    add([...at, m.rank !== undefined ? "rank" : "network"], "not used on molecules: the condition is added to the molecule model's graph transformer (drop network and rank)", m.rank ?? m.network);
  }
}

/**
 * The comparison row (variant "target-guidance"): a noisy regressor on the pseudo-labelled graph rows and the
 * unconditional pretrained model steered toward each target by its gradient at x_t. Consumes both keys.
 */
async function targetGuidanceRows(
  o: MoleculeRcgdmInput,
  mo: RcgdmMoleculesConfig,
  d: {
    xu: HostMatrix;
    yHat: Float32Array;
    targets: { target: number; quantile: number | null }[];
    floors: PseudoLabelFloor[] | undefined;
    common: Record<string, unknown>;
    fitSeconds: number;
    heldRows?: { x: HostMatrix; y: Float32Array };
  },
  kTrain: Key,
  kSample: Key,
): Promise<MoleculeRcgdmOutput> {
  const m = o.method;
  const tag = o.label;
  const noise = noiseHookOf(o.model.noise);
  const p = mo.predictor;
  o.hooks.onStage?.(`${tag}: training a noisy regressor on ${d.xu.rows} pseudo-labelled graph rows for ${p.steps} steps`);
  const pred = await trainNoisyPredictor({
    head: "regression",
    x: d.xu,
    y: d.yHat,
    schedule: o.model.schedule,
    key: kTrain,
    hidden: p.hidden,
    layers: p.layers,
    steps: p.steps,
    batchSize: p.batchSize,
    learningRate: p.learningRate,
    logEvery: 10,
    ...(noise ? { noise } : {}),
    onProgress: (step, total, loss) => o.hooks.onTrain?.({ step, total, loss, lr: 0 }, `${tag} noisy regressor`),
  });
  try {
    // The regressor at clean x on the held-out molecules, against the oracle (how good a reward it is at t = 0).
    let clean: Record<string, number | null> | null = null;
    if (d.heldRows) {
      const v = await toHost(pred.predict(upload(d.heldRows.x.data, d.heldRows.x.rows, d.heldRows.x.cols), { index: -1, alphaBar: 1 }));
      const q = fitQuality(v, d.heldRows.y);
      clean = { n: q.n, mae: mean(Array.from(v, (x, i) => Math.abs(x - d.heldRows!.y[i]!))), rmse: q.rmse, r2: q.r2 };
    }
    const eps = modelEps(o.model, o.weights);
    const plan = samplerPlan(makeSchedule(o.model.schedule), o.sampler);
    const samplerName = o.sampler.sampler === "ddim" ? `the ddim sampler with eta = ${o.sampler.eta}` : "the ddpm sampler";
    const keys = splitKey(kSample, d.targets.length);
    const rows: ResultRow[] = [];
    const samples: MoleculeRcgdmOutput["samples"] = [];
    for (const [i, { target, quantile }] of d.targets.entries()) {
      const term = targetGuidanceTerm({ predictor: pred }, target, { name: tag, scale: m.scale, where: "xt" });
      o.hooks.onStage?.(`${tag}: sampling ${o.samples} molecules toward ${o.property} = ${target} (s = ${m.scale})`);
      const { x: dev, cost } = await guidedSample({
        eps,
        plan,
        terms: [term],
        n: o.samples,
        dim: o.model.network.dataDim,
        key: keys[i]!,
        samplerName,
        ...(noise ? { noise } : {}),
        onStep: (done, total) => o.hooks.onSample?.(done, total, `${tag} a=${target}`),
      });
      const x = hostMatrix(o.samples, o.model.network.dataDim, await toHost(dev));
      if (x.data.some((v) => !Number.isFinite(v))) throw new Error(`${tag}: the guided chain diverged at target ${target} (non-finite samples); lower the method's scale (now ${m.scale})`);
      const rowCost = { rewardEvals: 0, gradEvals: cost.gradEvals, valueEvals: cost.valueEvals, modelEvals: cost.modelEvals, seconds: cost.seconds, trainSeconds: i === 0 ? pred.trainSeconds : 0 };
      rows.push(targetRow(tag, { target, quantile }, x.rows, m.scale, rowCost, d.floors?.[i], "target-guidance"));
      samples.push({ label: `${tag}-a=${target}`, matrix: x });
    }
    const every = Math.max(1, Math.floor(pred.losses.length / 200));
    const section: Record<string, unknown> = {
      ...d.common,
      variant: "target-guidance",
      predictor: { ...p, clean, training: { loss: pred.losses.filter((_, k) => k % every === 0), finalLoss: pred.losses.at(-1)?.loss ?? null } },
      timings: { rewardFitSeconds: d.fitSeconds, predictorSeconds: pred.trainSeconds },
    };
    return { rows, samples, section };
  } finally {
    pred.dispose();
  }
}
