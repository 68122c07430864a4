/**
 * `npm run experiments -- molecules-qed [--config FILE] [--out DIR] [--quick] [--seed N]`: issue 13 §2. Runs
 * configs/molecules-qed.json (QED of QM9 molecules from the shipped model: none, best-of-N, SVDD, RWR, RGDM at
 * two τ, every row at the same number of reward evaluations; DDPO does not fit the wasm heap, docs/molecules.md) and writes its tables into
 * docs/results/molecules.md, section "RGDM and baselines on QED" (other sections of the file are kept).
 * `--quick` halves the samples and every budget (rwr samplesPerRound, rgdm steps, ddpo iterations; best-of-N's
 * and SVDD's budgets scale with the samples), so the rows stay at equal reward evaluations. `--seed N` runs the
 * config under another seed (every key of the run: training, sampling, the reference), e.g. to repeat a row's
 * training independently.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ResultRow } from "../../src/report/types.js";
import { readMoleculeConfig, type MoleculeRunConfig } from "../../src/runners/molecule-run-config.js";
import { runMoleculeExperiment } from "../../src/runners/molecule-run.js";

const RESULTS = "docs/results/molecules.md";
const SECTION = "## RGDM and baselines on QED";

const f = (v: unknown, d = 3) => (typeof v === "number" ? Number(v.toFixed(d)).toString() : "—");

/** Halves the samples and the budgets of the fine-tuning rows (see the module doc). */
function quick(cfg: MoleculeRunConfig): MoleculeRunConfig {
  const half = (v: number) => Math.max(1, Math.round(v / 2));
  const methods = (Array.isArray(cfg.method) ? cfg.method : [cfg.method]).map((m) => {
    const r = { ...m } as Record<string, unknown>;
    if (m.kind === "rwr") r.samplesPerRound = half(r.samplesPerRound as number);
    if (m.kind === "rgdm" && typeof r.steps === "number") r.steps = half(r.steps);
    if (m.kind === "ddpo") r.iterations = half(r.iterations as number);
    return r;
  });
  return { ...cfg, method: methods as MoleculeRunConfig["method"], sampling: { ...cfg.sampling, samples: half(cfg.sampling.samples) } };
}

/** A row's metric `{value, floor}` as "value (floor)". */
function withFloor(r: ResultRow, k: string): string {
  const m = r[k] as { value: number | null; floor: number | null } | undefined;
  return m ? `${f(m.value)} (${f(m.floor)})` : "—";
}

/** The reward over training of a fine-tuning row, against the reward evaluations spent so far. */
function curve(r: ResultRow, sections: Record<string, unknown>, index: number): string | null {
  const s = (k: string) => sections[k] as Record<string, unknown> | undefined;
  const pts: [number, number][] = [];
  if (r.method === "rwr") {
    for (const x of (s(`rwr:${r.label}`)?.rounds as { rewardEvals: number; rewardMean: number; round: number }[]) ?? []) pts.push([x.rewardEvals - (r.samplesPerRound as number), x.rewardMean]);
  } else if (r.method === "rgdm") {
    const sec = s(`rgdm:${r.label}`);
    const set = sec?.settings as { candidates: number; anchor?: boolean } | undefined;
    const tr = sec?.train as { batchSize: number } | undefined;
    // Evaluations per row and step: the K candidates, and the data row with `anchor`.
    const perRow = (set?.candidates ?? 0) + (set?.anchor ? 1 : 0);
    for (const x of (sec?.rewardOverTraining as { step: number; reward: number }[]) ?? []) pts.push([x.step * (tr?.batchSize ?? 0) * perRow, x.reward]);
  } else if (r.method === "ddpo") {
    const rounds = (s(`ddpo${index}`)?.rounds as { iteration: number; rewardMean: number }[]) ?? [];
    const batch = (r.ddpo as { batch: number } | undefined)?.batch ?? 0;
    const every = Math.max(1, Math.floor(rounds.length / 6));
    rounds.forEach((x, k) => {
      if (k % every === 0 || k === rounds.length - 1) pts.push([(x.iteration - 1) * batch, x.rewardMean]);
    });
  }
  if (pts.length === 0) return null;
  return `- ${r.label}: ${pts.map(([e, v]) => `${e} → ${f(v)}`).join(", ")}`;
}

export async function run(args: string[]): Promise<void> {
  const opt = (k: string, dflt: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : dflt);
  const path = opt("--config", "configs/molecules-qed.json");
  const out = opt("--out", join("runs", `molecules-qed-${Date.now()}`));
  const full = readMoleculeConfig(path);
  if (!full) throw new Error(`${path}: not a molecule run's config (task.kind "qm9" or "smiles")`);
  let seed: number | undefined;
  if (args.includes("--seed")) {
    const v = opt("--seed", "");
    seed = Number(v);
    if (v === "" || !Number.isInteger(seed) || seed < 0) throw new Error(`--seed: expected a whole number ≥ 0, got "${v}"`);
  }
  const base = seed === undefined ? full : { ...full, seed };
  const cfg = args.includes("--quick") ? quick(base) : base;
  const t0 = performance.now();
  const res = await runMoleculeExperiment(cfg, out, { where: path, baseDir: ".", hooks: { onStage: (s) => process.stderr.write(`${s}\n`) } });
  const secs = (performance.now() - t0) / 1000;
  const report = res.report as unknown as Record<string, unknown>;
  const rows = res.report.results as ResultRow[];
  const command = `npm run experiments -- molecules-qed --config ${path}${args.includes("--quick") ? " --quick" : ""}${seed === undefined ? "" : ` --seed ${seed}`}`;
  const none = rows.find((r) => r.method === "none");
  const se = (r: ResultRow) => (r.reward ? r.reward.std / Math.sqrt(r.samples) : NaN);
  const lines = [
    SECTION,
    "",
    `Command: \`${command}\` — ${cfg.sampling.samples} molecules per row, ${cfg.sampling.sampler} with ${cfg.sampling.steps} steps, model ${String((report.molecules as { model: string }).model)}; wall time ${secs.toFixed(0)} s on a shared 2-core machine. Report: ${out}/report.json.`,
    "",
    "QED (all) = mean ± se over all samples, an invalid molecule at QED 0; QED (valid) over the valid ones. evals = oracle calls the method made (training or selection; reporting not counted). Metrics beside their data-vs-data floor (a QM9 sample of the same size). KL→pre = DPOK's path KL to the pretrained chain (nats per sample, on the graph noise space). before = the untuned model's QED from one shared sample (rwr/rgdm rows).",
    "",
    "| row | evals | QED (all) | QED (valid) | Δ vs none (z) | validity | uniqueness | novelty | fragmented | KL score | KL→pre | train s | total s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const timings = res.report.timings as Record<string, number>;
  for (const r of rows) {
    const cost = r.cost as { rewardEvals: number; trainSeconds: number };
    const valid = r.rewardValid as { mean: number; std: number; n?: number } | null;
    const nValid = Math.round(((r.validity as { value: number }).value ?? 0) * r.samples);
    const dz = none && r !== none ? (r.reward!.mean - none.reward!.mean) / Math.hypot(se(r), se(none)) : NaN;
    lines.push(
      `| ${r.label} | ${cost.rewardEvals} | ${f(r.reward?.mean)} ± ${f(se(r))} | ${valid ? `${f(valid.mean)} ± ${f(valid.std / Math.sqrt(Math.max(1, nValid)))}` : "—"} | ${r === none ? "—" : `${f(r.reward!.mean - none!.reward!.mean)} (${f(dz, 1)})`} | ${withFloor(r, "validity")} | ${withFloor(r, "uniqueness")} | ${withFloor(r, "novelty")} | ${withFloor(r, "fragmented")} | ${withFloor(r, "klScore")} | ${f(r.klToPretrained)} | ${f(cost.trainSeconds, 0)} | ${f(timings[`${r.label}Seconds`], 0)} |`,
    );
  }
  const curves = rows.map((r, i) => curve(r, report, i)).filter((c): c is string => c !== null);
  if (curves.length > 0) lines.push("", "Reward over training (reward evaluations spent → mean QED of that point's samples: RWR's round samples, RGDM's monitor samples, DPOK's round batch):", "", ...curves);
  lines.push("", `Timings (s): ${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")}.`, "");
  const table = lines.join("\n");
  mkdirSync("docs/results", { recursive: true });
  const old = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Molecules: measured results (issue 13)\n\n";
  const at = old.indexOf(SECTION);
  let next: string;
  if (at < 0) next = `${old.trimEnd()}\n\n${table}`;
  else {
    const end = old.indexOf("\n## ", at + SECTION.length);
    next = old.slice(0, at) + table + (end < 0 ? "" : `\n${old.slice(end + 1)}`);
  }
  writeFileSync(RESULTS, next.endsWith("\n") ? next : `${next}\n`);
  process.stdout.write(`${table}\n`);
}
