/**
 * Runs a test page in headless Debian Chromium (./chromium-launch.ts): the page's TypeScript source is
 * bundled with esbuild (an IIFE, imports resolved from the repository root), loaded from a temp file (a
 * secure context, so WebGPU is offered) or, with `isolated`, from a local HTTP server that sends the
 * COOP/COEP headers of a cross-origin-isolated page (SharedArrayBuffer, shared wasm memory, so jax-js's
 * worker pool), and reports one JSON object with
 * `console.log("REWARDIFF_RESULT " + JSON.stringify(r))`, which playwright hands over as the message's text.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { collectPageErrors, launchChromium } from "./chromium-launch.js";

export { chromiumPath, chromiumSkipReason } from "./chromium-launch.js";

const PREFIX = "REWARDIFF_RESULT ";

/** Serves `file` at http://127.0.0.1:PORT/ with the headers that make a page cross-origin isolated. */
async function serveIsolated(file: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
    res.end(readFileSync(file));
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/**
 * Bundles `page`, runs it in headless Chromium launched with `extraArgs`, and returns what it reported;
 * `isolated` serves it cross-origin isolated (see above) instead of from a file.
 */
export async function runChromiumPage(page: string, extraArgs: readonly string[] = [], timeoutMs = 90_000, isolated = false): Promise<Record<string, unknown>> {
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
    const served = isolated ? await serveIsolated(html) : null;
    try {
      await tab.goto(served ? served.url : pathToFileURL(html).href, { timeout: timeoutMs });
      return await reported;
    } finally {
      clearTimeout(timer);
      served?.server.close();
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
