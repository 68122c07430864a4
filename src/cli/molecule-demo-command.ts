/**
 * `rewardiff demo molecules` (docs/molecules.md "Demo"): samples the shipped QM9 model (models/qm9.safetensors)
 * with MoleculeDemoSchema's small settings, evaluates the molecules against a sample of QM9's test split and
 * writes samples.csv, report.json and report.html.
 */
import { join } from "node:path";
import { ensureBackend } from "../backend/init.js";
import { writeFileAtomic } from "../io/atomic.js";
import { loadModel } from "../io/checkpoints/model-files.js";
import { disposeLoadedModel } from "../io/checkpoints/model.js";
import { lockFolder } from "../io/outputs.js";
import { MoleculeDemoSchema } from "../runners/config-schemas.js";
import { readMoleculeSamples } from "../runners/molecule-evaluation.js";
import { formatMoleculeSamplesCsv, moleculeSampler, moleculeVocabulary, resolveModelPath, sampleMolecules } from "../runners/molecule-sampling.js";
import { quitOnInterrupt } from "./interrupt.js";
import { evaluateMoleculeSamples, moleculeEvaluationConfig } from "./molecule-evaluate-command.js";
import { checkOutDir } from "./output.js";
import { makeProgress } from "./progress.js";

import { log } from "./log.js";

export interface MoleculeDemoOptions {
  out?: string;
  seed?: number;
  quiet?: boolean;
  force?: boolean;
}

/** `rewardiff demo molecules`. */
export async function moleculeDemoCommand(o: MoleculeDemoOptions): Promise<number> {
  const started = performance.now();
  const demo = MoleculeDemoSchema.parse(o.seed !== undefined ? { seed: o.seed } : {});
  const modelPath = resolveModelPath("qm9", "demo molecules");
  const outDir = o.out ?? `runs/demo-molecules-${new Date().toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19)}`;
  checkOutDir(outDir, !!o.force);
  const release = lockFolder(outDir);
  const progress = makeProgress(!!o.quiet);
  const stopWatching = quitOnInterrupt(() => progress.done());
  try {
    await ensureBackend();
    const loaded = loadModel(modelPath);
    const sampler = moleculeSampler({ steps: demo.steps });
    let samples;
    try {
      moleculeVocabulary(loaded.meta, modelPath);
      progress.stage(`sampling ${demo.samples} molecules (${sampler.sampler}, ${sampler.steps} steps)`);
      samples = await sampleMolecules(loaded.meta, loaded.ema, { n: demo.samples, sampler, seed: demo.seed, onStep: (d, t) => progress.update("sample", d, t) });
    } finally {
      disposeLoadedModel(loaded);
    }
    const sampleSeconds = (performance.now() - started) / 1000;
    const csv = join(outDir, "samples.csv");
    writeFileAtomic(csv, formatMoleculeSamplesCsv(samples));
    await evaluateMoleculeSamples({
      samples: readMoleculeSamples(csv),
      settings: moleculeEvaluationConfig({ referenceSize: demo.referenceSize, seed: demo.seed }),
      out: outDir,
      title: "rewardiff demo molecules: the shipped QM9 model",
      config: { model: modelPath, sampler, samples: demo.samples },
      timings: { sampleSeconds },
      started,
      progress,
      notes: [
        `A quick look: ${demo.samples} molecules with ${sampler.steps} sampling steps against ${demo.referenceSize} test molecules. ` +
          `The model's own figures use 10,000 molecules, the default sampler (rewardiff sample --model qm9) and the whole test split (docs/molecules.md).`,
      ],
    });
    log(`wrote ${csv}`);
  } finally {
    stopWatching();
    progress.done();
    release();
  }
  return 0;
}
