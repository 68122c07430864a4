/** `npm run docs:config`: rewrites docs/config.md's method tables from the method schemas (src/runners/config-docs.ts). */
import { readFileSync, writeFileSync } from "node:fs";
import { withMethodTables } from "../src/runners/config-docs.js";

const path = "docs/config.md";
const before = readFileSync(path, "utf8");
const after = withMethodTables(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(`${path}: ${after === before ? "up to date" : "method tables rewritten"}\n`);
