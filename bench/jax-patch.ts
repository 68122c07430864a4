/**
 * Patched vs pristine @jax-js/jax (patches/README.md):
 * `npx tsx bench/jax-patch.ts [--rounds 3] [--only kernels,train,sample]`.
 * Rebuilds a pristine 0.1.25 in a temp folder by reverse-applying patches/@jax-js+jax+0.1.25.patch to
 * the installed copy, bundles bench/jax-patch-workload.ts once against each, then runs the two bundles
 * alternately in fresh processes (pristine, patched, pristine, …), `--rounds` times each. Reports the
 * median over rounds of each workload, the patched/pristine ratio, the load average before every run and
 * the other processes' CPU use; writes bench/results/jax-patch.json (marked `busy` when other processes
 * used ≥ 0.25 cores on average: a contended measurement, ratios only).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { machineInfo, quantile, startLoadMonitor, writeResults } from "./lib.js";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "..");
const PATCH = join(root, "patches", "@jax-js+jax+0.1.25.patch");

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`rewardiff: ${name}: expected a whole number ≥ 1, got ${process.argv[i + 1] ?? "nothing"}\n`);
    process.exit(2);
  }
  return v;
}

const rounds = option("--rounds", 3);
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt < 0 ? [] : ["--only", process.argv[onlyAt + 1] ?? ""];
const installed = join(root, "node_modules", "@jax-js", "jax");
if (!readFileSync(join(installed, "dist", "backend-CnjgxpXq.js"), "utf8").includes("wasm_exp_simd")) {
  process.stderr.write("rewardiff: node_modules/@jax-js/jax is not patched (run npm install, which runs patch-package)\n");
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), "rewardiff-jax-patch-bench-"));
try {
  const pristine = join(tmp, "node_modules", "@jax-js", "jax");
  mkdirSync(join(tmp, "node_modules", "@jax-js"), { recursive: true });
  cpSync(installed, pristine, { recursive: true });
  execFileSync("git", ["apply", "-R", PATCH], { cwd: tmp, stdio: "inherit" });

  const bundles: Record<string, string> = {};
  for (const [variant, jaxDir] of [
    ["pristine", pristine],
    ["patched", installed],
  ] as const) {
    const outfile = join(tmp, `${variant}.mjs`);
    await build({
      entryPoints: [join(here, "jax-patch-workload.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      alias: { "@jax-js/jax": join(jaxDir, "dist", "index.js") },
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      logLevel: "silent",
    });
    bundles[variant] = outfile;
  }

  type Run = { variant: string; round: number; loadavg: string; otherCores: number; ms: Record<string, number> };
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const variant of ["pristine", "patched"]) {
      const loadavg = readFileSync("/proc/loadavg", "utf8").trim();
      const mon = startLoadMonitor();
      const r = spawnSync(process.execPath, [bundles[variant]!, ...only], { encoding: "utf8", cwd: root });
      const load = mon.stop();
      if (r.status !== 0) throw new Error(`${variant} run failed: ${r.stderr.slice(-2000)}`);
      const ms = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
      // The child's CPU is not this process's: other processes = machine − the one core the child uses.
      const otherCores = Math.max(0, Math.round((load.machineCores - 1) * 100) / 100);
      runs.push({ variant, round, loadavg, otherCores, ms });
      process.stderr.write(`round ${round + 1}/${rounds} ${variant.padEnd(8)} load ${loadavg.split(" ").slice(0, 3).join(" ")}, others ≈ ${otherCores} cores: ${JSON.stringify(ms)}\n`);
    }
  }

  const keys = Object.keys(runs[0]!.ms);
  const median = (variant: string, k: string) => quantile(runs.filter((r) => r.variant === variant).map((r) => r.ms[k]!), 0.5);
  const summary = Object.fromEntries(
    keys.map((k) => {
      const a = median("pristine", k);
      const b = median("patched", k);
      return [k, { pristine: Math.round(a * 100) / 100, patched: Math.round(b * 100) / 100, ratio: Math.round((b / a) * 1000) / 1000 }];
    }),
  );
  const meanOthers = runs.reduce((s, r) => s + r.otherCores, 0) / runs.length;
  const busy = meanOthers >= 0.25;
  writeResults(join(here, "results", "jax-patch.json"), {
    when: new Date().toISOString(),
    machine: machineInfo(),
    rounds,
    busy,
    meanOtherCores: Math.round(meanOthers * 100) / 100,
    summary,
    runs,
  });
  for (const k of keys) process.stdout.write(`${k.padEnd(16)} pristine ${summary[k]!.pristine.toFixed(2).padStart(9)} ms   patched ${summary[k]!.patched.toFixed(2).padStart(9)} ms   ratio ${summary[k]!.ratio.toFixed(3)}\n`);
  process.stdout.write(`${busy ? "BUSY machine" : "quiet machine"}: other processes ≈ ${meanOthers.toFixed(2)} cores on average; wrote bench/results/jax-patch.json\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
