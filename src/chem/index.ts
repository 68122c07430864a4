/**
 * The chemistry layer (docs/molecules.md): RDKit MinimalLib loading, molecule graphs, QED, BertzCT, property
 * oracles and molecule metrics. Browser-safe; the QM9 files and CSV reading live in ./qm9-node.ts (Node only).
 */
export { loadRDKit, parseMol, withMol, canonicalSmiles, molToCanonical, type RDKit, type Mol, type CanonicalOptions } from "./rdkit.js";
export {
  QM9_VOCABULARY, FORMAL_CHARGES, graphShape, encodeSmiles, encodeTopology, kekuleTopology, graphToMolblock, decodeGraph,
  graphRowLength, graphToRow, graphFromRow,
  type GraphVocabulary, type MolGraph, type EncodeResult, type EncodeFailure, type DecodeResult, type KekuleTopology,
} from "./graph.js";
export { encodeSmilesTable, type SmilesDataset, type SmilesDatasetOptions } from "./dataset.js";
export { parseSmilesCsv, type SmilesTable } from "./smiles-table.js";
export { splitIndices, DEFAULT_SPLIT, type Splits, type SplitOptions } from "./splits.js";
export { descriptors, substructMatches, hasSubstruct, type RDKitDescriptors } from "./descriptors.js";
export { qed, qedProperties, qedFromProperties, ads, QED_WEIGHTS_MEAN, type QedProperties } from "./qed.js";
export { bertzCT } from "./bertz.js";
export { propertyOfSmiles, moleculeProperty, graphPropertyReward, PROPERTY_RANGES, type MoleculeProperty, type OracleOptions } from "./oracles.js";
export { continuousKl, discreteKl, gaussianKde } from "./kl.js";
export {
  canonicalize, validity, uniqueness, novelty, fragmented, klScore, klDescriptors, KL_DESCRIPTORS, ecfp4, tanimoto,
  nearestNeighbourSimilarity, moleculeFeatures, typeHistograms, totalVariation, prepareMetricsData, moleculeMetrics,
  type MoleculeMetrics, type MetricsData, type PreparedMetricsData, type KlScore, type MoleculeFeatures, type TypeHistograms,
} from "./metrics.js";
