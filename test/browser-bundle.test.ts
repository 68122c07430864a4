/**
 * The "rewardiff" entry point must run in a browser: bundling it for platform "browser" must succeed
 * with no Node built-in left in the graph (file I/O lives in "rewardiff/node").
 */
import { build } from "esbuild";
import { expect, it } from "vitest";

it("src/index.ts bundles for the browser without Node built-ins", async () => {
  const result = await build({
    entryPoints: ["src/index.ts"],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile!.inputs);
  expect(inputs.some((p) => p.includes("node_modules/@jax-js/jax"))).toBe(true);
  expect(inputs.filter((p) => p.startsWith("node:") || /src\/(io\/(atomic|checkpoint|files|npy)\.ts|io\/checkpoints\/(model-files|finetuned|reward|classifier)\.ts|pipeline\/(experiment|task-data)|cli\/)/.test(p))).toEqual([]);
  const code = result.outputFiles![0]!.text;
  expect(code).not.toMatch(/from\s*["']node:/);
}, 60_000);
