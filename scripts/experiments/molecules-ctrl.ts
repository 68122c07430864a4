/**
 * `npm run experiments -- molecules-ctrl [--config FILE] [--out DIR] [--quick]`: a new control on the shipped QM9
 * model (issue 13 §3; docs/molecules.md "CTRL: a new control"). Runs configs/molecules-ctrl.json
 * (src/runners/molecule-ctrl.ts: the label from RDKit, a calibrated classifier on the offline labelled set, then
 * the pretrained model as is, CTRL, CFG fine-tuning on the (x, y) pairs and DPS with the classifier), writes
 * DIR/result.json (every row's SMILES and oracle labels) and the section "CTRL: a new control" of
 * docs/results/molecules.md (other sections are kept).
 * `--from DIR/result.json`: write the section again from a finished run's result (the same config), measuring nothing.
 * `--quick`: 64 molecules per label, a quarter of CTRL's and CFG's steps and half the classifier's, 1,024 labelled
 * molecules.
 */
import { mkdirSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { readMoleculeCtrlConfig, type MoleculeCtrlConfig } from "../../src/runners/molecule-ctrl-config.js";
import { runMoleculeCtrl, type MoleculeCtrlResult } from "../../src/runners/molecule-ctrl.js";
import { replaceSection } from "./molecules-rcgdm.js";

const RESULTS = "docs/results/molecules.md";
const HEADING = "## CTRL: a new control";
const f = (v: unknown, d = 3) => (typeof v === "number" && Number.isFinite(v) ? Number(v.toFixed(d)).toString() : "—");

/** The quick variant (see the module doc). */
export function quickCtrlConfig(cfg: MoleculeCtrlConfig): MoleculeCtrlConfig {
  const q = (v: number) => Math.max(1, Math.round(v / 4));
  return {
    ...cfg,
    labelled: Math.min(cfg.labelled, 1024),
    classifier: { ...cfg.classifier, steps: Math.max(1, Math.round(cfg.classifier.steps / 2)) },
    ctrl: { ...cfg.ctrl, steps: q(cfg.ctrl.steps) },
    cfg: { ...cfg.cfg, steps: q(cfg.cfg.steps) },
    sampling: { ...cfg.sampling, samples: Math.min(cfg.sampling.samples, 64) },
  };
}

/** The reject class's facts (config `classifier.reject`), or nothing without one. */
function rejectSentence(r: MoleculeCtrlResult): string {
  const j = r.classifier.reject;
  if (!j) return "";
  const m = r.classifier.onModelSamples;
  return ` A third class, "no molecule": ${j.rows} of ${j.samples} pretrained samples (${j.invalid} invalid, ${j.fragmented} fragmented; the one-hot rows of their decoding), ${j.fitted} fitted; it takes ${f(j.heldOut?.rejected)} of ${j.heldOut?.n ?? 0} held-out rejected samples, ${f(r.classifier.heldOutMolecules.rejected)} of the held-out data molecules and ${f(m?.rejected)} of the pretrained model's valid molecules; CTRL and DPS maximise log p̂(y | x) normalised over the three classes.`;
}

/** The markdown section of a result. */
export function ctrlSection(r: MoleculeCtrlResult, command: string): string {
  const c = r.config;
  const h = r.classifier.heldOutMolecules;
  const m = r.classifier.onModelSamples;
  const lines = [
    HEADING,
    "",
    `Command: \`${command}\` — model ${relative(process.cwd(), r.model)}; label y = 1{RDKit ${c.label.property} ≥ ${c.label.atLeast}} (frequency ${f(r.label.frequency)} in the ${r.label.labelled} labelled QM9 training molecules, ${f(r.label.referenceFrequency)} in the reference); ${c.sampling.samples} molecules per label, ${c.sampling.sampler} with ${c.sampling.steps} steps; wall time ${f(r.seconds, 0)} s on a shared 2-core machine.`,
    "",
    `Classifier p̂(y | x) on graph rows (${c.classifier.layers} × ${c.classifier.hidden} MLP, ${c.classifier.steps} steps, each fitted molecule in ${c.classifier.permutations} node orders): on ${h.n} held-out molecules (random node order) accuracy ${f(h.accuracy)}, ECE ${f(h.ece)} (temperature T = ${f(r.classifier.temperature)}); on ${m?.n ?? "—"} valid molecules of the pretrained model accuracy ${f(m?.accuracy)}, ECE ${f(m?.ece)}.${rejectSentence(r)}`,
    "",
    "Accuracy and macro-F1 under the oracle label (RDKit on the decoded SMILES) over both labels' samples; an invalid molecule counts as a miss (also in the P(y=1 | asked y) columns: the fraction of all samples whose oracle label is 1). acc (valid) = over valid molecules only. acc (one molecule) = over all samples, a fragmented molecule counted as a miss too. fragmented = valid molecules of more than one fragment, as a share of all samples. KL score y = the KL score of label y's samples against the reference molecules of label y. KL→pre = path KL of the row's sampler to the pretrained one (nats per molecule, mean over the labels; on the graph noise space).",
    "",
    "| row | accuracy | macro-F1 | acc (valid) | acc (one molecule) | P(y=1 \\| asked 0) | P(y=1 \\| asked 1) | validity y=0 / y=1 | fragmented y=0 / y=1 | uniqueness y=0 / y=1 | KL score y=0 / y=1 | KL→pre | train s | sample s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of r.rows) {
    const [a, b] = row.perLabel;
    const ones = (p: typeof a) => (p ? p.oracle.filter((o) => o === 1).length / p.oracle.length : NaN);
    // Valid molecules of several fragments (a "." in the SMILES), as a share of all samples: a label reached by
    // cutting the molecule apart shows here.
    const fragments = (p: typeof a) => (p ? p.smiles.filter((m) => m !== null && m.includes(".")).length / p.smiles.length : NaN);
    // Accuracy with fragmented molecules counted as misses too (the label reached by one whole molecule).
    const whole = row.perLabel.flatMap((p) => p.smiles.map((m, i) => m !== null && !m.includes(".") && p.oracle[i] === p.y));
    const accWhole = whole.length > 0 ? whole.filter(Boolean).length / whole.length : NaN;
    const kls = row.perLabel.map((p) => p.klToPretrained).filter((v): v is number => v !== null);
    lines.push(
      `| ${row.label} | ${f(row.accuracy)} | ${f(row.macroF1)} | ${f(row.accuracyValid)} | ${f(accWhole)} | ${f(ones(a))} | ${f(ones(b))} | ${f(a?.validity)} / ${f(b?.validity)} | ${f(fragments(a))} / ${f(fragments(b))} | ${f(a?.uniqueness)} / ${f(b?.uniqueness)} | ${f(a?.klScore)} / ${f(b?.klScore)} | ${kls.length ? f(kls.reduce((s, v) => s + v, 0) / kls.length, 2) : "—"} | ${f(row.trainSeconds, 0)} | ${f(row.sampleSeconds, 0)} |`,
    );
  }
  const ctrl = r.rows.find((x) => x.method === "ctrl");
  const hist = ctrl?.details.history as { step: number; objective: number; kl: number }[] | undefined;
  if (hist && hist.length > 0) {
    const every = Math.max(1, Math.floor(hist.length / 6));
    const pg = r.config.ctrl.estimator === "policy-gradient";
    const what = pg ? "round: mean log p̂(y | x_0) of the round's decoded molecules" : "step: mean log p̂(y | x_0) of the batch";
    const heap = typeof ctrl?.details.heapBytes === "number" ? ` Wasm heap ${f(ctrl.details.heapBytes / 2 ** 30, 2)} GiB.` : "";
    lines.push("", `CTRL training (${what}, Σ_t KL_t): ${hist.filter((_, i) => i % every === 0 || i === hist.length - 1).map((p) => `${p.step}: ${f(p.objective, 2)}, ${f(p.kl, 2)}`).join("; ")}.${heap}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function run(args: string[]): Promise<void> {
  const opt = (k: string, dflt: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : dflt);
  const path = opt("--config", "configs/molecules-ctrl.json");
  const quick = args.includes("--quick");
  const out = opt("--out", join("runs", `molecules-ctrl-${Date.now()}`));
  const full = readMoleculeCtrlConfig(path);
  const cfg = quick ? quickCtrlConfig(full) : full;
  const t0 = performance.now();
  const command = `npm run experiments -- molecules-ctrl --config ${path}${quick ? " --quick" : ""}`;
  // The result and the section are written after every row (a partial table says so), then once more at the end.
  const write = (r: MoleculeCtrlResult, partial: boolean) => {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "result.json"), `${JSON.stringify(r, null, 1)}\n`);
    const section = ctrlSection(r, command) + (partial ? `\n(Partial: ${r.rows.length} of ${cfg.methods.length} rows; the run is still going.)\n` : "");
    const old = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Molecules: measured results (issue 13)\n\n";
    writeFileSync(RESULTS, replaceSection(old, HEADING, section));
    return section;
  };
  const from = args.includes("--from") ? opt("--from", "") : null;
  if (from) {
    // Re-render the section from a finished run's result.json (no new measurement): the table's columns may grow.
    const saved = JSON.parse(readFileSync(from, "utf8")) as MoleculeCtrlResult;
    if (JSON.stringify(saved.config) !== JSON.stringify(cfg)) throw new Error(`molecules-ctrl: --from ${from} was run with another config than ${path}`);
    process.stdout.write(`${write(saved, false)}\nrendered from: ${from}\n`);
    return;
  }
  const r = await runMoleculeCtrl(cfg, { onStage: (s) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}\n`), onRow: (p) => write(p, true) });
  process.stdout.write(`${write(r, false)}\nresult: ${join(out, "result.json")}\n`);
}
