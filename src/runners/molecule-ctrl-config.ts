/**
 * The config of the molecule CTRL experiment (issue 13 §3, docs/molecules.md "CTRL: a new control";
 * `npm run experiments -- molecules-ctrl`, configs/molecules-ctrl.json): a structural label that the shipped
 * unconditional QM9 model knows nothing about, y = 1{RDKit `label.property` ≥ `label.atLeast`}, defined by
 * `labelled` QM9 training molecules; a calibrated classifier p̂(y | x) on their graph rows; and the rows
 *  - "none": the pretrained model as is (label-blind: its accuracy is the label's frequency);
 *  - "ctrl": CTRL (2406.12120) — the zero-initialised control E_y added to the pretrained network, trained through
 *    the sampler with γ log p̂(y | x_0) − Σ_t KL_t (src/finetune/ctrl.ts);
 *  - "cfg": CFG fine-tuning — the same control added, the network fine-tuned on the labelled (x, y) pairs with the
 *    denoising loss and y-dropout, sampled with classifier-free guidance of strength `cfg.scale`;
 *  - "dps": DPS with the classifier on the unconditional model, ∇ γ log p̂(y | x̂_0(x_t)).
 */
import * as z from "zod";
import { readText } from "../io/files.js";
import { parseJson } from "../io/json.js";
import { MoleculeSamplingSchema, describeConfigError, int, nonNegative, positive, strict } from "./config-schemas.js";

export const MOLECULE_CTRL_METHODS = ["none", "ctrl", "cfg", "dps"] as const;

const multipleOf4 = (what: string) => int(4).refine((v) => v % 4 === 0, `${what} must be a multiple of 4 (matmul widths)`);

export const MoleculeCtrlConfigSchema = strict({
  seed: int(0).default(0),
  /** The pretrained molecule model: "qm9" (the shipped one) or a path. */
  pretrained: z.string().min(1).default("qm9"),
  label: strict({
    property: z.enum(["rings", "aromaticRings", "aliphaticRings"]).default("rings"),
    atLeast: int(1).default(2),
  }).prefault({}),
  /** QM9 training molecules labelled offline (the classifier's and CFG's data). */
  labelled: int(16).default(4096),
  classifier: strict({
    hidden: multipleOf4("classifier.hidden").default(128),
    layers: int(0).default(2),
    steps: int(1).default(1500),
    learningRate: positive().default(2e-3),
    batchSize: int(1).default(256),
    l2: nonNegative().default(0),
    /** Fraction of the fitted rows the temperature is fitted on (src/rewards/classifier.ts). */
    holdout: z.number().gt(0).lt(1).default(0.2),
    /** Fraction of the labelled molecules kept out of the fit entirely (held-out accuracy and ECE). */
    heldOut: z.number().gt(0).lt(1).default(0.1),
    eceBins: int(1).default(15),
    /**
     * The classifier's input: "row" (the flattened graph row; an MLP that must learn node-order invariance from
     * `permutations` copies) or "graph-features" (permutation-invariant, differentiable counts of elements,
     * bonds, valences, fragments and cycles: src/chem/graph-features.ts).
     */
    input: z.enum(["row", "graph-features"]).default("row"),
    /**
     * Read the argmax decoding of x (the molecule the oracle judges) instead of x itself: straight-through in
     * CTRL's and DPS's gradient (forward: the one-hot rows; backward: the identity; src/chem/graph-features.ts).
     * Without it the chain can move x̂_0 to a continuous row the classifier reads differently from its decoding
     * (measured: weak bonds that count as connections but decode to fragments).
     */
    snap: z.boolean().default(false),
    /**
     * τ of a softmax relaxation of the snap in CTRL's and DPS's gradient (src/chem/graph-features.ts `softSnap`:
     * softmax(x_group / τ) per categorical group, "no atom" slots blended towards no charge and no bonds), instead
     * of the straight-through identity; the rows the classifier is fitted and evaluated on are snapped exactly.
     * Exclusive with `snap`.
     */
    softSnap: positive().optional(),
    /** Copies of each labelled row under random node orders (the first in QM9's order); see permutedGraphRows. */
    permutations: int(1).default(8),
    /**
     * A third, "no molecule" class fitted beside y = 0 and y = 1 (absent: two classes, as before): `samples`
     * molecules drawn from the pretrained model before any fine-tuning, of which those RDKit cannot sanitise (and,
     * with `fragmented`, those that decode to more than one fragment) are the class's rows — the one-hot rows of
     * their argmax decoding, like the labelled rows — in `permutations` node orders. CTRL and DPS then maximise log p̂(y | x) with p̂ normalised over all
     * three classes, so a chain cannot raise log p̂(y = 0 | x) by leaving the molecules (measured without it:
     * "fewer than 2 rings" reached through invalid molecules, docs/molecules.md).
     */
    reject: strict({
      samples: int(16).default(2048),
      fragmented: z.boolean().default(true),
    }).optional(),
  })
    .refine((c) => !(c.snap && c.softSnap !== undefined), { message: "snap and softSnap exclude each other (softSnap is the relaxed snap)", path: ["softSnap"] })
    .prefault({}),
  ctrl: strict({
    gamma: positive().default(1),
    /** What each chain maximises: "log-prob" (the paper's γ log p̂(y | x_0)) or "prob" (γ p̂(y | x_0), bounded, so no one chain dominates the batch's gradient). */
    reward: z.enum(["log-prob", "prob"]).default("log-prob"),
    /** "all" (every weight + E_y), "embedding" (E_y alone) or "control" (E_y + zero-initialised per-layer control tables E_l, the pretrained weights frozen). */
    trainable: z.enum(["embedding", "all", "control"]).default("all"),
    steps: int(1).default(60),
    batchSize: int(1).default(8),
    /** Micro-batches of `batchSize` chains averaged per Adam step (src/finetune/optimize.ts): more chains per step at one batch's memory. */
    accumulate: int(1).default(1),
    learningRate: positive().default(1e-4),
    /** "constant", or "cosine": half-cosine decay from learningRate to 0 over the steps. */
    lrSchedule: z.enum(["constant", "cosine"]).default("constant"),
    gradClip: positive().default(1),
    /** Final sampler steps that carry gradient (src/finetune/chain.ts). */
    truncation: int(1).default(10),
    /** "fixed" (every step backpropagates through the last `truncation` steps) or "random" (K' ~ U{1..K} redrawn each step, the CTRL reference code's way). */
    truncationMode: z.enum(["fixed", "random"]).default("fixed"),
    /**
     * Steps per recomputation segment of the gradient window (src/finetune/chain.ts; default: one pass). Each
     * segment is traced once and reused, so a long window compiles in the time of one segment.
     */
    segment: int(1).optional(),
    /**
     * How the objective's gradient is estimated: "pathwise" (backpropagation through the sampler chain, the paper's;
     * src/finetune/ctrl.ts) or "policy-gradient" (the score-function estimator with PPO, DPOK's way, on the same
     * objective; src/finetune/ctrl-pg.ts): then `steps` are rounds, `batchSize` the chains of a round (half per
     * label), and the reward reads the argmax decoding of x_0 (the molecule the oracle judges), never its gradient.
     */
    estimator: z.enum(["pathwise", "policy-gradient"]).default("pathwise"),
    /** PPO settings of the "policy-gradient" estimator. */
    policyGradient: strict({
      epochs: int(1).default(1),
      minibatches: int(1).default(8),
      clip: positive().default(0.2),
    }).prefault({}),
  })
    .refine((c) => !(c.estimator === "policy-gradient" && c.reward !== "log-prob"), {
      message: 'reward "prob" applies to the pathwise estimator; the policy gradient maximises γ log p̂(y | x_0)',
      path: ["reward"],
    })
    .prefault({}),
  cfg: strict({
    steps: int(1).default(400),
    batchSize: int(1).default(64),
    learningRate: positive().default(1e-4),
    dropout: z.number().min(0).lt(1).default(0.1),
    scale: nonNegative().default(1),
  }).prefault({}),
  dps: strict({
    gamma: positive().default(1),
    scale: nonNegative().default(1),
    /**
     * ∂x̂_0/∂x_t: "identity" (≈ I/√ᾱ_t, no network Jacobian) or "full" (backpropagation through the graph
     * transformer at every step: measured ≈ 13 s per molecule on a shared core, too slow for the table).
     */
    jacobian: z.enum(["identity", "full"]).default("identity"),
    /**
     * Fraction of the chain before the guidance starts: step i of S is guided when i/S ≥ start. The identity
     * Jacobian's 1/√ᾱ_t grows without bound at high noise (x̂_0 moves by (1−ᾱ_t)/ᾱ_t · s ∇ log p̂ per step);
     * measured on QM9 with start 0: the chains diverged (docs/molecules.md "CTRL: a new control").
     */
    start: z.number().min(0).lt(1).default(0),
    /** Rows per guided batch (the full Jacobian through the graph transformer is memory-hungry). */
    batch: int(1).default(128),
  }).prefault({}),
  methods: z.array(z.enum(MOLECULE_CTRL_METHODS)).min(1).default([...MOLECULE_CTRL_METHODS]),
  /** The molecule sampler; `samples` per label (y = 0 and y = 1). */
  sampling: strict({ ...MoleculeSamplingSchema.shape, steps: int(1).default(50), samples: int(2).default(256) }).prefault({}),
  evaluation: strict({ referenceSize: int(4).default(1000) }).prefault({}),
});

export type MoleculeCtrlConfig = z.output<typeof MoleculeCtrlConfigSchema>;
export type MoleculeCtrlConfigInput = z.input<typeof MoleculeCtrlConfigSchema>;

/** Validates a molecule CTRL config; throws one line `where: path: problem`. */
export function parseMoleculeCtrlConfig(json: unknown, where: string): MoleculeCtrlConfig {
  const r = MoleculeCtrlConfigSchema.safeParse(json, { reportInput: true });
  if (!r.success) throw new Error(describeConfigError(r.error, where));
  return r.data;
}

export function readMoleculeCtrlConfig(path: string): MoleculeCtrlConfig {
  return parseMoleculeCtrlConfig(parseJson(readText(path, "config file"), path, { rejectDuplicateKeys: true }), path);
}
