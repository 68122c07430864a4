/**
 * Takes the screenshots of docs/browser.md: builds the playground, serves it, drives headless Chromium
 * with playwright-core (test/helpers/chromium-launch.ts) and writes docs/browser/*.png.
 *   npx tsx scripts/playground-screenshots.ts
 */
import { writeFileSync } from "node:fs";
import { buildPlayground } from "../playground/build.js";
import { servePlayground } from "../playground/serve.js";
import { cellOf } from "../playground/src/grid.js";
import { launchChromium } from "../test/helpers/chromium-launch.js";

async function main(): Promise<void> {
  const built = await buildPlayground();
  const { server, url } = await servePlayground(built.dir);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1010, height: 873 } });
    await page.goto(url);
    const set = (controls: Record<string, string>) => Object.entries(controls).map(([id, v]) => `document.getElementById(${JSON.stringify(id)}).value = ${JSON.stringify(v)};`).join(" ");
    const shoot = async (controls: Record<string, string>, file: string) => {
      await page.evaluate(`${set(controls)} document.getElementById("reward").dispatchEvent(new Event("change")); document.getElementById("run").click(); playground.idle()`);
      const n = await page.evaluate<Record<string, number>>("playground.results.at(-1)?.numbers ?? { error: playground.errors.at(-1) }");
      process.stdout.write(`${file}: ${JSON.stringify(n)}\n`);
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(file, await page.screenshot());
    };
    // A function, not a string: playwright would eval a string in the page, which the page's CSP forbids.
    await page.waitForFunction(() => (globalThis as unknown as { playground: { loaded: unknown[] } }).playground.loaded.length > 0, undefined, { timeout: 30_000 });
    await shoot({ method: "svdd", start: "0" }, "docs/browser/playground-8gaussians-svdd.png");
    await shoot({ method: "draft", start: "0", alpha: "0.1", finetuneSteps: "40", steps: "20" }, "docs/browser/playground-8gaussians-draft.png");
    const cells: number[] = [];
    for (let y = -1.375; y < 0; y += 0.25) for (let x = -2.125; x < -1; x += 0.25) cells.push(cellOf(x, y));
    await page.evaluate(`document.getElementById("clear").click(); ${set({ task: "moons" })} document.getElementById("task").dispatchEvent(new Event("change")); playground.paintCells(${JSON.stringify(cells)}); 0`);
    await shoot({ method: "best-of-n", alpha: "0.1", candidates: "16", steps: "50" }, "docs/browser/playground-moons-best-of-n.png");
    await shoot({ method: "dps", reward: "linear", angle: "90", alpha: "0.5", scale: "1", start: "0.5" }, "docs/browser/playground-moons-dps-linear.png");
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`rewardiff: playground screenshots: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
