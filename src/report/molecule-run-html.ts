/**
 * The page of a molecule run (docs/molecules.md "Runs"): one table of the methods' rows — the oracle reward
 * over all samples and over the valid ones, at a target (rcgdm) the error |y − a| beside its floor, the cost in
 * reward evaluations, and the chemistry metrics beside
 * their data-vs-data floor (the floor row: a data sample in place of the samples) and the published anchors —
 * then a grid of depicted molecules per method. Pure string building; depictions are made by the caller.
 */
import { floorIsSupported, type PseudoLabelFloor } from "../eval/pseudo-label-floor.js";
import { escapeHtml, formatNumber } from "./format.js";
import { REPORT_CSS, scopeSvgIds } from "./html.js";
import { MOLECULE_CSS, MOLECULE_METRICS, gridHtml, type MoleculeAnchor, type MoleculeTile } from "./molecules-html.js";
import type { Report, ResultRow } from "./types.js";

/** One method's molecules: its row label, samples file and depicted tiles. */
export interface MoleculeRunMethodView {
  label: string;
  file: string;
  tiles: MoleculeTile[];
}

/** The row metrics shown, in order (each a {value, floor} pair of report.json). */
const METRICS = MOLECULE_METRICS.filter((m) => ["validity", "uniqueness", "novelty", "fragmented", "klScore"].includes(m.key));

const fmt = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? escapeHtml(formatNumber(v)) : '<span class="na">—</span>');
const pair = (row: ResultRow, key: string, part: "value" | "floor") => (row[key] as { value?: number | null; floor?: number | null } | undefined)?.[part];
const meanStd = (v: unknown) => {
  const s = v as { mean?: number; std?: number } | null | undefined;
  return s && typeof s.mean === "number" ? `${fmt(s.mean)}<span class="sub">± ${fmt(s.std)}</span>` : fmt(null);
};

/** Rows at a target (rcgdm): the valid samples' mean |y − a|, and its floor where the run measured one. */
const targetError = (r: ResultRow) => (r as { targetError?: { mae: number } | null }).targetError;
const targetErrorFloor = (r: ResultRow) => (r as { targetErrorFloor?: PseudoLabelFloor }).targetErrorFloor;

function table(report: Report, anchors: readonly MoleculeAnchor[]): string {
  const rows = report.results as ResultRow[];
  const mol = report.molecules as { reward: { property: string; invalidReward: number }; floorSample: { rewardMean: number } };
  const atTarget = rows.some((r) => targetError(r) !== undefined);
  const errorCell = (r: ResultRow) => {
    const fl = targetErrorFloor(r);
    // "—" where the law rests on too few molecules to mean much (beyond the labels' range; the pool size still shows).
    const shown = fl ? `<span class="sub">floor ${floorIsSupported(fl) ? fmt(fl.mae) : "—"} (on ${fmt(Math.round(fl.effectiveN))})</span>` : "";
    return `<td class="num">${fmt(targetError(r)?.mae)}${shown}</td>`;
  };
  const head =
    `<tr><th scope="col">row</th><th scope="col" class="num">${escapeHtml(mol.reward.property)}<span class="sub">all samples (invalid = ${escapeHtml(formatNumber(mol.reward.invalidReward))})</span></th>` +
    `<th scope="col" class="num">${escapeHtml(mol.reward.property)}<span class="sub">valid samples</span></th>` +
    (atTarget ? `<th scope="col" class="num">|y − a|<span class="sub">valid samples; floor: the exact pseudo-label law (on its effective pool size)</span></th>` : "") +
    `<th scope="col" class="num">reward evaluations</th>` +
    METRICS.map((m) => `<th scope="col" class="num">${escapeHtml(m.name)}<span class="sub">${m.better} is better</span></th>`).join("") +
    `</tr>`;
  const body = rows.map((r) => {
    const cost = r.cost as { rewardEvals?: number } | undefined;
    return (
      `<tr><th scope="row">${escapeHtml(r.label ?? r.method)}<span class="sub">${escapeHtml(r.method)}, ${r.samples} samples</span></th>` +
      `<td class="num">${meanStd(r.reward)}</td><td class="num">${meanStd(r.rewardValid)}</td>${atTarget ? errorCell(r) : ""}<td class="num">${fmt(cost?.rewardEvals ?? 0)}</td>` +
      METRICS.map((m) => `<td class="num"><data value="${pair(r, m.key, "value") ?? ""}">${fmt(pair(r, m.key, "value"))}</data></td>`).join("") +
      `</tr>`
    );
  });
  const first = rows[0];
  const floor = first
    ? `<tr class="floor"><th scope="row">floor<span class="sub">a data sample of the same size</span></th><td class="num">${fmt(mol.floorSample.rewardMean)}</td><td class="num">${fmt(mol.floorSample.rewardMean)}</td>${atTarget ? `<td class="num">—</td>` : ""}<td class="num">—</td>` +
      METRICS.map((m) => `<td class="num">${fmt(pair(first, m.key, "floor"))}</td>`).join("") +
      `</tr>`
    : "";
  const anchorRows = anchors.map(
    (a) => `<tr class="anchor"><th scope="row">${escapeHtml(a.name)}<span class="sub">published (QM9)</span></th><td class="num">—</td><td class="num">—</td>${atTarget ? `<td class="num">—</td>` : ""}<td class="num">—</td>` + METRICS.map((m) => `<td class="num">${fmt(a.values[m.key])}</td>`).join("") + `</tr>`,
  );
  return `<div class="scroll"><table class="summary">\n<thead>${head}</thead>\n<tbody>\n${[...body, floor, ...anchorRows].join("\n")}\n</tbody></table></div>`;
}

/** The molecule run's report.html (self-contained: inline CSS and SVG, no scripts). */
export function renderMoleculeRunHtml(o: { title: string; report: Report; methods: readonly MoleculeRunMethodView[]; generatedAt?: Date | string }): string {
  const when = o.generatedAt ?? new Date();
  const whenText = typeof when === "string" ? when : when.toISOString();
  const mol = o.report.molecules as {
    model: string;
    anchors: MoleculeAnchor[];
    reference: { name: string; molecules: number };
    training: { name: string; molecules: number };
    floorSample: { name: string; molecules: number };
  };
  const parts = [
    `<header>\n<h1>${escapeHtml(o.title)}</h1>\n<p class="meta"><span>generated <time datetime="${escapeHtml(whenText)}">${escapeHtml(whenText)}</time></span>` +
      `<span>total ${escapeHtml(formatNumber(o.report.timings.totalSeconds))} s</span><span>report.json version 1</span></p>\n</header>`,
    `<section id="summary">\n<h2>Methods</h2>\n<p class="meta">${escapeHtml(
      `Model ${mol.model}. Reward: the oracle on the argmax-decoded graph (no valence correction). Metrics against ${mol.reference.molecules} reference molecules (${mol.reference.name}); ` +
        `novelty against ${mol.training.molecules} distinct training molecules (${mol.training.name}); floor: ${mol.floorSample.molecules} molecules of ${mol.floorSample.name} in place of the samples. ` +
        `Reward evaluations: the oracle calls each method made to choose its samples (not the reporting).`,
    )}</p>\n${table(o.report, mol.anchors)}\n</section>`,
    ...o.methods.map((m, i) => {
      const valid = m.tiles.filter((t) => t.valid).length;
      return (
        `<section id="molecules-${i + 1}">\n<h2>Molecules: ${escapeHtml(m.label)}</h2>\n<p class="meta">${escapeHtml(`The first ${m.tiles.length} samples of ${m.file} (${valid} valid); an invalid tile draws the decoded graph RDKit refused to sanitise.`)}</p>\n` +
        `${scopeSvgIds(gridHtml(m.tiles), `g${i + 1}-`)}\n</section>`
      );
    }),
    `<section>\n<h2>Timings</h2>\n<table class="narrow"><tbody>${Object.entries(o.report.timings)
      .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td class="num">${escapeHtml(formatNumber(v))} s</td></tr>`)
      .join("")}</tbody></table>\n</section>`,
    `<section>\n<h2>Configuration</h2>\n<details><summary>The run's config, defaults filled in</summary><pre>${escapeHtml(JSON.stringify(o.report.config, null, 2))}</pre></details>\n</section>`,
  ];
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">\n` +
    `<title>${escapeHtml(o.title)}</title>\n<style>${REPORT_CSS}${MOLECULE_CSS}</style>\n</head>\n<body>\n<main>\n${parts.join("\n")}\n</main>\n</body>\n</html>\n`
  );
}
