/**
 * Patched vs pristine @jax-js/jax (patches/README.md):
 * `npx tsx bench/jax-patch.ts [--rounds 3] [--only kernels,matmul,train,sample,chain] [--against DIR] [--relaxed]`.
 * Rebuilds a pristine 0.1.25 in a temp folder by reverse-applying patches/@jax-js+jax+0.1.25.patch to
 * the installed copy (or, with `--against DIR`, uses the @jax-js/jax copy in DIR as the baseline, e.g. an
 * install with an older version of the patch), bundles bench/jax-patch-workload.ts once against each, then
 * runs the bundles alternately in fresh processes (pristine, patched, pristine, …), `--rounds` times each;
 * both with relaxed SIMD off (REWARDIFF_RELAXED_SIMD=0), and `--relaxed` adds a third variant, the patched
 * copy with relaxed SIMD on as the CLI runs it (src/cli/relaxed-simd.ts). Reports the
 * median over rounds of each workload, the patched/pristine ratio, the load average before every run and
 * the other processes' CPU use; writes bench/results/jax-patch.json (marked `busy` when other processes
 * used ≥ 0.25 cores on average: a contended measurement, ratios only).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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
const againstAt = process.argv.indexOf("--against");
const against = againstAt < 0 ? undefined : process.argv[againstAt + 1];
if (againstAt >= 0 && (against === undefined || !existsSync(join(against, "dist", "index.js")))) {
  process.stderr.write(`rewardiff: --against: expected a folder holding an @jax-js/jax copy (dist/index.js), got ${against ?? "nothing"}\n`);
  process.exit(2);
}
const relaxed = process.argv.includes("--relaxed");
const installed = join(root, "node_modules", "@jax-js", "jax");
if (!readFileSync(join(installed, "dist", "backend-CnjgxpXq.js"), "utf8").includes("wasm_exp_simd")) {
  process.stderr.write("rewardiff: node_modules/@jax-js/jax is not patched (run npm install, which runs patch-package)\n");
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), "rewardiff-jax-patch-bench-"));
try {
  let pristine = join(tmp, "node_modules", "@jax-js", "jax");
  if (against === undefined) {
    mkdirSync(join(tmp, "node_modules", "@jax-js"), { recursive: true });
    cpSync(installed, pristine, { recursive: true });
    execFileSync("git", ["apply", "-R", PATCH], { cwd: tmp, stdio: "inherit" });
  } else pristine = against;
  const baseline = against === undefined ? "pristine" : "baseline";

  const bundles: Record<string, string> = {};
  for (const [variant, jaxDir] of [
    [baseline, pristine],
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
  const variants = [baseline, "patched", ...(relaxed ? ["patched+relaxed"] : [])];
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const loadavg = readFileSync("/proc/loadavg", "utf8").trim();
      const mon = startLoadMonitor();
      const bundle = bundles[variant === "patched+relaxed" ? "patched" : variant]!;
      const env = { ...process.env, REWARDIFF_RELAXED_SIMD: variant === "patched+relaxed" ? "1" : "0" };
      const r = spawnSync(process.execPath, [bundle, ...only], { encoding: "utf8", cwd: root, env });
      const load = mon.stop();
      if (r.status !== 0) throw new Error(`${variant} run failed: ${r.stderr.slice(-2000)}`);
      const ms = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
      // The child's CPU is not this process's: other processes = machine − the one core the child uses.
      const otherCores = Math.max(0, Math.round((load.machineCores - 1) * 100) / 100);
      runs.push({ variant, round, loadavg, otherCores, ms });
      process.stderr.write(`round ${round + 1}/${rounds} ${variant.padEnd(8)} load ${loadavg.split(" ").slice(0, 3).join(" ")}, others ≈ ${otherCores} cores: ${JSON.stringify(ms)}\n`);
    }
  }

  const keys = Object.keys(runs[0]!.ms).filter((k) => k !== "relaxedSimd");
  const median = (variant: string, k: string) => quantile(runs.filter((r) => r.variant === variant).map((r) => r.ms[k]!), 0.5);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  const summary = Object.fromEntries(
    keys.map((k) => {
      const a = median(baseline, k);
      const b = median("patched", k);
      const c = relaxed ? median("patched+relaxed", k) : undefined;
      return [k, { [baseline]: r2(a), patched: r2(b), ratio: Math.round((b / a) * 1000) / 1000, ...(c === undefined ? {} : { patchedRelaxed: r2(c), ratioRelaxed: Math.round((c / a) * 1000) / 1000 }) }];
    }),
  );
  const meanOthers = runs.reduce((s, r) => s + r.otherCores, 0) / runs.length;
  const busy = meanOthers >= 0.25;
  writeResults(join(here, "results", against === undefined ? "jax-patch.json" : "jax-patch-against.json"), {
    when: new Date().toISOString(),
    machine: machineInfo(),
    baseline: against ?? "pristine (reverse-applied patch)",
    rounds,
    busy,
    meanOtherCores: Math.round(meanOthers * 100) / 100,
    summary,
    runs,
  });
  for (const k of keys) {
    const s = summary[k] as Record<string, number>;
    const rel = relaxed ? `   +relaxed ${s.patchedRelaxed!.toFixed(2).padStart(9)} ms   ratio ${s.ratioRelaxed!.toFixed(3)}` : "";
    process.stdout.write(`${k.padEnd(16)} ${baseline} ${s[baseline]!.toFixed(2).padStart(9)} ms   patched ${s.patched!.toFixed(2).padStart(9)} ms   ratio ${s.ratio!.toFixed(3)}${rel}\n`);
  }
  process.stdout.write(`${busy ? "BUSY machine" : "quiet machine"}: other processes ≈ ${meanOthers.toFixed(2)} cores on average; wrote bench/results/${against === undefined ? "jax-patch.json" : "jax-patch-against.json"}\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
