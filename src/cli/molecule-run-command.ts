/**
 * `rewardiff run CONFIG` for a molecule config (task.kind "qm9" or "smiles"; docs/molecules.md "Runs"): checks
 * the config and the output folder before any work (`--resume DIR`: rcgdm rows fine-tune on from their training
 * checkpoints in DIR, where the run goes on), runs src/runners/molecule-run.ts and prints one line per
 * method row (reward over all and valid samples, for rows at a target the valid samples' mean |y − a|, reward
 * evaluations, validity, uniqueness, novelty, KL score).
 */
import { resolve } from "node:path";
import { floorIsSupported, type PseudoLabelFloor } from "../eval/pseudo-label-floor.js";
import { formatNumber } from "../report/format.js";
import type { Report, ResultRow } from "../report/types.js";
import { replaceRunFiles, lockFolder } from "../io/outputs.js";
import type { MoleculeRunConfig } from "../runners/molecule-run-config.js";
import { checkMoleculeInputs, rcgdmResumeCheckpoints, runMoleculeExperiment } from "../runners/molecule-run.js";
import { configDir } from "../runners/task-data.js";
import { quitOnInterrupt } from "./interrupt.js";
import { log } from "./log.js";
import { checkOutDir, checkResumeFolder, runOutDir, runResumeCommand } from "./output.js";
import { experimentHooks, makeProgress } from "./progress.js";

/** The terminal table of a molecule run: one line per method, then the floor. */
export function moleculeRunTable(report: Report): string {
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? formatNumber(v) : "—");
  const val = (r: ResultRow, k: string, part: "value" | "floor" = "value") => n((r[k] as { value?: number | null; floor?: number | null } | undefined)?.[part]);
  const mean = (v: unknown) => n((v as { mean?: number } | null | undefined)?.mean);
  const rows = report.results as ResultRow[];
  const head = ["method", "reward (all)", "reward (valid)", "reward evals", "validity", "unique", "novel", "fragmented", "KL score"];
  const lines = rows.map((r) => [r.label ?? r.method, mean(r.reward), mean(r.rewardValid), n((r.cost as { rewardEvals?: number } | undefined)?.rewardEvals ?? 0), val(r, "validity"), val(r, "uniqueness"), val(r, "novelty"), val(r, "fragmented"), val(r, "klScore")]);
  const first = rows[0];
  const data = (report.molecules as { floorSample?: { rewardMean?: number } } | undefined)?.floorSample?.rewardMean;
  if (first) lines.push(["floor (data)", n(data), n(data), "—", val(first, "validity", "floor"), val(first, "uniqueness", "floor"), val(first, "novelty", "floor"), val(first, "fragmented", "floor"), val(first, "klScore", "floor")]);
  // Rows at a target (rcgdm): the valid samples' mean |y − a| beside the rest, and its floor where the run
  // measured one (the MAE of the exact pseudo-label law; src/eval/pseudo-label-floor.ts), "—" where that law
  // rests on too few molecules (beyond the labels' range).
  const error = (r: ResultRow) => (r as { targetError?: { mae: number } | null }).targetError;
  const floor = (r: ResultRow) => (r as { targetErrorFloor?: PseudoLabelFloor }).targetErrorFloor;
  const shownFloor = (r: ResultRow) => {
    const fl = floor(r);
    return fl && floorIsSupported(fl) ? fl.mae : undefined;
  };
  if (rows.some((r) => error(r) !== undefined)) {
    const floors = rows.some((r) => floor(r) !== undefined);
    head.splice(3, 0, floors ? "|y − a| (valid; floor)" : "|y − a| (valid)");
    lines.forEach((l, k) => l.splice(3, 0, k < rows.length ? `${n(error(rows[k]!)?.mae)}${floors ? ` (${n(shownFloor(rows[k]!))})` : ""}` : "—"));
  }
  const widths = head.map((h, j) => Math.max(h.length, ...lines.map((l) => l[j]!.length)));
  return [head, ...lines].map((l) => l.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join("  ")).join("\n");
}

/**
 * Refuses, before any work, a `--resume` folder with nothing a molecule run can continue: what it keeps between
 * runs is the rcgdm rows' fine-tuning (training checkpoints, `molecules.checkpointEvery`); everything else re-runs.
 */
function checkMoleculeResumable(dir: string, cfg: MoleculeRunConfig): void {
  checkResumeFolder(dir);
  if (rcgdmResumeCheckpoints(cfg, dir).size === 0) {
    throw new Error(`--resume ${dir}: holds no training checkpoint of this config's rcgdm rows (model-<label>-train.safetensors, written with molecules.checkpointEvery), the only part of a molecule run that resumes; run it again with --out`);
  }
}

/** `rewardiff run` of a molecule config (already validated). */
export async function moleculeRunCommand(configPath: string, cfg: MoleculeRunConfig, o: { out?: string; seed?: number; quiet?: boolean; force?: boolean; resume?: string }): Promise<number> {
  if (o.seed !== undefined) cfg.seed = o.seed;
  const outDir = runOutDir(o);
  checkMoleculeInputs(cfg, configDir(configPath), configPath);
  if (o.resume !== undefined) checkMoleculeResumable(o.resume, cfg);
  else checkOutDir(outDir, !!o.force);
  const release = lockFolder(outDir);
  const progress = makeProgress(!!o.quiet);
  // Stopped: the rcgdm rows' training checkpoints written so far stay, and say how to go on from them.
  const stopWatching = quitOnInterrupt(
    () => progress.done(),
    () => {
      const kept = [...rcgdmResumeCheckpoints(cfg, outDir).values()];
      if (kept.length === 0) return undefined;
      return `the fine-tuning checkpoint${kept.length > 1 ? "s" : ""} ${kept.join(", ")} ${kept.length > 1 ? "are" : "is"} kept (nothing else was written); resume with: ${runResumeCommand(configPath, outDir, o.seed)}`;
    },
  );
  try {
    const res = await runMoleculeExperiment(cfg, outDir, {
      title: `rewardiff run ${configPath}`,
      baseDir: configDir(configPath),
      where: configPath,
      hooks: experimentHooks(progress),
      resume: o.resume !== undefined,
    });
    replaceRunFiles(outDir, res.files);
    progress.done();
    log(moleculeRunTable(res.report));
    log(`wrote ${res.files.map((f) => f.replace(`${resolve(outDir)}/`, `${outDir}/`)).join(", ")}`);
  } finally {
    stopWatching();
    progress.done();
    release();
  }
  return 0;
}
