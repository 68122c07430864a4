/**
 * Experiment configs built from command-line flags (`train`): validated by the same schema as a config
 * file (src/runners/config.ts), with the problem reported against the flag that set the key, e.g.
 * `--hidden (model.hidden): 1000000 with model.layers 3 needs about 60.0 GB of memory, …`.
 */
import { parseConfig, type ExperimentConfig } from "../runners/config.js";

/** Config key paths → the `train` flags that set them. */
const TRAIN_FLAGS: Record<string, string> = {
  "task.path": "--data",
  "task.name": "--task",
  "task.columns": "--columns",
  "task.transform": "--transform",
  "model.hidden": "--hidden",
  "model.layers": "--layers",
  "model.schedule.kind": "--schedule",
  "model.prediction": "--prediction",
  "model.train.steps": "--steps",
  "model.train.batchSize": "--batch-size",
  "model.train.learningRate": "--lr",
  "sampling.samples": "--n",
  seed: "--seed",
};

/** parseConfig for a config made of flags: the one-line error names the flag instead of "command line". */
export function parseFlagConfig(json: unknown, flags: Record<string, string> = TRAIN_FLAGS): ExperimentConfig {
  const where = "command line";
  try {
    return parseConfig(json, where);
  } catch (err) {
    const msg = (err as Error).message;
    const m = /^command line: ([\w.[\]]+): /.exec(msg);
    const flag = m ? flags[m[1]!] : undefined;
    if (!m || flag === undefined) throw err;
    throw new Error(`${flag} (${m[1]}): ${msg.slice(m[0].length)}`, { cause: err });
  }
}
