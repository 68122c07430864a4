/** `rewardiff run` and `rewardiff demo`: config-driven experiments into an output folder. Errors are one-line Errors printed by main.ts. */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseConfig, readConfig, type ExperimentConfig } from "../runners/config.js";
import { configDir } from "../runners/task-data.js";
import { checkMethodsAvailable, RunInterrupted, runExperiment, type ExperimentResult } from "../runners/experiment.js";
import { checkOutDir, checkResumeFolder, defaultRunDir, runOutDir, runResumeCommand } from "./output.js";
import { writeFileAtomic } from "../io/atomic.js";
import { parseJson } from "../io/json.js";
import { lockFolder, replaceRunFiles } from "../io/outputs.js";
import { quitOnInterrupt, watchInterrupts } from "./interrupt.js";
import { experimentHooks, makeProgress, type Progress } from "./progress.js";
import { resultsTable } from "./table.js";
import { rcgdmTable } from "./rcgdm-commands.js";
import { moleculeRunCommand } from "./molecule-run-command.js";
import { readMoleculeConfig } from "../runners/molecule-run-config.js";

import { log } from "./log.js";

function finishExperiment(res: ExperimentResult, outDir: string, progress: Progress): void {
  replaceRunFiles(outDir, res.files);
  progress.done();
  log(resultsTable(res.report));
  log(`wrote ${res.files.map((f) => f.replace(`${resolve(outDir)}/`, `${outDir}/`)).join(", ")}`);
}

export interface RunOptions {
  out?: string;
  seed?: number;
  quiet?: boolean;
  force?: boolean;
  /** `run --resume DIR`: continue the run in DIR (same config). */
  resume?: string;
}

/**
 * The small file in the folder of an unfinished run (running, stopped or failed with a checkpoint) that
 * names its config; `rewardiff run --resume` checks it (a finished run: its report.json's config).
 */
export const RUN_STATE_FILE = "run-state.json";
const RUN_STATE_KIND = "rewardiff-run-state";

/** SHA-256 of the parsed config (defaults filled in, --seed applied): equal configs, equal hashes. */
function configSha256(cfg: ExperimentConfig): string {
  return createHash("sha256").update(JSON.stringify(cfg), "utf8").digest("hex");
}

/** Refuses, before any work, a --resume folder that holds no run, or a run of another config. */
function checkResumable(dir: string, cfg: ExperimentConfig, configPath: string): void {
  checkResumeFolder(dir);
  const statePath = join(dir, RUN_STATE_FILE);
  const reportPath = join(dir, "report.json");
  let stored: string;
  let what: string;
  if (existsSync(statePath)) {
    const st = parseJson(readFileSync(statePath, "utf8"), statePath) as { kind?: unknown; configSha256?: unknown } | null;
    if (st?.kind !== RUN_STATE_KIND || typeof st.configSha256 !== "string") throw new Error(`${statePath}: not a rewardiff run state (expected kind "${RUN_STATE_KIND}" and configSha256)`);
    stored = st.configSha256;
    what = statePath;
  } else if (existsSync(reportPath)) {
    const report = parseJson(readFileSync(reportPath, "utf8"), reportPath) as { config?: unknown } | null;
    stored = createHash("sha256").update(JSON.stringify(report?.config ?? null), "utf8").digest("hex");
    what = `${reportPath} (its config)`;
  } else {
    throw new Error(`--resume ${dir}: holds no run to resume (no ${RUN_STATE_FILE} or report.json)`);
  }
  const hash = configSha256(cfg);
  if (stored !== hash) {
    throw new Error(`--resume ${dir}: ${what} records another config (sha256 ${stored.slice(0, 12)}…) than ${configPath} gives (${hash.slice(0, 12)}…); resume with the config and --seed that started the run`);
  }
}

export async function runCommand(configPath: string, o: RunOptions): Promise<number> {
  // A molecule task (qm9, smiles) has its own config and runner (docs/molecules.md "Runs").
  const molecules = readMoleculeConfig(configPath);
  if (molecules) return moleculeRunCommand(configPath, molecules, o);
  const cfg = readConfig(configPath);
  if (o.seed !== undefined) cfg.seed = o.seed;
  checkMethodsAvailable(cfg, configPath);
  const outDir = runOutDir(o);
  if (o.resume !== undefined) checkResumable(o.resume, cfg, configPath);
  else checkOutDir(outDir, !!o.force);
  const release = lockFolder(outDir);
  const startedMs = Date.now();
  const statePath = join(outDir, RUN_STATE_FILE);
  writeFileAtomic(statePath, `${JSON.stringify({ kind: RUN_STATE_KIND, configSha256: configSha256(cfg), config: resolve(configPath) }, null, 2)}\n`);
  const progress = makeProgress(!!o.quiet);
  const watch = watchInterrupts(() => progress.done());
  try {
    const res = await runExperiment(cfg, outDir, {
      title: `rewardiff run ${configPath}`,
      baseDir: configDir(configPath),
      where: configPath,
      hooks: experimentHooks(progress),
      signal: watch.signal,
      resume: o.resume !== undefined,
    });
    // A finished run is described by its report.json (which `--resume` checks then): no state is left.
    rmSync(statePath, { force: true });
    finishExperiment(res, outDir, progress);
    const rcgdm = rcgdmTable(res.report);
    if (rcgdm) log(`\n${rcgdm}`);
  } catch (err) {
    progress.done();
    if (err instanceof RunInterrupted) {
      const resume = runResumeCommand(configPath, outDir, o.seed);
      const saved = err.checkpoint ? `; base model at step ${err.step} of ${err.total}, checkpoint saved to ${err.checkpoint}` : "; no checkpoint yet (the methods re-run from their start)";
      process.stderr.write(`rewardiff: stopped during ${err.during}${saved}; resume with: ${resume}\n`);
      return watch.exitCode();
    }
    // A failed fresh run that saved no checkpoint of its own (a model.safetensors already there is an
    // earlier run's) has nothing to resume: it leaves no run state behind.
    const model = join(outDir, "model.safetensors");
    if (o.resume === undefined && (!existsSync(model) || statSync(model).mtimeMs < startedMs)) rmSync(statePath, { force: true });
    throw err;
  } finally {
    watch.dispose();
    release();
  }
  return 0;
}

/**
 * The embedded default experiment: 2307.07055's linear-subspace simulation (docs/rcgdm.md). A ridge
 * reward is fitted on 1,000 labeled points, 20,000 unlabeled points are pseudo-labelled (ν = 0.1), a
 * conditional diffusion model is trained on them and sampled at targets inside (|a| ≤ 1) and far
 * outside (a ≥ 4) the data's reward range. Sampler: DDIM η = 1 (= DDPM ancestral), which keeps the
 * mean of the exact chain unbiased at any step count (docs/rcgdm.md, "Sampler").
 */
export function demoConfig(quick: boolean, seed: number): ExperimentConfig {
  return parseConfig(
    {
      seed,
      task: { kind: "linear-subspace", ambientDim: 32, latentDim: 8, unlabeled: 20000, labeled: 1000, labelNoise: 0.1, pseudoLabelNoise: 0.1 },
      reward: { kind: "ridge" },
      model: quick
        ? { hidden: 128, layers: 3, timeEmbedding: 32, train: { steps: 1500, batchSize: 256, learningRate: 4e-3, lrSchedule: "cosine" } }
        : { hidden: 256, layers: 3, timeEmbedding: 32, train: { steps: 2000, batchSize: 512, learningRate: 3e-3, lrSchedule: "cosine" } },
      method: { kind: "rcgdm", network: "mlp", scale: 1, dropout: 0.1 },
      sampling: quick
        ? { sampler: "ddim", steps: 50, eta: 1, samples: 500, targets: [0.5, 1, 2, 4, 8] }
        : { sampler: "ddim", steps: 100, eta: 1, samples: 1000, targets: [-1, 0.5, 1, 2, 3, 4, 6, 8] },
    },
    "demo",
  );
}

export async function demoCommand(o: RunOptions & { quick?: boolean }): Promise<number> {
  const outDir = o.out ?? defaultRunDir("demo");
  checkOutDir(outDir, !!o.force);
  const cfg = demoConfig(!!o.quick, o.seed ?? 0);
  const release = lockFolder(outDir);
  const progress = makeProgress(!!o.quiet);
  const stopWatching = quitOnInterrupt(() => progress.done());
  try {
    const res = await runExperiment(cfg, outDir, { title: `rewardiff demo${o.quick ? " --quick" : ""}: reward-directed conditional diffusion on a linear subspace`, hooks: experimentHooks(progress) });
    replaceRunFiles(outDir, res.files);
    progress.done();
    log(rcgdmTable(res.report));
    log(`(${res.report.timings.totalSeconds.toFixed(1)} s; exact E[f*|ŷ=a] from fixtures.md §2 for the fitted ridge reward; off/on = off-support deviation / on-support norm)`);
    log(`wrote ${res.files.map((f) => f.replace(`${resolve(outDir)}/`, `${outDir}/`)).join(", ")}`);
  } finally {
    stopWatching();
    release();
  }
  return 0;
}

