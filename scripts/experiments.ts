/**
 * `npm run experiments -- <name> [args…]`: slow reproductions that do not belong in the test suite.
 * Each experiment is a module scripts/experiments/<name>.ts exporting `run(args: string[]): Promise<void>`.
 */
// First: experiments report the wasm heap, so the opt-in probe must see jax-js create its memory.
import "../src/backend/heap-probe.js";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "experiments");
const names = readdirSync(here)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();

async function mainExperiments(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    process.stdout.write(`usage: npm run experiments -- <name> [args]\nexperiments: ${names.join(", ") || "(none)"}\n`);
    return name ? 0 : 2;
  }
  if (!names.includes(name)) {
    process.stderr.write(`experiments: unknown experiment "${name}"; known: ${names.join(", ") || "(none)"}\n`);
    return 2;
  }
  const mod = (await import(join(here, `${name}.ts`))) as { run: (args: string[]) => Promise<void> };
  await mod.run(rest);
  return 0;
}

mainExperiments(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`experiments: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
