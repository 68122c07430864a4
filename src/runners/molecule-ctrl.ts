/**
 * A new control on the shipped QM9 model (issue 13 §3; CTRL, 2406.12120; config ./molecule-ctrl-config.ts,
 * docs/molecules.md "CTRL: a new control"). The label y(m) = 1{RDKit property(m) ≥ atLeast} is a structural
 * fact the unconditional model was never told about; an offline set of `labelled` QM9 training molecules
 * defines it. Steps:
 *  1. label the offline set with RDKit, fit a calibrated classifier p̂(y | x) on its graph rows
 *     (src/rewards/classifier.ts: MLP + temperature, held-out accuracy and ECE);
 *  2. the rows of the config's `methods` (see the config's doc), each sampling `samples` molecules per label
 *     y ∈ {0, 1} through the molecule sampler (src/diffusion/generate.ts, the model's graph noise space);
 *  3. per row, under the **oracle** label (RDKit on the decoded SMILES): accuracy and macro-F1 over all
 *     2·samples molecules — an invalid molecule counts as a miss (its predicted label is the wrong one, so it
 *     lowers accuracy and both classes' F1) —, the accuracy over valid molecules alone, validity and
 *     uniqueness per label, the KL score of label y's molecules against the reference molecules of label y
 *     (QM9's test split, labelled by RDKit), and the path KL of its sampler to the pretrained one (nats per
 *     molecule, on the graph noise space along the row's own chains; ./methods/ctrl-eval.ts pathKlTracker).
 */
import { jit, np, tree, type JArray } from "../backend/jax.js";
import { ensureBackend } from "../backend/init.js";
import { keyFromSeed, keyToSeed, splitKey, type Key } from "../backend/keys.js";
import { toHost, upload } from "../backend/ownership.js";
import { moleculeMetrics, prepareMetricsData } from "../chem/metrics.js";
import { propertyOfSmiles } from "../chem/oracles.js";
import { loadRDKit, type RDKit } from "../chem/rdkit.js";
import { graphShape, type GraphVocabulary } from "../chem/graph.js";
import { graphFeatures, graphFeaturesHost, softSnap, straightThroughSnap } from "../chem/graph-features.js";
import { mulberry32 } from "../data/host-rng.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { generateWithEps } from "../diffusion/generate.js";
import { modelEps, networkTime, type ModelConfig } from "../diffusion/model.js";
import { denoisingLossOf } from "../diffusion/loss.js";
import { noiseHookOf } from "../diffusion/noise-space.js";
import { denoised } from "../diffusion/parameterization.js";
import { samplerPlan } from "../diffusion/sample.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { classifierFree } from "../diffusion/step.js";
import type { EpsFn } from "../diffusion/types.js";
import { classificationReport, expectedCalibrationError } from "../eval/classification.js";
import { ctrlFinetune } from "../finetune/ctrl.js";
import { ctrlPolicyGradient } from "../finetune/ctrl-pg.js";
import { disposeFinetuned, finetunedParams } from "../finetune/finetuned.js";
import { oneHot, policyNetwork } from "../finetune/policy.js";
import { guidedSample } from "../guidance/sampler.js";
import { rewardGuidanceTerm } from "../guidance/terms.js";
import { newCost, pathKlPerSample } from "../guidance/types.js";
import { loadModel } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../io/checkpoints/model.js";
import { categoricalCrossEntropy } from "../nn/categorical.js";
import { applyDenoiser, applyDenoiserLogits, denoiserCategories, eventShapeOf, type DenoiserParams, type DenoiserSpec } from "../nn/denoiser.js";
import { constantRateOptimizer, optimizerFromConfig, optimizerStaticKey } from "../optim/config.js";
import { runSteps } from "../optim/loop.js";
import { disposeTrainStepState, makeTrainStep } from "../optim/train-step.js";
import { classifierLogProbs, classifierProbs, fitClassifier, type ClassifierModel } from "../rewards/classifier.js";
import { deviceReward } from "../rewards/reward.js";
import { pathKlTracker } from "./methods/ctrl-eval.js";
import type { MoleculeCtrlConfig } from "./molecule-ctrl-config.js";
import { qm9TrainData } from "./molecule-data.js";
import { snapGraphRows } from "./molecule-snap.js";
import { moleculeEvaluationData } from "./molecule-evaluation.js";
import { decodeMoleculeRows, moleculeVocabulary, resolveModelPath } from "./molecule-sampling.js";

/** The control's classes: y ∈ {0, 1}; one-hot rows [n, 3] whose last column is the null control ∅. */
const K = 2;

/** One label's samples of a row. */
export interface MoleculeCtrlLabelResult {
  y: number;
  /** Canonical SMILES per sample (null: invalid). */
  smiles: (string | null)[];
  /** RDKit's label per sample (null: invalid). */
  oracle: (number | null)[];
  validity: number;
  uniqueness: number | null;
  /** KL score against the reference molecules of label y (null: fewer than 2 distinct valid molecules). */
  klScore: number | null;
  /** Path KL to the pretrained sampler (nats per molecule), when the row's sampler tracks it. */
  klToPretrained: number | null;
}

export interface MoleculeCtrlRow {
  method: string;
  label: string;
  /** Over all samples, an invalid one counted as the wrong label. */
  accuracy: number;
  macroF1: number;
  /** Over valid samples only. */
  accuracyValid: number | null;
  perLabel: MoleculeCtrlLabelResult[];
  trainSeconds: number;
  sampleSeconds: number;
  /** Method-specific facts (training history, heap, …). */
  details: Record<string, unknown>;
}

export interface MoleculeCtrlResult {
  config: MoleculeCtrlConfig;
  model: string;
  label: { property: string; atLeast: number; frequency: number; labelled: number; referenceFrequency: number };
  /**
   * heldOutMolecules: labelled molecules kept out of the fit, in a random node order; onModelSamples: the
   * pretrained model's valid molecules (the "none" row's y = 0 half) against RDKit; fit: the library's report
   * (its held-out split holds permuted copies of fitted molecules: it sets T, it is not a held-out score).
   */
  classifier: {
    temperature: number;
    heldOutMolecules: { n: number; accuracy: number; ece: number; rejected?: number };
    onModelSamples: { n: number; accuracy: number; ece: number; rejected?: number } | null;
    fit: unknown;
    /**
     * The "no molecule" class (config `classifier.reject`): pretrained samples drawn, rows in the class (invalid +
     * fragmented), rows fitted, and the share of held-out ones the classifier puts in it.
     */
    reject?: { samples: number; rows: number; invalid: number; fragmented: number; fitted: number; heldOut: { n: number; rejected: number } | null };
  };
  rows: MoleculeCtrlRow[];
  seconds: number;
}

/**
 * Each graph row with its nodes relabelled by `copies` seeded random permutations (atoms, charges and both
 * indices of the adjacency moved together: the same molecule). The shipped model is permutation-equivariant
 * and its molecules come in any node order, while QM9's encoding lists atoms in a canonical order; an MLP
 * classifier fitted on canonical rows alone keys on that order (measured: held-out accuracy 0.998 on data rows,
 * 0.39 on the model's own molecules), so it is fitted on permuted copies.
 */
export function permutedGraphRows(x: HostMatrix, vocab: GraphVocabulary, copies: number, seed: number): HostMatrix {
  const n = vocab.maxAtoms;
  const { nodeFeatures: F, chargeFeatures: C, edgeFeatures: E } = graphShape(vocab);
  const D = x.cols;
  if (D !== n * (F + C + n * E)) throw new Error(`molecules-ctrl: graph rows of maxAtoms ${n} hold ${n * (F + C + n * E)} values, got ${D}`);
  const rng = mulberry32(seed);
  const out = new Float32Array(x.rows * copies * D);
  const perm = new Int32Array(n);
  for (let r = 0; r < x.rows; r++) {
    const row = x.data.subarray(r * D, (r + 1) * D);
    for (let c = 0; c < copies; c++) {
      for (let i = 0; i < n; i++) perm[i] = i;
      if (c > 0) for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const o = (r * copies + c) * D;
      for (let i = 0; i < n; i++) {
        const p = perm[i]!;
        out.set(row.subarray(p * F, (p + 1) * F), o + i * F);
        out.set(row.subarray(n * F + p * C, n * F + (p + 1) * C), o + n * F + i * C);
        for (let j = 0; j < n; j++) {
          const q = perm[j]!;
          const from = n * (F + C) + (p * n + q) * E;
          out.set(row.subarray(from, from + E), o + n * (F + C) + (i * n + j) * E);
        }
      }
    }
  }
  return hostMatrix(x.rows * copies, D, out);
}

/**
 * The first `labels` columns of a classifier's log p̂(· | x) over `classes` ≥ labels classes: log p̂(y | x) for
 * y < labels, still normalised over all classes (with a reject class, p̂(0 | x) + p̂(1 | x) < 1 where the
 * classifier sees no molecule). Consumes x.
 */
export function labelColumns(logProbs: (x: JArray) => JArray, classes: number, labels: number): (x: JArray) => JArray {
  const select = Float32Array.from({ length: classes * labels }, (_, i) => (Math.floor(i / labels) === i % labels ? 1 : 0));
  return (x) => np.matmul(logProbs(x), upload(select, classes, labels));
}

/** RDKit's label of canonical SMILES (null for an invalid molecule). */
export function oracleLabels(rdkit: RDKit, smiles: readonly (string | null)[], label: MoleculeCtrlConfig["label"]): (number | null)[] {
  const v = propertyOfSmiles(rdkit, smiles, label.property, { invalidReward: NaN });
  return Array.from(v, (p) => (Number.isNaN(p) ? null : p >= label.atLeast ? 1 : 0));
}

/**
 * Accuracy and macro-F1 of requested labels against the oracle's; an invalid sample (oracle null) is given
 * the other label, so it is a miss for accuracy and for both classes' F1.
 */
export function controlScores(requested: readonly number[], oracle: readonly (number | null)[]): { accuracy: number; macroF1: number; accuracyValid: number | null } {
  const predicted = oracle.map((o, i) => (o === null ? 1 - requested[i]! : o));
  const r = classificationReport(requested, predicted, K);
  const valid = oracle.map((o, i) => [o, requested[i]!] as const).filter(([o]) => o !== null);
  return { accuracy: r.accuracy, macroF1: r.macroF1, accuracyValid: valid.length > 0 ? valid.filter(([o, y]) => o === y).length / valid.length : null };
}

const epsCache = new WeakMap<DenoiserSpec, (...a: unknown[]) => JArray>();

/** ε̂(x_t, t) of a network with a control input (spec.control): `control(n)` builds the one-hots [n, K + 1]. Borrows `params`. */
export function controlEps(model: ModelConfig, spec: DenoiserSpec, params: DenoiserParams, control: (n: number) => JArray): EpsFn {
  const T = makeSchedule(model.schedule).T;
  let f = epsCache.get(spec);
  if (!f) {
    f = jit((p: DenoiserParams, x: JArray, t: JArray, a: JArray, s: JArray, ctl: JArray) => {
      const out = applyDenoiser(spec, p, x.ref, np.broadcastTo(t, [x.shape[0]!]), undefined, ctl);
      const { x0Hat, epsHat } = denoised(model.prediction, x, out, a, s);
      x0Hat.dispose();
      return epsHat;
    }) as unknown as (...a: unknown[]) => JArray;
    epsCache.set(spec, f);
  }
  const g = f;
  const scalar = (v: number) => np.array(new Float32Array([v]), { shape: [] });
  return (x, t) => g(tree.ref(params), x, networkTime(t.index, T), scalar(Math.sqrt(t.alphaBar)), scalar(Math.sqrt(1 - t.alphaBar)), control(x.shape[0]!));
}

/** Control one-hots for label y (y = K: the null control). */
const controlOf = (y: number) => (n: number) => oneHot(new Int32Array(n).fill(y), K);

/** The CFG combination ε(∅) + w (ε(y) − ε(∅)) (w = 1: plain conditioning). */
function cfgEps(cond: EpsFn, uncond: EpsFn, w: number): EpsFn {
  if (w === 1) return cond;
  return (x, t) => classifierFree(uncond(x.ref, t), [[cond(x, t), w]]);
}

interface Sampled {
  x: HostMatrix;
  kl: number | null;
}

/**
 * CFG fine-tuning on the labelled pairs: the pretrained network plus a zero-initialised control table, every
 * weight trained on the model's own denoising loss (categorical cross-entropy) with y replaced by ∅ with
 * probability `dropout`. Returns the trained weights (owned) and the loss history.
 */
async function cfgFinetune(
  model: ModelConfig,
  spec: DenoiserSpec,
  pretrained: DenoiserParams,
  x: HostMatrix,
  y: Int32Array,
  o: MoleculeCtrlConfig["cfg"],
  key: Key,
  onStep?: (step: number, total: number, loss: number) => void,
): Promise<{ params: DenoiserParams; losses: { step: number; loss: number }[] }> {
  const loss = model.loss;
  const blocks = denoiserCategories(spec);
  if (loss?.kind !== "cross-entropy" || !blocks || model.prediction !== "x0") throw new Error("molecules-ctrl: cfg needs the molecule model's categorical x̂_0 network and cross-entropy loss");
  const schedule = makeSchedule(model.schedule);
  const T = schedule.T;
  const alphaBars = Float32Array.from(schedule.alphaBars);
  const noise = noiseHookOf(model.noise);
  const event = eventShapeOf(spec);
  const opt = constantRateOptimizer(o.learningRate, 1);
  const lossFn = (p: DenoiserParams, [x0, ctl, ab]: JArray[], [k]: JArray[]) =>
    denoisingLossOf(
      (xt, t) => applyDenoiserLogits(spec, p, xt, networkTime(t, T), undefined, ctl!),
      "x0",
      event,
      { x0: x0!, alphaBars: ab!, key: k!, ...(noise ? { noise } : {}) },
      (out, x0b) => categoricalCrossEntropy(out, x0b, blocks, loss.blockWeights),
    );
  const trainer = makeTrainStep(lossFn, optimizerFromConfig(opt, o.steps), { lossKeys: 1, cacheKey: JSON.stringify(["molecule-cfg-control", optimizerStaticKey(opt), spec]) });
  const [kInit, kData] = splitKey(key, 2);
  const seed = keyToSeed(kData!);
  const p0 = { ...(tree.map((a: JArray) => a.mul(1), tree.ref(pretrained)) as DenoiserParams), control: { table: np.zeros([K + 1, spec.hidden]) } } as DenoiserParams;
  const D = x.cols;
  const B = Math.min(o.batchSize, x.rows);
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
  const r = await runSteps(trainer, trainer.init(p0, kInit, seed), {
    until: o.steps,
    logEvery: 10,
    batch: () => {
      const xb = new Float32Array(B * D);
      const labels = new Int32Array(B);
      for (let i = 0; i < B; i++) {
        const row = Math.floor(uniform() * x.rows);
        xb.set(x.data.subarray(row * D, (row + 1) * D), i * D);
        labels[i] = uniform() < o.dropout ? K : y[row]!;
      }
      return [upload(xb, B, D), oneHot(labels, K), np.array(alphaBars, { shape: [T] })];
    },
    onLoss: (p) => onStep?.(p.step, o.steps, p.loss),
    diverged: (step, l) => new Error(`molecules-ctrl: cfg fine-tuning diverged at step ${step} (loss ${l}); lower cfg.learningRate`),
  });
  const params = tree.map((a: JArray) => a.mul(1), tree.ref(r.state.params)) as DenoiserParams;
  disposeTrainStepState(r.state);
  return { params, losses: r.losses.map((l) => ({ step: l.step, loss: l.loss })) };
}

/**
 * The reject class's rows: `samples` molecules of the pretrained sampler (seeded by `seed`, drawn before any
 * row, so the rows' keys do not change), kept where RDKit cannot sanitise the decoded graph or, with
 * `fragmented`, where it decodes to more than one fragment, as the one-hot rows of their argmax decoding.
 */
async function rejectedSamples(
  rdkit: RDKit,
  vocab: GraphVocabulary,
  model: ModelConfig,
  eps: EpsFn,
  sampler: Parameters<typeof generateWithEps>[2],
  o: NonNullable<MoleculeCtrlConfig["classifier"]["reject"]>,
  seed: number,
  say: (s: string) => void,
): Promise<{ x: HostMatrix; drawn: number; invalid: number; fragmented: number }> {
  say(`reject class: sampling ${o.samples} molecules from the pretrained model`);
  const x = await generateWithEps(eps, model, sampler, o.samples, keyFromSeed(seed));
  const smiles = decodeMoleculeRows(rdkit, x, vocab).map((m) => m.smiles);
  const invalid = smiles.flatMap((s, i) => (s === null ? [i] : []));
  const fragmented = o.fragmented ? smiles.flatMap((s, i) => (s !== null && s.includes(".") ? [i] : [])) : [];
  const keep = [...invalid, ...fragmented].sort((a, b) => a - b);
  if (keep.length < 2) throw new Error(`molecules-ctrl: classifier.reject: only ${keep.length} of ${o.samples} pretrained samples were rejected by RDKit; raise classifier.reject.samples`);
  // One-hot rows of the decoded graphs (the molecule RDKit rejected), as the labelled rows are: fitted on the
  // sampler's continuous rows, the class keyed on "not exactly one-hot" and took every model sample (measured:
  // all 116 valid pretrained samples of a probe put in the reject class).
  const D = x.cols;
  const snapped = snapGraphRows(x, vocab);
  const out = new Float32Array(keep.length * D);
  keep.forEach((r, i) => out.set(snapped.data.subarray(r * D, (r + 1) * D), i * D));
  say(`reject class: ${invalid.length} invalid and ${fragmented.length} fragmented of ${o.samples}`);
  return { x: hostMatrix(keep.length, D, out), drawn: o.samples, invalid: invalid.length, fragmented: fragmented.length };
}

/** Runs the experiment (nothing is written: the caller formats the result). */
export async function runMoleculeCtrl(
  cfg: MoleculeCtrlConfig,
  hooks: { onStage?: (s: string) => void; /** After each row, the result so far (a long run's partial table). */ onRow?: (partial: MoleculeCtrlResult) => void } = {},
): Promise<MoleculeCtrlResult> {
  const say = hooks.onStage ?? (() => {});
  const started = performance.now();
  await ensureBackend();
  const rdkit = await loadRDKit();
  const path = resolveModelPath(cfg.pretrained, "molecules-ctrl: pretrained");
  const loaded = loadModel(path);
  const [kCls, kCtrl, kCfg, ...kRows] = splitKey(keyFromSeed(cfg.seed), 3 + cfg.methods.length * K);
  let keyAt = 0;
  try {
    const vocab: GraphVocabulary = moleculeVocabulary(loaded.meta, `molecules-ctrl: ${path}`);
    const model = loaded.meta.model;
    const weights = loaded.ema;
    const sampler = { sampler: cfg.sampling.sampler, steps: cfg.sampling.steps, eta: cfg.sampling.eta };
    const plan = samplerPlan(makeSchedule(model.schedule), sampler);
    const n = cfg.sampling.samples;
    const preEps = modelEps(model, weights);
    const noise = noiseHookOf(model.noise);

    // 1. The offline labelled set and the classifier.
    say(`labelling ${cfg.labelled} QM9 training molecules (${cfg.label.property} ≥ ${cfg.label.atLeast})`);
    const data = await qm9TrainData({ rows: cfg.labelled, seed: cfg.seed + 7 });
    const yData = Int32Array.from(oracleLabels(rdkit, data.smiles, cfg.label), (v) => v ?? 0);
    const frequency = yData.reduce((a, v) => a + v, 0) / yData.length;
    say(`label frequency ${frequency.toFixed(3)}; fitting the classifier`);
    // Molecules split before the permuted copies are made: the held-out ones are never seen in any order.
    const { permutations, heldOut, reject, input, snap, softSnap: snapTemperature, ...spec } = cfg.classifier;
    // The classifier's input: the graph row itself, or its invariant features (src/chem/graph-features.ts),
    // of the row or (snap, softSnap) of its argmax decoding.
    const features = input === "graph-features";
    const inputs = async (x: HostMatrix) => {
      const rows = snap || snapTemperature !== undefined ? snapGraphRows(x, vocab) : x;
      return features ? graphFeaturesHost(vocab, rows) : rows;
    };
    const nHeld = Math.max(1, Math.floor(data.train.rows * heldOut));
    const nFit = data.train.rows - nHeld;
    const D = data.train.cols;
    // The optional "no molecule" class (config `classifier.reject`): the pretrained model's rejected samples.
    const rejected = reject ? await rejectedSamples(rdkit, vocab, model, preEps, sampler, reject, cfg.seed + 17, say) : null;
    const C = rejected ? K + 1 : K;
    const nRejectHeld = rejected ? Math.floor(rejected.x.rows * heldOut) : 0;
    const nRejectFit = rejected ? rejected.x.rows - nRejectHeld : 0;
    const fitRows = hostMatrix(nFit + nRejectFit, D, new Float32Array((nFit + nRejectFit) * D));
    fitRows.data.set(data.train.data.subarray(0, nFit * D));
    if (rejected) fitRows.data.set(rejected.x.data.subarray(0, nRejectFit * D), nFit * D);
    const xCls = permutedGraphRows(fitRows, vocab, permutations, cfg.seed + 11);
    const yCls = Int32Array.from({ length: xCls.rows }, (_, i) => {
      const r = Math.floor(i / permutations);
      return r < nFit ? yData[r]! : K;
    });
    const cls: ClassifierModel = await fitClassifier(await inputs(xCls), yCls, { classes: C, ...spec }, kCls!);
    // Held-out molecules in one random node order each (the second copy).
    const secondCopies = (x: HostMatrix, seed: number) => {
      const two = permutedGraphRows(x, vocab, 2, seed);
      return hostMatrix(x.rows, D, Float32Array.from({ length: x.rows * D }, (_, i) => two.data[(2 * Math.floor(i / D) + 1) * D + (i % D)]!));
    };
    const heldX = secondCopies(hostMatrix(nHeld, D, data.train.data.subarray(nFit * D)), cfg.seed + 13);
    const heldY = yData.subarray(nFit);
    /** Whether row i of probabilities p [rows × C] puts the reject class above both labels. */
    const inRejectClass = (p: Float64Array, i: number) => C > K && p[C * i + K]! > Math.max(p[C * i]!, p[C * i + 1]!);
    /** Accuracy of p̂(1 | x) > p̂(0 | x) against labels y ∈ {0, 1}, the ECE over all C classes, and the share of rows put in the reject class. */
    const classifierOn = async (x: HostMatrix, y: ArrayLike<number>) => {
      const p = await classifierProbs(cls, await inputs(x));
      let correct = 0;
      let rejectedShare = 0;
      for (let i = 0; i < y.length; i++) {
        if ((p[C * i + 1]! > p[C * i]! ? 1 : 0) === y[i]) correct++;
        if (inRejectClass(p, i)) rejectedShare++;
      }
      return { n: y.length, accuracy: correct / y.length, ece: expectedCalibrationError(p, y, C, cfg.classifier.eceBins), ...(C > K ? { rejected: rejectedShare / y.length } : {}) };
    };
    const classifierHeldOut = await classifierOn(heldX, heldY);
    say(`classifier: held-out molecules (random node order) accuracy ${classifierHeldOut.accuracy.toFixed(3)}, ECE ${classifierHeldOut.ece.toFixed(3)}`);
    let rejectHeldOut: { n: number; rejected: number } | null = null;
    if (rejected && nRejectHeld > 0) {
      const p = await classifierProbs(cls, await inputs(secondCopies(hostMatrix(nRejectHeld, D, rejected.x.data.subarray(nRejectFit * D)), cfg.seed + 19)));
      let hits = 0;
      for (let i = 0; i < nRejectHeld; i++) if (inRejectClass(p, i)) hits++;
      rejectHeldOut = { n: nRejectHeld, rejected: hits / nRejectHeld };
      say(`classifier: held-out rejected samples put in the reject class: ${rejectHeldOut.rejected.toFixed(3)} of ${nRejectHeld}`);
    }
    let classifierOnModel: Awaited<ReturnType<typeof classifierOn>> | null = null;
    const logProbsOf = classifierLogProbs(cls);
    const logProbsAll = (x: JArray) => {
      const rows = snap ? straightThroughSnap(vocab, x) : snapTemperature !== undefined ? softSnap(vocab, x, snapTemperature) : x;
      return logProbsOf(features ? graphFeatures(vocab, rows) : rows);
    };
    const logProbs = C === K ? logProbsAll : labelColumns(logProbsAll, C, K);

    // The evaluation reference, split by the oracle label.
    const evalData = moleculeEvaluationData(rdkit, { n, referenceSize: cfg.evaluation.referenceSize, seed: cfg.seed });
    const refLabels = oracleLabels(rdkit, evalData.reference.smiles, cfg.label);
    const prepared = [0, 1].map((y) =>
      // Novelty is not reported here: the labelled set stands in for the training set (canonicalising all of QM9's takes ~40 s).
      prepareMetricsData(rdkit, { reference: evalData.reference.smiles.filter((_, i) => refLabels[i] === y), training: data.smiles }),
    );
    const referenceFrequency = refLabels.filter((v) => v === 1).length / refLabels.length;

    const rows: MoleculeCtrlRow[] = [];
    const result = (): MoleculeCtrlResult => ({
      config: cfg,
      model: path,
      label: { ...cfg.label, frequency, labelled: data.train.rows, referenceFrequency },
      classifier: {
        temperature: cls.temperature, heldOutMolecules: classifierHeldOut, onModelSamples: classifierOnModel, fit: cls.fit,
        ...(rejected ? { reject: { samples: rejected.drawn, rows: rejected.x.rows, invalid: rejected.invalid, fragmented: rejected.fragmented, fitted: nRejectFit, heldOut: rejectHeldOut } } : {}),
      },
      rows: rows.slice(),
      seconds: (performance.now() - started) / 1000,
    });
    const measure = async (method: string, label: string, draw: (y: number, key: Key) => Promise<Sampled>, trainSeconds: number, details: Record<string, unknown>) => {
      const t0 = performance.now();
      const perLabel: MoleculeCtrlLabelResult[] = [];
      for (let y = 0; y < K; y++) {
        say(`${label}: sampling ${n} molecules for y = ${y}`);
        const s = await draw(y, kRows[keyAt++]!);
        const smiles = decodeMoleculeRows(rdkit, s.x, vocab).map((m) => m.smiles);
        const m = moleculeMetrics(rdkit, smiles, prepared[y]!);
        if (method === "none" && y === 0) {
          // The classifier on the pretrained model's own valid molecules (the distribution CTRL and DPS query it on).
          const oracle = oracleLabels(rdkit, smiles, cfg.label);
          const keep = oracle.flatMap((o, i) => (o === null ? [] : [i]));
          const xs = hostMatrix(keep.length, s.x.cols, new Float32Array(keep.length * s.x.cols));
          keep.forEach((r, i) => xs.data.set(s.x.data.subarray(r * s.x.cols, (r + 1) * s.x.cols), i * s.x.cols));
          if (keep.length > 0) classifierOnModel = await classifierOn(xs, keep.map((r) => oracle[r]!));
        }
        perLabel.push({ y, smiles, oracle: oracleLabels(rdkit, smiles, cfg.label), validity: m.validity, uniqueness: m.validity > 0 ? m.uniqueness : null, klScore: m.kl?.score ?? null, klToPretrained: s.kl });
      }
      const requested = perLabel.flatMap((p) => p.oracle.map(() => p.y));
      const scores = controlScores(requested, perLabel.flatMap((p) => p.oracle));
      rows.push({ method, label, ...scores, perLabel, trainSeconds, sampleSeconds: (performance.now() - t0) / 1000, details });
      hooks.onRow?.(result());
    };
    /** Samples with ε (and, when given, the path KL to the pretrained sampler along the same chains). */
    const sampleWith = async (eps: EpsFn, key: Key): Promise<Sampled> => {
      const tracked = pathKlTracker(eps, preEps, plan, noise);
      const x = await generateWithEps(tracked.eps, model, sampler, n, key, { onStep: tracked.settle });
      return { x, kl: await tracked.kl(n) };
    };

    /** CTRL through the sampler chain (src/finetune/ctrl.ts). */
    const ctrlPathwise = async () => {
      const c = cfg.ctrl;
      say(`ctrl: fine-tuning (${c.trainable}) with γ = ${c.gamma} on ${c.reward}, ${c.steps} steps of ${c.accumulate > 1 ? `${c.accumulate} × ` : ""}${c.batchSize} chains, truncation ${c.truncation} (${c.truncationMode})`);
      const r = await ctrlFinetune(
        {
          model, pretrained: weights, contexts: 0, classes: K, logProbs, gamma: c.gamma, plan, T: makeSchedule(model.schedule).T, dim: model.network.dataDim,
          trainable: c.trainable, rank: 1, reward: c.reward, optim: { steps: c.steps, batchSize: c.batchSize, accumulate: c.accumulate, learningRate: c.learningRate, gradClip: c.gradClip, lrSchedule: c.lrSchedule },
          truncation: Math.min(c.truncation, plan.length), truncationMode: c.truncationMode, ...(c.segment ? { segment: c.segment } : {}), ...(noise ? { noise } : {}),
          onStep: (pt, total) => say(`ctrl: step ${pt.step}/${total} objective ${pt.objective?.toFixed(3)} kl ${pt.kl?.toFixed(3)}`),
        },
        kCtrl!,
      );
      return { model: r.model, seconds: r.seconds, heapBytes: r.heapBytes, history: r.history.map((h) => ({ step: h.step, loss: h.loss, objective: h.objective, kl: h.kl })) };
    };
    /** CTRL with the score-function estimator (src/finetune/ctrl-pg.ts): the reward reads the decoded molecule. */
    const ctrlByPolicyGradient = async () => {
      const c = cfg.ctrl;
      const pg = c.policyGradient;
      say(`ctrl: fine-tuning (${c.trainable}) with γ = ${c.gamma} by policy gradient, ${c.steps} rounds of ${c.batchSize} chains, ${pg.epochs} × ${pg.minibatches} PPO minibatches`);
      const reward = async (x0: HostMatrix, y: Int32Array) => {
        const rows = snapGraphRows(x0, vocab);
        const lp = await toHost(logProbs(upload(rows.data, rows.rows, rows.cols)));
        return Float64Array.from(y, (v, i) => lp[i * K + v]!);
      };
      const r = await ctrlPolicyGradient(
        {
          model, pretrained: weights, classes: K, reward, gamma: c.gamma, plan, trainable: c.trainable, rank: 1,
          config: { rounds: c.steps, batch: c.batchSize, epochs: pg.epochs, minibatches: pg.minibatches, clip: pg.clip, learningRate: c.learningRate, gradClip: c.gradClip, lrSchedule: c.lrSchedule },
          ...(noise ? { noise } : {}),
          onRound: (pt, total) =>
            say(`ctrl: round ${pt.round}/${total} log p̂ ${pt.objective.toFixed(3)} (y=0 ${pt.objectiveByLabel[0]!.toFixed(3)}, y=1 ${pt.objectiveByLabel[1]!.toFixed(3)}) kl ${pt.kl.toFixed(3)} clip ${pt.clipFraction.toFixed(3)}`),
        },
        kCtrl!,
      );
      // Rounds as steps, beside the pathwise history's fields; the heap probe is the pathwise chain's only.
      return { model: r.model, seconds: r.seconds, heapBytes: null, history: r.history.map((h) => ({ step: h.round, loss: h.loss, objective: h.objective, kl: h.kl, objectiveByLabel: h.objectiveByLabel, clipFraction: h.clipFraction })) };
    };

    for (const method of cfg.methods) {
      if (method === "none") {
        await measure("none", "pretrained (label-blind)", async (_y, key) => ({ x: await generateWithEps(preEps, model, sampler, n, key), kl: 0 }), 0, {});
      } else if (method === "ctrl") {
        const c = cfg.ctrl;
        const r = c.estimator === "policy-gradient" ? await ctrlByPolicyGradient() : await ctrlPathwise();
        const spec = policyNetwork(r.model.spec);
        const eff = finetunedParams(r.model);
        disposeFinetuned(r.model);
        try {
          await measure("ctrl", `ctrl γ=${c.gamma} (${c.trainable}${c.estimator === "policy-gradient" ? ", policy gradient" : ""})`, (y, key) => sampleWith(controlEps(model, spec, eff, controlOf(y)), key), r.seconds, {
            heapBytes: r.heapBytes, history: r.history,
          });
        } finally {
          tree.dispose(eff);
        }
      } else if (method === "cfg") {
        const o = cfg.cfg;
        const spec: DenoiserSpec = { ...model.network, control: { classes: K } } as DenoiserSpec;
        say(`cfg: fine-tuning on ${data.train.rows} labelled pairs, ${o.steps} steps of ${o.batchSize} (y-dropout ${o.dropout})`);
        const t0 = performance.now();
        const tuned = await cfgFinetune(model, spec, weights, data.train, yData, o, kCfg!, (s, total, l) => {
          if (s % 50 === 0 || s === total) say(`cfg: step ${s}/${total} loss ${l.toFixed(4)}`);
        });
        const seconds = (performance.now() - t0) / 1000;
        try {
          await measure("cfg", `cfg fine-tune w=${o.scale}`, (y, key) => sampleWith(cfgEps(controlEps(model, spec, tuned.params, controlOf(y)), controlEps(model, spec, tuned.params, controlOf(K)), o.scale), key), seconds, {
            losses: tuned.losses.filter((_, i) => i % 10 === 0),
          });
        } finally {
          tree.dispose(tuned.params);
        }
      } else {
        const o = cfg.dps;
        await measure(
          "dps",
          `dps γ=${o.gamma} scale=${o.scale} (${o.jacobian} Jacobian${o.start > 0 ? `, from i/S = ${o.start}` : ""})`,
          async (y, key) => {
            const col = new Float32Array(C);
            col[y] = 1;
            const reward = deviceReward(`log p̂(y=${y} | x)`, (x) => np.matmul(logProbsAll(x), upload(col, C, 1)).reshape([-1]));
            const term = rewardGuidanceTerm(reward, { name: "dps", alpha: 1 / o.gamma, scale: o.scale, where: "x0", jacobian: o.jacobian, start: o.start });
            const batches = Math.ceil(n / o.batch);
            const keys = batches === 1 ? [key] : splitKey(key, batches);
            const out = new Float32Array(n * model.network.dataDim);
            let kl = 0;
            for (let b = 0; b < batches; b++) {
              const rowsB = Math.min(o.batch, n - b * o.batch);
              const g = await guidedSample({ eps: preEps, plan, terms: [term], n: rowsB, dim: model.network.dataDim, eventShape: eventShapeOf(model.network), key: keys[b]!, cost: newCost(), ...(noise ? { noise } : {}), pathKl: true });
              out.set(await toHost(g.x.reshape([rowsB, -1])), b * o.batch * model.network.dataDim);
              kl += (g.pathKl ? pathKlPerSample(g.pathKl) : NaN) * rowsB;
            }
            return { x: hostMatrix(n, model.network.dataDim, out), kl: Number.isFinite(kl) ? kl / n : null };
          },
          0,
          {},
        );
      }
    }
    return result();
  } finally {
    // The keys no row consumed.
    if (!cfg.methods.includes("ctrl")) kCtrl!.dispose();
    if (!cfg.methods.includes("cfg")) kCfg!.dispose();
    for (const k of kRows.slice(keyAt)) k.dispose();
    disposeLoadedModel(loaded);
  }
}
