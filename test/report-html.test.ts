import { describe, expect, it } from "vitest";
import { hostMatrix } from "../src/data/matrix.js";
import { readFileSync } from "node:fs";
import { escapeHtml, formatNumber, renderReportHtml, scopeSvgIds } from "../src/report/html.js";
import { comparisonPlots } from "../src/report/comparison.js";
import { SUMMARY_MAX_COLUMNS } from "../src/report/summary-html.js";
import { scatterPlot } from "../src/report/plots.js";
import { standardPlots } from "../src/report/standard.js";
import type { Report } from "../src/report/types.js";

const EVIL = `<script>alert("x")</script>`;

function sampleReport(): Report {
  return {
    version: 1,
    config: { seed: 0, task: { kind: "linear-subspace", note: `</pre>${EVIL}` }, method: [{ kind: "rcgdm" }] },
    results: [
      {
        method: "rcgdm",
        target: 2,
        alpha: null,
        samples: 1000,
        reward: { mean: 1.23456789, std: 0.5 },
        offSupport: { mean: 0.012345 },
        reference: { rewardMean: 2 },
      },
      { method: EVIL, target: null, alpha: 0.5, samples: 1000, reward: { mean: -3, std: 0.25 }, accuracy: 0.875 },
    ],
    timings: { totalSeconds: 75.5, train: 60.25 },
    training: { loss: [{ step: 0, loss: 1 }, { step: 100, loss: 0.25 }], reward: { loss: [{ step: 0, loss: 2 }] } },
  };
}

/** The full results table (folded below the summary). */
function rawTable(html: string): string {
  return html.slice(html.indexOf(`<section id="results">`));
}

/** The <tr> of the results table whose first cell is `method` (already escaped). */
function rowCells(html: string, methodEscaped: string): string[] {
  const raw = rawTable(html);
  const tbody = raw.slice(raw.indexOf("<tbody>"), raw.indexOf("</tbody>"));
  const tr = tbody.split("<tr>").find((t) => t.startsWith(`<th scope="row">${methodEscaped}</th>`));
  if (!tr) throw new Error(`no row for ${methodEscaped}`);
  return [...tr.matchAll(/<t[dh][^>]*>(.*?)<\/t[dh]>/g)].map((m) => m[1]!);
}

function headers(html: string): string[] {
  const raw = rawTable(html);
  const thead = raw.slice(raw.indexOf("<thead>"), raw.indexOf("</thead>"));
  return [...thead.matchAll(/<th scope="col">(.*?)<\/th>/g)].map((m) => m[1]!);
}

describe("renderReportHtml", () => {
  it("is self-contained: no URL except the SVG namespaces, no scripts or external resources", async () => {
    const pts = hostMatrix(10, 2, Float32Array.from({ length: 20 }, (_, i) => i));
    const svg = await scatterPlot({ title: "samples", sets: [{ name: "a", points: pts }] });
    const html = renderReportHtml({
      title: "demo",
      report: sampleReport(),
      plots: [{ title: "samples", svg, caption: "first two coordinates" }],
      generatedAt: "2024-01-01T00:00:00.000Z",
    });
    expect(html).toContain(`xmlns="http://www.w3.org/2000/svg"`);
    const stripped = html
      .replaceAll(`xmlns="http://www.w3.org/2000/svg"`, "")
      .replaceAll(`xmlns:xlink="http://www.w3.org/1999/xlink"`, "");
    expect(stripped).not.toMatch(/https?:\/\//i);
    expect(stripped).not.toMatch(/<script|<link|<img|<iframe|@import|\ssrc=/i);
    expect(stripped.replace(/url\(#/g, "")).not.toMatch(/url\(/);
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("<figcaption><strong>samples</strong><p>first two coordinates</p></figcaption>");
    expect(html).toContain("2024-01-01T00:00:00.000Z");
  });

  it("escapes method names and config strings", () => {
    const html = renderReportHtml({ title: `run ${EVIL}`, report: sampleReport(), notes: [EVIL] });
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).toContain("&lt;/pre&gt;"); // cannot close the config <pre> early
    expect(html).toContain("<details><summary>Full config");
  });

  it("shows mean ± std to 4 significant digits and leaves absent metrics empty", () => {
    const html = renderReportHtml({ title: "t", report: sampleReport() });
    expect(headers(html)).toEqual([
      "method",
      "target",
      "alpha",
      "samples",
      "reward",
      "offSupport",
      "reference.rewardMean",
      "accuracy",
    ]);
    expect(rawTable(html)).not.toContain("proxyReward"); // no row has it: no column
    expect(rawTable(html)).not.toContain("macroF1");
    const first = rowCells(html, "rcgdm");
    expect(first).toEqual(["rcgdm", "2", "—", "1000", "1.235 ± 0.5000", "0.01235", "2", ""]);
    const second = rowCells(html, escapeHtml(EVIL));
    expect(second.slice(1)).toEqual(["—", "0.5000", "1000", "-3 ± 0.2500", "", "", "0.8750"]);
    expect(html).toContain('title="1.23456789 ± 0.5"'); // full precision on hover
  });

  it("lists timings, training logs and extra sections", () => {
    const report = { ...sampleReport(), custom: { answer: 42 } } as Report;
    const html = renderReportHtml({ title: "t", report });
    expect(html).toContain("<th scope=\"row\">totalSeconds</th><td class=\"num\">75.50 s (1 min 16 s)</td>");
    expect(html).toContain("<th scope=\"row\">train</th>");
    expect(html).toContain("main model: 2 logged point(s); last loss 0.2500 at step 100");
    expect(html).toContain("reward: 1 logged point(s)");
    expect(html).toContain("<summary>custom</summary>");
  });

  it("refuses SVGs with active content and keeps ids of several plots apart", () => {
    const bad = `<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>`;
    expect(() => renderReportHtml({ title: "t", report: sampleReport(), plots: [{ title: "x", svg: bad }] })).toThrow(
      /scripts/,
    );
    const onload = `<svg onload="alert(1)"></svg>`;
    expect(() => renderReportHtml({ title: "t", report: sampleReport(), plots: [{ title: "x", svg: onload }] })).toThrow();
    expect(() => renderReportHtml({ title: "t", report: sampleReport(), plots: [{ title: "x", svg: "<p>" }] })).toThrow(
      /not an SVG/,
    );
    const svg = `<svg><defs><clipPath id="c1"/></defs><g clip-path="url(#c1)"/><use href="#c1"/></svg>`;
    expect(scopeSvgIds(svg, "p2-")).toBe(`<svg><defs><clipPath id="p2-c1"/></defs><g clip-path="url(#p2-c1)"/><use href="#p2-c1"/></svg>`);
    const html = renderReportHtml({
      title: "t",
      report: sampleReport(),
      plots: [
        { title: "a", svg },
        { title: "b", svg },
      ],
    });
    expect(html).toContain('id="p1-c1"');
    expect(html).toContain('id="p2-c1"');
  });

  it("renders a report with no results", () => {
    const html = renderReportHtml({ title: "t", report: { version: 1, config: {}, results: [], timings: { totalSeconds: 1 } } });
    expect(html).toContain("No results.");
  });
});

describe("formatNumber", () => {
  it("keeps whole numbers, rounds others to 4 significant digits", () => {
    expect(formatNumber(1000)).toBe("1000");
    expect(formatNumber(-3)).toBe("-3");
    expect(formatNumber(0.123456)).toBe("0.1235");
    expect(formatNumber(123456.7)).toBe("1.235e+5");
    expect(formatNumber(1.5e-7)).toBe("1.500e-7");
    expect(formatNumber(NaN)).toBe("NaN");
    expect(formatNumber(-Infinity)).toBe("−∞");
  });
});

describe("standardPlots", () => {
  it("draws the loss curves and one chart per metric present", async () => {
    const plots = await standardPlots(sampleReport());
    expect(plots.map((p) => p.title)).toEqual(["Training loss", "ground-truth reward", "‖(I − AAᵀ)x‖", "accuracy"]);
    const html = renderReportHtml({ title: "t", report: sampleReport(), plots });
    expect(html).not.toContain("<script");
    expect((html.match(/<svg/g) ?? []).length).toBe(4);
  });
});

describe("active-content check", () => {
  it("does not trip on harmless text that looks like attributes", () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg"><text>trained on=5 steps; javascript: no</text></svg>`;
    expect(() => renderReportHtml({ title: "t", report: { version: 1, config: {}, results: [], timings: { totalSeconds: 1 } }, plots: [{ title: "x", svg }] })).not.toThrow();
    const href = `<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><text>x</text></a></svg>`;
    expect(() => renderReportHtml({ title: "t", report: { version: 1, config: {}, results: [], timings: { totalSeconds: 1 } }, plots: [{ title: "x", svg: href }] })).toThrow(/scripts/);
  });
});

/** A report.json written by `rewardiff run` (results, timings and files kept; config dropped). */
function fixture(name: string): Report {
  return JSON.parse(readFileSync(new URL(`./fixtures/report/${name}.json`, import.meta.url), "utf8")) as Report;
}

function summarySection(html: string): string {
  const start = html.indexOf(`<section id="summary">`);
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf("</section>", start));
}

/** The value at a `data-from` path: "results[i].a.b" or "timings.<key>" (keys may hold dots). */
function valueAt(report: Report, from: string): unknown {
  if (from.startsWith("timings.")) return report.timings[from.slice("timings.".length)];
  const m = from.match(/^results\[(\d+)\]\.(.+)$/);
  if (!m) throw new Error(`unexpected data-from ${from}`);
  let v: unknown = report.results[Number(m[1])];
  for (const k of m[2]!.split(".")) v = (v as Record<string, unknown>)[k];
  return v;
}

/** Every <data> of the summary: value, source and the text shown, in document order, with its row. */
function summaryData(html: string): { row: number; value: string; from: string; text: string }[] {
  const sec = summarySection(html);
  const body = sec.slice(sec.indexOf("<tbody>"), sec.indexOf("</tbody>"));
  const out: { row: number; value: string; from: string; text: string }[] = [];
  body.split("<tr").slice(1).forEach((tr, row) => {
    for (const m of tr.matchAll(/<data value="([^"]*)" data-from="([^"]*)">([^<]*)<\/data>/g)) out.push({ row, value: m[1]!, from: m[2]!, text: m[3]! });
  });
  return out;
}

describe("the summary", () => {
  for (const name of ["guidance", "ctrl", "demo-quick"]) {
    it(`${name}: at most ${SUMMARY_MAX_COLUMNS} columns, every headline number equal to report.json's`, () => {
      const report = fixture(name);
      const html = renderReportHtml({ title: name, report });
      const sec = summarySection(html);
      const heads = [...sec.slice(sec.indexOf("<thead>"), sec.indexOf("</thead>")).matchAll(/<th scope="col"/g)];
      expect(heads.length).toBeLessThanOrEqual(SUMMARY_MAX_COLUMNS);
      expect(sec.split("<tr").length - 2).toBe(report.results.length); // one row per result row (+ the header)
      const data = summaryData(html);
      expect(data.length).toBeGreaterThan(report.results.length);
      let derived = 0;
      for (const d of data) {
        if (d.from === "derived") {
          derived++;
          continue;
        }
        // The exact number of report.json, and its 4-significant-digit display (counts with separators).
        const v = valueAt(report, d.from);
        expect(typeof v, d.from).toBe("number");
        expect(d.value, d.from).toBe(String(v));
        const n = v as number;
        const formats = [formatNumber(n), `${formatNumber(n)}×`, n.toLocaleString("en-US"), String(Number(n.toPrecision(4)))];
        // One decimal only for z-scores; every other number to 4 significant digits.
        if (/\.z$/.test(d.from)) formats.push(n.toFixed(1));
        expect(formats, `${d.from} shown as ${d.text}`).toContain(d.text);
      }
      // Derived numbers are recomputed here from the row's own numbers.
      for (const d of data.filter((x) => x.from === "derived")) {
        const row = report.results[d.row]!;
        const candidates: number[] = [];
        const r = row as Record<string, any>;
        if (r.reward && typeof row.target === "number") candidates.push(r.reward.mean - row.target);
        for (const k of ["swToTilted", "targetSlicedWasserstein", "slicedWasserstein"]) if (r[k]) candidates.push(r[k].value / r[k].floor);
        if (r.reward && r.reference) candidates.push((r.reward.mean - r.reference.rewardMean) / (r.reward.std / Math.sqrt(row.samples)));
        expect(candidates.some((c) => Math.abs(c - Number(d.value)) <= 1e-12 * Math.max(1, Math.abs(c))), `row ${d.row} derived ${d.value}`).toBe(true);
      }
      if (name === "demo-quick") expect(derived).toBeGreaterThan(0); // reward − target
    });
  }

  it("guidance: the collapsed cfg row is flagged, the exact method is not", () => {
    const report = fixture("guidance");
    const html = renderReportHtml({ title: "g", report });
    const sec = summarySection(html);
    const rows = sec.slice(sec.indexOf("<tbody>")).split("<tr").slice(1);
    const cfg = rows[report.results.findIndex((r) => r.method === "cfg")]!;
    expect(cfg).toMatch(/^ class="flagged"/);
    expect(cfg).toContain("⚠");
    expect(cfg).toContain("far from the target law");
    const exact = rows[report.results.findIndex((r) => r.label === "exact-guidance")]!;
    expect(exact).not.toMatch(/^ class="flagged"/);
    // Every guided row shows a distance (not only the base row).
    for (const [i, r] of report.results.entries()) if (r.swToTilted) expect(rows[i]).toContain('data-from="results[' + i + '].swToTilted.ratio"');
  });

  it("links each row to its samples and lists the base model", () => {
    const report = fixture("guidance");
    const html = renderReportHtml({ title: "g", report });
    const sec = summarySection(html);
    const rows = sec.slice(sec.indexOf("<tbody>")).split("<tr").slice(1);
    for (const f of report.files as { path: string; rows?: number[] }[]) {
      const href = `href="${escapeHtml(f.path.split("/").map(encodeURIComponent).join("/"))}"`;
      if (f.rows) for (const i of f.rows) expect(rows[i]).toContain(href);
      else expect(sec).toContain(href);
    }
    expect(sec).toContain(">base model</a> (model.safetensors)");
  });

  it("ctrl: accuracy and macro-F1 in the summary", () => {
    const report = fixture("ctrl");
    const html = renderReportHtml({ title: "c", report });
    const froms = summaryData(html).map((d) => d.from);
    report.results.forEach((r, i) => {
      if (typeof r.accuracy === "number") expect(froms).toContain(`results[${i}].accuracy`);
      if (typeof r.macroF1 === "number") expect(froms).toContain(`results[${i}].macroF1`);
    });
  });

  it("shows — for what a row did not measure, and folds the full table below", () => {
    const report = fixture("guidance");
    const html = renderReportHtml({ title: "g", report });
    const rows = summarySection(html).split("<tbody>")[1]!.split("<tr").slice(1);
    const svdd = report.results.findIndex((r) => r.method === "svdd");
    expect(report.results[svdd]!.klToPretrained).toBeUndefined();
    expect(rows[svdd]).toContain(`<span class="na">—</span>`);
    expect(html).toMatch(/<section id="results">\n<h2>All results<\/h2>\n<details><summary>Full results table/);
    expect(rawTable(html)).toContain("swToTilted");
    expect(summarySection(html).replace(/<[^>]*>/g, "")).not.toContain("swToTilted"); // no raw keys in the text
  });

  it("puts the comparison charts in the summary", async () => {
    const report = fixture("guidance");
    const summaryPlots = await comparisonPlots(report);
    expect(summaryPlots.map((p) => p.title)).toEqual(["Reward vs distance", "Cost"]);
    const html = renderReportHtml({ title: "g", report, summaryPlots });
    const sec = summarySection(html);
    expect((sec.match(/<svg/g) ?? []).length).toBe(2);
    expect(sec).toContain("<figcaption><strong>Reward vs distance</strong>");
    for (const m of sec.matchAll(/<svg[\s\S]*?<\/svg>/g)) for (const id of m[0].matchAll(/\sid="([^"]+)"/g)) expect(id[1]).toMatch(/^s\d+-/);
  });
});
