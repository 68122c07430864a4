/** docs/config.md's method tables are the ones rendered from the method schemas (`npm run docs:config`). */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderMethodTables, withMethodTables } from "../src/runners/config-docs.js";
import { availableMethods } from "../src/runners/methods/registry.js";

describe("docs/config.md", () => {
  it("holds the method tables rendered from the schemas", () => {
    const page = readFileSync("docs/config.md", "utf8");
    expect(withMethodTables(page), "run `npm run docs:config`").toBe(page);
  });

  it("has a table for every registered kind, with the schema's defaults", () => {
    const tables = renderMethodTables();
    for (const kind of availableMethods()) expect(tables).toContain(`#### \`${kind}\``);
    // Spot checks against the schemas' literal defaults.
    expect(tables).toMatch(/#### `ddpo`[\s\S]*?\| `iterations` \| whole number ≥ 1 \| `40` \|/);
    expect(tables).toMatch(/#### `svdd`[\s\S]*?\| `candidates` \| whole number ≥ 1 \| `8` \|/);
  });
});
