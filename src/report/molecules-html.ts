/**
 * The molecule report (docs/molecules.md "The report"): report.json's `molecules` section and its page — the
 * metrics of src/chem/metrics.ts beside their data-vs-data floor and published anchors, atom- and bond-type
 * histograms against the data (vega-lite), and a grid of depicted molecules with validity per tile. Pure
 * string building (Node and browser); the depictions (RDKit SVG) are made by the caller.
 */
import { escapeHtml, formatNumber } from "./format.js";
import { REPORT_CSS, scopeSvgIds, type PlotFigure } from "./html.js";
import { BASE_CONFIG, renderVegaLite } from "./plots.js";
import type { Report } from "./types.js";

/** A metric of the generated molecules beside its floor (the same metric of a data sample). */
export type MoleculeMetricPair = {
  value: number | null;
  floor: number | null;
};

/** The metrics in the table's order: key, name, what it means and which way is better. */
export const MOLECULE_METRICS = [
  { key: "validity", name: "validity", better: "higher", meaning: "fraction RDKit sanitises, without valence correction" },
  { key: "uniqueness", name: "uniqueness", better: "higher", meaning: "distinct valid / valid" },
  { key: "novelty", name: "novelty", better: "higher", meaning: "distinct valid not in the training set / distinct valid" },
  { key: "fragmented", name: "fragmented", better: "lower", meaning: "valid molecules in more than one piece" },
  { key: "klScore", name: "KL score", better: "higher", meaning: "GuacaMol: mean exp(−KL) over 9 descriptors and the internal ECFP4 similarity" },
  { key: "atomTypeTV", name: "atom types (TV)", better: "lower", meaning: "total variation to the reference's atom-type frequencies" },
  { key: "bondTypeTV", name: "bond types (TV)", better: "lower", meaning: "total variation to the reference's bond-type frequencies" },
] as const;

export type MoleculeMetricKey = (typeof MOLECULE_METRICS)[number]["key"];

/** A published result to read the numbers against (fractions). */
export interface MoleculeAnchor {
  name: string;
  values: Partial<Record<MoleculeMetricKey, number>>;
}

/** A tile of the molecule grid. */
export interface MoleculeTile {
  /** RDKit's depiction (an SVG document), or null when there is nothing to draw. */
  svg: string | null;
  /** Canonical SMILES of a valid molecule; the unsanitised graph's SMILES (or "") of an invalid one. */
  smiles: string;
  valid: boolean;
  /** The samples file's line. */
  line: number;
}

/** report.json's `molecules` section. */
export interface MoleculeReportSection {
  /** The samples file evaluated. */
  samples: string;
  reference: { name: string; molecules: number };
  training: { name: string; molecules: number };
  floorSample: { name: string; molecules: number };
  metrics: Record<MoleculeMetricKey, MoleculeMetricPair>;
  /** KL per descriptor (and InternalSimilarity), generated and floor; null where it was not computable. */
  kl: { generated: Record<string, number> | null; floor: Record<string, number> | null };
  /** Atom-type and bond-type frequencies: generated, the reference's, and the floor sample's. */
  atomTypes: { generated: Record<string, number>; reference: Record<string, number>; floor: Record<string, number> };
  bondTypes: { generated: Record<string, number>; reference: Record<string, number>; floor: Record<string, number> };
  anchors: MoleculeAnchor[];
  /** The molecules depicted in the grid (by line of the samples file). */
  grid: { line: number; smiles: string; valid: boolean }[];
}

/** Grouped bars of type frequencies, generated vs the reference data. */
export async function typeHistogramChart(title: string, generated: Record<string, number>, reference: Record<string, number>): Promise<string> {
  const keys = [...new Set([...Object.keys(reference), ...Object.keys(generated)])].sort((a, b) => (reference[b] ?? 0) - (reference[a] ?? 0) || a.localeCompare(b));
  const values = keys.flatMap((k) => [
    { type: k, set: "generated", fraction: generated[k] ?? 0 },
    { type: k, set: "data (reference)", fraction: reference[k] ?? 0 },
  ]);
  return renderVegaLite({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: BASE_CONFIG,
    width: Math.max(160, 36 * keys.length),
    height: 220,
    description: title,
    data: { values },
    mark: { type: "bar" },
    encoding: {
      x: { field: "type", type: "nominal", sort: keys, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: "set", type: "nominal", sort: ["generated", "data (reference)"] },
      y: { field: "fraction", type: "quantitative", title: "fraction", axis: { format: ".0%" } },
      color: { field: "set", type: "nominal", sort: ["generated", "data (reference)"], scale: { range: ["#4c78a8", "#bab0ac"] }, legend: { title: null, orient: "bottom" } },
      tooltip: [{ field: "type" }, { field: "set" }, { field: "fraction", format: ".4f" }],
    },
  } as never);
}

/** Active content an inline SVG must not carry. */
const ACTIVE_SVG = /<script|<foreignObject|<iframe|<[^>]*\son[a-z]+\s*=|=\s*["']?\s*javascript:/i;

/** RDKit's SVG as an inline element: the XML prolog and comments removed; refused when it holds active content. */
export function inlineDepiction(svg: string): string {
  const body = svg.replace(/<\?xml[^>]*\?>/, "").replace(/<!--[\s\S]*?-->/g, "").trim();
  if (!body.startsWith("<svg") || !body.endsWith("</svg>")) throw new Error("inlineDepiction: not an SVG document");
  if (ACTIVE_SVG.test(body)) throw new Error("inlineDepiction: the depiction contains scripts or event handlers");
  return body;
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '<span class="na">—</span>' : escapeHtml(formatNumber(v)));

function metricsTable(s: MoleculeReportSection): string {
  const anchors = s.anchors;
  const head =
    `<tr><th scope="col">metric</th><th scope="col" class="num">generated</th><th scope="col" class="num">floor<span class="sub">data vs data</span></th>` +
    anchors.map((a) => `<th scope="col" class="num">${escapeHtml(a.name)}</th>`).join("") +
    `<th scope="col">meaning</th></tr>`;
  const rows = MOLECULE_METRICS.map((m) => {
    const p = s.metrics[m.key];
    return (
      `<tr><th scope="row">${escapeHtml(m.name)}<span class="sub">${m.better} is better</span></th>` +
      `<td class="num"><data value="${p.value ?? ""}">${fmt(p.value)}</data></td><td class="num"><data value="${p.floor ?? ""}">${fmt(p.floor)}</data></td>` +
      anchors.map((a) => `<td class="num">${fmt(a.values[m.key])}</td>`).join("") +
      `<td class="meaning">${escapeHtml(m.meaning)}</td></tr>`
    );
  }).join("\n");
  return `<div class="scroll"><table class="summary">\n<thead>${head}</thead>\n<tbody>\n${rows}\n</tbody></table></div>`;
}

function klTable(s: MoleculeReportSection): string {
  const g = s.kl.generated;
  const f = s.kl.floor;
  const names = Object.keys(g ?? f ?? {});
  if (names.length === 0) return `<p class="empty">The KL score needs at least two distinct valid molecules.</p>`;
  const rows = names
    .map((k) => `<tr><th scope="row">${escapeHtml(k)}</th><td class="num">${fmt(g?.[k])}</td><td class="num">${fmt(g ? Math.exp(-g[k]!) : null)}</td><td class="num">${fmt(f?.[k])}</td><td class="num">${fmt(f ? Math.exp(-f[k]!) : null)}</td></tr>`)
    .join("\n");
  return (
    `<details><summary>KL score parts (KL(P_ref‖Q) per descriptor)</summary>\n<table>\n<thead><tr><th scope="col">descriptor</th><th scope="col" class="num">KL generated</th>` +
    `<th scope="col" class="num">exp(−KL)</th><th scope="col" class="num">KL floor</th><th scope="col" class="num">exp(−KL)</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>\n</details>`
  );
}

export function gridHtml(tiles: readonly MoleculeTile[]): string {
  if (tiles.length === 0) return `<p class="empty">No molecules to depict.</p>`;
  const items = tiles.map((t, i) => {
    const pic = t.svg === null ? `<div class="nopic">nothing to draw</div>` : scopeSvgIds(inlineDepiction(t.svg), `m${i + 1}-`);
    const status = t.valid ? `<span class="ok">valid</span>` : `<span class="flag">invalid</span>`;
    return `<figure class="mol${t.valid ? "" : " invalid"}">${pic}<figcaption>${status} · line ${t.line}<span class="smiles">${escapeHtml(t.smiles || "(no atom)")}</span></figcaption></figure>`;
  });
  return `<div class="molgrid">\n${items.join("\n")}\n</div>`;
}

export const MOLECULE_CSS = `
.molgrid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
figure.mol { padding: 6px; border: 2px solid #cfe3d3; }
figure.mol.invalid { border-color: #e8b4b0; background: #fff7f6; }
figure.mol svg { width: 100%; height: auto; }
figure.mol figcaption { margin: 4px 0 0; font-size: 12px; }
figure.mol .smiles { display: block; font: 11px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #444; overflow-wrap: anywhere; }
.nopic { height: 120px; display: flex; align-items: center; justify-content: center; color: #999; font-style: italic; }
`;

export interface MoleculeReportHtmlOptions {
  title: string;
  report: Report;
  section: MoleculeReportSection;
  /** The type histograms (./molecules-html.ts `typeHistogramChart`). */
  histograms: PlotFigure[];
  tiles: MoleculeTile[];
  notes?: string[];
  generatedAt?: Date | string;
}

function figure(p: PlotFigure, i: number): string {
  return `<figure>\n<figcaption><strong>${escapeHtml(p.title)}</strong>${p.caption ? `<p>${escapeHtml(p.caption)}</p>` : ""}</figcaption>\n${scopeSvgIds(p.svg.trim(), `h${i + 1}-`)}\n</figure>`;
}

/** The molecule report as one self-contained page (inline CSS and SVG; no scripts). */
export function renderMoleculeReportHtml(o: MoleculeReportHtmlOptions): string {
  const s = o.section;
  const when = o.generatedAt ?? new Date();
  const whenText = typeof when === "string" ? when : when.toISOString();
  const valid = o.tiles.filter((t) => t.valid).length;
  const parts = [
    `<header>\n<h1>${escapeHtml(o.title)}</h1>\n<p class="meta"><span>generated <time datetime="${escapeHtml(whenText)}">${escapeHtml(whenText)}</time></span>` +
      `<span>total ${escapeHtml(formatNumber(o.report.timings.totalSeconds))} s</span><span>report.json version 1</span></p>\n</header>`,
    `<section id="metrics">\n<h2>Metrics</h2>\n<p class="meta">${escapeHtml(
      `${s.samples}: ${o.report.results[0]?.samples ?? 0} samples against ${s.reference.molecules} reference molecules (${s.reference.name}); ` +
        `novelty against ${s.training.molecules} distinct training molecules (${s.training.name}); floor: ${s.floorSample.molecules} molecules of ${s.floorSample.name} in place of the samples.`,
    )}</p>\n${metricsTable(s)}\n${klTable(s)}\n</section>`,
    `<section id="types">\n<h2>Atom and bond types</h2>\n<div class="plots">\n${o.histograms.map(figure).join("\n")}\n</div>\n</section>`,
    `<section id="molecules">\n<h2>Molecules</h2>\n<p class="meta">${escapeHtml(`${o.tiles.length} samples in file order (${valid} valid); an invalid tile draws the decoded graph RDKit refused to sanitise.`)}</p>\n${gridHtml(o.tiles)}\n</section>`,
    `<section>\n<h2>Timings</h2>\n<table class="narrow"><tbody>${Object.entries(o.report.timings)
      .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td class="num">${escapeHtml(formatNumber(v))} s</td></tr>`)
      .join("")}</tbody></table>\n</section>`,
  ];
  if (o.notes && o.notes.length > 0) parts.push(`<section>\n<h2>Notes</h2>\n<ul>\n${o.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("\n")}\n</ul>\n</section>`);
  parts.push(`<section>\n<h2>Configuration</h2>\n<details><summary>Inputs and settings</summary><pre>${escapeHtml(JSON.stringify(o.report.config, null, 2))}</pre></details>\n</section>`);
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">\n` +
    `<title>${escapeHtml(o.title)}</title>\n<style>${REPORT_CSS}${MOLECULE_CSS}</style>\n</head>\n<body>\n<main>\n${parts.join("\n")}\n</main>\n</body>\n</html>\n`
  );
}
