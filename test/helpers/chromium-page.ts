/**
 * Runs a test page in headless Debian Chromium (./chromium-launch.ts): the page's TypeScript source is
 * bundled with esbuild (an IIFE, imports resolved from the repository root), loaded from a temp file (a
 * secure context, so WebGPU is offered), and reports one JSON object with
 * `console.log("REWARDIFF_RESULT " + JSON.stringify(r))`, which playwright hands over as the message's text.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { collectPageErrors, launchChromium } from "./chromium-launch.js";

export { chromiumPath, chromiumSkipReason } from "./chromium-launch.js";

const PREFIX = "REWARDIFF_RESULT ";

/** Bundles `page`, runs it in headless Chromium launched with `extraArgs`, and returns what it reported. */
export async function runChromiumPage(page: string, extraArgs: readonly string[] = [], timeoutMs = 90_000): Promise<Record<string, unknown>> {
  const bundle = await build({
    stdin: { contents: page, resolveDir: process.cwd(), loader: "ts", sourcefile: "page.ts" },
    bundle: true,
    platform: "browser",
    format: "iife",
    write: false,
    logLevel: "silent",
  });
  const dir = mkdtempSync(join(tmpdir(), "rewardiff-page-"));
  const browser = await launchChromium(extraArgs);
  try {
    const html = join(dir, "index.html");
    writeFileSync(html, `<!doctype html><html><body><script>${bundle.outputFiles[0]!.text.replaceAll("</script", "<\\/script")}</script></body></html>`);
    const tab = await browser.newPage();
    const errors = collectPageErrors(tab);
    let timer: NodeJS.Timeout | undefined;
    const reported = new Promise<Record<string, unknown>>((resolve, reject) => {
      tab.on("console", (m) => {
        const text = m.text();
        if (text.startsWith(PREFIX)) resolve(JSON.parse(text.slice(PREFIX.length)) as Record<string, unknown>);
      });
      timer = setTimeout(() => reject(new Error(`the page reported nothing in ${timeoutMs / 1000} s; its errors: ${JSON.stringify(errors)}`)), timeoutMs);
    });
    reported.catch(() => undefined); // awaited below, unless goto throws first
    try {
      await tab.goto(pathToFileURL(html).href, { timeout: timeoutMs });
      return await reported;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
