/**
 * Parameter pytrees: nested plain objects whose leaves are jax-js arrays. Names for checkpoints are the
 * dotted paths of the leaves ("layers.0.w"), so a checkpoint is self-describing.
 */
import { np, type JArray } from "../backend/jax.js";
import { toHost } from "../backend/ownership.js";

/** A parameter tree: objects and arrays nesting down to `JArray` leaves. */
export type Params = { [k: string]: Params | JArray } | Params[] | JArray;

function isArrayLeaf(x: unknown): x is JArray {
  return typeof x === "object" && x !== null && "shape" in x && "dtype" in x && "ref" in x;
}

/** Flattens a tree to `{ "a.b.0.w": leaf }` (leaves are not copied or consumed). */
export function namedLeaves(p: Params, prefix = ""): Map<string, JArray> {
  const out = new Map<string, JArray>();
  const walk = (node: Params, path: string) => {
    if (isArrayLeaf(node)) {
      out.set(path, node);
      return;
    }
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v] as const) : Object.entries(node);
    for (const [k, v] of entries) walk(v as Params, path ? `${path}.${k}` : k);
  };
  walk(p, prefix);
  return out;
}

/** A host copy of every leaf: name → {shape, data} (read asynchronously: any device). Borrows the tree. */
export async function paramsToHost(p: Params): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, leaf] of namedLeaves(p)) out.set(name, { shape: [...leaf.shape], data: await toHost(leaf.ref) });
  return out;
}

/**
 * Rebuilds a tree with the structure of `template` from host tensors by name, checking every shape.
 * Borrows `template` (used only for its structure and shapes).
 */
export function paramsFromHost<P extends Params>(
  template: P,
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  where: string,
  prefix = "",
): P {
  const build = (node: Params, path: string): Params => {
    if (isArrayLeaf(node)) {
      const t = tensors.get(path);
      if (!t) throw new Error(`${where}: tensor "${path}" is missing`);
      if (t.shape.length !== node.shape.length || t.shape.some((s, i) => s !== node.shape[i])) {
        throw new Error(`${where}: tensor "${path}" has shape [${t.shape.join(", ")}], the model needs [${node.shape.join(", ")}]`);
      }
      return np.array(t.data, { shape: [...t.shape] });
    }
    if (Array.isArray(node)) return node.map((v, i) => build(v, path ? `${path}.${i}` : String(i)));
    const o: { [k: string]: Params } = {};
    for (const [k, v] of Object.entries(node)) o[k] = build(v as Params, path ? `${path}.${k}` : k);
    return o;
  };
  return build(template, prefix) as P;
}

/** The number of scalar parameters. */
export function parameterCount(p: Params): number {
  let n = 0;
  for (const leaf of namedLeaves(p).values()) n += leaf.shape.reduce((a, b) => a * b, 1);
  return n;
}
