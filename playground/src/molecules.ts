/**
 * The molecule panel's engine, free of any page or worker API (Node runs the same code): sample a molecule
 * model (a graph transformer with categorical x̂₀; docs/molecules.md "Training a molecule model") with DDPM,
 * plainly and steered towards an RDKit property by a black-box host reward (src/chem/oracles.ts
 * `graphPropertyReward`: argmax decoding, no valence correction, an invalid graph scores the property's low
 * end), or towards a target value of it (r = −|property − target|, an invalid molecule scoring the worst
 * distance, −(range width)), and decode and depict every molecule with RDKit. Steering (docs/guidance.md):
 *  - best-of-n: N whole samples per output, one kept ∝ exp(r/α) (sampling-importance-resampling of p·e^{r/α});
 *  - svdd: at each step M candidates x_s, one kept ∝ exp(r(x̂₀(x_s))/α) (SVDD-PM), over the whole chain.
 * Plain and steered samples use the same seed.
 */
import {
  bestOfN,
  guidedSample,
  hostMatrix,
  hostReward,
  keyFromSeed,
  modelEps,
  modelSchedule,
  newCost,
  rewardAtX0Value,
  samplerPlan,
  svddTerm,
  toHost,
  type GuidanceCost,
  type HostMatrix,
  type HostReward,
  type Key,
  type LoadedModel,
} from "../../src/index.js";
import { decodeGraph, graphFromRow, graphRowLength, moleculeProperty, PROPERTY_RANGES, withMol, type GraphVocabulary, type RDKit } from "../../src/chem/index.js";
import { noiseHookOf } from "../../src/diffusion/noise-space.js";

export const MOLECULE_METHODS = ["best-of-n", "svdd"] as const;
export type MoleculeMethod = (typeof MOLECULE_METHODS)[number];
export const MOLECULE_PROPERTIES = ["qed", "logp"] as const;
export type PanelProperty = (typeof MOLECULE_PROPERTIES)[number];

/** Pixels of a depiction (square). */
export const DEPICTION_PX = 150;

export interface MoleculeSettings {
  property: PanelProperty;
  method: MoleculeMethod;
  /** best-of-N's N, SVDD's M. */
  candidates: number;
  /** Temperature α of the selection ∝ exp(r/α). */
  alpha: number;
  /** DDPM steps. */
  steps: number;
  n: number;
  seed: number;
  /** Steer towards this value of the property (r = −|property − target|) instead of maximising it. */
  target?: number;
}

export interface MoleculeEntry {
  /** RDKit's canonical SMILES (no stereo); null when RDKit cannot sanitise the graph. */
  smiles: string | null;
  valid: boolean;
  /** The property of a valid molecule (null when invalid). */
  value: number | null;
  /** The steering reward ({@link panelRewardOf}). */
  reward: number;
  /** RDKit's SVG depiction of a valid molecule. */
  svg?: string;
}

export interface MoleculeSet {
  molecules: MoleculeEntry[];
  /** Mean reward over all samples (invalid ones included, at their reward) and the share of valid ones. */
  rewardMean: number;
  validity: number;
  cost: GuidanceCost;
}

export interface MoleculeRun {
  plain: MoleculeSet;
  steered: MoleculeSet;
}

/** The vocabulary a molecule model's sidecar records; throws when the model is not a molecule model. */
export function panelVocabulary(model: LoadedModel): GraphVocabulary {
  const v = model.meta.molecules;
  if (!v) throw new Error(`not a molecule model (its sidecar has no "molecules" vocabulary; trained on ${model.meta.data})`);
  return { atoms: [...v.atoms], bonds: [...v.bonds], maxAtoms: v.maxAtoms };
}

/**
 * The steering reward of a molecule with property `value` (null: invalid). Maximising: the property, an
 * invalid molecule at the property's low end (src/chem/oracles.ts PROPERTY_RANGES). Towards a target t:
 * −|value − t|, an invalid molecule at −(high − low), no better than the farthest valid one.
 */
export function panelRewardOf(property: PanelProperty, target: number | undefined, value: number | null): number {
  const [lo, hi] = PROPERTY_RANGES[property];
  if (target === undefined) return value ?? lo;
  return value === null ? -(hi - lo) : -Math.abs(value - target);
}

/** The property of the molecule a graph row decodes to (argmax, no valence correction), or null when invalid. */
function rowValue(rdkit: RDKit, row: Float32Array, vocab: GraphVocabulary, property: PanelProperty): number | null {
  const { smiles } = decodeGraph(rdkit, graphFromRow(row, vocab), vocab, { stereo: false });
  return smiles === null ? null : withMol(rdkit, smiles, (mol) => moleculeProperty(rdkit, mol, property));
}

/** {@link panelRewardOf} of each graph row, as a black-box host reward. */
export function panelReward(rdkit: RDKit, vocab: GraphVocabulary, property: PanelProperty, target?: number): HostReward {
  const D = graphRowLength(vocab);
  return hostReward(target === undefined ? property : `-|${property} - ${target}|`, (x) =>
    Float64Array.from({ length: x.rows }, (_, i) => panelRewardOf(property, target, rowValue(rdkit, x.data.subarray(i * D, (i + 1) * D), vocab, property))),
  );
}

/** Checks settings before any work (one line naming the setting). */
export function checkMoleculeSettings(s: MoleculeSettings, model?: LoadedModel): void {
  if (!(MOLECULE_PROPERTIES as readonly string[]).includes(s.property)) throw new Error(`property must be one of ${MOLECULE_PROPERTIES.join(", ")}, got "${s.property}"`);
  if (!(MOLECULE_METHODS as readonly string[]).includes(s.method)) throw new Error(`method must be one of ${MOLECULE_METHODS.join(", ")}, got "${s.method}"`);
  const whole = (v: number, min: number, max: number, name: string) => {
    if (!(Number.isInteger(v) && v >= min && v <= max)) throw new Error(`${name} must be a whole number in [${min}, ${max}], got ${v}`);
  };
  whole(s.steps, 2, model ? model.meta.model.schedule.steps : 1000, "steps");
  whole(s.n, 1, 256, "molecules");
  whole(s.candidates, 1, 32, "candidates");
  whole(s.seed, 0, 2 ** 31 - 1, "seed");
  if (!(Number.isFinite(s.alpha) && s.alpha > 0)) throw new Error(`α must be a number > 0, got ${s.alpha}`);
  if (s.target !== undefined) {
    const [lo, hi] = PROPERTY_RANGES[s.property];
    if (!(Number.isFinite(s.target) && s.target >= lo && s.target <= hi)) throw new Error(`target must be a number in [${lo}, ${hi}] (the ${s.property} range), got ${s.target}`);
  }
}

/**
 * Samples `s.n` molecules plainly and `s.n` steered by `s.method`, both from seed `s.seed`, decodes them and
 * depicts the valid ones. Borrows `model`. `onStep` sees the chain's progress (plain, then steered).
 */
export async function runMolecules(
  rdkit: RDKit,
  model: LoadedModel,
  s: MoleculeSettings,
  onStep?: (phase: "plain" | "steered", done: number, total: number) => void,
): Promise<MoleculeRun> {
  checkMoleculeSettings(s, model);
  const vocab = panelVocabulary(model);
  const cfg = model.meta.model;
  const D = graphRowLength(vocab);
  if (cfg.network.dataDim !== D) throw new Error(`the model's rows hold ${cfg.network.dataDim} values, its vocabulary's graphs ${D}`);
  const eps = modelEps(cfg, model.ema);
  const plan = samplerPlan(modelSchedule(cfg), { sampler: "ddpm", steps: s.steps, eta: 1 });
  const noise = noiseHookOf(cfg.noise);
  const reward = panelReward(rdkit, vocab, s.property, s.target);
  const chain = async (key: Key, count: number, cost: GuidanceCost, phase: "plain" | "steered", terms: Parameters<typeof guidedSample>[0]["terms"] = []): Promise<HostMatrix> => {
    const out = await guidedSample({ eps, plan, terms, n: count, dim: D, key, cost, ...(noise ? { noise } : {}), ...(onStep ? { onStep: (done, total) => onStep(phase, done, total) } : {}) });
    return hostMatrix(count, D, await toHost(out.x));
  };

  const plainCost = newCost();
  const plainRows = await chain(keyFromSeed(s.seed), s.n, plainCost, "plain");
  const plain = describe(rdkit, plainRows, vocab, s, plainCost);

  const steeredCost = newCost();
  let steeredRows: HostMatrix;
  if (s.method === "best-of-n") {
    const r = await bestOfN({ reward, n: s.n, candidates: s.candidates, select: "softmax", alpha: s.alpha, key: keyFromSeed(s.seed), cost: steeredCost, draw: (key, count, c) => chain(key, count, c, "steered") });
    steeredRows = r.samples;
  } else {
    steeredRows = await chain(keyFromSeed(s.seed), s.n, steeredCost, "steered", [svddTerm(rewardAtX0Value(reward, eps), { candidates: s.candidates, alpha: s.alpha })]);
  }
  return { plain, steered: describe(rdkit, steeredRows, vocab, s, steeredCost) };
}

/** Decodes, scores and depicts each row. */
function describe(rdkit: RDKit, rows: HostMatrix, vocab: GraphVocabulary, s: MoleculeSettings, cost: GuidanceCost): MoleculeSet {
  const t0 = performance.now();
  const D = rows.cols;
  const molecules: MoleculeEntry[] = [];
  for (let i = 0; i < rows.rows; i++) {
    const { smiles } = decodeGraph(rdkit, graphFromRow(rows.data.subarray(i * D, (i + 1) * D), vocab), vocab, { stereo: false });
    const drawn = smiles === null ? null : withMol(rdkit, smiles, (mol) => ({ value: moleculeProperty(rdkit, mol, s.property), svg: mol.get_svg(DEPICTION_PX, DEPICTION_PX) }));
    molecules.push(
      drawn === null
        ? { smiles: null, valid: false, value: null, reward: panelRewardOf(s.property, s.target, null) }
        : { smiles, valid: true, value: drawn.value, reward: panelRewardOf(s.property, s.target, drawn.value), svg: drawn.svg },
    );
  }
  const n = Math.max(1, molecules.length);
  cost.seconds += (performance.now() - t0) / 1000;
  return {
    molecules,
    rewardMean: molecules.reduce((a, m) => a + m.reward, 0) / n,
    validity: molecules.filter((m) => m.valid).length / n,
    cost,
  };
}
