/**
 * `npm run experiments -- molecules-rcgdm-dft [--config FILE] [--out DIR] [--quick] [--from DIR]`: RCGDM on a
 * QM9 DFT property with EDM's protocol (issue 13 §1; docs/molecules.md "RCGDM on a DFT property"). Runs
 * configs/molecules-rcgdm-gap.json (reward "dft": f̂ on half A of the labelled sample, the evaluator φ on half
 * B; the shipped model as is, and rcgdm fine-tuned on f̂'s pseudo-labels of QM9's train split, sampled at the
 * labels' quantiles), then writes the section "RCGDM on a DFT property (EDM protocol)" of
 * docs/results/molecules.md (its quick or full subsection; everything else is kept): per target φ's MAE to the
 * target on the valid samples beside the lower and upper bounds, and validity, uniqueness, novelty,
 * fragmented and the KL score. `--quick`: 600 fine-tuning steps and 200 samples per target. `--from DIR`: the
 * tables of a finished run's folder (its report.json), without running it again.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Report, ResultRow } from "../../src/report/types.js";
import { parseMoleculeConfig } from "../../src/runners/molecule-run-config.js";
import { runMoleculeExperiment } from "../../src/runners/molecule-run.js";
import { rcgdmConfigJson, writeResultsSubsection } from "./molecules-rcgdm.js";

const HEADING = "## RCGDM on a DFT property (EDM protocol)";
const INTRO =
  "Reward-directed conditional generation (2307.07055) of QM9 molecules at a target value of a DFT property, measured as EDM (Hoogeboom et al. 2022, §5 \"Conditional generation\") measures it: an evaluator φ fitted on the other half of the labelled molecules scores the samples, between a lower bound (φ's error on real molecules) and an upper bound (φ's error to shuffled labels). docs/molecules.md \"RCGDM on a DFT property\".";

const f = (v: unknown, d = 3) => (typeof v === "number" && Number.isFinite(v) ? Number(v.toFixed(d)).toString() : "—");

interface DftSection {
  property: string;
  name: string;
  unit: string;
  data: { fileRows: number; repeatedMolId: number; molecules: number; refused: number; labelled: number };
  labels: { mean: number; std: number; min: number; max: number };
  split: { seed: number; heldOut: number; a: number; aHeld: number; b: number; bHeld: number };
  evaluator: { l2: number; features: number; heldOutMae: number; heldOutN: number };
  bounds: { n: number; lower: number; upper: number };
  samples: { n: number; mae: number; shuffledTargetMae: number } | null;
}

export async function run(args: string[]): Promise<void> {
  const opt = (k: string, dflt: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : dflt);
  const path = opt("--config", "configs/molecules-rcgdm-gap.json");
  const quick = args.includes("--quick");
  const json = rcgdmConfigJson(path, quick);
  const cfg = parseMoleculeConfig(json, path);
  if (cfg.reward.kind !== "dft") throw new Error(`${path}: reward.kind: molecules-rcgdm-dft runs a "dft" reward, got "${cfg.reward.kind}" (use molecules-rcgdm)`);
  const from = args.includes("--from") ? opt("--from", "") : undefined;
  const dir = from ?? opt("--out", join("runs", `molecules-rcgdm-dft-${Date.now()}`));
  const stamp = () => new Date().toISOString().slice(11, 19);
  const report: Report = from
    ? (JSON.parse(readFileSync(join(from, "report.json"), "utf8")) as Report)
    : (
        await runMoleculeExperiment(cfg, dir, {
          where: path,
          baseDir: ".",
          hooks: {
            onStage: (s) => process.stderr.write(`${stamp()} ${s}\n`),
            onTrain: (p, label) => {
              if (p.step % 50 === 0) process.stderr.write(`${stamp()} ${label ?? "train"} ${p.step}/${p.total} loss ${p.loss.toFixed(4)}\n`);
            },
          },
        })
      ).report;
  const d = report.dft as DftSection;
  const u = d.unit;
  const rows = report.results as ResultRow[];
  const rc = Object.values(report).find((v) => v && typeof v === "object" && (v as { variant?: string }).variant === "conditional") as
    | { labeled: number; unlabeled: number; rewardModel: { features: number; heldOut: { n: number; mae: number; r2: number | null } | null }; pseudoLabelNoise: number; train: { steps: number; batchSize: number; learningRate: number }; timings: { trainSeconds: number; trainStepMs: number } }
    | undefined;
  const model = String((report.molecules as { model: string }).model).replace(/^.*\/models\//, "models/");
  const sub = `### ${quick ? "Quick variant (--quick)" : "Full config"}: ${model}, ${new Date().toISOString().slice(0, 16)}Z`;
  const lines = [
    sub,
    "",
    `Command: \`npm run experiments -- molecules-rcgdm-dft --config ${path}${quick ? " --quick" : ""}\` — wall time ${report.timings.totalSeconds.toFixed(0)} s (2 cores shared with other work). Report: ${dir}/report.json.`,
    "",
    `Property: ${d.property} (${d.name}, ${u}; DFT B3LYP/6-31G(2df,p)). Data: data/qm9/qm9-props-sample.csv.gz, ${d.data.fileRows} rows, ${d.data.repeatedMolId} repeating a mol_id (first kept), ${d.data.molecules} molecules, **${d.data.refused} refused** by RDKit or the graph encoder; labels mean ${f(d.labels.mean, 2)}, sd ${f(d.labels.std, 2)}, range ${f(d.labels.min, 2)} to ${f(d.labels.max, 2)} ${u}.`,
    `Split (seed ${d.split.seed}): half A ${d.split.a} + ${d.split.aHeld} held out, half B ${d.split.b} + ${d.split.bHeld} held out (disjoint).`,
    `f̂ (pseudo-labels): ridge on ${rc?.rewardModel.features ?? "—"} atom-environment counts of half A's ${rc?.labeled ?? "—"}; on A's ${rc?.rewardModel.heldOut?.n ?? "—"} held out MAE ${f(rc?.rewardModel.heldOut?.mae)} ${u}, R² ${f(rc?.rewardModel.heldOut?.r2)}.`,
    `φ (evaluator): ridge (l2 ${d.evaluator.l2}) on ${d.evaluator.features} atom-environment counts, features and weights from half B's ${d.split.b} alone; on B's ${d.evaluator.heldOutN} held out MAE ${f(d.evaluator.heldOutMae)} ${u}.`,
    `**Lower bound** (φ on the ${d.bounds.n} real molecules of half A, which φ never saw, vs their DFT labels): MAE ${f(d.bounds.lower)} ${u}. **Upper bound** (EDM's naive bound: the same φ(x) vs a seeded permutation of those labels): MAE ${f(d.bounds.upper)} ${u}.`,
    rc ? `Conditional model: pseudo-labels (ν = ${rc.pseudoLabelNoise}) on ${rc.unlabeled} QM9 train molecules; the shipped model with the condition added, fine-tuned ${rc.train.steps} steps × batch ${rc.train.batchSize} (lr ${rc.train.learningRate}; ${f(rc.timings.trainSeconds, 0)} s, ${f(rc.timings.trainStepMs, 0)} ms/step).` : "",
    "",
    `Per row: φ of the valid samples (mean ± sd), its MAE to the target (EDM's number) and bias; validity over all samples; uniqueness, novelty (vs QM9 train), fragmented and KL score with the data-vs-data floor in parentheses. "none" is the shipped model as is. q = the target's quantile among half A's labels.`,
    "",
    `| row | target (${u}) | q | n | validity | φ valid mean ± sd | MAE to target | bias | lower bound | upper bound | uniqueness | novelty | fragmented | KL score (floor) |`,
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const metric = (r: ResultRow, k: string) => (r as Record<string, unknown>)[k] as { value: number | null; floor: number | null } | undefined;
  for (const r of rows) {
    const te = (r as { targetError?: { mae: number; bias: number } | null }).targetError;
    const rv = (r as { rewardValid?: { mean: number; std: number } | null }).rewardValid;
    const q = (r as { targetQuantile?: number | null }).targetQuantile;
    const kl = metric(r, "klScore");
    const targeted = typeof r.target === "number";
    lines.push(
      `| ${r.label} | ${targeted ? f(r.target, 2) : "—"} | ${typeof q === "number" ? q : "—"} | ${r.samples} | ${f(metric(r, "validity")?.value)} | ${rv ? `${f(rv.mean)} ± ${f(rv.std)}` : "—"} | ${te ? f(te.mae) : "—"} | ${te ? f(te.bias) : "—"} | ${targeted ? f(d.bounds.lower) : "—"} | ${targeted ? f(d.bounds.upper) : "—"} | ${f(metric(r, "uniqueness")?.value)} | ${f(metric(r, "novelty")?.value)} | ${f(metric(r, "fragmented")?.value)} | ${f(kl?.value)} (${f(kl?.floor)}) |`,
    );
  }
  const s = d.samples;
  lines.push(
    "",
    s
      ? `Overall (all targets, ${s.n} valid samples): **MAE ${f(s.mae)} ${u}** against the lower bound ${f(d.bounds.lower)} and the upper bound ${f(d.bounds.upper)}; with the targets shuffled across these samples (the sample-side upper bound) MAE ${f(s.shuffledTargetMae)} ${u}.`
      : "Overall: no valid sample.",
    "",
    `Timings (s): ${Object.entries(report.timings).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}.`,
    "",
  );
  writeResultsSubsection(HEADING, INTRO, sub, lines);
  process.stdout.write(lines.join("\n") + "\n");
}
