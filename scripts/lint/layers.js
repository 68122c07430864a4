/**
 * The layer rule of src/ (docs/architecture.md): a module may import from its own layer and from lower
 * layers, never from a higher one. Layers are folders of src/, ranked below; `io/checkpoints` sits above
 * the algorithms because a checkpoint knows every model's parameters, while the rest of `io/` (CSV, .npy,
 * safetensors, config parsing) sits just above `data/`. Entry points (src/index.ts, src/node.ts) may import
 * anything. Import specifiers are resolved against the importing file, so the rule cannot be fooled by a
 * folder name reached through `..`.
 */
import { dirname, relative, resolve, sep } from "node:path";

/** Lowest first. A folder's rank applies to everything below it unless a deeper entry overrides it. */
export const LAYERS = [
  ["backend"],
  ["data"],
  ["io", "eval"],
  ["nn"],
  ["optim"],
  ["diffusion"],
  ["tasks"],
  ["rewards", "chem"],
  ["training"],
  ["guidance"],
  ["finetune"],
  ["report"],
  ["io/checkpoints"],
  ["runners"],
  ["cli"],
];

const RANK = new Map(LAYERS.flatMap((names, rank) => names.map((n) => [n, rank])));

/** The layer of a path relative to src/ (the longest matching folder prefix), or undefined for entry points. */
export function layerOf(relPath) {
  const parts = relPath.split(sep).join("/").split("/");
  for (let k = parts.length - 1; k >= 1; k--) {
    const prefix = parts.slice(0, k).join("/");
    if (RANK.has(prefix)) return prefix;
  }
  return undefined;
}

/** The ESLint rule `rewardiff/layers`. */
export const layersRule = {
  meta: {
    type: "problem",
    docs: { description: "lower layers of src/ never import higher ones" },
    schema: [],
    messages: {
      upward: "{{from}} (layer {{fromRank}}) may not import {{to}} (layer {{toRank}}): lower layers never import higher ones (scripts/lint/layers.js)",
      unknown: "{{file}} is in no layer of scripts/lint/layers.js: add its folder to LAYERS",
    },
  },
  create(context) {
    const file = context.filename ?? context.getFilename();
    const srcRoot = resolve(context.cwd ?? process.cwd(), "src");
    const rel = relative(srcRoot, file);
    if (rel.startsWith("..") || !rel.includes(sep)) return {}; // outside src/, or an entry point
    const from = layerOf(rel);
    const check = (node, spec) => {
      if (typeof spec !== "string" || !spec.startsWith(".")) return;
      const target = relative(srcRoot, resolve(dirname(file), spec));
      if (target.startsWith("..") || !target.includes(sep)) return;
      const to = layerOf(target);
      if (from === undefined) {
        context.report({ node, messageId: "unknown", data: { file: rel } });
        return;
      }
      if (to === undefined) return;
      if (RANK.get(to) > RANK.get(from)) {
        context.report({ node, messageId: "upward", data: { from, fromRank: RANK.get(from), to, toRank: RANK.get(to) } });
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === "Literal" && check(node, node.source.value),
    };
  },
};
