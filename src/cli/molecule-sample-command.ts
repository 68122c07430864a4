/**
 * `rewardiff sample` of a molecule model (docs/molecules.md "Sampling"): graph rows drawn with the molecule
 * sampler (MoleculeSamplingSchema's defaults unless given), decoded without valence correction, written as
 * a CSV of SMILES, validity, fragments, atoms and properties.
 */
import { disposeLoadedModel, trainingState, type LoadedModel } from "../io/checkpoints/model.js";
import { writeFileAtomic } from "../io/atomic.js";
import { sampleCountProblem } from "../runners/resource-bounds.js";
import { formatMoleculeSamplesCsv, moleculeSampler, sampleMolecules } from "../runners/molecule-sampling.js";
import { makeProgress } from "./progress.js";
import { checkTargetOptions } from "./rcgdm-commands.js";
import { quitOnInterrupt } from "./interrupt.js";

import { log } from "./log.js";
import type { SampleFlags } from "./sample-flags.js";

/** The flags of `rewardiff sample` a molecule model reads (--target and --scale for a conditional one, from rcgdm). */
export type MoleculeSampleFlags = SampleFlags;

/** Samples, decodes and writes the molecules of a molecule model. Consumes `loaded`. */
export async function sampleMoleculesCommand(o: MoleculeSampleFlags, loaded: LoadedModel): Promise<number> {
  const { meta } = loaded;
  const sampler = moleculeSampler({ sampler: o.sampler, steps: o.steps, eta: o.eta });
  try {
    const conditional = meta.model.network.condition !== undefined;
    const what = `${o.model} is a molecule model${conditional ? " (conditioned on a value)" : " (unconditional)"}`;
    const refused = [["--context", o.context], ["--control", o.control], ["--cfg-scale", o.cfgScale], ["--reward-model", o.rewardModel], ...(conditional ? [] : [["--target", o.target], ["--scale", o.scale]])] as const;
    for (const [flag, v] of refused) {
      if (v !== undefined) throw new Error(`${flag}: ${what}; sample it without ${flag} (its CSV already holds qed, logp, tpsa and mw)`);
    }
    if (conditional) checkTargetOptions(meta, o.model, o.target, o.scale);
    if (sampler.steps > meta.model.schedule.steps) throw new Error(`--steps ${sampler.steps} exceeds the model's ${meta.model.schedule.steps} training timesteps`);
    const tooMany = sampleCountProblem(o.n, meta.model.network);
    if (tooMany) throw new Error(`--n: ${tooMany}`);
  } catch (err) {
    disposeLoadedModel(loaded);
    throw err;
  }
  const weights = o.raw ? trainingState(loaded, `--raw: ${o.model}`).params : loaded.ema;
  const progress = makeProgress(!!o.quiet);
  const stopWatching = quitOnInterrupt(() => progress.done());
  let samples;
  try {
    samples = await sampleMolecules(meta, weights, { n: o.n, sampler, seed: o.seed, onStep: (d, t) => progress.update("sample", d, t), ...(o.target ? { target: o.target, scale: o.scale ?? 1 } : {}) });
  } finally {
    stopWatching();
    disposeLoadedModel(loaded);
  }
  progress.done();
  writeFileAtomic(o.out, formatMoleculeSamplesCsv(samples));
  const valid = samples.filter((s) => s.valid).length;
  const settings = `${sampler.sampler}${sampler.sampler === "ddim" ? ` η=${sampler.eta}` : ""}, ${sampler.steps} steps`;
  const at = o.target ? `, ${meta.conditioning?.names.join(", ") ?? "target"} = ${o.target.join(", ")}, w = ${o.scale ?? 1}` : "";
  log(`wrote ${o.n} molecules to ${o.out} (${settings}${at}): ${valid} valid (${((100 * valid) / o.n).toFixed(1)}%, RDKit sanitisation without valence correction)`);
  return 0;
}
