/**
 * Records the UNPATCHED outputs of every case in test/fixtures/jax-patch-cases.ts, for
 * test/jax-patch.test.ts to compare the patched install with (patches/README.md).
 *
 *   npx tsx scripts/jax-patch-golden.ts --jax <pristine>/node_modules/@jax-js/jax/dist/index.js \
 *     [--out test/fixtures/jax-patch-golden.json]
 *
 * `--jax` must point at an unpatched @jax-js/jax 0.1.25 (e.g. a copy extracted with `npm pack
 * @jax-js/jax@0.1.25`); the script refuses a copy that contains the patch.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Jax from "@jax-js/jax";
import { writeFileAtomic } from "../src/io/atomic.js";
import { encodeF32, patchCases, runPatchCases } from "../test/fixtures/jax-patch-cases.js";

function fail(msg: string): never {
  process.stderr.write(`rewardiff: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) fail(`${name} needs a value`);
  return v;
};
const jaxPath = opt("--jax") ?? fail("--jax <path to an unpatched @jax-js/jax dist/index.js> is required");
const outPath = opt("--out") ?? "test/fixtures/jax-patch-golden.json";

const entry = resolve(jaxPath);
let pkg: { name?: string; version?: string };
try {
  pkg = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as typeof pkg;
} catch (e) {
  fail(`--jax ${jaxPath}: cannot read its package.json (${(e as Error).message})`);
}
if (pkg.name !== "@jax-js/jax" || pkg.version !== "0.1.25") fail(`--jax ${jaxPath}: is ${pkg.name}@${pkg.version}, expected @jax-js/jax@0.1.25`);
const backendFile = readFileSync(join(dirname(entry), "backend-CnjgxpXq.js"), "utf8");
if (backendFile.includes("wasm_exp_simd")) fail(`--jax ${jaxPath}: this copy is patched; point --jax at a pristine one`);

const jax = (await import(pathToFileURL(entry).href)) as typeof Jax;
await jax.init("wasm");
jax.defaultDevice("wasm");
const cases = patchCases();
const outputs = await runPatchCases(jax, cases);
const golden = {
  about: "Outputs of test/fixtures/jax-patch-cases.ts on UNPATCHED @jax-js/jax 0.1.25 (wasm), float32 little-endian, base64. Written by scripts/jax-patch-golden.ts.",
  node: process.version,
  outputs: Object.fromEntries(cases.map((c) => [c.name, encodeF32(outputs.get(c.name)!)])),
};
writeFileAtomic(outPath, JSON.stringify(golden, null, 1) + "\n");
process.stdout.write(`${outPath}: ${cases.length} cases\n`);
