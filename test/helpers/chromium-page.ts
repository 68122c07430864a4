/**
 * Runs a test page in headless Debian Chromium: the page's TypeScript source is bundled with esbuild (an
 * IIFE, imports resolved from the repository root), loaded from a temp file, and reports one JSON object
 * with `console.log("REWARDIFF_RESULT " + JSON.stringify(r))`, which is read from Chromium's log.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

/** The Chromium binary on PATH, or undefined (tests then skip, saying why). */
export const chromium = ["chromium", "chromium-browser"].find((c) => spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0);

/** Bundles `page`, runs it in headless Chromium with `extraArgs`, and returns what it reported. */
export async function runChromiumPage(page: string, extraArgs: readonly string[] = []): Promise<Record<string, unknown>> {
  if (!chromium) throw new Error("no chromium on PATH (Debian: apt-get install chromium)");
  const dir = mkdtempSync(join(tmpdir(), "rewardiff-page-"));
  try {
    const bundle = await build({
      stdin: { contents: page, resolveDir: process.cwd(), loader: "ts", sourcefile: "page.ts" },
      bundle: true,
      platform: "browser",
      format: "iife",
      write: false,
      logLevel: "silent",
    });
    const html = join(dir, "index.html");
    writeFileSync(html, `<!doctype html><html><body><script>${bundle.outputFiles[0]!.text.replaceAll("</script", "<\\/script")}</script></body></html>`);
    const args = ["--headless=new", "--no-sandbox", ...extraArgs, "--enable-logging=stderr", "--v=0", "--remote-debugging-port=0", `--user-data-dir=${join(dir, "profile")}`, `file://${html}`];
    return await new Promise((resolve, reject) => {
      // Its own process group, so that killing it also ends the GPU and renderer processes that write into
      // the profile folder (else removing the folder can race with them).
      const child = spawn(chromium, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
      const killAll = () => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      };
      let log = "";
      const timer = setTimeout(() => {
        killAll();
        reject(new Error(`chromium reported nothing in 90 s; its log ends: ${log.slice(-2000)}`));
      }, 90_000);
      child.stderr.on("data", (d: Buffer) => {
        log += d.toString();
        const m = /REWARDIFF_RESULT (\{.*?\})", source/.exec(log);
        if (m) {
          clearTimeout(timer);
          killAll();
          // Chromium's log quotes the console message: \" and \\ are escaped.
          const result = JSON.parse(m[1]!.replace(/\\(["\\])/g, "$1")) as Record<string, unknown>;
          if (child.exitCode !== null || child.signalCode !== null) resolve(result);
          else child.once("exit", () => resolve(result));
        }
      });
      child.on("error", reject);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}
