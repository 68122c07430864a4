/**
 * The floor under RCGDM's MAE on a QM9 property (issue 13 §1) over all the unlabeled molecules (the runner uses a
 * pool of `molecules.floorMolecules`, 20,000 by default): how close to a target a the oracle property would come
 * if the conditional model sampled its training law exactly. RCGDM trains on pseudo-labels ŷ = f̂(x) + ν ξ, so
 * the law it learns at condition a is p(x | ŷ = a) ∝ p(x) φ((a − f̂(x)) / ν) over the unlabeled molecules x. This
 * script splits QM9's train molecules as the runner does (seed 0: 2,000 labeled, the rest unlabeled), fits f̂
 * (ridge on atom-environment counts, 20% held out, another key than the runner's), and computes over the
 * unlabeled molecules, with the weights w(x) = φ((a − f̂(x)) / ν) and the oracle y(x) (RDKit), per target:
 * E_w|y − a| (the floor), E_w[y] − a (its bias), sd_w(y) and the effective count (Σw)² / Σw²
 * (src/eval/pseudo-label-floor.ts). The targets are the config's. Nothing here is sampled: it is a property of the
 * data, f̂ and ν, the error left when the model is perfect.
 * Env: PROPERTY (logp), NU (0.1), LABELED (2000), SEED (0), UNLABELED (all).
 * Run: `npx tsx scripts/diag/rcgdm-floor.ts`.
 */
import { ensureBackend } from "../../src/backend/init.js";
import { keyFromSeed } from "../../src/backend/keys.js";
import { loadRDKit } from "../../src/chem/rdkit.js";
import { propertyOfSmiles, type MoleculeProperty } from "../../src/chem/oracles.js";
import { takeRows } from "../../src/data/matrix.js";
import { pseudoLabelFloor } from "../../src/eval/pseudo-label-floor.js";
import { mean } from "../../src/eval/stats.js";
import { permutation } from "../../src/data/permutation.js";
import { fitReward, predictReward } from "../../src/rewards/fit.js";
import { graphFeatureMap } from "../../src/rewards/graph-features.js";
import type { RcgdmMethodConfig } from "../../src/runners/methods/rcgdm.js";
import { qm9TrainData } from "../../src/runners/molecule-data.js";
import { moleculeTargets } from "../../src/runners/molecule-rcgdm.js";

const property = (process.env.PROPERTY ?? "logp") as MoleculeProperty;
const NU = Number(process.env.NU ?? 0.1);
const LABELED = Number(process.env.LABELED ?? 2000);
const SEED = Number(process.env.SEED ?? 0);

await ensureBackend();
const rdkit = await loadRDKit();
const data = await qm9TrainData();
const N = data.train.rows;
// The runner's split (src/runners/molecule-rcgdm.ts): permutation(N, seed + 7919), labeled first.
const order = permutation(N, SEED + 7919);
const labeledIdx = order.subarray(0, LABELED);
const rest = order.subarray(LABELED);
const unlabeledIdx = process.env.UNLABELED !== undefined ? rest.subarray(0, Number(process.env.UNLABELED)) : rest;
const oracle = (idx: ArrayLike<number>) => Float32Array.from(propertyOfSmiles(rdkit, Array.from(idx, (i) => data.smiles[i]!), property));
const vocab = { atoms: data.vocabulary.atoms, bonds: data.vocabulary.bonds, maxAtoms: data.vocabulary.maxAtoms };
const labeledRows = takeRows(data.train, labeledIdx);
const y = oracle(labeledIdx);
const features = graphFeatureMap(labeledRows, vocab);
const { model: f } = await fitReward(features.featurize(labeledRows), y, { kind: "ridge", l2: 1e-4 }, keyFromSeed(1), { holdout: 0.2 });
const t0 = performance.now();
const yu = oracle(unlabeledIdx);
const fu = (await predictReward(f, features.featurize(takeRows(data.train, unlabeledIdx)))).mean;
const seconds = (performance.now() - t0) / 1000;

// The config's targets (the schema's defaults: the labels' 10–90% quantiles, and 1 beyond their range).
const targets = moleculeTargets({ kind: "rcgdm", molecules: {} } as RcgdmMethodConfig, y).map(({ target, quantile }) => ({ a: target, q: quantile }));

let fhatErr = 0;
for (let i = 0; i < yu.length; i++) fhatErr += Math.abs(fu[i]! - yu[i]!);
console.log(`${property}: ${unlabeledIdx.length} unlabeled molecules (oracle and f̂ in ${seconds.toFixed(0)} s); mean |f̂ − y| ${(fhatErr / yu.length).toFixed(3)}; ν = ${NU}`);
console.log("target  q     floor E_w|y−a|  bias    sd_w    effective n");
const inside: number[] = [];
for (const { a, q } of targets) {
  const fl = pseudoLabelFloor(yu, fu, NU, a);
  if (q !== null) inside.push(fl.mae);
  console.log(`${a.toFixed(2).padStart(6)}  ${q === null ? " —  " : q.toFixed(1).padEnd(4)}  ${fl.mae.toFixed(3).padEnd(14)}  ${fl.bias.toFixed(3).padStart(6)}  ${fl.std.toFixed(3)}   ${fl.effectiveN.toFixed(0)}`);
}
console.log(`inside: mean floor ${mean(inside).toFixed(3)}`);
