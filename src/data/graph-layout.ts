/**
 * Where a dense graph sits in one flat row, and the batched split/join between rows and graph tensors.
 *
 * A graph with n node slots is stored as consecutive row-major blocks: one per-node block [n, b_k] for
 * each width b_k in `nodeBlocks`, then the edge block [n, n, E]. The node features of a node are its
 * blocks side by side, F = Σ_k b_k values. The molecule encoding of docs/molecules.md is
 * n = 9, nodeBlocks [5, 3] (element one-hot incl. "no atom", formal-charge one-hot), E = 4 (none, single,
 * double, triple): 9·5 + 9·3 + 81·4 = 396 values.
 */
import { np, type JArray } from "../backend/jax.js";

/** The row layout of a dense graph. */
export interface GraphLayout {
  /** n: node slots per graph. */
  readonly maxNodes: number;
  /** Widths of the per-node blocks, in row order (e.g. [5, 3]: element, charge). */
  readonly nodeBlocks: readonly number[];
  /** E: features per ordered node pair (i, j). */
  readonly edgeFeatures: number;
}

/** The QM9 molecule layout of docs/molecules.md: 9 nodes, blocks [5, 3], 4 edge features (396 values). */
export const QM9_GRAPH_LAYOUT: GraphLayout = { maxNodes: 9, nodeBlocks: [5, 3], edgeFeatures: 4 };

/** F = Σ nodeBlocks: features per node. */
export function graphNodeFeatures(l: GraphLayout): number {
  return l.nodeBlocks.reduce((a, b) => a + b, 0);
}

/** Values in one row: n·F + n²·E. */
export function graphRowSize(l: GraphLayout): number {
  return l.maxNodes * graphNodeFeatures(l) + l.maxNodes * l.maxNodes * l.edgeFeatures;
}

/** Throws unless x has shape [N, rowSize]; returns N. Disposes `x` before throwing. */
function rowsOf(x: JArray, l: GraphLayout, where: string): number {
  const D = graphRowSize(l);
  if (x.ndim !== 2 || x.shape[1] !== D) {
    const got = x.shape.join(", ");
    x.dispose();
    throw new Error(`${where}: expected graph rows [N, ${D}], got [${got}]`);
  }
  return x.shape[0]!;
}

/**
 * Rows x [N, D] → node features [N, n, F] (the node blocks side by side) and edge features [N, n, n, E].
 * Consumes `x`.
 */
export function splitGraphRows(x: JArray, l: GraphLayout): { nodes: JArray; edges: JArray } {
  const N = rowsOf(x, l, "splitGraphRows");
  const n = l.maxNodes;
  const offsets: number[] = [];
  let at = 0;
  for (const b of l.nodeBlocks) offsets.push((at += n * b));
  const parts = np.split(x, offsets, 1);
  const edges = parts.pop()!.reshape([N, n, n, l.edgeFeatures]);
  const blocks = parts.map((p, k) => p.reshape([N, n, l.nodeBlocks[k]!]));
  const nodes = blocks.length === 1 ? blocks[0]! : np.concatenate(blocks, -1);
  return { nodes, edges };
}

/** The inverse of {@link splitGraphRows}: nodes [N, n, F] and edges [N, n, n, E] → rows [N, D]. Consumes both. */
export function joinGraphRows(nodes: JArray, edges: JArray, l: GraphLayout): JArray {
  const N = nodes.shape[0]!;
  const n = l.maxNodes;
  const F = graphNodeFeatures(l);
  const E = l.edgeFeatures;
  const okNodes = nodes.ndim === 3 && nodes.shape[1] === n && nodes.shape[2] === F;
  const okEdges = edges.ndim === 4 && edges.shape[0] === N && edges.shape[1] === n && edges.shape[2] === n && edges.shape[3] === E;
  if (!okNodes || !okEdges) {
    const msg = `joinGraphRows: expected nodes [N, ${n}, ${F}] and edges [N, ${n}, ${n}, ${E}], got [${nodes.shape.join(", ")}] and [${edges.shape.join(", ")}]`;
    nodes.dispose();
    edges.dispose();
    throw new Error(msg);
  }
  const cuts: number[] = [];
  let at = 0;
  for (const b of l.nodeBlocks.slice(0, -1)) cuts.push((at += b));
  const blocks = cuts.length === 0 ? [nodes] : np.split(nodes, cuts, -1);
  return np.concatenate([...blocks.map((b) => b.reshape([N, -1])), edges.reshape([N, -1])], 1);
}
