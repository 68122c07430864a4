/**
 * `npm run experiments -- ctrl [--out DIR] [--skip-runs]`: the acceptance numbers of reward
 * backpropagation and CTRL (docs/ctrl.md), written to docs/results/ctrl.md:
 *  3. memory: the wasm heap high-water mark of one backward pass through a 50-step DDPM chain
 *     (network 2 → 256 → 256 → 256 → 2, 512 chains, gradient through all 50 steps), first with
 *     segment-wise recomputation (segments of 5 steps), then without (one segment);
 *  1. configs/draft-gm.json: DRaFT on a Gaussian mixture vs the exact tilt E_p*[r];
 *  2. configs/ctrl-tilt.json: CTRL vs CFG on (c, x, y) triples vs DPS with the classifier, on the
 *     classifier-tilt benchmark (accuracy, macro-F1, distance to p*, KL);
 *  2b. CTRL trained with the null control and sampled with CFG (w = 2) on the p_pre saved by run 2.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBackend, keyFromSeed, tree, wasmHeapBytes } from "../../src/backend/index.js";
import type { ModelConfig } from "../../src/diffusion/model.js";
import { samplerPlan } from "../../src/diffusion/sample.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { makeChain } from "../../src/finetune/chain.js";
import { denoiserChainModel, initTrainable, type PolicySpec } from "../../src/finetune/policy.js";
import { parseConfig } from "../../src/runners/config.js";
import { initDenoiser } from "../../src/nn/denoiser.js";
import { runExperiment } from "../../src/runners/experiment.js";
import type { ResultRow } from "../../src/report/types.js";
import { linearRewardFn } from "../../src/rewards/reward.js";

const MB = 2 ** 20;

async function heapRun(segment: number | undefined): Promise<{ heapBefore: number; heapAfter: number; seconds: number }> {
  const model: ModelConfig = {
    network: { kind: "mlp", dataDim: 2, hidden: 256, layers: 3, timeEmbedding: 32, residual: true, norm: "none" },
    prediction: "eps",
    schedule: { kind: "linear", steps: 1000 },
  };
  const schedule = makeSchedule(model.schedule);
  const plan = samplerPlan(schedule, { sampler: "ddpm", steps: 50, eta: 1 });
  const base = initDenoiser(keyFromSeed(1), model.network);
  const spec: PolicySpec = { model, mode: "all", rank: 4 };
  const p = initTrainable(spec, base, keyFromSeed(2));
  const reward = linearRewardFn([1, 0.5]);
  const chain = makeChain(denoiserChainModel(spec), (x, aux) => (aux.forEach((a) => a.dispose()), reward.fn(x)), plan, schedule.T, 2, {
    objectiveScale: 1,
    klWeight: 1,
    ...(segment ? { segment } : {}),
  });
  const heapBefore = wasmHeapBytes();
  const t0 = performance.now();
  for (let i = 0; i < 2; i++) tree.dispose((await chain.lossAndGrad(p, { base }, [], [], 512, keyFromSeed(3 + i))).grads);
  const seconds = (performance.now() - t0) / 2000;
  chain.dispose();
  tree.dispose(p);
  tree.dispose(base);
  return { heapBefore, heapAfter: wasmHeapBytes(), seconds };
}

/**
 * 2b. CTRL trained with the null control (nullProbability q = 0.2) and sampled with CFG against it
 * (cfgScale w = 2), on the frozen p_pre saved by the ctrl-tilt run (method option `pretrained`).
 */
async function cfgRun(out: string): Promise<string[]> {
  const base = JSON.parse(readFileSync("configs/ctrl-tilt.json", "utf8"));
  const ctrl = base.method.find((m: { kind: string }) => m.kind === "ctrl");
  const pretrained = join(out, "ctrl-tilt", "pretrained.safetensors");
  base.method = [{ ...ctrl, nullProbability: 0.2, cfgScale: 2, pretrained, label: "ctrl (q = 0.2, CFG w = 2)" }];
  const cfg = parseConfig(base, "ctrl-tilt with CFG");
  const dir = join(out, "ctrl-tilt-cfg");
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`ctrl experiment: CTRL with the null control and CFG (pretrained ${pretrained})\n`);
  const t0 = performance.now();
  const res = await runExperiment(cfg, dir, { title: "CTRL with CFG against the null control", hooks: { onStage: (s) => process.stderr.write(`  ${s}\n`) } });
  const r = res.report.results[0] as ResultRow;
  const sw = r.targetSlicedWasserstein as { value?: number; floor?: number } | undefined;
  const ref = r.reference as { rewardMean: number; accuracy?: number; kl?: number } | undefined;
  return [
    `### 2b. CTRL with the null control and CFG (\`nullProbability\` 0.2, \`cfgScale\` 2; ${fmt((performance.now() - t0) / 1000, 0)} s wall)`,
    "",
    "Same config as section 2, the frozen p_pre of that run loaded with `pretrained`. A fifth of the training chains get the null control ∅ (KL term only), and sampling uses ε̃ = ε(c, ∅) + w (ε(c, y) − ε(c, ∅)) with w = 2. `klToPretrained` is the guided sampler's own path KL Σ_t E‖μ̃_t − μ_pre,t‖²/(2σ_t²).",
    "",
    "| method | accuracy | macro-F1 | exact p* accuracy | E log p(y\\|x) | exact | SW to p* (floor) | KL to pretrained | exact KL(p*‖p) | train s |",
    "|---|---|---|---|---|---|---|---|---|---|",
    `| ${r.label} | ${fmt(r.accuracy)} | ${fmt(r.macroF1)} | ${fmt(ref?.accuracy)} | ${fmt(r.reward?.mean)} | ${fmt(ref?.rewardMean)} | ${fmt(sw?.value)} (${fmt(sw?.floor)}) | ${fmt(r.klToPretrained)} | ${fmt(ref?.kl)} | ${fmt((r.cost as { trainSeconds?: number } | undefined)?.trainSeconds, 1)} |`,
    "",
    `Report: ${join(dir, "report.json")}.`,
    "",
  ];
}

const fmt = (v: unknown, d = 3) => (typeof v === "number" && Number.isFinite(v) ? Number(v.toFixed(d)).toString() : "–");

export async function run(args: string[]): Promise<void> {
  await ensureBackend();
  const outIdx = args.indexOf("--out");
  const out = outIdx >= 0 ? args[outIdx + 1]! : "runs/experiments-ctrl";
  const lines: string[] = ["# Reward backpropagation and CTRL: measured results", "", "Produced by `npm run experiments -- ctrl` (scripts/experiments/ctrl.ts) on this machine (2 cores, wasm).", ""];
  const memory = async (): Promise<string[]> => {
  process.stderr.write("ctrl experiment: heap of a 50-step backward pass\n");
  const seg = await heapRun(5);
  const full = await heapRun(undefined);
  return [
    "## 3. Memory of backpropagation through a 50-step chain",
    "",
    "Measured after the runs above, in the same process. Network 2 → 256 → 256 → 256 → 2 (SiLU, residual), 512 chains, DDPM 50 steps, gradient through all 50 steps (K = 50), all weights trainable. `wasmHeapBytes()` is the wasm memory's high-water mark (it never shrinks), read before and after two gradient evaluations; the segmented run goes first. (The heap column of the tables above is the process's high-water mark at the end of each run.)",
    "",
    "| recomputation | heap before (MiB) | heap after (MiB) | seconds per gradient |",
    "|---|---|---|---|",
    `| segments of 5 steps | ${fmt(seg.heapBefore / MB, 0)} | ${fmt(seg.heapAfter / MB, 0)} | ${fmt(seg.seconds, 2)} |`,
    `| none (one segment of 50) | ${fmt(full.heapBefore / MB, 0)} | ${fmt(full.heapAfter / MB, 0)} | ${fmt(full.seconds, 2)} |`,
    "",
  ];
  };
  // The runs go first: their rows report the process's heap high-water mark (heapBytes) at their end.
  if (!args.includes("--skip-runs")) {
    for (const [name, file] of [["DRaFT on a Gaussian mixture", "configs/draft-gm.json"], ["CTRL on the classifier-tilt benchmark", "configs/ctrl-tilt.json"]] as const) {
      process.stderr.write(`ctrl experiment: ${file}\n`);
      const cfg = parseConfig(JSON.parse(readFileSync(file, "utf8")), file);
      const dir = join(out, file.replace(/^configs\/|\.json$/g, ""));
      mkdirSync(dir, { recursive: true });
      const t0 = performance.now();
      const res = await runExperiment(cfg, dir, { title: name, hooks: { onStage: (s) => process.stderr.write(`  ${s}\n`) } });
      const secs = (performance.now() - t0) / 1000;
      const rows = res.report.results as ResultRow[];
      lines.push(`## ${file === "configs/draft-gm.json" ? 1 : 2}. ${name} (\`${file}\`, ${fmt(secs, 0)} s wall)`, "");
      if (file === "configs/draft-gm.json") {
        lines.push("| method | mean reward | exact E_p*[r] | SW to p* (floor) | path KL to pretrained | exact KL(p*‖p) | heap (MiB) | train s |", "|---|---|---|---|---|---|---|---|");
        for (const r of rows) {
          const sw = r.swToTilted as { value?: number; floor?: number } | undefined;
          const cost = r.cost as { trainSeconds?: number } | undefined;
          lines.push(`| ${r.label} | ${fmt(r.reward?.mean)} | ${fmt(r.reference?.rewardMean)} | ${fmt(sw?.value)} (${fmt(sw?.floor)}) | ${fmt(r.klToPretrained)} | ${fmt(r.reference?.kl)} | ${typeof r.heapBytes === "number" ? fmt(r.heapBytes / MB, 0) : "–"} | ${fmt(cost?.trainSeconds, 1)} |`);
        }
      } else {
        lines.push("| method | accuracy | macro-F1 | exact p* accuracy | E log p(y\\|x) | exact | SW to p* (floor) | KL to pretrained | exact KL(p*‖p) | heap (MiB) | train s |", "|---|---|---|---|---|---|---|---|---|---|---|");
        for (const r of rows) {
          const sw = (r.targetSlicedWasserstein ?? r.swToTarget) as { value?: number; floor?: number } | undefined;
          const ref = r.reference as { rewardMean: number; accuracy?: number; kl?: number } | undefined;
          const cost = r.cost as { trainSeconds?: number } | undefined;
          lines.push(`| ${r.label} | ${fmt(r.accuracy)} | ${fmt(r.macroF1)} | ${fmt(ref?.accuracy)} | ${fmt(r.reward?.mean)} | ${fmt(ref?.rewardMean)} | ${fmt(sw?.value)} (${fmt(sw?.floor)}) | ${fmt(r.klToPretrained)} | ${fmt(ref?.kl)} | ${typeof r.heapBytes === "number" ? fmt(r.heapBytes / MB, 0) : "–"} | ${fmt(cost?.trainSeconds, 1)} |`);
        }
      }
      lines.push("", `Report: ${join(dir, "report.json")}.`, "");
    }
    lines.push(...(await cfgRun(out)));
  }
  lines.push(...(await memory()));
  mkdirSync("docs/results", { recursive: true });
  writeFileSync("docs/results/ctrl.md", lines.join("\n") + "\n");
  process.stdout.write(lines.join("\n") + "\n");
}
