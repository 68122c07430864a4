/**
 * Runs one playground method in Node with the same code as the page's worker (./src/engine.ts) and
 * prints the result as JSON: reproduces the page's numbers outside a browser (docs/browser.md).
 *   npx tsx playground/run-node.ts '<settings JSON>'      (RunSettings of ./src/engine.ts)
 * Node 20's wasm has no relaxed-SIMD FMA by default while Chromium's has, so the last bits differ; run
 * it as `node --experimental-wasm-relaxed-simd --import tsx playground/run-node.ts …` to match Chromium
 * bit for bit.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { disposeLoadedModel, ensureBackend, loadModelFromBytes } from "../src/index.js";
import { runMethod, type RunSettings } from "./src/engine.js";

async function main(arg: string | undefined): Promise<void> {
  if (!arg) throw new Error("usage: run-node.ts '<settings JSON>'");
  let settings: RunSettings;
  try {
    settings = JSON.parse(arg) as RunSettings;
  } catch (e) {
    throw new Error(`settings: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const models = join(dirname(fileURLToPath(import.meta.url)), "models");
  const base = join(models, settings.task);
  await ensureBackend();
  const model = await loadModelFromBytes(new Uint8Array(readFileSync(`${base}.safetensors`)), readFileSync(`${base}.json`, "utf8"), { weights: `${base}.safetensors`, sidecar: `${base}.json` });
  try {
    const r = await runMethod(model, settings);
    process.stdout.write(`${JSON.stringify({ rewardMean: r.rewardMean, regionFraction: r.regionFraction, samples: Array.from(r.samples.data) })}\n`);
  } finally {
    disposeLoadedModel(model);
  }
}

main(process.argv[2]).catch((e: unknown) => {
  process.stderr.write(`rewardiff: playground run-node: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
