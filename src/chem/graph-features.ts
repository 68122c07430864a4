/**
 * Permutation-invariant, differentiable features of graph rows (nodes ‖ charges ‖ edges, ./graph.ts), for
 * classifiers that must judge a molecule whatever order its atoms come in and must be differentiable in the
 * row (CTRL's and DPS's log p̂(y | x), src/runners/molecule-ctrl.ts). An MLP on the raw row learns the node
 * order (docs/molecules.md, "CTRL: a new control") and, fitted on permuted copies, recognised only a third of
 * the invalid or fragmented molecules; these features expose what decides both.
 *
 * For a row with atom one-hots a_i (the element columns, "no atom" dropped, so a padding slot weighs 0),
 * charges q_i, bonds e_ij (bond-order columns, weighted by w_i w_j with w_i = Σ a_i and 0 on the diagonal:
 * the decoder drops bonds to "no atom" slots and never reads the diagonal), bond counts b_i = Σ_j e_ij, valence v_i = Σ_k order_k b_ik
 * and degree d_i = Σ_k b_ik:
 *  - per element, Σ_i a_i ⊗ g_i with g_i = [1, q_i, b_i, relu(v_i − k) for k = 0..4, q_i ⊗ relu(v_i − k)
 *    for k = 1..4, relu(1 − d_i)]: atom counts, charges, bond counts, the valence profile (how many atoms of
 *    each element exceed each valence, and with which charge) and isolated atoms;
 *  - connectivity: with reachability r = min(1, r + r A) iterated maxAtoms − 1 times from
 *    r = I (A_ij = Σ_k e_ijk), the unreachable pairs Σ_ij w_i w_j (1 − r_ij) (0 for one fragment) and the
 *    reachable ones Σ_ij w_i w_j r_ij;
 *  - cycles: tr(A³) and tr(A⁴) (six times the triangles; closed 4-walks).
 * On one-hot rows these are counts; on the sampler's continuous rows, their smooth extension.
 */
import { jit, jnn, lax, np, type JArray } from "../backend/jax.js";
import { toHost, upload } from "../backend/ownership.js";
import { hostMatrix, type HostMatrix } from "../data/matrix.js";
import { graphShape, type GraphVocabulary } from "./graph.js";

/** Valence thresholds k of the relu(v − k) features (the first block starts at 0, the charged one at 1). */
const VALENCE_STEPS = [0, 1, 2, 3, 4] as const;

/** Per-node feature width G of g_i (see the module doc). */
function nodeWidth(vocab: GraphVocabulary): number {
  const { chargeFeatures: C } = graphShape(vocab);
  const B = vocab.bonds.length;
  return 1 + C + B + VALENCE_STEPS.length + C * (VALENCE_STEPS.length - 1) + 1;
}

/** Number of features per row: elements × G + 4. */
export function graphFeatureWidth(vocab: GraphVocabulary): number {
  return vocab.atoms.length * nodeWidth(vocab) + 4;
}

const constant = (values: number[], shape: number[]) => np.array(new Float32Array(values), { shape });
/** [1, n, n]: 1 off the diagonal, 0 on it. */
const offDiagonalMask = (n: number) => constant(Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) === i % n ? 0 : 1)), [1, n, n]);
/** [1, 1, width]: the one-hot of column 0 ("no bond", formal charge 0). */
const firstColumn = (width: number) => constant(Array.from({ length: width }, (_, k) => (k === 0 ? 1 : 0)), [1, 1, width]);

/** The features [N, graphFeatureWidth] of graph rows x [N, D] (consumed); jit- and grad-safe. */
export function graphFeatures(vocab: GraphVocabulary, x: JArray): JArray {
  const n = vocab.maxAtoms;
  const { nodeFeatures: F, chargeFeatures: C, edgeFeatures: E } = graphShape(vocab);
  const A = vocab.atoms.length;
  const B = vocab.bonds.length;
  const D = n * (F + C + n * E);
  if (x.ndim !== 2 || x.shape[1] !== D) {
    const shape = x.shape.join(", ");
    x.dispose();
    throw new Error(`graph features: rows of maxAtoms ${n} hold ${D} values, got [${shape}]`);
  }
  const N = x.shape[0]!;
  const [nodes, charges, edges] = np.split(x, [n * F, n * (F + C)], 1);
  // a [N, n, A]: the element columns (the last node column is "no atom").
  const a = np.matmul(nodes!.reshape([N * n, F]), constant(Array.from({ length: F * A }, (_, i) => (Math.floor(i / A) === i % A ? 1 : 0)), [F, A])).reshape([N, n, A]);
  const q = charges!.reshape([N, n, C]);
  const e = edges!.reshape([N * n * n, E]);
  // Per pair: [bond counts per order (B), adjacency] from the edge columns (column 0 is "no bond").
  const pairCols = Array.from({ length: E * (B + 1) }, (_, i) => {
    const row = Math.floor(i / (B + 1));
    const col = i % (B + 1);
    return row === 0 ? 0 : col < B ? (col === row - 1 ? 1 : 0) : 1;
  });
  const w = np.sum(a.ref, 2, { keepdims: true }); // [N, n, 1]
  // As the decoder does: no bond on the diagonal or to a "no atom" slot (weights w_i w_j off the diagonal).
  const ww = np.matmul(w.ref, np.moveaxis(w.ref, 1, 2)); // [N, n, n]
  const pairWeight = ww.ref.mul(offDiagonalMask(n)).reshape([N, n, n, 1]);
  const pair = np.matmul(e, constant(pairCols, [E, B + 1])).reshape([N, n, n, B + 1]).mul(pairWeight);
  const [bondsPair, adjPair] = np.split(pair, [B], 3);
  const adj = adjPair!.reshape([N, n, n]);
  const b = np.sum(bondsPair!, 2); // [N, n, B]
  const orders = constant(vocab.bonds.map(Number), [B, 1]);
  const v = np.matmul(b.ref, orders); // [N, n, 1]
  const d = np.sum(b.ref, 2, { keepdims: true }); // [N, n, 1]
  const relu = (t: JArray) => np.maximum(t, 0);
  const g: JArray[] = [np.ones([N, n, 1]), q.ref, b];
  for (const k of VALENCE_STEPS) g.push(relu(v.ref.sub(k)));
  for (const k of VALENCE_STEPS.slice(1)) g.push(q.ref.mul(relu(v.ref.sub(k))));
  g.push(relu(np.ones([N, n, 1]).sub(d)));
  v.dispose();
  q.dispose();
  const gAll = np.concatenate(g, 2); // [N, n, G]
  w.dispose();
  const perElement = np.einsum("nia,nig->nag", a, gAll).reshape([N, -1]);
  // Reachability within maxAtoms − 1 hops.
  let r = np.broadcastTo(np.eye(n), [N, n, n]);
  for (let s = 0; s < n - 1; s++) r = np.minimum(r.ref.add(np.matmul(r, adj.ref)), 1);
  const reachable = np.sum(ww.ref.mul(r), [1, 2]);
  const total = np.sum(ww, [1, 2]);
  const unreachable = total.sub(reachable.ref);
  const a2 = np.matmul(adj.ref, adj.ref);
  const a3 = np.matmul(a2, adj.ref);
  const a4 = np.matmul(a3.ref, adj);
  const tr3 = np.sum(a3.mul(np.eye(n)), [1, 2]);
  const tr4 = np.sum(a4.mul(np.eye(n)), [1, 2]);
  return np.concatenate([perElement, np.stack([unreachable, reachable, tr3, tr4], 1)], 1);
}

const jitted = new Map<string, (x: JArray) => JArray>();

/** The features of host rows, computed on the device in batches of at most 4,096 rows and read asynchronously. */
export async function graphFeaturesHost(vocab: GraphVocabulary, x: HostMatrix): Promise<HostMatrix> {
  const key = JSON.stringify(vocab);
  let f = jitted.get(key);
  if (!f) {
    f = jit((rows: JArray) => graphFeatures(vocab, rows)) as unknown as (x: JArray) => JArray;
    jitted.set(key, f);
  }
  const M = graphFeatureWidth(vocab);
  const out = new Float32Array(x.rows * M);
  for (let s = 0; s < x.rows; s += 4096) {
    const rows = Math.min(4096, x.rows - s);
    out.set(await toHost(f(upload(x.data.subarray(s * x.cols, (s + rows) * x.cols), rows, x.cols))), s * M);
  }
  return hostMatrix(x.rows, M, out);
}

/**
 * The decoding's row from one distribution per categorical group (`group(t, width)`: the groups of t [N, k·width]
 * → [N·k, width], one-hot or soft), as `snapGraphRows` (src/runners/molecule-snap.ts) lays it out: a slot's charge
 * and bonds are blended towards "charge 0" (column 0) and "no bond" by its weight of being "no atom" (the last
 * node column), and the diagonal is "no bond". With one-hot groups it is the snapped row exactly. Consumes x [N, D].
 */
function decodedRow(vocab: GraphVocabulary, x: JArray, group: (t: JArray, width: number) => JArray): JArray {
  const n = vocab.maxAtoms;
  const { nodeFeatures: F, chargeFeatures: C, edgeFeatures: E } = graphShape(vocab);
  const N = x.shape[0]!;
  const [nodes, charges, edges] = np.split(x, [n * F, n * (F + C)], 1);
  const nodeP = group(nodes!, F); // [N·n, F]
  const isAtom = np.matmul(nodeP.ref, constant(Array.from({ length: F }, (_, k) => (k < F - 1 ? 1 : 0)), [F, 1])).reshape([N, n, 1]);
  const q = group(charges!, C).reshape([N, n, C]);
  const qRow = q.mul(isAtom.ref).add(np.ones([N, n, 1]).sub(isAtom.ref).mul(firstColumn(C))).reshape([N, -1]);
  const bonded = np.matmul(isAtom.ref, np.moveaxis(isAtom, 1, 2)).mul(offDiagonalMask(n)).reshape([N, n * n, 1]);
  const e = group(edges!, E).reshape([N, n * n, E]);
  const eRow = e.mul(bonded.ref).add(np.ones([N, n * n, 1]).sub(bonded).mul(firstColumn(E))).reshape([N, -1]);
  return np.concatenate([nodeP.reshape([N, -1]), qRow, eRow], 1);
}

/**
 * The one-hot row of the argmax decoding per categorical group (node element, charge, bond of each pair) in
 * the forward pass, as `snapGraphRows` (src/runners/molecule-snap.ts) makes it (a "no atom" slot gets charge 0
 * and no bonds, the diagonal "no bond"; pairs are snapped each way, equal for symmetric rows), the identity in
 * the backward pass (straight-through: x + stop_gradient(snap(x) − x)).
 * A classifier reading it judges the molecule the oracle decodes, while the chain still gets a gradient.
 * Consumes x [N, D].
 */
export function straightThroughSnap(vocab: GraphVocabulary, x: JArray): JArray {
  const oneHotMax = (t: JArray, width: number) => {
    const g = t.reshape([-1, width]);
    return np.equal(g.ref, np.max(g, 1, { keepdims: true })).astype(np.float32);
  };
  const snapped = decodedRow(vocab, x.ref, oneHotMax);
  return x.ref.add(lax.stopGradient(snapped.sub(x)));
}

/**
 * A differentiable relaxation of `straightThroughSnap` at temperature τ: every categorical group (node element,
 * charge, bond of each pair) is replaced by softmax(x_group / τ), and, as the decoding does, a slot's charge and
 * bonds are blended towards "charge 0" / "no bond" by its probability of being "no atom" (the diagonal is
 * "no bond"). As τ → 0 it tends to the argmax snap (away from ties); at τ > 0 the classifier reads rows near its
 * one-hot training rows while the gradient says how the softmax, not the identity, responds. Consumes x [N, D].
 */
export function softSnap(vocab: GraphVocabulary, x: JArray, temperature: number): JArray {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`softSnap: temperature must be a finite number > 0, got ${temperature}`);
  return decodedRow(vocab, x, (t, width) => jnn.softmax(t.reshape([-1, width]).mul(1 / temperature), -1));
}
