import { describe, expect, it } from "vitest";
import { hostMatrix } from "../src/data/matrix.js";
import { escapeHtml, formatNumber, renderReportHtml, scopeSvgIds } from "../src/report/html.js";
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

/** The <tr> of the results table whose first cell is `method` (already escaped). */
function rowCells(html: string, methodEscaped: string): string[] {
  const tbody = html.slice(html.indexOf("<tbody>"), html.indexOf("</tbody>"));
  const tr = tbody.split("<tr>").find((t) => t.startsWith(`<th scope="row">${methodEscaped}</th>`));
  if (!tr) throw new Error(`no row for ${methodEscaped}`);
  return [...tr.matchAll(/<t[dh][^>]*>(.*?)<\/t[dh]>/g)].map((m) => m[1]!);
}

function headers(html: string): string[] {
  const thead = html.slice(html.indexOf("<thead>"), html.indexOf("</thead>"));
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
    expect(html).not.toContain("proxyReward"); // no row has it: no column
    expect(html).not.toContain("macroF1");
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
