/**
 * Headless Debian Chromium for the browser tests (docs/browser.md, "The tests"), driven by playwright-core
 * (which downloads no browser: it launches the `chromium` found on PATH). One place for finding the binary,
 * the reason a test skips without it, launching, and collecting what a page reports as errors.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { chromium as playwright, type Browser, type Page } from "playwright-core";

export type { Browser, Page };

function onPath(names: readonly string[]): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const name of names) {
    for (const dir of dirs) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** The path of `chromium` (or `chromium-browser`) on PATH, or undefined. */
export const chromiumPath: string | undefined = onPath(["chromium", "chromium-browser"]);

/** Why the browser tests skip here, or undefined when Chromium is there. */
export const chromiumSkipReason: string | undefined = chromiumPath
  ? undefined
  : "no chromium or chromium-browser on PATH (Debian: apt-get install chromium; .ci/run installs it)";

/**
 * Launches headless Chromium with `args` added to playwright's (which include `--no-sandbox` and
 * `--enable-unsafe-swiftshader`); `--enable-unsafe-webgpu` gives pages and workers its SwiftShader WebGPU
 * adapter. Close it with `browser.close()`, which ends all its processes and removes its profile.
 */
export async function launchChromium(args: readonly string[] = []): Promise<Browser> {
  if (!chromiumPath) throw new Error(chromiumSkipReason);
  return playwright.launch({ executablePath: chromiumPath, args: [...args], headless: true, timeout: 60_000 });
}

/**
 * Collects what `page` (and its workers) log as console errors — CSP violations and failed loads included —
 * and its uncaught exceptions, from now on, into the returned array.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.stack ?? e.message));
  return errors;
}
