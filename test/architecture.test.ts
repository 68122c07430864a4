/**
 * The house rules of src/ that a reviewer would otherwise check by hand: no import cycles, every folder
 * in a layer, and the layer lint rule (scripts/lint/layers.js) really refuses an upward import.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Linter } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain JS module without types
import { layerOf, layersRule } from "../scripts/lint/layers.js";

const SRC = resolve(__dirname, "../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** file → the src files it imports (relative specifiers, ".js" → ".ts"). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, "utf8");
    const deps: string[] = [];
    // Type-only imports vanish at run time but still tie modules together: count them too.
    for (const m of text.matchAll(/(?:import|export)[^"';]*?from\s+"(\.[^"]+)"/g)) {
      deps.push(resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts")));
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(relative(SRC, w));
      } while (w !== v);
      if (comp.length > 1) out.push(comp);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe("architecture of src/", () => {
  it("has no import cycles", () => {
    expect(cycles(importGraph())).toEqual([]);
  });

  it("puts every folder in a layer", () => {
    const unplaced = sourceFiles(SRC)
      .map((f) => relative(SRC, f))
      .filter((r) => r.includes("/") && layerOf(r) === undefined);
    expect(unplaced).toEqual([]);
  });

  it("the layer rule refuses an upward import and accepts a downward one", () => {
    const linter = new Linter({ configType: "flat", cwd: resolve(__dirname, "..") });
    const config = [
      {
        files: ["**/*.ts"],
        languageOptions: { parser: tseslint.parser as never },
        plugins: { rewardiff: { rules: { layers: layersRule } } },
        rules: { "rewardiff/layers": "error" as const },
      },
    ];
    const lint = (code: string) => linter.verify(code, config as never, { filename: join(SRC, "nn/example.ts") });
    const up = lint('import { x } from "../runners/experiment.js";\n');
    expect(up.map((m) => m.ruleId)).toEqual(["rewardiff/layers"]);
    expect(up[0]!.message).toContain("may not import");
    expect(lint('import { x } from "../backend/jax.js";\nimport { y } from "./params.js";\n')).toEqual([]);
  });
});
