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
    await shootMolecules(browser, url, "docs/browser/playground-molecules.png");
  } finally {
    await browser.close();
    server.close();
  }
}

/** The molecule panel (docs/browser.md "Molecule panel"): 16 QM9 molecules plain and steered by best-of-4 towards QED. */
async function shootMolecules(browser: Awaited<ReturnType<typeof launchChromium>>, url: string, file: string): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1300 } });
  await page.goto(url);
  await page.click("#molecules summary");
  // A string predicate waited on inside the page (the page's CSP forbids playwright's eval-based waitForFunction).
  const waitFor = async (condition: string, ms: number) => {
    const ok = await page.evaluate<boolean>(
      `new Promise((resolve) => { const t0 = performance.now(); const check = () => (${condition}) ? resolve(true) : performance.now() - t0 > ${ms} ? resolve(false) : setTimeout(check, 25); check(); })`,
    );
    if (!ok) throw new Error(`the molecule panel: timed out waiting for ${condition}; status: ${await page.textContent("#mol-status")}`);
  };
  await waitFor("playgroundMolecules.loaded.length > 0 || playgroundMolecules.errors.length > 0 || playgroundMolecules.absent", 60_000);
  const settings = { "mol-property": "qed", "mol-goal": "max", "mol-method": "best-of-n", "mol-candidates": "4", "mol-alpha": "0.05", "mol-steps": "50", "mol-n": "16", "mol-seed": "0" };
  await page.evaluate(`${Object.entries(settings).map(([id, v]) => `document.getElementById(${JSON.stringify(id)}).value = ${JSON.stringify(v)};`).join(" ")} document.getElementById("mol-run").click(); 0`);
  await waitFor("playgroundMolecules.results.length > 0 || playgroundMolecules.errors.length > 0", 300_000);
  const errors = (await page.evaluate("playgroundMolecules.errors")) as unknown[];
  if (errors.length > 0) throw new Error(`the molecule panel: ${JSON.stringify(errors)}`);
  const { run } = (await page.evaluate("playgroundMolecules.results[0]")) as { run: { plain: { rewardMean: number; validity: number }; steered: { rewardMean: number; validity: number } } };
  process.stdout.write(`${file}: plain QED ${run.plain.rewardMean.toFixed(3)} validity ${run.plain.validity}; steered QED ${run.steered.rewardMean.toFixed(3)} validity ${run.steered.validity}\n`);
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(file, await page.locator("#molecules").screenshot());
  await page.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`rewardiff: playground screenshots: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
