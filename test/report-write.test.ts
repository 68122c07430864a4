import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderReportHtml } from "../src/report/html.js";
import { assertReport, findNonFinite, type Report } from "../src/report/types.js";
import { writeReport } from "../src/report/write.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "rewardiff-report-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function report(): Report {
  return {
    version: 1,
    config: { seed: 3, task: { kind: "gaussian-mixture" }, sampling: { targets: [1, 2] } },
    results: [
      {
        method: "exact-guidance",
        target: null,
        alpha: 0.5,
        samples: 500,
        reward: { mean: 1.5, std: 0.1 },
        reference: { rewardMean: 1.52 },
        slicedW: 0.031,
      },
    ],
    timings: { totalSeconds: 12.5, sample: 2 },
    distances: [{ method: "exact-guidance", target: null, alpha: 0.5, against: "exact tilted law", mmd: 0.002 }],
  };
}

describe("writeReport", () => {
  it("writes pretty report.json that round-trips, and report.html", () => {
    const dir = join(tempDir(), "nested", "run");
    const r = report();
    const html = renderReportHtml({ title: "run", report: r });
    const out = writeReport(dir, { report: r, html });
    expect(out).toEqual({ json: join(dir, "report.json"), html: join(dir, "report.html") });
    const text = readFileSync(out.json, "utf8");
    expect(text).toContain('\n  "version": 1,');
    expect(JSON.parse(text)).toEqual(r);
    expect(assertReport(JSON.parse(text))).toEqual(r);
    expect(readFileSync(out.html, "utf8")).toBe(html);
    expect(readdirSync(dir).sort()).toEqual(["report.html", "report.json"]); // no temp files left
  });

  it("refuses non-finite numbers (JSON would write null) and writes nothing", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "report.json"), "previous");
    const r = report();
    r.results[0]!.reward = { mean: NaN, std: 0.1 };
    expect(() => writeReport(dir, { report: r, html: "<!DOCTYPE html>" })).toThrow(
      "writeReport: non-finite number at results[0].reward.mean = NaN",
    );
    expect(readFileSync(join(dir, "report.json"), "utf8")).toBe("previous");
    expect(readdirSync(dir)).toEqual(["report.json"]);
  });

  it("checks the version-1 shape", () => {
    expect(() => assertReport({ version: 2 })).toThrow(/unsupported version 2/);
    expect(() => assertReport({ version: 1, config: {}, results: [{ method: 1 }], timings: { totalSeconds: 1 } })).toThrow(
      /results\[0\]\.method/,
    );
    expect(() => assertReport({ version: 1, config: {}, results: [], timings: {} })).toThrow(/totalSeconds/);
    expect(findNonFinite({ a: [1, Infinity], b: { c: -Infinity } })).toEqual(["a[1] = Infinity", "b.c = -Infinity"]);
  });
});
