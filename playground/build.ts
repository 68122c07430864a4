/**
 * Builds the playground into a plain static folder (default playground/dist/, git-ignored): the page
 * (index.html, style.css, main.js: the main thread, which only draws), the worker (worker.js and its
 * chunks: the library and jax-js; webgpu is a chunk of its own, fetched only when chosen) and the
 * pretrained models (models/*.safetensors + sidecars); for the molecule panel, its worker
 * (molecule-worker.js), RDKit's RDKit_minimal.wasm and the package's QM9 model (models/qm9.safetensors +
 * qm9.json at the package root) when it exists. Any static host serves it; serve.ts is one.
 *   npx tsx playground/build.ts [--out dir]
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

export interface BuiltPlayground {
  dir: string;
  /** Output files (relative to dir) and their sizes in bytes. */
  files: { path: string; bytes: number }[];
}

/** Builds into `out` (emptied first). */
export async function buildPlayground(out = join(here, "dist")): Promise<BuiltPlayground> {
  const dir = resolve(out);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "models"), { recursive: true });
  const result = await build({
    entryPoints: { main: join(here, "src/main.ts"), worker: join(here, "src/worker.ts"), "molecule-worker": join(here, "src/molecule-worker.ts") },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    outdir: dir,
    chunkNames: "chunks/[name]-[hash]",
    metafile: true,
    logLevel: "silent",
    // RDKit's Emscripten loader requires these only on its Node path.
    external: ["node:fs", "node:crypto"],
  });
  for (const f of ["index.html", "style.css"]) copyFileSync(join(here, f), join(dir, f));
  for (const f of readdirSync(join(here, "models"))) if (/\.(safetensors|json)$/.test(f)) copyFileSync(join(here, "models", f), join(dir, "models", f));
  // The molecule panel: RDKit's wasm beside molecule-worker.js (where its loader looks) and the QM9 model.
  copyFileSync(createRequire(import.meta.url).resolve("@rdkit/rdkit/RDKit_minimal.wasm"), join(dir, "RDKit_minimal.wasm"));
  for (const f of ["qm9.safetensors", "qm9.json"]) if (existsSync(join(here, "..", "models", f))) copyFileSync(join(here, "..", "models", f), join(dir, "models", f));
  const files = Object.entries(result.metafile.outputs).map(([p, o]) => ({ path: relative(dir, resolve(p)), bytes: o.bytes }));
  return { dir, files };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const i = process.argv.indexOf("--out");
  buildPlayground(i > 0 ? process.argv[i + 1] : undefined).then(
    (b) => process.stdout.write(`playground built in ${b.dir} (${b.files.length} files)\n`),
    (e: unknown) => {
      process.stderr.write(`rewardiff: playground build: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
