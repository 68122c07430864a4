/**
 * Categorical blocks of a row: data whose values are one-hot codes (a molecule's atom types, charges and
 * bond orders, docs/molecules.md). A block is `count` consecutive groups of `width` values starting at
 * `offset` of the row; each group is one categorical variable. For such data the network predicts x̂_0 as
 * logits ℓ, and
 *   x̂_0 = softmax(ℓ) per group                                  (a point of the simplex: what samplers use)
 *   CE_b = −(1/count_b) Σ_groups Σ_k x_0,k · log softmax(ℓ)_k     (per sample, averaged over the block's groups)
 * The loss of docs/molecules.md weighs the blocks: L = Σ_b w_b · CE_b. Pure array code (jit and grad safe).
 */
import { jnn, np, type JArray } from "../backend/jax.js";

/** One categorical block of a row: `count` groups of `width` one-hot values from `offset`. */
export interface CategoricalBlock {
  readonly offset: number;
  readonly count: number;
  readonly width: number;
}

/** Values covered by the blocks; they must tile the row [0, D) in order (checked by {@link checkBlocks}). */
export function checkBlocks(blocks: readonly CategoricalBlock[], rowSize: number, where: string): void {
  let at = 0;
  for (const b of blocks) {
    if (b.offset !== at || b.count < 1 || b.width < 2) throw new Error(`${where}: categorical blocks must tile the row in order with width ≥ 2`);
    at += b.count * b.width;
  }
  if (at !== rowSize) throw new Error(`${where}: categorical blocks cover ${at} values, the row has ${rowSize}`);
}

/** Splits rows [N, D] into the blocks' groups [N, count, width]. Consumes `rows`. */
function blockGroups(rows: JArray, blocks: readonly CategoricalBlock[]): JArray[] {
  const N = rows.shape[0]!;
  const cuts = blocks.slice(1).map((b) => b.offset);
  const parts = cuts.length === 0 ? [rows] : np.split(rows, cuts, 1);
  return parts.map((p, i) => p.reshape([N, blocks[i]!.count, blocks[i]!.width]));
}

/** x̂_0 = softmax per group of logits rows [N, D] (the blocks tile the row). Consumes `logits`. */
export function categoricalSoftmax(logits: JArray, blocks: readonly CategoricalBlock[]): JArray {
  const N = logits.shape[0]!;
  const probs = blockGroups(logits, blocks).map((g) => jnn.softmax(g, -1).reshape([N, -1]));
  return probs.length === 1 ? probs[0]! : np.concatenate(probs, 1);
}

/**
 * Per-sample weighted cross-entropy Σ_b w_b · CE_b [N] of logits rows against one-hot rows x_0 (both
 * [N, D]). Consumes `logits` and `x0`.
 */
export function categoricalCrossEntropy(logits: JArray, x0: JArray, blocks: readonly CategoricalBlock[], weights: readonly number[]): JArray {
  if (weights.length !== blocks.length) {
    logits.dispose();
    x0.dispose();
    throw new Error(`cross-entropy: ${weights.length} block weights for ${blocks.length} categorical blocks`);
  }
  const lg = blockGroups(logits, blocks);
  const xs = blockGroups(x0, blocks);
  let total: JArray | undefined;
  blocks.forEach((b, i) => {
    const ce = np.sum(xs[i]!.mul(jnn.logSoftmax(lg[i]!, -1)), [1, 2]).mul(-weights[i]! / b.count);
    total = total ? total.add(ce) : ce;
  });
  return total!;
}
