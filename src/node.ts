/**
 * rewardiff for Node: everything in "rewardiff" plus files (CSV, .npy, safetensors checkpoints with
 * atomic writes), model checkpoints, the config-driven experiment runner, reports (report.json types,
 * vega-lite plots, report.html; also "rewardiff/report") and chemistry (RDKit, QM9).
 * See docs/architecture.md, "Entry points".
 */
export * from "./index.js";
export * from "./report/index.js";
export { runExperiment, checkMethodsAvailable } from "./runners/experiment.js";
export { saveModel, saveInferenceModel, loadModel } from "./io/checkpoints/model-files.js";
export { finetunedCheckpoint, saveFinetuned, finetunedFromLoaded } from "./io/checkpoints/finetuned.js";
export { taskData, readDataFile } from "./runners/task-data.js";
export { readConfig, parseConfig, defaultConfig, type ExperimentConfig } from "./runners/config.js";
export { readCsv, writeCsv, parseCsv, formatCsv } from "./io/csv.js";
export { readNpy, writeNpy, readNpyMatrix } from "./io/npy.js";
export { saveCheckpoint, loadCheckpoint } from "./io/checkpoint.js";
export { writeFileAtomic } from "./io/atomic.js";
export { writeReport } from "./report/write.js";
export { saveRewardModel, loadRewardModel, REWARD_KIND, type RewardMeta } from "./io/checkpoints/reward.js";
export { saveClassifier, loadClassifier, CLASSIFIER_KIND, type ClassifierMeta } from "./io/checkpoints/classifier.js";
// Chemistry (RDKit MinimalLib, QM9): Node entry only for now — RDKit's wasm build is several MB and stays
// out of the lean browser entry.
export * from "./chem/index.js";
export { readQm9Smiles, qm9Splits, encodeQm9, readSmilesCsvFile } from "./chem/qm9-node.js";
// Molecule models (docs/molecules.md "Sampling", "Evaluating", "The report").
export {
  sampleMolecules, decodeMoleculeRows, formatMoleculeSamplesCsv, moleculeSampler, moleculeVocabulary, resolveModelPath,
  MOLECULE_SAMPLE_COLUMNS, MOLECULE_SAMPLE_PROPERTIES, SHIPPED_MODELS, type MoleculeSample, type SampleMoleculesOptions,
} from "./runners/molecule-sampling.js";
export {
  readMoleculeSamples, readMoleculeSet, moleculeEvaluationData, evaluateMolecules,
  type MoleculeSamplesFile, type MoleculeSet, type MoleculeEvaluationData, type MoleculeEvaluation,
} from "./runners/molecule-evaluation.js";
export { moleculeReport, moleculeTiles, moleculeReportSection, MOLECULE_ANCHORS, type MoleculeReportOptions } from "./runners/molecule-report.js";
export { MoleculeSamplingSchema, MoleculeEvaluationSchema, MoleculeDemoSchema } from "./runners/config-schemas.js";
// Molecule runs (docs/molecules.md "Runs").
export { runMoleculeExperiment, checkMoleculeInputs, type MoleculeRunResult } from "./runners/molecule-run.js";
export { MoleculeRunConfigSchema, parseMoleculeConfig, readMoleculeConfig, isMoleculeConfig, MOLECULE_METHOD_KINDS, type MoleculeRunConfig, type MoleculeRunConfigInput } from "./runners/molecule-run-config.js";
