/**
 * `npm run experiments -- molecules-rcgdm [--config FILE] [--out DIR] [--quick]`: RCGDM on a QM9 property
 * (issue 13 §1; docs/molecules.md "RCGDM on a property"). Runs configs/molecules-rcgdm-logp.json (the shipped
 * model as is, and rcgdm: f̂ on 2,000 labeled molecules, pseudo-labels on the rest of QM9's train split, the
 * pretrained model with the condition added, fine-tuned or (`molecules.conditionalModel`) the shipped model
 * qm9-logp that this row made (a sixth stage from qm9-logp-stage5), samples at the labels' quantiles and beyond
 * their range; target guidance), then writes the section "RCGDM on logP" of docs/results/molecules.md ("RCGDM on
 * TPSA" for configs/molecules-rcgdm-tpsa.json; other sections and the other variant's subsection are kept):
 * per target the oracle property of the valid samples (mean ± sd, MAE and bias to the target), validity,
 * uniqueness, novelty, fragmented and the KL score beside their floors, and the acceptance checks of the issue.
 * `--resume` (with `--out DIR`): go on with a stopped run in DIR, each rcgdm row that fine-tunes from its training
 * checkpoint there (`molecules.checkpointEvery`; `rewardiff run --resume`).
 * `--quick`: 600 fine-tuning steps from the pretrained model (no `molecules.startFrom`) and 200 samples per target
 * (≈ 25 min on one busy core). `--retrain`: fine-tune anew where a row samples a saved conditional model
 * (`molecules.conditionalModel`; --quick always does); a row with `startFrom` fine-tunes its stage anew from that
 * model. `--from DIR`: the tables of a finished run's folder (report.json and its samples CSVs), without running it
 * again. `--only A,B`: only the config's rows labelled A, B (a row without a label by its kind, e.g. `--only
 * none,rcgdm`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { floorIsSupported, MIN_FLOOR_SUPPORT, type PseudoLabelFloor } from "../../src/eval/pseudo-label-floor.js";
import { readText } from "../../src/io/files.js";
import { parseJson } from "../../src/io/json.js";
import { parse } from "csv-parse/sync";
import type { Report, ResultRow } from "../../src/report/types.js";
import { parseMoleculeConfig } from "../../src/runners/molecule-run-config.js";
import { runMoleculeExperiment } from "../../src/runners/molecule-run.js";

const f = (v: unknown, d = 3) => (typeof v === "number" ? Number(v.toFixed(d)).toString() : "—");
/** The section of docs/results/molecules.md per property ("RCGDM on logP" for configs/molecules-rcgdm-logp.json). */
const PROPERTY_NAMES: Record<string, string> = { logp: "logP", tpsa: "TPSA", qed: "QED", mw: "MW" };
const RESULTS = "docs/results/molecules.md";
const intro = (name: string) =>
  `Reward-directed conditional generation (2307.07055) of QM9 molecules at a target ${name} (RDKit), on the shipped model (docs/molecules.md "RCGDM on a property").` +
  (name === "logP" ? " Acceptance (issue 13): for targets inside the central 80% of the labels, mean |oracle logP − target| ≤ 0.3 with validity ≥ 0.85, and the mean oracle logP increasing with the target across the whole range." : "");

/**
 * Replaces (or appends) the block starting at the line `heading` up to the next heading of its level or
 * higher (`## ` for a section, `## ` or `### ` for a subsection).
 */
export function replaceSection(text: string, heading: string, section: string): string {
  const start = text.indexOf(`${heading}\n`);
  if (start < 0) return `${text.replace(/\s*$/, "")}\n\n${section}`;
  const level = heading.indexOf(" ");
  const pattern = new RegExp(`\\n#{2,${level}} `, "g");
  pattern.lastIndex = start + heading.length;
  const next = pattern.exec(text);
  return text.slice(0, start) + (next === null ? section : `${section.replace(/\s*$/, "")}\n\n${text.slice(next.index + 1)}`);
}

/**
 * Writes `lines` (starting with the subsection heading `sub`, "### <variant>: …") into the section `heading` of
 * docs/results/molecules.md, creating the section with `intro` when missing: the section holds one subsection
 * per variant (quick, full); this run replaces its own and keeps the others and every other section.
 */
export function writeResultsSubsection(HEADING: string, intro: string, sub: string, lines: string[]): void {
  mkdirSync("docs/results", { recursive: true });
  // The section holds one subsection per variant (quick, full); this run replaces its own.
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Molecule experiments (measured)\n";
  if (!text.includes(`${HEADING}\n`)) text = replaceSection(text, HEADING, `${HEADING}\n\n${intro}\n\n`);
  const start = text.indexOf(`${HEADING}\n`);
  const end = (() => {
    const m = /\n## /g;
    m.lastIndex = start + HEADING.length;
    const hit = m.exec(text);
    return hit === null ? text.length : hit.index + 1;
  })();
  const prefix = sub.slice(0, sub.indexOf(":"));
  const block = text.slice(start, end);
  const at = block.indexOf(`\n${prefix}:`);
  let updated: string;
  if (at < 0) updated = `${block.replace(/\s*$/, "")}\n\n${lines.join("\n")}`;
  else {
    const lineEnd = block.indexOf("\n", at + 1);
    updated = replaceSection(block, block.slice(at + 1, lineEnd), lines.join("\n"));
  }
  writeFileSync(RESULTS, text.slice(0, start) + updated.replace(/\s*$/, "\n") + (end < text.length ? `\n${text.slice(end)}` : ""));
}

/**
 * An RCGDM experiment's config file as JSON; with `quick`, 200 samples per target and 600 fine-tuning steps per
 * rcgdm row; with `quick` or `retrain`, every rcgdm row fine-tunes anew (its `molecules.conditionalModel` dropped).
 */
export function rcgdmConfigJson(path: string, quick: boolean, retrain = false): { method: Record<string, unknown>[]; sampling: Record<string, unknown> } {
  const json = parseJson(readText(path, "config file"), path, { rejectDuplicateKeys: true }) as { method: Record<string, unknown>[]; sampling: Record<string, unknown> };
  if (quick || retrain) {
    for (const m of json.method) {
      const mol = m.molecules as { conditionalModel?: string; startFrom?: string } | undefined;
      if (m.kind !== "rcgdm" || !mol) continue;
      delete mol.conditionalModel;
      // The quick variant fine-tunes briefly from the pretrained model, not on from a shipped stage.
      if (quick) delete mol.startFrom;
    }
  }
  if (quick) {
    json.sampling.samples = 200;
    for (const m of json.method) {
      if (m.kind !== "rcgdm") continue;
      const mol = (m.molecules ??= {}) as { train?: Record<string, unknown> };
      mol.train = { ...(mol.train ?? {}), steps: 600 };
    }
  }
  return json;
}

export async function run(args: string[]): Promise<void> {
  const opt = (k: string, dflt: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : dflt);
  const path = opt("--config", "configs/molecules-rcgdm-logp.json");
  const quick = args.includes("--quick");
  const out = opt("--out", join("runs", `molecules-rcgdm-${Date.now()}`));
  const retrain = args.includes("--retrain");
  const resume = args.includes("--resume");
  if (resume && !args.includes("--out")) throw new Error("--resume: give the stopped run's folder with --out DIR");
  const json = rcgdmConfigJson(path, quick, retrain);
  const only = args.includes("--only") ? opt("--only", "").split(",") : undefined;
  if (only) {
    const name = (m: Record<string, unknown>) => String(m.label ?? m.kind);
    const unknown = only.filter((o) => !json.method.some((m) => name(m) === o));
    if (unknown.length > 0) throw new Error(`--only ${only.join(",")}: ${path} has no row ${unknown.join(", ")} (rows: ${json.method.map(name).join(", ")})`);
    json.method = json.method.filter((m) => only.includes(name(m)));
  }
  const cfg = parseMoleculeConfig(json, path);
  // --from DIR: the tables of a finished run's folder, without running it again.
  const from = args.includes("--from") ? opt("--from", "") : undefined;
  const dir = from ?? out;
  let report: Report;
  if (from) report = JSON.parse(readFileSync(join(from, "report.json"), "utf8")) as Report;
  else {
    const res = await runMoleculeExperiment(cfg, out, { where: path, baseDir: ".", resume, hooks: {
      onStage: (s) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`),
      onTrain: (p, label) => { if (p.step % 50 === 0) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${label ?? "train"} ${p.step}/${p.total} loss ${p.loss.toFixed(4)}\n`); },
    } });
    report = res.report;
  }
  const res = { report };
  const secs = report.timings.totalSeconds;
  const rows = res.report.results as ResultRow[];
  // Charged: the share of valid samples with a formal charge (QM9 has few; a low logP is easy to reach with them).
  const charged = rows.map((_, k) => {
    const file = res.report.files?.find((x) => x.kind === "samples" && x.rows?.includes(k));
    if (!file) return null;
    const smiles = (parse(readFileSync(join(dir, file.path), "utf8"), { columns: true, skip_empty_lines: true }) as { smiles: string }[]).map((r) => r.smiles).filter((x) => x !== "");
    return smiles.length === 0 ? null : smiles.filter((x) => /\[[^\]]*[+-][^\]]*\]/.test(x)).length / smiles.length;
  });
  const property = cfg.reward.property;
  const name = PROPERTY_NAMES[property] ?? property;
  const HEADING = `## RCGDM on ${name}`;
  const rc = Object.values(res.report).find((v) => v && typeof v === "object" && (v as { variant?: string }).variant === "conditional") as
    | { labeled: number; unlabeled: number; rewardModel: { features: number; fit: { heldOut?: { rmse: number; r2: number | null; n: number } }; heldOut: { n: number; mae: number; rmse: number; r2: number | null } | null; labels: { mean: number; std: number; min: number; max: number } }; pseudoLabelNoise: number; train: { steps: number; batchSize: number; learningRate: number; timestepBand?: { from: number; to: number; share: number } }; conditionalModel?: { path: string; step: number; resumed: boolean } | null; startFrom?: { path: string; step: number } | null; floor?: { molecules: number } | null; timings: { trainSeconds: number; trainStepMs: number | null } }
    | undefined;
  // A second stage (molecules.startFrom): the report's section names it when this run fine-tuned, the config when it
  // sampled the saved model.
  const conditionalRow = json.method.find((m) => m.kind === "rcgdm" && (m.variant === undefined || m.variant === "conditional")) as { molecules?: { startFrom?: string } } | undefined;
  const stageFrom = rc?.startFrom?.path ?? conditionalRow?.molecules?.startFrom;
  const band = rc?.train.timestepBand;
  const rcRows = rows.filter((r) => r.method === "rcgdm");
  const sub = `### ${quick ? "Quick variant (--quick)" : "Full config"}: ${String((res.report.molecules as { model: string }).model).replace(/^.*\/models\//, "models/")}, ${new Date().toISOString().slice(0, 16)}Z`;
  const lines = [
    sub,
    "",
    `Command: \`npm run experiments -- molecules-rcgdm --config ${path}${quick ? " --quick" : ""}${retrain ? " --retrain" : ""}${resume ? ` --out ${out} --resume` : ""}${only ? ` --only ${only.join(",")}` : ""}\` — wall time ${secs.toFixed(0)} s on this machine (2 cores shared with other work). Model: ${String((res.report.molecules as { model: string }).model).replace(/^.*\/models\//, "models/")}. Report: ${dir}/report.json.`,
    "",
  ];
  if (rc) {
    const h = rc.rewardModel.heldOut;
    lines.push(
      `f̂: ridge on ${rc.rewardModel.features} atom-environment counts (src/rewards/graph-features.ts) fitted on ${rc.labeled} labeled QM9 train molecules (${property} by RDKit; labels mean ${f(rc.rewardModel.labels.mean, 2)}, sd ${f(rc.rewardModel.labels.std, 2)}, range ${f(rc.rewardModel.labels.min, 2)} to ${f(rc.rewardModel.labels.max, 2)}): ` +
        `held-out 20% of the labeled RMSE ${f(rc.rewardModel.fit.heldOut?.rmse)}, R² ${f(rc.rewardModel.fit.heldOut?.r2)}; ${h ? `${h.n} further molecules MAE ${f(h.mae)}, RMSE ${f(h.rmse)}, R² ${f(h.r2)}` : ""}.`,
      `Pseudo-labels (ν = ${rc.pseudoLabelNoise}) on ${rc.unlabeled} unlabeled molecules; ${stageFrom ? `a further stage from the conditional model ${stageFrom} (molecules.startFrom)` : "the shipped model with the condition added"}, fine-tuned ${rc.train.steps} steps × batch ${rc.train.batchSize} (lr ${rc.train.learningRate}${band ? `, ${band.share} of each batch's t from [${band.from} T, ${band.to} T)` : ""}; ` +
        (rc.conditionalModel?.resumed
          ? `resumed in this run from the training checkpoint ${rc.conditionalModel.path.replace(/^.*\//, "")} at step ${rc.conditionalModel.step} (${f(rc.timings.trainSeconds, 0)} s for the remaining steps, ${f(rc.timings.trainStepMs, 0)} ms/step).`
          : rc.conditionalModel
          ? `not in this run: the conditional model is ${rc.conditionalModel.path} (molecules.conditionalModel), which this row made before (its sidecar matches the row; models/README.md gives its cost), sampled at its step ${rc.conditionalModel.step}; \`--retrain\` fine-tunes anew).`
          : `${f(rc.timings.trainSeconds, 0)} s, ${f(rc.timings.trainStepMs, 0)} ms/step).`),
      "",
    );
  }
  // Target-guidance rows (the comparison): the unconditional shipped model steered by a noisy regressor's gradient.
  for (const [label, v] of Object.entries(res.report)) {
    const tg = v as { variant?: string; scale?: number; predictor?: { steps: number; hidden: number; layers: number; clean: { mae: number; r2: number | null; n: number } | null; training: { finalLoss: number | null } }; timings?: { predictorSeconds: number } };
    if (tg?.variant !== "target-guidance" || !tg.predictor) continue;
    const c = tg.predictor.clean;
    lines.push(
      `${label}: the shipped model unchanged, steered by ε̃ = ε̂ + √(1−ᾱ_t) s ∇ ½(a − f_φ(x_t, t))² with s = ${tg.scale}; f_φ an MLP (${tg.predictor.layers} × ${tg.predictor.hidden}) on noised graph rows regressing the same pseudo-labels, ${tg.predictor.steps} steps (${f(tg.timings?.predictorSeconds, 0)} s; final loss ${f(tg.predictor.training.finalLoss)} in standardised units)${c ? `; at t = 0 on the ${c.n} further molecules MAE ${f(c.mae)}, R² ${f(c.r2)}` : ""}.`,
      "",
    );
  }
  lines.push(
    `Per row: the oracle ${property} of the valid samples (mean ± sd), its MAE to the target (mean |y − a|)${rc?.floor ? ` beside its floor (in parentheses: the MAE of a model that samples the pseudo-label law p(x | ŷ = a) exactly, over ${rc.floor.molecules} unlabeled molecules the oracle labels for this only; — where that law rests on fewer than ${MIN_FLOOR_SUPPORT} of them, beyond the labels' range)` : ""} and bias (mean y − a); validity over all samples; uniqueness, novelty (vs QM9 train), fragmented, charged (valid samples with a formal charge; QM9's SMILES: 0.217 of the train split, mostly zwitterions) and the KL score beside its data-vs-data floor (in parentheses). "none" is the shipped model as is. q = the target's quantile among the labels (— : beyond their range).`,
    "",
    `| row | target | q | n | validity | ${property} valid mean ± sd | MAE | bias | uniqueness | novelty | fragmented | charged | KL score (floor) |`,
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  const floorOf = (r: ResultRow) => {
    const fl = (r as { targetErrorFloor?: PseudoLabelFloor }).targetErrorFloor;
    return fl && floorIsSupported(fl) ? fl.mae : undefined;
  };
  const floorText = (r: ResultRow) => (floorOf(r) === undefined ? "—" : f(floorOf(r)));
  const metric = (r: ResultRow, k: string) => (r as Record<string, unknown>)[k] as { value: number | null; floor: number | null } | undefined;
  for (const [k, r] of rows.entries()) {
    const te = (r as { targetError?: { mae: number; bias: number } | null }).targetError;
    const rv = (r as { rewardValid?: { mean: number; std: number } | null }).rewardValid;
    const q = (r as { targetQuantile?: number | null }).targetQuantile;
    const kl = metric(r, "klScore");
    lines.push(
      `| ${r.label} | ${f(r.target, 2)} | ${typeof q === "number" ? q : "—"} | ${r.samples} | ${f(metric(r, "validity")?.value)} | ${rv ? `${f(rv.mean)} ± ${f(rv.std)}` : "—"} | ${te ? `${f(te.mae)}${rc?.floor ? ` (${floorText(r)})` : ""}` : "—"} | ${te ? f(te.bias) : "—"} | ${f(metric(r, "uniqueness")?.value)} | ${f(metric(r, "novelty")?.value)} | ${f(metric(r, "fragmented")?.value)} | ${f(charged[k])} | ${f(kl?.value)} (${f(kl?.floor)}) |`,
    );
  }
  // The issue's acceptance, per rcgdm entry (its rows share the label before "[a="): inside the central 80% of the
  // labels (quantiles 0.1..0.9), mean error ≤ 0.3 and validity ≥ 0.85; the mean oracle property increasing with
  // the target across all targets.
  const te = (r: ResultRow) => (r as { targetError?: { mae: number; bias: number } | null }).targetError;
  const avg = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
  const groups = new Map<string, ResultRow[]>();
  for (const r of rcRows) {
    const g = (r.label ?? "rcgdm").replace(/\[a=.*$/, "");
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  lines.push("", "Acceptance (issue 13 §1; inside = targets at the labels' 10–90% quantiles):", "");
  for (const [g, rs] of groups) {
    const inside = rs.filter((r) => typeof (r as { targetQuantile?: number | null }).targetQuantile === "number");
    const meanMae = avg(inside.map((r) => te(r)?.mae ?? NaN));
    const meanAbsBias = avg(inside.map((r) => Math.abs(te(r)?.bias ?? NaN)));
    const meanFloor = avg(inside.map((r) => floorOf(r) ?? NaN));
    const minValidity = Math.min(...inside.map((r) => metric(r, "validity")?.value ?? 0));
    const sorted = [...rs].sort((a, b) => a.target! - b.target!);
    const means = sorted.map((r) => (r as { rewardValid?: { mean: number } | null }).rewardValid?.mean ?? NaN);
    const increasing = means.every((m, i) => i === 0 || m > means[i - 1]!);
    lines.push(
      `- ${g}: inside, mean MAE ${f(meanMae)}${Number.isFinite(meanFloor) ? ` (floor ${f(meanFloor)})` : ""} and mean |bias| ${f(meanAbsBias)} (≤ 0.3 asked), lowest validity ${f(minValidity)} (≥ 0.85 asked); mean ${property} ${increasing ? "increases" : "does not increase"} with the target across all ${sorted.length} targets (${means.map((m) => f(m, 2)).join(" → ")}).`,
    );
  }
  lines.push(
    "",
    `Timings (s): ${Object.entries(res.report.timings).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}.`,
    "",
  );
  writeResultsSubsection(HEADING, intro(name), sub, lines);
  process.stdout.write(lines.join("\n") + "\n");
}
